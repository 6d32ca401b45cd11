//! The trait every provider implements.

use std::fmt;

use async_trait::async_trait;

use crate::{Challenge, Error, OneTimeCode, Session};

/// Where a login stands after [`TwoFactorFlow::start`] or [`TwoFactorFlow::verify`].
///
/// Deliberately exhaustive: a login step either ends in a session or asks for something, so a
/// `match` on it needs no wildcard arm.
#[derive(Debug)]
pub enum Step {
    /// Logged in: no (further) factor needed.
    Authenticated(Session),
    /// The provider wants a (further) factor: pass the answer to [`TwoFactorFlow::verify`] with
    /// this challenge. A login may take several, e.g. a verification code, then a security PIN.
    Challenge(Challenge),
}

impl Step {
    /// The session, if logged in.
    pub fn session(self) -> Option<Session> {
        match self {
            Self::Authenticated(session) => Some(session),
            Self::Challenge(_) => None,
        }
    }

    /// The next challenge, if one is pending.
    pub fn challenge(self) -> Option<Challenge> {
        match self {
            Self::Challenge(challenge) => Some(challenge),
            Self::Authenticated(_) => None,
        }
    }
}

/// A backend's two-factor login: start → challenge → verify → session (or a further challenge,
/// verified the same way); resume; logout.
///
/// Object safe, so `Box<dyn TwoFactorFlow>` and `Arc<dyn TwoFactorFlow>` swap providers behind
/// one type. Implementations never retry `start` or `verify` by themselves: both may send a code
/// or burn an attempt at the provider.
#[async_trait]
pub trait TwoFactorFlow: Send + Sync + fmt::Debug {
    /// The provider's short name, e.g. `etna`; sessions and challenges carry it.
    fn provider(&self) -> &'static str;

    /// Sends the credentials. The answer is a session, or a challenge that waits for a code.
    async fn start(&self) -> Result<Step, Error>;

    /// Submits the answer (a code, or a PIN when [`Challenge::method`] says so) to a challenge this
    /// provider issued. The answer is a session, or the next challenge of a multi-step login.
    ///
    /// A provider that re-asks for the same kind of factor (a new challenge with the same
    /// [`Method`](crate::Method) kind) is refusing this answer; [`login`](crate::login) counts it as a failed attempt.
    async fn verify(&self, challenge: &Challenge, code: &OneTimeCode) -> Result<Step, Error>;

    /// The endpoint and account this flow logs in to, stamped on every session it issues (see
    /// [`Origin`](crate::Origin)). The [`Authenticator`](crate::Authenticator) treats a stored
    /// session with another origin as absent. `None` (the default) for a flow that does not say:
    /// then only the provider's name is compared.
    fn origin(&self) -> Option<&crate::Origin> {
        None
    }

    /// Renews or re-establishes a session without a new code, when the provider can. A provider
    /// refuses a session it did not issue ([`Session::ensure_issued_by`]) before sending any of it.
    async fn resume(&self, _session: &Session) -> Result<Session, Error> {
        Err(Error::Unsupported { operation: "resume" })
    }

    /// Ends the session at the provider; refuses, as `resume` does, a session it did not issue.
    async fn logout(&self, _session: &Session) -> Result<(), Error> {
        Err(Error::Unsupported { operation: "logout" })
    }

    /// Whether every wait inside `start`, `verify` and `resume` ends by
    /// [`deadline::clamp`](crate::deadline::clamp) — true of a flow that only waits on
    /// [`Http`](crate::http::Http) requests, which apply it. The login's deadline then needs no
    /// timer of its own. The default, `false`, is always safe.
    fn waits_are_clamped(&self) -> bool {
        false
    }
}
