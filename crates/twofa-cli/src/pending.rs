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

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use twofa_core::{
    Challenge, Error, ExposedChallenge,
    store::{check_profile, private_fs},
};

use crate::profile::Profile;

/// How long a pending login is kept when the provider does not say when its challenge expires: the
/// longest a documented challenge lives (ETNA's and Online Ordering's codes live minutes).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// A pending login as `load` returns it.
pub struct Pending {
    /// When the login stops waiting: the challenge's expiry, else its start plus
    /// [`DEFAULT_LIFETIME`]. `verify` after it sends nothing.
    pub expires_at: OffsetDateTime,
    /// The profile the login started with; `None` in a file from before profiles were kept here
    /// (the stored profile was saved at the start then).
    pub profile: Option<Profile>,
    /// The challenge waiting for its code.
    pub challenge: Challenge,
}

#[derive(Serialize)]
struct Saved<'a> {
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    profile: &'a Profile,
    challenge: ExposedChallenge<'a>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Loaded {
    WithProfile {
        #[serde(with = "time::serde::rfc3339::option", default)]
        expires_at: Option<OffsetDateTime>,
        profile: Box<Profile>,
        challenge: Challenge,
    },
    Bare(Challenge),
}

fn path(store_dir: &Path, name: &str) -> Result<PathBuf, Error> {
    check_profile(name)?;
    Ok(store_dir.join("pending").join(format!("{name}.json")))
}

/// Keeps `challenge` and the `profile` it started with for profile `name`; a live challenge (an
/// open connection) cannot be kept. Returns when it stops waiting.
pub fn save(store_dir: &Path, name: &str, profile: &Profile, challenge: &Challenge) -> Result<OffsetDateTime, Error> {
    let path = path(store_dir, name)?;
    let expires_at = expiry(challenge);
    let saved = Saved { expires_at, profile, challenge: challenge.expose_secrets() };
    let json = zeroize::Zeroizing::new(serde_json::to_vec(&saved).map_err(|e| Error::InvalidInput(e.to_string()))?);
    private_fs::write(&path, &json)?;
    Ok(expires_at)
}

/// The login kept for profile `name`, if any.
pub fn load(store_dir: &Path, name: &str) -> Result<Option<Pending>, Error> {
    let path = path(store_dir, name)?;
    let Some(bytes) = private_fs::read(&path)? else { return Ok(None) };
    let corrupt =
        |detail: String| Error::Store { path: Some(path.clone()), detail: format!("corrupt pending login: {detail}") };
    let loaded: Loaded = serde_json::from_slice(&bytes).map_err(|e| corrupt(twofa_core::json::describe_error(&e)))?;
    Ok(Some(match loaded {
        Loaded::WithProfile { expires_at, profile, challenge } => {
            profile.check().map_err(|_| corrupt("its profile's URL holds credentials".into()))?;
            // The earlier of the two: a file cannot keep a login alive past its challenge.
            let expires_at = expires_at.map_or(expiry(&challenge), |at| at.min(expiry(&challenge)));
            Pending { expires_at, profile: Some(*profile), challenge }
        }
        Loaded::Bare(challenge) => Pending { expires_at: expiry(&challenge), profile: None, challenge },
    }))
}

/// When `challenge` stops waiting: its expiry, else its start plus [`DEFAULT_LIFETIME`].
fn expiry(challenge: &Challenge) -> OffsetDateTime {
    challenge.expires_at().unwrap_or(challenge.issued_at() + DEFAULT_LIFETIME)
}

/// Forgets the challenge kept for profile `name` (none is fine).
pub fn delete(store_dir: &Path, name: &str) -> Result<(), Error> {
    private_fs::remove(&path(store_dir, name)?)
}
