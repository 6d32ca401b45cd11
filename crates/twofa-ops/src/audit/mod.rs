//! The audit trail: one JSON line per login, renewal, resume, logout and token hand-out.
//!
//! Each line is a [`Record`]: when, which profile and provider, the subject, the outcome, who asked
//! and a [fingerprint](FingerprintKey) of the token, never the token. [`AuditLog`] writes the file
//! `0600`, appends each line with one `write` on an `O_APPEND` descriptor (so lines of several
//! processes never interleave), and rotates it by size; [`read`] reads it back, skipping a last
//! line torn by a crash.

mod fingerprint;
mod read;

use std::{
    collections::BTreeMap,
    fs::File,
    io::Write as _,
    path::{Path, PathBuf},
    sync::{Mutex, PoisonError},
};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use fingerprint::{FINGERPRINT_BYTES, FingerprintKey};
pub use read::{Filter, Read, read};

use crate::{OpsError, private_file};

/// The environment variable naming the audit file (`twofa --audit-file`).
pub const AUDIT_FILE_ENV: &str = "TWOFA_AUDIT_FILE";

/// The size past which the file is rotated by default (8 MiB).
pub const DEFAULT_MAX_BYTES: u64 = 8 * 1024 * 1024;

/// How many rotated files are kept by default (`audit.log.1` … `audit.log.3`).
pub const DEFAULT_KEEP: usize = 3;

/// What a line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// A login with the credentials (and a code, when the provider asks for one).
    Login,
    /// A session renewed without a code (refresh token, or a new login the renewal needed).
    Renewal,
    /// An idle session taken up again.
    Resume,
    /// A logout.
    Logout,
    /// A token handed to a program (`twofa token`, `twofa exec`, a proxy client).
    Token,
}

impl Action {
    /// The name written in the file.
    pub fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Renewal => "renewal",
            Self::Resume => "resume",
            Self::Logout => "logout",
            Self::Token => "token",
        }
    }
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Record {
    /// When it happened (RFC 3339, UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// What happened.
    pub action: Action,
    /// The profile.
    pub profile: String,
    /// The provider (`etna`, `oms`, `onlineordering`).
    pub provider: String,
    /// The subject ids of the session (user, account…), when known.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subject: BTreeMap<String, String>,
    /// `ok`, or the error's stable kind (`invalid_code`, `transport`…).
    pub outcome: String,
    /// Who asked: `cli:login`, `cli:token`, `console`, `proxy`…
    pub actor: String,
    /// The [fingerprint](FingerprintKey::fingerprint) of the token used or handed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Record {
    /// A record of `action` on `profile` at `provider` by `actor`, now, with outcome `ok`.
    pub fn new(action: Action, profile: &str, provider: &str, actor: &str) -> Self {
        Self {
            time: OffsetDateTime::now_utc(),
            action,
            profile: profile.to_owned(),
            provider: provider.to_owned(),
            subject: BTreeMap::new(),
            outcome: "ok".to_owned(),
            actor: actor.to_owned(),
            token: None,
        }
    }

    /// The same record with the outcome of `result`: `ok`, or the error's [kind](twofa_core::Error::kind).
    pub fn outcome<T>(mut self, result: &Result<T, twofa_core::Error>) -> Self {
        self.outcome = match result {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.kind().to_owned(),
        };
        self
    }

    /// The same record with the outcome `ok`, or an error kind.
    pub fn with_outcome(mut self, outcome: &str) -> Self {
        self.outcome = outcome.to_owned();
        self
    }

    /// The same record with the session's subject ids.
    pub fn subject(mut self, subject: &BTreeMap<String, String>) -> Self {
        self.subject = subject.clone();
        self
    }

    /// The same record with a token fingerprint.
    pub fn token(mut self, fingerprint: String) -> Self {
        self.token = Some(fingerprint);
        self
    }

    /// The same record at `time`.
    pub fn at(mut self, time: OffsetDateTime) -> Self {
        self.time = time;
        self
    }
}

/// The audit file, open for appending.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    key: FingerprintKey,
    max_bytes: u64,
    keep: usize,
    file: Mutex<File>,
}

impl AuditLog {
    /// The audit file `path` (created `0600`), with the fingerprint key `path` + `.key` (made on
    /// first use, `0600`).
    ///
    /// # Errors
    ///
    /// [`OpsError::Io`] when it cannot be opened, [`OpsError::OpenPermissions`] when the file or
    /// its key is readable by others.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, OpsError> {
        let path = path.into();
        let key = FingerprintKey::load_or_create(&key_path(&path))?;
        Self::with_key(path, key)
    }

    /// The audit file `path` with the fingerprint key `key`.
    ///
    /// # Errors
    ///
    /// As [`AuditLog::open`].
    pub fn with_key(path: impl Into<PathBuf>, key: FingerprintKey) -> Result<Self, OpsError> {
        let path = path.into();
        let mut file = private_file::open_append(&path)?;
        end_torn_line(&path, &mut file)?;
        Ok(Self { path, key, max_bytes: DEFAULT_MAX_BYTES, keep: DEFAULT_KEEP, file: Mutex::new(file) })
    }

    /// Rotates once the file would pass `max_bytes` (default [`DEFAULT_MAX_BYTES`]), keeping
    /// `keep` older files (default [`DEFAULT_KEEP`]; 0 keeps none).
    pub fn rotate_at(mut self, max_bytes: u64, keep: usize) -> Self {
        self.max_bytes = max_bytes;
        self.keep = keep;
        self
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The fingerprint of `token` under this store's key.
    pub fn fingerprint(&self, token: &str) -> String {
        self.key.fingerprint(token)
    }

    /// Appends `record` as one line, in one `write`.
    ///
    /// # Errors
    ///
    /// [`OpsError::Io`] when the file cannot be written or rotated.
    pub fn append(&self, record: &Record) -> Result<(), OpsError> {
        let mut line = serde_json::to_vec(record).map_err(|e| OpsError::Config(e.to_string()))?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        self.reopen_if_rotated(&mut file)?;
        if self.too_long(&file, line.len())? {
            // One process rotates at a time: under the lock, look again (another may have just
            // rotated, and this one's descriptor then follows the new file).
            let lock = private_file::open_append(&lock_path(&self.path))?;
            lock.lock().map_err(OpsError::io(lock_path(&self.path)))?;
            self.reopen_if_rotated(&mut file)?;
            if self.too_long(&file, line.len())? {
                self.rotate()?;
                *file = private_file::open_append(&self.path)?;
            }
            // Unlocked when `lock` is closed.
        }
        // One write on an O_APPEND descriptor: the line lands whole at the end, after any other
        // process's line. A short write (disk full) is an error, not a retry that could interleave.
        let written = file.write(&line).map_err(OpsError::io(&self.path))?;
        if written != line.len() {
            return Err(OpsError::Io { path: self.path.clone(), source: std::io::ErrorKind::WriteZero.into() });
        }
        Ok(())
    }

    /// Whether `line_len` more bytes would take the (non-empty) file past its size.
    fn too_long(&self, file: &File, line_len: usize) -> Result<bool, OpsError> {
        let len = file.metadata().map_err(OpsError::io(&self.path))?.len();
        Ok(len > 0 && len + line_len as u64 > self.max_bytes)
    }

    /// Another process rotated the file: write to the new one.
    fn reopen_if_rotated(&self, file: &mut File) -> Result<(), OpsError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            let held = file.metadata().map_err(OpsError::io(&self.path))?.ino();
            let named = std::fs::metadata(&self.path).map(|m| m.ino()).ok();
            if named != Some(held) {
                *file = private_file::open_append(&self.path)?;
            }
        }
        #[cfg(not(unix))]
        let _ = file;
        Ok(())
    }

    /// `path.N-1` → `path.N` … `path` → `path.1`; the oldest beyond `keep` is dropped.
    fn rotate(&self) -> Result<(), OpsError> {
        if self.keep == 0 {
            return std::fs::remove_file(&self.path).map_err(OpsError::io(&self.path));
        }
        for n in (1..self.keep).rev() {
            let from = rotated(&self.path, n);
            if from.exists() {
                std::fs::rename(&from, rotated(&self.path, n + 1)).map_err(OpsError::io(&from))?;
            }
        }
        std::fs::rename(&self.path, rotated(&self.path, 1)).map_err(OpsError::io(&self.path))
    }
}

/// Ends a last line a crash left unfinished with a newline, so the next record starts a line of
/// its own (the torn one then reads as unreadable, and is skipped).
fn end_torn_line(path: &Path, file: &mut File) -> Result<(), OpsError> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut reader = File::open(path).map_err(OpsError::io(path))?;
    let len = reader.seek(SeekFrom::End(0)).map_err(OpsError::io(path))?;
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    reader.seek(SeekFrom::End(-1)).and_then(|_| reader.read_exact(&mut last)).map_err(OpsError::io(path))?;
    if last[0] != b'\n' {
        file.write_all(b"\n").map_err(OpsError::io(path))?;
    }
    Ok(())
}

/// The fingerprint key kept beside the audit file `path`: `path` + `.key`.
pub fn key_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// The lock the writers of `path` rotate under: `path` + `.lock` (empty).
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The `n`th rotated file of `path`: `path.n`.
pub fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(dir: &Path) -> AuditLog {
        AuditLog::open(dir.join("audit.log")).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_line_per_record_in_a_0600_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let log = log(dir.path());
        let token = "secret-token-value";
        let record = Record::new(Action::Token, "etna", "etna", "cli:token").token(log.fingerprint(token));
        log.append(&record).unwrap_or_else(|e| panic!("{e}"));
        log.append(&Record::new(Action::Logout, "etna", "etna", "cli:logout")).unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        assert_eq!(text.lines().count(), 2);
        assert!(!text.contains(token));
        let first: Record = serde_json::from_str(text.lines().next().unwrap_or("")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first, record);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            for path in [log.path().to_owned(), key_path(log.path())] {
                let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
                assert_eq!(mode, 0o600, "{}", path.display());
            }
        }
    }

    #[test]
    fn two_writers_rotating_one_file_lose_no_line() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("audit.log");
        let key = FingerprintKey::random();
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let log =
                    AuditLog::with_key(&path, key.clone()).unwrap_or_else(|e| panic!("{e}")).rotate_at(2000, 1000);
                std::thread::spawn(move || {
                    for n in 0..200 {
                        let record = Record::new(Action::Token, &format!("w{w}-{n}"), "etna", "test");
                        log.append(&record).unwrap_or_else(|e| panic!("{e}"));
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap_or_else(|_| panic!("a writer panicked"));
        }
        let read = read(&path, &Filter::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((read.records.len(), read.torn, read.unreadable), (400, 0, 0));
        for w in 0..2 {
            let mine: Vec<_> = read.records.iter().filter(|r| r.profile.starts_with(&format!("w{w}-"))).collect();
            let order: Vec<_> = mine.iter().map(|r| r.profile.clone()).collect();
            assert_eq!(
                order,
                (0..200).map(|n| format!("w{w}-{n}")).collect::<Vec<_>>(),
                "each writer's lines in order"
            );
        }
    }

    #[test]
    fn the_file_rotates_by_size_and_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let log = log(dir.path()).rotate_at(300, 2);
        for n in 0..12 {
            log.append(&Record::new(Action::Login, &format!("p{n}"), "etna", "cli:login"))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        assert!(size(log.path()) <= 300 && size(&rotated(log.path(), 1)) <= 300);
        assert!(rotated(log.path(), 2).exists() && !rotated(log.path(), 3).exists());
        let read = read(log.path(), &Filter::default()).unwrap_or_else(|e| panic!("{e}"));
        let profiles: Vec<_> = read.records.iter().map(|r| r.profile.as_str()).collect();
        assert_eq!(profiles.last(), Some(&"p11"), "oldest first, newest last: {profiles:?}");
        assert!(profiles.windows(2).all(|w| w[0][1..].parse::<u32>().ok() < w[1][1..].parse::<u32>().ok()));
    }
}
