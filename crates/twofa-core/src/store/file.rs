use std::{
    fs,
    path::{Path, PathBuf},
    time::Duration,
};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{RenewalLease, SessionStore, check_profile, private_fs};
use crate::{Error, ExposedSession, Session};

/// One JSON file per profile in a directory, written atomically (temporary file, fsync, rename)
/// under an advisory lock, so concurrent writers — other processes included — never tear a file.
///
/// On Unix the directory is created with mode 0700 and files with 0600; symbolic links, files
/// that are not regular, over 1 MiB, owned by another user or writable by group/others are refused
/// (see [`private_fs`](super::private_fs)). A file that cannot be parsed is reported as
/// [`Error::Store`] naming it, never silently replaced by `load`.
///
/// The store is shared between processes: its renewal lease is an advisory lock on a lock file per
/// profile, so one process of the host renews (and asks for a code) for all of them.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), twofa_core::Error> {
/// use twofa_core::{store::{FileStore, SessionStore}, AccessToken, Session, TokenPlacement};
/// let dir = tempfile::tempdir().map_err(|e| twofa_core::Error::Config(e.to_string()))?;
/// let store = FileStore::new(dir.path().join("sessions"));
/// let session = Session::new("etna", AccessToken::new("t"), TokenPlacement::Bearer, time::OffsetDateTime::now_utc());
/// store.save("desk-1", &session).await?;
/// assert_eq!(store.load("desk-1").await?.map(|s| s.provider().to_owned()), Some("etna".into()));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

/// The file format, versioned so it can change without misreading old files.
#[derive(Serialize)]
struct FileOut<'a> {
    version: u32,
    session: ExposedSession<'a>,
}

#[derive(Deserialize)]
struct FileIn {
    version: u32,
    session: Session,
}

const VERSION: u32 = 1;

impl FileStore {
    /// A store in `dir`, created on the first save.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of `profile`.
    pub fn path(&self, profile: &str) -> Result<PathBuf, Error> {
        check_profile(profile)?;
        Ok(self.dir.join(format!("{profile}.json")))
    }

    async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, Error> + Send + 'static) -> Result<T, Error> {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|_| Error::Store { path: None, detail: "the store's I/O task failed".into() })?
    }
}

fn store_error(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Store { path: Some(path.to_owned()), detail: format!("{what}: {e}") }
}

fn read(path: &Path) -> Result<Option<Session>, Error> {
    let Some(bytes) = private_fs::read(path)? else { return Ok(None) };
    decode(path, &bytes).map(Some)
}

/// The session in the bytes of a session file; `path` only names the file in errors.
pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<Session, Error> {
    let file: FileIn = serde_json::from_slice(bytes)
        .map_err(|e| store_error(path, "corrupt session file", crate::json::describe_error(&e)))?;
    if file.version != VERSION {
        return Err(store_error(path, "unsupported session file version", file.version));
    }
    Ok(file.session)
}

/// Takes the renewal lease of the profile whose lease file is `path`: an exclusive advisory lock
/// (`flock`) on it, held by the returned lease's open file. Dropping the lease closes the file and
/// releases the lock; so does the kernel when the holder dies, even by `kill -9`.
fn try_lease(dir: &Path, path: &Path) -> Result<Option<RenewalLease>, Error> {
    private_fs::create_dir(dir)?;
    let file = private_fs::lock_file(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(RenewalLease::holding(format!("flock:{}", std::process::id()), file))),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(store_error(path, "cannot lock the renewal lease file", e)),
    }
}

#[async_trait]
impl SessionStore for FileStore {
    async fn load(&self, profile: &str) -> Result<Option<Session>, Error> {
        let path = self.path(profile)?;
        Self::blocking(move || read(&path)).await
    }

    async fn save(&self, profile: &str, session: &Session) -> Result<(), Error> {
        let path = self.path(profile)?;
        let json = serde_json::to_vec_pretty(&FileOut { version: VERSION, session: session.expose_secrets() })
            .map_err(|e| store_error(&path, "cannot encode the session", e))?;
        let json = zeroize::Zeroizing::new(json);
        Self::blocking(move || private_fs::write(&path, &json)).await
    }

    async fn delete(&self, profile: &str) -> Result<(), Error> {
        let path = self.path(profile)?;
        Self::blocking(move || private_fs::remove(&path)).await
    }

    /// Other processes may write the same directory (a CLI seeding a bot's session, say).
    fn is_shared(&self) -> bool {
        true
    }

    async fn profiles(&self) -> Result<Vec<String>, Error> {
        let dir = self.dir.clone();
        Self::blocking(move || private_fs::list(&dir, ".json", |name| check_profile(name).is_ok())).await
    }

    /// A lease is an exclusive `flock` on `{dir}/.{profile}.json.lease`, owned by the returned
    /// [`RenewalLease`]: it ends when the lease is dropped or given back, or when the holding process
    /// dies. `ttl` is not used: an advisory lock cannot expire, and the kernel frees the lock of a
    /// dead holder at once. A holder that hangs keeps it; the authenticator's wait gives up after its lease time.
    /// A child process started while the lease is held shares the locked file until its `exec`
    /// closes it (close-on-exec), and for the whole of its life if it never calls `exec`.
    async fn try_lock_renewal(&self, profile: &str, _ttl: Duration) -> Result<Option<RenewalLease>, Error> {
        check_profile(profile)?;
        let path = self.dir.join(format!(".{profile}.json.lease"));
        let dir = self.dir.clone();
        Self::blocking(move || try_lease(&dir, &path)).await
    }

    /// Closes the lease's file, which releases the lock.
    async fn unlock_renewal(&self, _profile: &str, lease: RenewalLease) -> Result<(), Error> {
        drop(lease);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccessToken, RenewalToken, TokenPlacement};

    fn session() -> Session {
        Session::new("p", AccessToken::new("acc"), TokenPlacement::Bearer, time::OffsetDateTime::UNIX_EPOCH)
            .with_renewal_token(RenewalToken::new("ren"))
    }

    #[tokio::test]
    async fn round_trip_list_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("nested/sessions"));
        assert!(store.load("a").await.unwrap().is_none());
        assert!(store.profiles().await.unwrap().is_empty());
        store.save("b", &session()).await.unwrap();
        store.save("a", &session()).await.unwrap();
        let back = store.load("a").await.unwrap().unwrap();
        assert_eq!(back.access_token().expose_secret(), "acc");
        assert_eq!(back.renewal_token().unwrap().expose_secret(), "ren");
        assert_eq!(store.profiles().await.unwrap(), ["a", "b"]);
        store.delete("a").await.unwrap();
        store.delete("a").await.unwrap();
        assert_eq!(store.profiles().await.unwrap(), ["b"]);
        let leftovers: Vec<_> = fs::read_dir(store.dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary files left behind");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn file_is_0600_and_directory_0700() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("sessions"));
        store.save("p", &session()).await.unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&store.path("p").unwrap()), 0o600);
        assert_eq!(mode(store.dir()), 0o700);
    }

    /// serde's own message quotes the value it met; in a tampered session file that can be a token.
    #[tokio::test]
    async fn a_corrupt_file_never_echoes_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        store.save("p", &session()).await.unwrap();
        private_fs::write(&store.path("p").unwrap(), br#"{"version":1,"session":"acc-S3CRET"}"#).unwrap();
        let err = store.load("p").await.unwrap_err();
        assert!(matches!(err, Error::Store { .. }));
        assert!(!format!("{err} {err:?}").contains("acc-S3CRET"), "{err}");
    }

    #[tokio::test]
    async fn corrupt_file_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        fs::write(store.path("p").unwrap(), b"{\"version\":1,\"session\":{\"provi").unwrap();
        let err = store.load("p").await.unwrap_err();
        let Error::Store { path: Some(path), detail } = &err else { panic!("{err:?}") };
        assert_eq!(path, &store.path("p").unwrap());
        assert!(detail.contains("corrupt"), "{detail}");
        assert!(err.to_string().contains("p.json"));
        fs::write(store.path("p").unwrap(), b"{\"version\":9,\"session\":{}}").unwrap();
        assert!(matches!(store.load("p").await, Err(Error::Store { .. })));
    }

    #[tokio::test]
    async fn profile_names_cannot_escape_the_directory() {
        let store = FileStore::new("/nonexistent");
        for bad in ["../etc/passwd", ".hidden", "", "a/b", "sp ace"] {
            assert!(matches!(store.load(bad).await, Err(Error::InvalidInput(_))), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_renewal_lease_has_one_holder_and_ends_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (FileStore::new(dir.path().join("s")), FileStore::new(dir.path().join("s")));
        let ttl = Duration::from_secs(30);
        let lease = a.try_lock_renewal("p", ttl).await.unwrap().expect("free");
        assert!(b.try_lock_renewal("p", ttl).await.unwrap().is_none(), "contended");
        assert!(b.try_lock_renewal("q", ttl).await.unwrap().is_some(), "per profile");
        // The lease's lock file is not the write lock: the holder saves while holding it.
        a.save("p", &session()).await.unwrap();
        a.unlock_renewal("p", lease).await.unwrap();
        let lease = b.try_lock_renewal("p", ttl).await.unwrap().expect("given back");
        drop(lease);
        assert!(a.try_lock_renewal("p", ttl).await.unwrap().is_some(), "dropped");
        assert!(matches!(a.try_lock_renewal("../p", ttl).await, Err(Error::InvalidInput(_))));
        assert_eq!(a.profiles().await.unwrap(), ["p"], "lease files are not profiles");
    }

    #[tokio::test]
    async fn the_file_holds_secrets_only_because_the_store_wrote_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        store.save("p", &session()).await.unwrap();
        let text = fs::read_to_string(store.path("p").unwrap()).unwrap();
        assert!(text.contains("\"acc\"") && text.contains("\"version\": 1"));
    }
}
