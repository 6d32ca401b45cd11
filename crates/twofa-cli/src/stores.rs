//! Where a profile's session and remembered password live: 0600 files (the default), the OS
//! keyring (`login --store keyring`, `--password-keyring`; files with a warning where no keyring
//! answers), or Redis (`--store redis`: every process and machine with the same Redis and key
//! shares one login and renews it once).

use std::{path::Path, sync::Arc};

use twofa_core::{
    Error, Password,
    store::{FileStore, SessionStore},
};
use twofa_keyring::{Chosen, KeyringStore, keyring_or_file};
use twofa_redis::RedisStore;

/// The variable holding the Redis URL of `--store redis` (`redis://[:password@]host:port/`).
pub const REDIS_URL_ENV: &str = "TWOFA_REDIS_URL";
/// The variable holding the 32-byte key (base64) that seals sessions in Redis: Redis never holds a
/// readable token, and a session sealed with another key is refused.
pub const REDIS_KEY_ENV: &str = "TWOFA_REDIS_KEY";
/// The variable holding the key prefix in Redis (default `twofa`), to keep fleets apart.
pub const REDIS_PREFIX_ENV: &str = "TWOFA_REDIS_PREFIX";

/// The service name of twofa's keyring items (`twofa/session:{profile}`, `twofa/password:{profile}`).
const SERVICE: &str = "twofa";

/// Where a profile keeps its session (part of the profile file's format, so it lives there).
pub use crate::profile::StoreKind;

fn keyring() -> KeyringStore {
    KeyringStore::new(SERVICE)
}

/// Whether a keyring answered this process's one probe.
static KEYRING_ANSWERS: tokio::sync::OnceCell<bool> = tokio::sync::OnceCell::const_new();

/// A profile's session store, as opened.
#[derive(Debug, Clone)]
pub enum Opened {
    /// Files, or the keyring (or files where no keyring answered).
    Local(Chosen),
    /// Redis, sealed.
    Redis(RedisStore),
}

impl Opened {
    /// The store, for an [`Authenticator`](twofa_core::Authenticator).
    pub fn store(&self) -> Arc<dyn SessionStore> {
        match self {
            Self::Local(chosen) => chosen.store(),
            Self::Redis(redis) => Arc::new(redis.clone()),
        }
    }

    /// What was actually opened, to record in the profile.
    pub fn kind(&self) -> StoreKind {
        match self {
            Self::Local(chosen) if chosen.keyring().is_some() => StoreKind::Keyring,
            Self::Local(_) => StoreKind::File,
            Self::Redis(_) => StoreKind::Redis,
        }
    }

    /// Where `profile`'s session went, for people (never the Redis URL, which may hold a password).
    pub fn location(&self, files: &Path, profile: &str) -> String {
        match self {
            Self::Local(chosen) => match chosen.keyring() {
                Some(keyring) => format!("the OS keyring ({})", keyring.session_entry(profile)),
                None => files.join(format!("{profile}.json")).display().to_string(),
            },
            Self::Redis(_) => format!("Redis (${REDIS_URL_ENV}), sealed with ${REDIS_KEY_ENV}"),
        }
    }
}

/// The session store of `kind`. A keyring that does not answer is replaced by `files`, warned;
/// Redis is connected to from the variables [`REDIS_URL_ENV`], [`REDIS_KEY_ENV`] and
/// [`REDIS_PREFIX_ENV`].
///
/// The keyring is probed once per process: `status` and `logout --all` over many keyring profiles
/// warn once and wait for a silent keyring once.
///
/// # Errors
///
/// For Redis: [`Error::Config`] when a variable is missing or invalid (the sealing key is
/// required), [`Error::Store`] when Redis does not answer.
pub async fn open(kind: StoreKind, files: FileStore) -> Result<Opened, Error> {
    match kind {
        StoreKind::File => Ok(Opened::Local(Chosen::File(files))),
        StoreKind::Keyring => {
            let answers = *KEYRING_ANSWERS
                .get_or_init(|| async { keyring_or_file(keyring(), files.clone()).await.keyring().is_some() })
                .await;
            Ok(Opened::Local(if answers { Chosen::Keyring(keyring()) } else { Chosen::File(files) }))
        }
        StoreKind::Redis => redis().await.map(Opened::Redis),
    }
}

/// The OS keyring, if one answers this process's one probe (as [`open`] probes it).
pub async fn keyring_if_answers() -> Option<KeyringStore> {
    let answers = *KEYRING_ANSWERS.get_or_init(|| async { keyring().probe().await.is_ok() }).await;
    answers.then(keyring)
}

/// The Redis store the variables describe.
async fn redis() -> Result<RedisStore, Error> {
    let url = std::env::var(REDIS_URL_ENV)
        .ok()
        .filter(|url| !url.is_empty())
        .ok_or_else(|| Error::Config(format!("--store redis needs ${REDIS_URL_ENV} (redis://host:port/)")))?;
    if std::env::var_os(REDIS_KEY_ENV).is_none_or(|key| key.is_empty()) {
        return Err(Error::Config(format!(
            "--store redis needs ${REDIS_KEY_ENV}, a 32-byte key in base64 (`openssl rand -base64 32`) that seals \
             the sessions in Redis; give every process of the fleet the same one"
        )));
    }
    let mut store = RedisStore::connect(&url).await?.with_encryption_key_from_env(REDIS_KEY_ENV)?;
    if let Some(prefix) = std::env::var(REDIS_PREFIX_ENV).ok().filter(|p| !p.is_empty()) {
        store = store.with_prefix(prefix);
    }
    Ok(store)
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
