//! The provider-neutral core of twofa.
//!
//! twofa logs programs and people into APIs that demand a second factor. This crate holds what
//! every backend shares:
//!
//! - [`TwoFactorFlow`]: start → [`Challenge`] → verify a [`OneTimeCode`] → [`Session`] (or a further
//!   challenge, e.g. a security PIN after a code); resume; logout.
//! - Secret types ([`Password`], [`AccessToken`], …) that never print and are zeroized on drop.
//! - One [`Error`] enum whose variants say what to do next.
//! - [`CodeSource`]s: a terminal [`Prompt`](code_source::Prompt), [`Totp`](code_source::Totp),
//!   an environment variable, a callback, or a channel fed by another task.
//! - [`login`], the driver that ties a flow to a code source with bounded retries.
//! - [`Authenticator`], the session manager: cached, renewed once however many tasks ask,
//!   persisted through a [`store::SessionStore`], attached to every request.
//!
//! Provider crates (`twofa-etna`, …) implement the trait; `twofa-sandbox` simulates them locally.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use twofa_core::{code_source::Totp, login, LoginOptions, TotpSeed, TwoFactorFlow};
//! # let sandbox = twofa_sandbox::Sandbox::start().await?;
//! # let etna = twofa_etna::EtnaFlow::builder().base_url(sandbox.etna_base_url())
//! #     .app_key(twofa_sandbox::etna::APP_KEY).username(twofa_sandbox::etna::USER_NO_2FA)
//! #     .password(twofa_sandbox::etna::PASSWORD).build()?;
//! let flow: Box<dyn TwoFactorFlow> = Box::new(etna);
//! let codes = Totp::from_base32(&TotpSeed::new("JBSWY3DPEHPK3PXP"))?;
//! let session = login(flow.as_ref(), &codes, &LoginOptions::default()).await?;
//! // The session serves its own endpoint only: a request elsewhere is refused, sending nothing.
//! let orders = format!("{}/v1.0/orders", sandbox.etna_base_url());
//! let request = session.authorize(reqwest::Client::new().get(orders))?;
//! assert!(session.authorize(reqwest::Client::new().get("https://elsewhere.example/")).is_err());
//! # drop(request);
//! # Ok(()) }
//! ```

mod authenticator;
mod challenge;
mod clock;
pub mod code_source;
#[cfg(feature = "command")]
pub mod command;
mod cooldown;
pub mod deadline;
mod error;
mod flow;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod json;
pub mod local;
mod login;
#[cfg(feature = "reqwest-middleware")]
pub mod middleware;
mod origin;
mod password;
pub mod provider;
pub mod retry;
mod secret;
mod session;
pub mod store;
mod telemetry;
#[cfg(feature = "test-util")]
pub mod test_util;
pub mod untrusted;

pub use authenticator::{Authenticator, AuthenticatorBuilder};
pub use challenge::{AuthenticatorSetup, Challenge, ExposedChallenge, LiveChallenge, Method};
pub use clock::{Clock, ManualClock, SystemClock};
pub use code_source::{CodeRequest, CodeSource};
pub use cooldown::Cooldown;
pub use error::{Error, PinSetup, TransportKind};
pub use flow::{Step, TwoFactorFlow};
pub use login::{LoginOptions, login, login_from};
pub use origin::Origin;
pub use password::{LoginPassword, PasswordFn, PasswordSource};
pub use secret::{AccessToken, ApiKey, ApiSecret, OneTimeCode, Password, Pin, RenewalToken, Secret, TotpSeed};
pub use session::{ExposedSession, Session, TokenPlacement};
pub use time;

// Crates whose types appear in this API, re-exported so users name the very versions twofa uses.
pub use async_trait;
pub use reqwest;
