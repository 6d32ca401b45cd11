//! Files only their owner reads: created `0600`, and refused when the group or others may read them.

use std::{
    fs::{File, OpenOptions},
    path::Path,
};

use crate::OpsError;

/// Refuses `file` (at `path`) when its group or others may read or write it.
pub(crate) fn check_private(file: &File, path: &Path) -> Result<(), OpsError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file.metadata().map_err(OpsError::io(path))?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(OpsError::OpenPermissions { path: path.to_owned(), mode });
        }
    }
    #[cfg(not(unix))]
    let _ = (file, path);
    Ok(())
}

/// The whole of the private file `path`, refused if the group or others may read it.
pub(crate) fn read_private(path: &Path) -> Result<Vec<u8>, OpsError> {
    use std::io::Read as _;
    let mut file = File::open(path).map_err(OpsError::io(path))?;
    check_private(&file, path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(OpsError::io(path))?;
    Ok(bytes)
}

/// `path` opened for appending (`O_APPEND`), created `0600` if missing; an existing file that the
/// group or others may read is refused.
pub(crate) fn open_append(path: &Path) -> Result<File, OpsError> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path).map_err(OpsError::io(path))?;
    check_private(&file, path)?;
    Ok(file)
}

/// Creates `path` `0600` with `bytes`, failing if it exists (`O_EXCL`: no symbolic link followed).
pub(crate) fn create_new(path: &Path, bytes: &[u8]) -> Result<(), OpsError> {
    use std::io::Write as _;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(OpsError::io(path))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(OpsError::io(path))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn a_file_others_may_read_is_refused_and_new_ones_are_0600() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("secret");
        create_new(&path, b"x").unwrap_or_else(|e| panic!("{e}"));
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
        assert_eq!(mode, 0o600);
        assert_eq!(read_private(&path).ok().as_deref(), Some(&b"x"[..]));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(read_private(&path), Err(OpsError::OpenPermissions { mode: 0o640, .. })));
        assert!(matches!(open_append(&path), Err(OpsError::OpenPermissions { .. })));
        assert!(matches!(create_new(&path, b"y"), Err(OpsError::Io { .. })), "never over an existing file");
    }
}
