use std::sync::Arc;

use twofa_core::store::{FileStore, SessionStore};

use crate::KeyringStore;

/// The store [`keyring_or_file`] settled on.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Chosen {
    /// A keyring answered.
    Keyring(KeyringStore),
    /// No keyring answered: 0600 files.
    File(FileStore),
}

impl Chosen {
    /// The chosen store, for an [`Authenticator`](twofa_core::Authenticator).
    pub fn store(&self) -> Arc<dyn SessionStore> {
        match self {
            Self::Keyring(store) => Arc::new(store.clone()),
            Self::File(store) => Arc::new(store.clone()),
        }
    }

    /// The keyring, when one answered (for passwords).
    pub fn keyring(&self) -> Option<&KeyringStore> {
        match self {
            Self::Keyring(store) => Some(store),
            Self::File(_) => None,
        }
    }
}

/// `keyring` if it answers a probe within its timeout, else `file` — with one warning saying why.
///
/// Headless machines usually have no keyring service (no D-Bus session bus, no Secret Service, a
/// keyring locked with nobody to unlock it); they keep working, with sessions in 0600 files.
pub async fn keyring_or_file(keyring: KeyringStore, file: FileStore) -> Chosen {
    match keyring.probe().await {
        Ok(()) => Chosen::Keyring(keyring),
        Err(e) => {
            tracing::warn!(
                error = %e,
                dir = %file.dir().display(),
                "no OS keyring answers; keeping sessions in 0600 files instead"
            );
            Chosen::File(file)
        }
    }
}
