//! A login waiting for a code between two invocations (`login … --no-wait`, then `verify`): the
//! challenge's portable part, kept 0600 under `pending/` until `verify` finishes or replaces it.
//!
//! It holds a secret (the provider's interim state), never the password or a code: `verify` asks
//! the profile's password source again when the provider needs it for the last step.

use std::path::{Path, PathBuf};

use twofa_core::{
    Challenge, Error,
    store::{check_profile, private_fs},
};

fn path(store_dir: &Path, name: &str) -> Result<PathBuf, Error> {
    check_profile(name)?;
    Ok(store_dir.join("pending").join(format!("{name}.json")))
}

/// Keeps `challenge` for profile `name`; a live challenge (an open connection) cannot be kept.
pub fn save(store_dir: &Path, name: &str, challenge: &Challenge) -> Result<(), Error> {
    let path = path(store_dir, name)?;
    let json = zeroize::Zeroizing::new(
        serde_json::to_vec(&challenge.expose_secrets()).map_err(|e| Error::InvalidInput(e.to_string()))?,
    );
    private_fs::write(&path, &json)
}

/// The challenge kept for profile `name`, if any.
pub fn load(store_dir: &Path, name: &str) -> Result<Option<Challenge>, Error> {
    let path = path(store_dir, name)?;
    let Some(bytes) = private_fs::read(&path)? else { return Ok(None) };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| Error::Store {
        path: Some(path),
        detail: format!("corrupt pending login: {}", twofa_core::json::describe_error(&e)),
    })
}

/// Forgets the challenge kept for profile `name` (none is fine).
pub fn delete(store_dir: &Path, name: &str) -> Result<(), Error> {
    private_fs::remove(&path(store_dir, name)?)
}
