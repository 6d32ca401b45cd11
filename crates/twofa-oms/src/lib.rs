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
//! it with `WebAuthenticateUser {SessionToken}` on a new connection, no code needed. Over HTTP no
//! document shows a call for that, so resume is [`Error::Unsupported`] there and the session
//! manager logs in afresh. Logout is `LogOut {}` over WebSocket, `POST /AP/Logout` over HTTP.
//!
//! Trading bots log in with an **API key** instead ([`OmsBuilder::api_key`]): `AuthenticateUser`
//! with `APIKey`, `UserId`, a fresh `Nonce` and the lower-case hex HMAC-SHA256 `Signature` of
//! `Nonce + UserId + APIKey` keyed with the API secret — headers over HTTP, the payload over
//! WebSocket. It bypasses 2FA; a refused key is [`Error::InvalidApiKey`].
//!
//! **2FA once, then an API key**: [`OmsFlow::api_keys`] manages the keys of a logged-in user over
//! the session's transport — [`ApiKeys::create`] (`AddUserAPIKey` with [`Permission`]s; the
//! secret, shown only then, comes back as an [`ApiSecret`](twofa_core::ApiSecret)),
//! [`ApiKeys::list`] (`GetUserAPIKeys`) and [`ApiKeys::remove`] (`RemoveUserAPIKey`, after which
//! the key is refused).
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
//! [`Error::Unsupported`]: twofa_core::Error::Unsupported
//! [`Error::InvalidApiKey`]: twofa_core::Error::InvalidApiKey

mod api_key;
mod api_keys;
mod config;
mod flow;
mod frame;
mod wire;
mod ws;

pub use api_keys::{ApiKeyEntry, ApiKeys, NewApiKey, Permission};
pub use config::{DEFAULT_IDLE_TIMEOUT, OmsBuilder, Transport};
pub use flow::{OmsFlow, PROVIDER, SESSION_HEADER};

/// Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`); not a stable API.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing {
    use std::sync::OnceLock;

    use crate::{
        OmsFlow,
        wire::{Call, Reply},
    };

    const CALLS: [Call; 5] = [Call::Login, Call::KeyLogin, Call::Verify, Call::Resume, Call::Other];

    /// A flow to turn outcomes into sessions (built once: it holds an HTTP client).
    fn flow() -> Option<&'static OmsFlow> {
        static FLOW: OnceLock<Option<OmsFlow>> = OnceLock::new();
        FLOW.get_or_init(|| {
            OmsFlow::builder().endpoint("https://oms.invalid/").username("fuzz").password("fuzz").build().ok()
        })
        .as_ref()
    }

    /// A reply payload mapped for every kind of call, as outcome, session and generic answer.
    fn payload(bytes: &[u8]) -> bool {
        let mut parsed = true;
        for call in CALLS {
            match Reply::parse(bytes) {
                Ok(reply) => {
                    if let (Ok(outcome), Some(flow)) = (reply.outcome(call), flow()) {
                        let _ = flow.session_of(outcome);
                    }
                }
                Err(_) => parsed = false,
            }
            let _ = Reply::parse(bytes).and_then(|reply| reply.generic(call));
        }
        parsed
    }

    /// Decodes a WebSocket text message and maps its payload; `true` when it is a frame.
    pub fn frame(data: &[u8]) -> bool {
        // tungstenite hands over text messages as UTF-8 only.
        let Ok(text) = std::str::from_utf8(data) else { return false };
        let Ok(frame) = crate::frame::decode(text) else { return false };
        payload(frame.o.as_bytes());
        true
    }

    /// An HTTP gateway answer (laid out as [`twofa_core::fuzzing::answer`] reads it), mapped for
    /// every kind of call; `true` when its body parsed as a reply.
    pub fn reply(data: &[u8]) -> bool {
        let answer = twofa_core::fuzzing::answer(data);
        for call in CALLS {
            let _ = OmsFlow::reply(&answer, call);
        }
        payload(&answer.body)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn frame_corpus_replays_without_panic() {
            twofa_core::fuzzing::replay("oms_frame", |data| {
                super::frame(data);
            });
        }

        #[test]
        fn reply_corpus_replays_without_panic() {
            twofa_core::fuzzing::replay("oms_reply", |data| {
                super::reply(data);
            });
        }
    }
}
