//! Where a profile's session and remembered password live: 0600 files (the default) or the OS
//! keyring (`login --store keyring`, `--password-keyring`), falling back to files with a warning
//! where no keyring answers.

use std::path::Path;

use twofa_core::{Error, Password, store::FileStore};
use twofa_keyring::{Chosen, KeyringStore, keyring_or_file};

/// The service name of twofa's keyring items (`twofa/session:{profile}`, `twofa/password:{profile}`).
const SERVICE: &str = "twofa";

/// Where a profile keeps its session (part of the profile file's format, so it lives there).
pub use crate::profile::StoreKind;

fn keyring() -> KeyringStore {
    KeyringStore::new(SERVICE)
}

/// Whether a keyring answered this process's one probe.
static KEYRING_ANSWERS: tokio::sync::OnceCell<bool> = tokio::sync::OnceCell::const_new();

/// The session store of `kind`; a keyring that does not answer is replaced by `files`, warned.
///
/// The keyring is probed once per process: `status` and `logout --all` over many keyring profiles
/// warn once and wait for a silent keyring once.
pub async fn open(kind: StoreKind, files: FileStore) -> Chosen {
    if kind == StoreKind::File {
        return Chosen::File(files);
    }
    let answers = *KEYRING_ANSWERS
        .get_or_init(|| async { keyring_or_file(keyring(), files.clone()).await.keyring().is_some() })
        .await;
    if answers { Chosen::Keyring(keyring()) } else { Chosen::File(files) }
}

/// What was actually chosen, to record in the profile.
pub fn kind(chosen: &Chosen) -> StoreKind {
    if chosen.keyring().is_some() { StoreKind::Keyring } else { StoreKind::File }
}

/// Where `profile`'s session went, for people.
pub fn location(chosen: &Chosen, files: &Path, profile: &str) -> String {
    match chosen.keyring() {
        Some(keyring) => format!("the OS keyring ({})", keyring.session_entry(profile)),
        None => files.join(format!("{profile}.json")).display().to_string(),
    }
}

/// The keyring for `--password-keyring`: a password never falls back to a file.
///
/// # Errors
///
/// [`Error::Config`] when no keyring answers.
pub async fn password_keyring() -> Result<KeyringStore, Error> {
    let keyring = keyring();
    keyring.probe().await.map_err(|e| {
        Error::Config(format!("--password-keyring needs an OS keyring, and none answers ({e}); use --password-env"))
    })?;
    Ok(keyring)
}

/// Keeps the password typed at login, once the login succeeded.
pub async fn remember_password(keyring: &KeyringStore, profile: &str, password: &Password) -> Result<(), Error> {
    keyring.save_password(profile, password).await
}

/// The password remembered for `profile`; `None` (warned) when the keyring has none or fails.
pub async fn remembered_password(profile: &str) -> Option<Password> {
    match keyring().load_password(profile).await {
        Ok(Some(password)) => Some(password),
        Ok(None) => {
            tracing::warn!(profile, "the OS keyring holds no password for this profile");
            None
        }
        Err(e) => {
            tracing::warn!(profile, error = %e, "cannot read the remembered password");
            None
        }
    }
}

/// Forgets `profile`'s remembered password (at logout); a failure is only warned about.
pub async fn forget_password(profile: &str) {
    if let Err(e) = keyring().delete_password(profile).await {
        tracing::warn!(profile, error = %e, "cannot delete the remembered password from the OS keyring");
    }
}
