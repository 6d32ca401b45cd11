//! Where a flow gets the password: asked only when a fresh login starts, never to resume or log out.
//!
//! A [`Password`] is the fixed source; [`PasswordFn`] wraps a closure (a prompt, an environment
//! variable, a keyring read); anything else implements [`PasswordSource`]. A provider builder takes
//! one with `.password_source(...)` (`.password(...)` is the fixed case), and its flow calls it in
//! `start()` — so a program that only resumes a stored session never asks anyone.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), twofa_core::Error> {
//! use twofa_core::{Password, PasswordFn, PasswordSource};
//!
//! // Nothing is read until a login asks.
//! let from_a_vault = PasswordFn::new(|| async { Ok(Password::new("read from a vault")) });
//! assert_eq!(from_a_vault.password().await?.expose_secret(), "read from a vault");
//! # Ok(()) }
//! ```

use std::{
    fmt,
    future::Future,
    sync::{Arc, Mutex, PoisonError},
};

use async_trait::async_trait;

use crate::{Error, Password};

/// Gives the password when a fresh login needs it.
#[async_trait]
pub trait PasswordSource: Send + Sync + fmt::Debug {
    /// The password. Called once per fresh login, from the flow's `start()`.
    async fn password(&self) -> Result<Password, Error>;

    /// The password, when it is known without asking (a fixed one): builders check it at build
    /// time instead of at the first login.
    fn known(&self) -> Option<&Password> {
        None
    }
}

#[async_trait]
impl PasswordSource for Password {
    async fn password(&self) -> Result<Password, Error> {
        Ok(self.clone())
    }

    fn known(&self) -> Option<&Password> {
        Some(self)
    }
}

/// A [`PasswordSource`] from an async closure, e.g. `PasswordFn::new(|| async { read_it() })`.
pub struct PasswordFn<F>(F);

impl<F> PasswordFn<F> {
    /// The source that calls `f` each time a login needs the password.
    pub fn new(f: F) -> Self {
        Self(f)
    }
}

impl<F> fmt::Debug for PasswordFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordFn")
    }
}

#[async_trait]
impl<F, Fut> PasswordSource for PasswordFn<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<Password, Error>> + Send,
{
    async fn password(&self) -> Result<Password, Error> {
        (self.0)().await
    }
}

/// A built flow's password: its source, and the answer of the login under way, so the later steps
/// of one login (ETNA sends the password with the code too) do not ask a second time.
#[derive(Clone)]
pub struct LoginPassword {
    source: Arc<dyn PasswordSource>,
    /// The error for an empty password, in the provider's words.
    empty: String,
    asked: Arc<Mutex<Option<Password>>>,
}

impl LoginPassword {
    /// `source`, refusing an empty answer with [`Error::Config`]`(empty)`.
    pub fn new(source: Arc<dyn PasswordSource>, empty: impl Into<String>) -> Self {
        Self { source, empty: empty.into(), asked: Arc::default() }
    }

    /// The password for a login that starts now: the source is asked (again).
    ///
    /// # Errors
    ///
    /// The source's error, or [`Error::Config`] for an empty password.
    pub async fn fresh(&self) -> Result<Password, Error> {
        let password = self.source.password().await?;
        if password.expose_secret().is_empty() {
            return Err(Error::Config(self.empty.clone()));
        }
        *self.slot() = Some(password.clone());
        Ok(password)
    }

    /// The password of the login under way; the source is asked only when this flow did not start
    /// it (a challenge saved by another process and verified here).
    ///
    /// # Errors
    ///
    /// As [`LoginPassword::fresh`].
    pub async fn current(&self) -> Result<Password, Error> {
        let asked = self.slot().clone();
        match asked {
            Some(password) => Ok(password),
            None => self.fresh().await,
        }
    }

    /// The password when it is fixed, for checks at build time.
    pub fn known(&self) -> Option<&Password> {
        self.source.known()
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Password>> {
        self.asked.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for LoginPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginPassword").field("source", &self.source).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn fresh_asks_each_time_current_reuses_the_answer() {
        let calls = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&calls);
        let source = PasswordFn::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok(Password::new("pw")) }
        });
        let password = LoginPassword::new(Arc::new(source), "empty");
        assert!(password.known().is_none());
        assert_eq!(password.current().await.unwrap().expose_secret(), "pw");
        assert_eq!(password.current().await.unwrap().expose_secret(), "pw");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        password.fresh().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_empty_answer_is_a_config_error_and_a_fixed_password_is_known() {
        let empty = LoginPassword::new(Arc::new(PasswordFn::new(|| async { Ok(Password::new("")) })), "needs one");
        assert!(matches!(empty.fresh().await, Err(Error::Config(m)) if m == "needs one"));
        let fixed = LoginPassword::new(Arc::new(Password::new("pw")), "x");
        assert_eq!(fixed.known().map(Password::expose_secret), Some("pw"));
        assert_eq!(format!("{fixed:?}"), "LoginPassword { source: Password([REDACTED]), .. }");
    }
}
