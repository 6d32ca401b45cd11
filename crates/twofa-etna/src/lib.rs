//! ETNA Trader / AutoShares two-factor login for [twofa](twofa_core).
//!
//! ETNA takes every input as a header of `POST {base}/token`: `Et-App-Key`, `Username` and
//! `Password` first; with 2FA on it answers 202 with an interim token, and the same POST plus
//! `Authorization: Bearer <interim>` and `VerificationCode: <code>` returns the access token.
//! An account with a security PIN is asked for it next (or only): a 202 with `Step: SecutityPin`
//! (sic), answered with `PinCode: <pin>`; `verify` then returns that PIN challenge, or sends the
//! PIN given to [`EtnaBuilder::pin`] by itself.
//! Later API calls carry `Authorization: Bearer <token>` **and** `Et-App-Key`; the [`Session`]
//! adds both. There is no refresh token: a session lives 24 h (configurable) and the session
//! manager logs in again after that.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sandbox = twofa_sandbox::Sandbox::start().await?;
//! # let base_url = sandbox.etna_base_url();
//! # let outbox = sandbox.outbox();
//! use twofa_core::{Step, TwoFactorFlow, OneTimeCode};
//! use twofa_etna::EtnaFlow;
//!
//! let flow = EtnaFlow::builder()
//!     .base_url(&base_url) // e.g. twofa_etna::DEMO_TRADER_API
//!     .app_key("sandbox-et-app-key")
//!     .username("alice")
//!     .password("sandbox-password")
//!     .build()?;
//! let Step::Challenge(challenge) = flow.start().await? else { unreachable!("alice has 2FA") };
//! let code = OneTimeCode::new(outbox.latest_code("alice").unwrap_or_default())?; // from email or SMS
//! let Step::Authenticated(session) = flow.verify(&challenge, &code).await? else { unreachable!("alice has no PIN") };
//! let request = session.authorize(reqwest::Client::new().get(format!("{base_url}/v1.0/users/me")))?;
//! # drop(request);
//! # Ok(()) }
//! ```
//!
//! [`Session`]: twofa_core::Session

mod account;
mod config;
mod flow;
mod wire;

pub use config::{
    AUTOSHARES_PRODUCTION, AUTOSHARES_SANDBOX, DEFAULT_TOKEN_LIFETIME, DEMO_BROKER_API, DEMO_TRADER_API, EtnaBuilder,
};
pub use flow::{EtnaFlow, PROVIDER};

/// Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`); not a stable API.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing {
    /// Interprets a `/token` answer (laid out as [`twofa_core::fuzzing::answer`] reads it);
    /// `true` when it is a token or a challenge.
    pub fn token_answer(data: &[u8]) -> bool {
        crate::flow::interpret(&twofa_core::fuzzing::answer(data)).is_ok()
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn token_answer_corpus_replays_without_panic() {
            twofa_core::fuzzing::replay("etna_token_answer", |data| {
                super::token_answer(data);
            });
        }
    }
}
