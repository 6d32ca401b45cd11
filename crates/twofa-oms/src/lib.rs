//! Exchange OMS (AlphaPoint APEX and its white labels) two-factor login for [twofa](twofa_core).
//!
//! Over the **WebSocket** gateway (the native transport), `WebAuthenticateUser {UserName,
//! Password}` answers `Requires2FA` (sometimes with `Authenticated` already `true`), and
//! `Authenticate2FA {Code}` must follow **on the same connection**: the [`Challenge`] holds that
//! live connection, so an OMS WebSocket challenge cannot be serialized. Frames are
//! `{"m","i","n","o"}` with `o` a JSON string holding JSON; requests carry even sequence numbers
//! from 2 and replies are matched by number and function name, skipping events and other replies
//! (a reply under our number for another function is a protocol error).
//!
//! Over the **HTTP** gateway, `GET /AP/AuthenticateUser` (Basic) returns a `Pending2FaToken` and
//! `POST /AP/Authenticate2FA` with header `pending2FaToken` completes the login; later calls carry
//! the session token as `aptoken`. That challenge is portable.
//!
//! A session lives one hour after its last activity; [`TwoFactorFlow::resume`] re-establishes
//! it with `WebAuthenticateUser {SessionToken}` on a new connection, no code needed.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sandbox = twofa_sandbox::Sandbox::start().await?;
//! # let gateway = sandbox.oms_ws_url();
//! use twofa_core::{code_source::Totp, login, LoginOptions, TotpSeed, TwoFactorFlow};
//! use twofa_oms::OmsFlow;
//!
//! let flow = OmsFlow::builder()
//!     .endpoint(&gateway) // wss://host/WSGateway, or https://host for the HTTP gateway
//!     .username("trader.totp")
//!     .password("sandbox-password")
//!     .build()?;
//! let authenticator_app = Totp::from_base32(&TotpSeed::new(twofa_sandbox::oms::TOTP_SEED))?;
//! let session = login(&flow, &authenticator_app, &LoginOptions::default()).await?;
//! let again = flow.resume(&session).await?; // a new connection, the same session, no code
//! # drop(again);
//! # Ok(()) }
//! ```
//!
//! [`Challenge`]: twofa_core::Challenge
//! [`TwoFactorFlow::resume`]: twofa_core::TwoFactorFlow::resume

mod config;
mod flow;
mod frame;
mod wire;
mod ws;

pub use config::{DEFAULT_IDLE_TIMEOUT, OmsBuilder, Transport};
pub use flow::{OmsFlow, PROVIDER, SESSION_HEADER};

/// Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`); not a stable API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// Decodes a WebSocket frame; `true` when it is one.
    pub fn frame(text: &str) -> bool {
        crate::frame::decode(text).is_ok()
    }

    /// Parses a reply and maps it for every kind of call; `true` when it parsed.
    pub fn reply(bytes: &[u8]) -> bool {
        use crate::wire::{Call, Reply};
        [Call::Login, Call::Verify, Call::Resume, Call::Other]
            .into_iter()
            .map(|call| Reply::parse(bytes).map(|r| r.outcome(call).is_ok()))
            .all(|parsed| parsed.is_ok())
    }
}
