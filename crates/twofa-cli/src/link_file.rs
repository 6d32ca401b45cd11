//! A new `0600` file holding a secret link (the console's access link, the proxy's base URL), so
//! the link stays out of terminal scrollback and logs.

use std::{io::Write as _, path::Path};

use twofa_core::Error;

/// Creates `path` 0600 with `link` in it, `what` naming the file in the error: never over an
/// existing file, never through a symbolic link (`O_CREAT|O_EXCL` refuses both), so no other
/// account's file or link receives the secret.
///
/// # Errors
///
/// [`Error::Config`] saying why the file could not be created or written.
pub fn create(path: &Path, what: &str, link: &str) -> Result<(), Error> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let refused = |e: std::io::Error| {
        Error::Config(format!(
            "cannot create {what} {}: {e} (it must not exist yet; a symbolic link is never followed)",
            path.display()
        ))
    };
    let mut file = options.open(path).map_err(refused)?;
    writeln!(file, "{link}").and_then(|()| file.sync_all()).map_err(refused)
}
