//! The trait every provider implements.

use std::fmt;

use async_trait::async_trait;

use crate::{Challenge, Error, OneTimeCode, Session};

/// What a login start produced.
///
/// Deliberately exhaustive: a login step either ends in a session or asks for something, so a
/// `match` on it needs no wildcard arm.
#[derive(Debug)]
pub enum Step {
    /// Logged in without a second factor (the account has none, or a remembered device).
    Authenticated(Session),
    /// The provider wants a second factor: pass the code to [`TwoFactorFlow::verify`].
    Challenge(Challenge),
}

/// A backend's two-factor login: start → challenge → verify → session; resume; logout.
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

    /// Submits the code for a challenge this provider issued.
    async fn verify(&self, challenge: &Challenge, code: &OneTimeCode) -> Result<Session, Error>;

    /// Renews or re-establishes a session without a new code, when the provider can.
    async fn resume(&self, _session: &Session) -> Result<Session, Error> {
        Err(Error::Unsupported { operation: "resume" })
    }

    /// Ends the session at the provider.
    async fn logout(&self, _session: &Session) -> Result<(), Error> {
        Err(Error::Unsupported { operation: "logout" })
    }
}
