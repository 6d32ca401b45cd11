//! Where sessions live between runs: one session per profile name.
//!
//! Stores are the only code that writes secrets: they serialize sessions through
//! [`Session::expose_secrets`](crate::Session::expose_secrets).

mod file;
mod memory;
pub mod private_fs;

use std::{any::Any, fmt, time::Duration};

use async_trait::async_trait;

pub use file::FileStore;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use file::decode as decode_session_file;
pub use memory::MemoryStore;

use crate::{Error, Session};

/// Persistent sessions, keyed by profile name.
#[async_trait]
pub trait SessionStore: Send + Sync + fmt::Debug {
    /// The session saved under `profile`, if any.
    async fn load(&self, profile: &str) -> Result<Option<Session>, Error>;
    /// Saves `session` under `profile`, replacing what was there.
    async fn save(&self, profile: &str, session: &Session) -> Result<(), Error>;
    /// Forgets `profile`; forgetting an unknown profile is not an error.
    async fn delete(&self, profile: &str) -> Result<(), Error>;
    /// Every saved profile name, sorted.
    async fn profiles(&self) -> Result<Vec<String>, Error>;

    /// Whether other processes may save sessions here: then the authenticator reads the store
    /// again before renewing, and adopts a fresh session another process saved.
    fn is_shared(&self) -> bool {
        false
    }

    /// Claims the right to renew `profile` for at most `ttl`; `Ok(None)` while another process
    /// holds it. A store that only this process uses grants it at once (the default).
    async fn try_lock_renewal(&self, _profile: &str, _ttl: Duration) -> Result<Option<RenewalLease>, Error> {
        Ok(Some(RenewalLease::local()))
    }

    /// Gives a lease back; a lease that expired meanwhile (and may be someone else's now) is left alone.
    async fn unlock_renewal(&self, _profile: &str, _lease: RenewalLease) -> Result<(), Error> {
        Ok(())
    }
}

/// The right to renew one profile, from [`SessionStore::try_lock_renewal`].
///
/// A lease is a token only its holder knows (a Redis lock's value, say) and, for stores whose lock
/// lives in an open file or connection, a guard that holds the lock: dropping the lease — or
/// giving it back with [`SessionStore::unlock_renewal`], which consumes it — drops the guard and
/// releases the lock.
pub struct RenewalLease {
    token: String,
    guard: Option<Box<dyn Any + Send + Sync>>,
}

impl fmt::Debug for RenewalLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenewalLease").field("token", &self.token).field("holds_guard", &self.guard.is_some()).finish()
    }
}

impl RenewalLease {
    /// A lease identified by `token`, which only its holder knows.
    pub fn new(token: impl Into<String>) -> Self {
        Self { token: token.into(), guard: None }
    }

    /// A lease identified by `token` that keeps `guard` (a locked file, say) alive until it is dropped.
    pub fn holding(token: impl Into<String>, guard: impl Any + Send + Sync) -> Self {
        Self { token: token.into(), guard: Some(Box::new(guard)) }
    }

    /// A lease of a store that nobody else uses.
    pub fn local() -> Self {
        Self::new("")
    }

    /// The holder's token.
    pub fn token(&self) -> &str {
        &self.token
    }
}

/// Checks a profile name: letters, digits, `.`, `_` and `-`, not starting with `.` (it names a file).
pub fn check_profile(profile: &str) -> Result<(), Error> {
    let ok = !profile.is_empty()
        && profile.len() <= 128
        && !profile.starts_with('.')
        && profile.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "`{profile}` is not a valid profile name (letters, digits, `.`, `_`, `-`; not starting with `.`)"
        )))
    }
}
