//! A login waiting for a code between two invocations (`login … --no-wait`, then `verify`): the
//! challenge's portable part, kept 0600 under `pending/` until `verify` finishes or replaces it.
//!
//! It holds a secret (the provider's interim state), never the password or a code: `verify` asks
//! the profile's password source again when the provider needs it for the last step.
//!
//! It also holds the profile the login started with: the stored profile (and its session) stays
//! as it was until `verify` completes the login, so a started login pointed at another endpoint
//! never makes `token` or `logout` send the old session there.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use twofa_core::{
    Challenge, Error, ExposedChallenge,
    store::{check_profile, private_fs},
};

use crate::profile::Profile;

/// A pending login as `load` returns it.
pub struct Pending {
    /// The profile the login started with; `None` in a file from before profiles were kept here
    /// (the stored profile was saved at the start then).
    pub profile: Option<Profile>,
    /// The challenge waiting for its code.
    pub challenge: Challenge,
}

#[derive(Serialize)]
struct Saved<'a> {
    profile: &'a Profile,
    challenge: ExposedChallenge<'a>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Loaded {
    WithProfile { profile: Profile, challenge: Challenge },
    Bare(Challenge),
}

fn path(store_dir: &Path, name: &str) -> Result<PathBuf, Error> {
    check_profile(name)?;
    Ok(store_dir.join("pending").join(format!("{name}.json")))
}

/// Keeps `challenge` and the `profile` it started with for profile `name`; a live challenge (an
/// open connection) cannot be kept.
pub fn save(store_dir: &Path, name: &str, profile: &Profile, challenge: &Challenge) -> Result<(), Error> {
    let path = path(store_dir, name)?;
    let saved = Saved { profile, challenge: challenge.expose_secrets() };
    let json = zeroize::Zeroizing::new(serde_json::to_vec(&saved).map_err(|e| Error::InvalidInput(e.to_string()))?);
    private_fs::write(&path, &json)
}

/// The login kept for profile `name`, if any.
pub fn load(store_dir: &Path, name: &str) -> Result<Option<Pending>, Error> {
    let path = path(store_dir, name)?;
    let Some(bytes) = private_fs::read(&path)? else { return Ok(None) };
    let corrupt =
        |detail: String| Error::Store { path: Some(path.clone()), detail: format!("corrupt pending login: {detail}") };
    let loaded: Loaded = serde_json::from_slice(&bytes).map_err(|e| corrupt(twofa_core::json::describe_error(&e)))?;
    Ok(Some(match loaded {
        Loaded::WithProfile { profile, challenge } => {
            profile.check().map_err(|_| corrupt("its profile's URL holds credentials".into()))?;
            Pending { profile: Some(profile), challenge }
        }
        Loaded::Bare(challenge) => Pending { profile: None, challenge },
    }))
}

/// Forgets the challenge kept for profile `name` (none is fine).
pub fn delete(store_dir: &Path, name: &str) -> Result<(), Error> {
    private_fs::remove(&path(store_dir, name)?)
}
