//! How long a failed renewal is answered from memory before another is tried.
//!
//! A wrong password that every caller retries is the path to an account lockout: providers lock
//! an account after a few failed logins, and a busy service asks for a token many times a second.
//! So a failed renewal is remembered, and callers within its cool-down get the same error without
//! a request. What needs a person to act (a rejected password, app key or code, a locked account,
//! a code source that has nothing to give, a reply twofa does not understand) cools down for long;
//! what may pass by itself (a timeout, a refused connection, a 5xx, a busy store) for a short
//! while, so a service that lost its network does not hammer the provider when it comes back; a
//! rate limit for as long as the provider asked.

use std::time::Duration;

use crate::Error;

/// How long a failed renewal is answered from memory; see [`AuthenticatorBuilder::cooldown`](crate::AuthenticatorBuilder::cooldown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cooldown {
    /// After a failure that needs a person to act: rejected credentials, app key or code, a locked
    /// account or expired password, a code source that failed, an expired challenge, a
    /// configuration error or a reply twofa does not understand (default 30 s).
    pub rejected: Duration,
    /// After a failure that may pass by itself: transport errors (timeouts included), 5xx, store
    /// errors (default 1 s). Zero retries on the next call.
    pub transient: Duration,
    /// The longest wait a rate limit's `Retry-After` can impose (default 15 min); a rate limit
    /// without one cools down for [`Cooldown::rejected`].
    pub max_rate_limited: Duration,
}

impl Default for Cooldown {
    fn default() -> Self {
        Self {
            rejected: Duration::from_secs(30),
            transient: Duration::from_secs(1),
            max_rate_limited: Duration::from_secs(15 * 60),
        }
    }
}

impl Cooldown {
    /// No cool-down at all: every call after a failure tries again (risky with a wrong
    /// password: it is how accounts get locked).
    pub fn none() -> Self {
        Self { rejected: Duration::ZERO, transient: Duration::ZERO, max_rate_limited: Duration::ZERO }
    }

    /// Sets [`Cooldown::rejected`].
    pub fn rejected(mut self, wait: Duration) -> Self {
        self.rejected = wait;
        self
    }

    /// Sets [`Cooldown::transient`].
    pub fn transient(mut self, wait: Duration) -> Self {
        self.transient = wait;
        self
    }

    /// Sets [`Cooldown::max_rate_limited`].
    pub fn max_rate_limited(mut self, wait: Duration) -> Self {
        self.max_rate_limited = wait;
        self
    }

    /// How long `error` is answered from memory.
    pub fn for_error(&self, error: &Error) -> Duration {
        match error {
            Error::RateLimited { retry_after } => retry_after.unwrap_or(self.rejected).min(self.max_rate_limited),
            Error::Store { .. } => self.transient,
            e if e.is_retryable() => self.transient,
            _ => self.rejected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TransportKind;

    #[test]
    fn failures_that_need_a_person_cool_down_long_and_transient_ones_short() {
        let c = Cooldown::default();
        for e in [
            Error::InvalidCredentials,
            Error::InvalidAppKey,
            Error::AccountLocked,
            Error::PasswordExpired { reset_token: None },
            Error::PinNotSet { setup: Box::default() },
            Error::InvalidCode,
            Error::InvalidPin,
            Error::unsupported_step("FaceId"),
            Error::ChallengeExpired,
            Error::CodeSource("nobody there".into()),
            Error::unexpected(Some(400), "bad"),
            Error::Provider { code: 7, message: "no".into() },
        ] {
            assert_eq!(c.for_error(&e), Duration::from_secs(30), "{e}");
        }
        for e in [
            Error::transport(TransportKind::Timeout, "slow"),
            Error::transport(TransportKind::Connect, "refused"),
            Error::unexpected(Some(503), "down"),
            Error::Store { path: None, detail: "busy".into() },
        ] {
            assert_eq!(c.for_error(&e), Duration::from_secs(1), "{e}");
        }
    }

    #[test]
    fn a_rate_limit_cools_down_as_asked_within_a_bound() {
        let c = Cooldown::default();
        let asked = |s| Error::RateLimited { retry_after: Some(Duration::from_secs(s)) };
        assert_eq!(c.for_error(&asked(42)), Duration::from_secs(42));
        assert_eq!(c.for_error(&asked(86_400)), Duration::from_secs(15 * 60));
        assert_eq!(c.for_error(&Error::RateLimited { retry_after: None }), Duration::from_secs(30));
        assert_eq!(Cooldown::none().for_error(&Error::InvalidCredentials), Duration::ZERO);
    }
}
