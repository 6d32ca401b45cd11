//! Files only their owner may touch: how [`FileStore`](super::FileStore) keeps sessions and how the
//! `twofa` CLI keeps profiles.
//!
//! - Writes are atomic: a temporary file in the same directory, `fsync`, `rename`, `fsync` of the
//!   directory, under an advisory lock so writers of one file take turns. Files are created 0600,
//!   directories 0700. Temporary files a crash left behind are removed by the next write of the
//!   same file, and never read or listed.
//! - The final path component is never followed as a symbolic link (`O_NOFOLLOW`), so a link
//!   planted where a session or profile should be neither leaks a file nor overwrites one.
//! - A file or directory owned by another user (root aside), or writable by group or others, is
//!   refused with an [`Error::Store`] naming the path and the fix — OpenSSH's rule for `~/.ssh`.
//! - Reads are bounded ([`MAX_FILE_BYTES`]) and refuse anything but a regular file; a FIFO is
//!   opened non-blocking, so it cannot hang the reader.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Read as _, Write as _},
    path::Path,
};

use zeroize::Zeroizing;

use crate::Error;

/// The largest file read: a session or a profile is a few KiB.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

fn store_error(path: &Path, detail: impl Into<String>) -> Error {
    Error::Store { path: Some(path.to_owned()), detail: detail.into() }
}

fn io_error(path: &Path, what: &str, e: &io::Error) -> Error {
    if is_symlink_error(e) {
        return store_error(
            path,
            format!(
                "{what}: it is a symbolic link, which twofa never follows (fix: replace the link with the file itself)"
            ),
        );
    }
    store_error(path, format!("{what}: {e}"))
}

#[cfg(unix)]
fn is_symlink_error(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
}

#[cfg(not(unix))]
fn is_symlink_error(_: &io::Error) -> bool {
    false
}

/// Options that never follow a symbolic link in the final component and never block on a FIFO.
fn options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits().cast_signed()).mode(0o600);
    }
    options
}

/// Refuses `meta` (of `path`) when another user owns it or group/others may write it.
#[cfg(unix)]
fn check_owner_and_mode(path: &Path, meta: &fs::Metadata) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt as _;
    let me = rustix::process::geteuid().as_raw();
    let owner = meta.uid();
    if owner != me && owner != 0 {
        return Err(store_error(
            path,
            format!(
                "owned by uid {owner}, not by this user (uid {me}): another account could have written it \
                 (fix: remove it, or `chown {me} {}` if its content is yours)",
                path.display()
            ),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(store_error(
            path,
            format!(
                "writable by group or others (mode {:o}), so another account could change it (fix: `chmod go-w {}`)",
                meta.mode() & 0o7777,
                path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_and_mode(_: &Path, _: &fs::Metadata) -> Result<(), Error> {
    Ok(())
}

/// Checks that `dir` is a directory, not a symbolic link, that only its owner (this user or root)
/// can write, under parents only their owners (this user or root) can write — as OpenSSH's
/// StrictModes checks `~/.ssh`. Whoever may write a parent can swap the directory for a link to
/// wherever the secrets should go; a world-writable parent with the sticky bit (`/tmp`) is
/// accepted, since no one else may rename or remove what is in it.
pub fn check_dir(dir: &Path) -> Result<(), Error> {
    let meta = fs::symlink_metadata(dir).map_err(|e| io_error(dir, "cannot inspect the directory", &e))?;
    if meta.file_type().is_symlink() {
        return Err(store_error(
            dir,
            "a symbolic link, which twofa never follows to a directory of secrets (fix: remove the link, \
             or name the directory it points to)",
        ));
    }
    if !meta.is_dir() {
        return Err(store_error(dir, "not a directory"));
    }
    check_owner_and_mode(dir, &meta)?;
    check_parents(dir)
}

/// Refuses `dir` when a parent of its real path is another user's or writable by group or others
/// (without the sticky bit).
#[cfg(unix)]
fn check_parents(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt as _;
    let real = fs::canonicalize(dir).map_err(|e| io_error(dir, "cannot resolve the directory", &e))?;
    for parent in real.ancestors().skip(1) {
        let meta = fs::metadata(parent).map_err(|e| io_error(parent, "cannot inspect a parent directory", &e))?;
        let sticky = meta.mode() & 0o1000 != 0;
        if sticky && meta.uid() == 0 {
            continue;
        }
        check_owner_and_mode(parent, &meta)?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_parents(_: &Path) -> Result<(), Error> {
    Ok(())
}

/// Creates `dir` (and its parents) with mode 0700 if missing, then checks it as [`check_dir`] does.
pub fn create_dir(dir: &Path) -> Result<(), Error> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| io_error(dir, "cannot create the directory", &e))?;
    check_dir(dir)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The contents of `path`; `None` when it does not exist.
///
/// Refuses a symbolic link, anything but a regular file, a file or directory that another user
/// owns or group/others may write, and a file over [`MAX_FILE_BYTES`].
pub fn read(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
    let file = match options().read(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, "cannot open the file", &e)),
    };
    check_dir(parent(path))?;
    let meta = file.metadata().map_err(|e| io_error(path, "cannot inspect the file", &e))?;
    if !meta.is_file() {
        return Err(store_error(path, "not a regular file (a FIFO, device or directory is never read)"));
    }
    check_owner_and_mode(path, &meta)?;
    let too_large = || store_error(path, format!("larger than {MAX_FILE_BYTES} bytes; not a twofa file"));
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    // Room for one byte more than the limit, so a file that grew since `fstat` is caught without a copy.
    let mut bytes = Zeroizing::new(Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0) + 1));
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| io_error(path, "cannot read the file", &e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(Some(bytes))
}

/// Opens (creating it 0600 if missing) the lock file `path`, unlocked, after the same checks as [`read`].
pub fn lock_file(path: &Path) -> Result<File, Error> {
    let file = options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| io_error(path, "cannot open the lock file", &e))?;
    let meta = file.metadata().map_err(|e| io_error(path, "cannot inspect the lock file", &e))?;
    if !meta.is_file() {
        return Err(store_error(path, "the lock file is not a regular file"));
    }
    check_owner_and_mode(path, &meta)?;
    Ok(file)
}

/// Replaces `path` with `bytes` atomically, creating its directory (0700) if needed.
///
/// Writers of one file, in this process or another, take turns on `.{name}.lock`; the temporary
/// files `.{name}.*.tmp` that a crashed writer left are removed. An existing `path` that is a
/// symbolic link, not a regular file, or another user's is refused and left as it is.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = parent(path);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| store_error(path, "the file name is not valid UTF-8"))?;
    create_dir(dir)?;
    let lock = lock_file(&dir.join(format!(".{name}.lock")))?;
    lock.lock().map_err(|e| io_error(path, "cannot lock the file", &e))?;
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(store_error(
                path,
                "a symbolic link, which twofa never follows or replaces (fix: remove the link)",
            ));
        }
        Ok(meta) if !meta.is_file() => return Err(store_error(path, "not a regular file; remove it first")),
        Ok(meta) => check_owner_and_mode(path, &meta)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(path, "cannot inspect the file", &e)),
    }
    remove_leftovers(dir, name);
    let tmp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), rand_suffix()));
    let result = (|| {
        let mut file = options().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        // The rename is durable only once the directory entry is.
        #[cfg(unix)]
        File::open(dir)?.sync_all()?;
        Ok::<_, io::Error>(())
    })();
    drop(lock);
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_error(path, "cannot write the file", &e)
    })
}

/// Removes `.{name}.*.tmp` in `dir`: the writer holding `.{name}.lock` is the only one alive, so
/// any such file is what a crashed writer left.
fn remove_leftovers(dir: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else { continue };
        if file_name.starts_with(&prefix) && file_name.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// A per-write suffix, so concurrent writers never share a temporary file.
fn rand_suffix() -> u64 {
    (crate::retry::jitter() * u64::MAX as f64) as u64
}

/// Removes `path` (a link itself, never its target); a missing file or directory is not an error.
///
/// Its directory is checked as [`check_dir`] does first: a delete through a planted symbolic link
/// (`sessions/` pointing elsewhere) would remove a file of this user's that whoever planted the
/// link could not remove themselves.
pub fn remove(path: &Path) -> Result<(), Error> {
    let dir = parent(path);
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        _ => check_dir(dir)?,
    }
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error(path, "cannot delete the file", &e)),
        _ => Ok(()),
    }
}

/// The names (without `suffix`) of the regular files in `dir` that end in `suffix` and pass
/// `valid`, sorted; an empty list when `dir` does not exist. Hidden files (temporary files, locks)
/// and symbolic links are never listed.
pub fn list(dir: &Path, suffix: &str, valid: impl Fn(&str) -> bool) -> Result<Vec<String>, Error> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(dir, "cannot list the directory", &e)),
    };
    check_dir(dir)?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(suffix).map(str::to_owned))
        .filter(|name| !name.starts_with('.') && valid(name))
        .collect();
    names.sort();
    Ok(names)
}
