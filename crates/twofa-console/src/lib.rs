//! A small local web console where a person hands the SMS, e-mail or authenticator code to a bot
//! that runs headless — the page behind `twofa serve`.
//!
//! Bots and services on servers have no terminal to prompt on, while the code arrives on a phone.
//! The console shows every login waiting for a code — started by a bot through a
//! [`ConsoleCodeSource`], or by the console's own log-in buttons — with its provider, profile,
//! delivery, the provider's hint and the time left, and a field to type the code; the waiting
//! login continues at once. It also lists the profiles' sessions (state, expiry, idle deadline,
//! last renewal) with log-in and log-out buttons, and shows the authenticator enrolment QR code
//! when a provider offers one.
//!
//! Access (see `docs/console.md`): a random token in the one printed URL, then an HttpOnly
//! SameSite=Strict cookie (bots: `Authorization: Bearer`); CSRF tokens in every form; a CSP with
//! no script at all, no framing, no referrer, no caching; loopback unless served with TLS or
//! explicitly allowed otherwise.
//!
//! The `server` feature (default) is the console itself; a bot needs only [`ConsoleCodeSource`]:
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), twofa_core::Error> {
//! # let flow = twofa_etna::EtnaFlow::builder().base_url("https://etna.example/api")
//! #     .app_key("key").username("trader1").password("pw").build()?;
//! use std::sync::Arc;
//! use twofa_console::ConsoleCodeSource;
//! use twofa_core::Authenticator;
//!
//! // TWOFA_CONSOLE holds the URL `twofa serve` printed: http://127.0.0.1:PORT/?token=…
//! let codes = ConsoleCodeSource::from_env("etna-bot")?;
//! let auth = Authenticator::builder(Arc::new(flow)).profile("etna-bot").code_source(Arc::new(codes)).build();
//! let token = auth.token().await?; // a person types the code in the console meanwhile
//! # drop(token); Ok(()) }
//! ```

pub mod channel;
mod client;
#[cfg(feature = "server")]
pub mod server;
pub mod wire;

pub use client::{CONSOLE_ENV, ConsoleCodeSource};
#[cfg(feature = "server")]
pub use server::{Account, Accounts, Console, ConsoleBuilder};
