//! Sessions and passwords in the OS keyring: the macOS Keychain, the Windows Credential Manager,
//! or a Secret Service (GNOME Keyring, KWallet) on Linux and the BSDs — with the 0600
//! [`FileStore`](twofa_core::store::FileStore) as the fallback where no keyring service runs, as on
//! a headless server.
//!
//! [`KeyringStore`] is a [`SessionStore`](twofa_core::store::SessionStore): one keyring item per
//! profile (service `twofa`, account `session:{profile}`), holding the same versioned JSON as a
//! session file. It also keeps a profile's *password* (account `password:{profile}`), so that a
//! program or `twofa token` can log in again without an environment variable, and an API key
//! with its secret (accounts `api-key:{profile}` and `api-secret:{profile}`) for a bot's profile.
//!
//! ```no_run
//! # async fn demo(flow: std::sync::Arc<dyn twofa_core::TwoFactorFlow>) -> Result<(), twofa_core::Error> {
//! use twofa_core::{Authenticator, store::FileStore};
//! use twofa_keyring::{KeyringStore, keyring_or_file};
//!
//! // Probes the keyring (bounded by a timeout); without one, warns once and uses the files.
//! let chosen = keyring_or_file(KeyringStore::new("twofa"), FileStore::new("/var/lib/bot/sessions")).await;
//! let auth = Authenticator::builder(flow).store(chosen.store()).profile("desk-1").build();
//! let token = auth.token().await?;
//! # drop(token); Ok(()) }
//! ```
//!
//! Every keyring call runs on a thread of its own and is abandoned after a timeout (5 s by
//! default): a keyring that waits for a person to unlock it, or a D-Bus that never answers, makes
//! an [`Error::Store`](twofa_core::Error::Store), never a hang.

mod call;
mod fallback;
mod store;
#[cfg(test)]
mod tests;

pub use fallback::{Chosen, keyring_or_file};
/// The `keyring` crate, for custom credential builders ([`KeyringStore::with_credential_builder`]).
pub use keyring;
pub use store::KeyringStore;
