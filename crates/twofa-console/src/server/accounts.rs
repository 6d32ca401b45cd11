//! What the Sessions page lists and its buttons act on: the caller's profiles (the CLI's profile
//! directory and session store, or the sandbox's demo accounts).

use std::{fmt, sync::Arc, time::Duration};

use async_trait::async_trait;
use twofa_core::{CodeSource, Error, Password, Session, time::OffsetDateTime};

/// One profile as the Sessions page shows it. Holds the stored session to show its state and
/// times; the page never prints a token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Account {
    /// The profile name.
    pub profile: String,
    /// The provider.
    pub provider: String,
    /// Who logs in (a user name, an email…), or empty.
    pub user: String,
    /// The stored session, if any.
    pub session: Option<Session>,
    /// Whether the console can log this profile in (it knows how to build its flow).
    pub can_log_in: bool,
    /// Whether logging in needs a password typed on the page (no variable or keyring holds it).
    pub asks_password: bool,
}

impl Account {
    /// A profile that can log in without a typed password.
    pub fn new(profile: impl Into<String>, provider: impl Into<String>, user: impl Into<String>) -> Self {
        Self {
            profile: profile.into(),
            provider: provider.into(),
            user: user.into(),
            session: None,
            can_log_in: true,
            asks_password: false,
        }
    }

    /// With its stored session.
    pub fn with_session(mut self, session: Option<Session>) -> Self {
        self.session = session;
        self
    }

    /// Whether logging in needs a password typed on the page.
    pub fn asks_password(mut self, asks: bool) -> Self {
        self.asks_password = asks;
        self
    }

    /// Whether the console can log this profile in.
    pub fn can_log_in(mut self, can: bool) -> Self {
        self.can_log_in = can;
        self
    }
}

/// The profiles a console manages.
#[async_trait]
pub trait Accounts: Send + Sync + fmt::Debug {
    /// Every profile, sorted by name.
    async fn list(&self) -> Result<Vec<Account>, Error>;

    /// Logs `profile` in (a stored session is renewed or replaced), asking `codes` for the second
    /// factor; `password` is the one typed on the page, when the profile asks for one.
    async fn login(&self, profile: &str, password: Option<Password>, codes: Arc<dyn CodeSource>) -> Result<(), Error>;

    /// Ends `profile`'s session at the provider and in the store; the profile itself stays.
    async fn logout(&self, profile: &str) -> Result<(), Error>;
}

/// A console without profiles: only bots' challenges show.
#[derive(Debug, Default)]
pub struct NoAccounts;

#[async_trait]
impl Accounts for NoAccounts {
    async fn list(&self) -> Result<Vec<Account>, Error> {
        Ok(Vec::new())
    }

    async fn login(&self, profile: &str, _: Option<Password>, _: Arc<dyn CodeSource>) -> Result<(), Error> {
        Err(Error::Config(format!("this console does not know how to log `{profile}` in")))
    }

    async fn logout(&self, profile: &str) -> Result<(), Error> {
        Err(Error::Config(format!("this console does not know `{profile}`")))
    }
}

/// A stored session's state, as the Sessions page names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Usable, and not about to lapse.
    Valid,
    /// Lapses (expiry or idle deadline) within [`EXPIRING`].
    Expiring,
    /// Past its idle deadline (counted from its last renewal: the store does not know later use).
    IdleExpired,
    /// Past its expiry.
    Expired,
    /// No session stored.
    None,
}

/// How close to its end a session counts as expiring.
pub const EXPIRING: Duration = Duration::from_secs(300);

impl SessionState {
    /// The state of `session` at `now`.
    pub fn of(session: Option<&Session>, now: OffsetDateTime) -> Self {
        let Some(session) = session else { return Self::None };
        if session.expires_at().is_some_and(|at| now >= at) {
            return Self::Expired;
        }
        let idle_deadline = idle_deadline(session);
        if idle_deadline.is_some_and(|at| now >= at) {
            return Self::IdleExpired;
        }
        let soon = now + EXPIRING;
        if session.expires_at().into_iter().chain(idle_deadline).any(|at| at <= soon) {
            return Self::Expiring;
        }
        Self::Valid
    }

    /// The page's word for it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Expiring => "expiring",
            Self::IdleExpired => "idle-expired",
            Self::Expired => "expired",
            Self::None => "none",
        }
    }
}

/// When `session` idles out if unused since its last renewal.
pub fn idle_deadline(session: &Session) -> Option<OffsetDateTime> {
    session.idle_timeout().map(|idle| session.issued_at() + idle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use twofa_core::{AccessToken, TokenPlacement};

    fn session(lifetime: Option<i64>, idle: Option<u64>, now: OffsetDateTime) -> Session {
        let mut s = Session::new("etna", AccessToken::new("t"), TokenPlacement::Bearer, now)
            .with_expires_at(lifetime.map(|secs| now + time_secs(secs)));
        if let Some(idle) = idle {
            s = s.with_idle_timeout(Duration::from_secs(idle));
        }
        s
    }

    fn time_secs(secs: i64) -> twofa_core::time::Duration {
        twofa_core::time::Duration::seconds(secs)
    }

    #[test]
    fn states_follow_expiry_and_idle_deadline() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(SessionState::of(None, now), SessionState::None);
        assert_eq!(SessionState::of(Some(&session(Some(3600), None, now)), now), SessionState::Valid);
        assert_eq!(SessionState::of(Some(&session(Some(60), None, now)), now), SessionState::Expiring);
        assert_eq!(SessionState::of(Some(&session(Some(60), None, now)), now + time_secs(61)), SessionState::Expired);
        let idle = session(None, Some(3600), now);
        assert_eq!(SessionState::of(Some(&idle), now), SessionState::Valid);
        assert_eq!(SessionState::of(Some(&idle), now + time_secs(3400)), SessionState::Expiring);
        assert_eq!(SessionState::of(Some(&idle), now + time_secs(3601)), SessionState::IdleExpired);
    }
}
