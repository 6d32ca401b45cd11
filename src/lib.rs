//! twofa logs programs and people into brokerage and ordering APIs that demand a second factor.
//!
//! This facade re-exports [`twofa_core`] (the [`TwoFactorFlow`] trait, secrets, errors, code
//! sources and the [`login`] driver) and, behind one feature each, the provider crates:
//!
//! | feature | module | backend |
//! |---|---|---|
//! | `etna` (default) | [`etna`] | ETNA Trader / AutoShares, header-based `POST /token` |
//! | `oms` (default) | [`oms`] | exchange OMS (AlphaPoint APEX), WebSocket and HTTP gateways |
//! | `redis` | [`redis`](https://docs.rs/twofa-redis) | a Redis session store shared by a fleet of processes |
//! | `keyring` | [`keyring`](https://docs.rs/twofa-keyring) | sessions and passwords in the OS keyring, falling back to 0600 files |
//! | `onlineordering` (default) | [`onlineordering`] | NCR Aloha Online Ordering, `POST`/`GET v1/Authenticate/2FA` |
//! | `console` | [`console`](https://docs.rs/twofa-console) | a bot's code source that asks a person through the `twofa serve` web console |
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sandbox = twofa_sandbox::Sandbox::start().await?;
//! use twofa::{code_source::Prompt, login, LoginOptions, TwoFactorFlow};
//!
//! let flow: Box<dyn TwoFactorFlow> = Box::new(
//!     twofa::etna::EtnaFlow::builder()
//!         .base_url(sandbox.etna_base_url())
//!         .app_key("sandbox-et-app-key")
//!         .username("bob")
//!         .password("sandbox-password")
//!         .build()?,
//! );
//! let session = login(flow.as_ref(), &Prompt::new(), &LoginOptions::default()).await?;
//! println!("logged in to {} until {:?}", session.provider(), session.expires_at());
//! # Ok(()) }
//! ```

pub use twofa_core::*;

/// ETNA Trader / AutoShares (feature `etna`).
#[cfg(feature = "etna")]
pub use twofa_etna as etna;

/// Exchange OMS, AlphaPoint APEX and its white labels (feature `oms`).
#[cfg(feature = "oms")]
pub use twofa_oms as oms;

/// NCR Aloha Online Ordering (feature `onlineordering`).
#[cfg(feature = "onlineordering")]
pub use twofa_onlineordering as onlineordering;

/// A Redis session store shared by a fleet of processes (feature `redis`).
#[cfg(feature = "redis")]
pub use twofa_redis as redis;

/// Sessions and passwords in the OS keyring, falling back to 0600 files (feature `keyring`).
#[cfg(feature = "keyring")]
pub use twofa_keyring as keyring;

/// The code source that hands a bot's challenges to a person through the `twofa serve` web
/// console (feature `console`; the console's server side is in the `twofa-console` crate).
#[cfg(feature = "console")]
pub use twofa_console as console;

/// Every Rust example of the README and the docs, compiled by `cargo test` so none goes stale.
#[cfg(doctest)]
mod doc_examples {
    #[doc = include_str!("../README.md")]
    struct Readme;
    #[cfg(feature = "etna")]
    #[doc = include_str!("../docs/architecture.md")]
    struct Architecture;
    #[cfg(feature = "redis")]
    #[doc = include_str!("../docs/fleet.md")]
    struct Fleet;
    #[cfg(feature = "keyring")]
    #[doc = include_str!("../docs/sessions.md")]
    struct Sessions;
    #[cfg(feature = "console")]
    #[doc = include_str!("../docs/console.md")]
    struct Console;
}
