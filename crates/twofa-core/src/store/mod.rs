//! Where sessions live between runs: one session per profile name.
//!
//! Stores are the only code that writes secrets: they serialize sessions through
//! [`Session::expose_secrets`](crate::Session::expose_secrets).

mod file;
mod memory;

use std::fmt;

use async_trait::async_trait;

pub use file::FileStore;
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
