//! NCR Aloha Online Ordering two-factor login for [twofa](twofa_core).
//!
//! `POST {base}/v1/Authenticate/2FA?sendEmail=` with `{Email, Password, DeviceId?}` answers 200 with
//! tokens, or **303** with the second-factor method (email, or an authenticator with its setup
//! data) inside a base64 JSON `id_token`. The code goes back as
//! `GET {base}/v1/Authenticate/2FA?email=&code=&rememberMe=&nickname=`, and
//! `POST {base}/v1/Authenticate/2FA/Refresh` renews the session with the refresh token
//! ([`TwoFactorFlow::resume`](twofa_core::TwoFactorFlow::resume)). Every call carries the
//! integrator's Basic credentials and `X-Api-CompanyCode`.
//!
//! A guest logs in without a password: [`OnlineOrderingBuilder::guest`] instead of `email` +
//! `password` sends `POST {base}/v1/Authenticate/Guest?sendEmail=` with `{Email, DeviceId?}`,
//! answered and verified like the customer login (200, or 303 then the same `GET`).
//!
//! The flow never follows redirects: reqwest would turn the 303 into a GET and lose the challenge.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sandbox = twofa_sandbox::Sandbox::start().await?;
//! # let base_url = sandbox.base_url();
//! # let outbox = sandbox.outbox();
//! use twofa_core::{OneTimeCode, Step, TwoFactorFlow};
//! use twofa_onlineordering::OnlineOrderingFlow;
//!
//! let flow = OnlineOrderingFlow::builder()
//!     .base_url(&base_url) // e.g. twofa_onlineordering::PRODUCTION
//!     .company_code("SANDBOX001")
//!     .integrator("sandbox-integrator", "sandbox-api-password")
//!     .email("email.customer@example.com")
//!     .password("sandbox-password")
//!     .build()?;
//! let Step::Challenge(challenge) = flow.start().await? else { unreachable!("this customer has 2FA") };
//! let code = outbox.latest_code("email.customer@example.com").unwrap_or_default();
//! let Step::Authenticated(session) = flow.verify(&challenge, &OneTimeCode::new(code)?).await? else { unreachable!() };
//! println!("customer {:?}, expires {:?}", session.subject().get("CustomerId"), session.expires_at());
//! let renewed = flow.resume(&session).await?; // refresh token, no new code
//! # drop(renewed);
//! # Ok(()) }
//! ```

mod config;
mod flow;
#[cfg(test)]
mod hostile_answers;
mod wire;

pub use config::{CustomerTokenPlacement, LAB, OnlineOrderingBuilder, PRODUCTION, ResponseFormat};
pub use flow::{DEVICE_ID_CLAIM, OnlineOrderingFlow, PROVIDER, remembered_device_id};

/// Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`); not a stable API.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing {
    use std::sync::OnceLock;

    use crate::{
        OnlineOrderingFlow,
        flow::Call,
        wire::{Claims, decode_id_token},
    };

    /// A flow to turn answers into sessions and challenges (built once: it holds an HTTP client).
    fn flow() -> Option<&'static OnlineOrderingFlow> {
        static FLOW: OnceLock<Option<OnlineOrderingFlow>> = OnceLock::new();
        FLOW.get_or_init(|| {
            OnlineOrderingFlow::builder()
                .base_url("https://onlineordering.invalid/")
                .company_code("FUZZ")
                .integrator("fuzz", "fuzz")
                .email("fuzz@example.com")
                .password("fuzz")
                .build()
                .ok()
        })
        .as_ref()
    }

    /// The first byte chooses: odd, the rest is an `id_token` (text); even, the rest is an answer of
    /// `v1/Authenticate/2FA*` (laid out as [`twofa_core::fuzzing::answer`] reads it, JSON or WCF XML
    /// by its content type), read as a session, a challenge and an error for every call.
    pub fn answer(data: &[u8]) {
        let Some((mode, rest)) = data.split_first() else { return };
        if mode % 2 == 1 {
            let json = std::str::from_utf8(rest).ok().and_then(decode_id_token);
            if let Some(claims) = json.as_deref().and_then(Claims::parse) {
                for key in ["AuthenticationMethod", "ManualEntryKey", "QrCodeData", "CustomerId"] {
                    let _ = claims.text(key);
                }
                claims.into_iter().for_each(|(_, value)| drop(value.into_json()));
            }
            return;
        }
        let answer = twofa_core::fuzzing::answer(rest);
        if let Some(flow) = flow() {
            if let Ok(session) = flow.session(&answer, None) {
                twofa_core::fuzzing::use_session(&session);
                let _ = crate::remembered_device_id(&session);
            }
            if let Ok(challenge) = flow.challenge(&answer) {
                let _ = serde_json::to_vec(&challenge.expose_secrets());
            }
        }
        for call in [Call::Login, Call::Verify, Call::Refresh] {
            let _ = OnlineOrderingFlow::error(&answer, call);
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn answers_corpus_replays_without_panic() {
            twofa_core::fuzzing::replay("onlineordering_answers", super::answer);
        }
    }
}
