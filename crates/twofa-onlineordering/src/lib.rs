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
mod wire;

pub use config::{CustomerTokenPlacement, LAB, OnlineOrderingBuilder, PRODUCTION, ResponseFormat};
pub use flow::{DEVICE_ID_CLAIM, OnlineOrderingFlow, PROVIDER, remembered_device_id};

/// Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`); not a stable API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// Parses a token result as JSON or XML; `true` when it parsed.
    pub fn token_result(body: &[u8], xml: bool) -> bool {
        crate::wire::TokenResult::parse(body, Some(if xml { "application/xml" } else { "application/json" })).is_some()
    }

    /// Decodes an `id_token`; `true` when it held a JSON object.
    pub fn id_token(token: &str) -> bool {
        crate::wire::decode_id_token(token).is_some()
    }
}
