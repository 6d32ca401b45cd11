use std::{fmt, sync::Arc, time::Duration};

use async_trait::async_trait;
use keyring::{Entry, credential::CredentialBuilder};
use serde::{Deserialize, Serialize};
use twofa_core::{
    ApiKey, ApiSecret, Error, ExposedSession, Password, Session,
    store::{SessionStore, check_profile},
};
use zeroize::Zeroizing;

use crate::call::{bounded, keyring_error, store_error};

/// The largest session entry read or written: real sessions take about 2 KB.
const MAX_SESSION: usize = 64 * 1024;
/// The largest password entry read or written.
const MAX_PASSWORD: usize = 4 * 1024;
/// The largest profile index read.
const MAX_INDEX: usize = 256 * 1024;
const VERSION: u32 = 1;

/// Sessions and passwords in the OS keyring, one item per profile and kind.
///
/// Items are `(service, "session:{profile}")`, `(service, "password:{profile}")` and
/// `(service, "index")` — the list of profiles with a session, since keyrings cannot be listed.
/// Sessions are the versioned JSON of [`FileStore`](twofa_core::store::FileStore) files. An entry
/// that is too large, not JSON or of another version is an [`Error::Store`] naming the entry,
/// never its content, and `load` leaves it in place.
#[derive(Clone)]
pub struct KeyringStore {
    service: String,
    timeout: Duration,
    builder: Option<Arc<CredentialBuilder>>,
    /// Index updates of this process take turns (another process may still race them: then a
    /// profile can be missing from `profiles()`, never its session from `load`).
    index: Arc<tokio::sync::Mutex<()>>,
}

impl fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringStore")
            .field("service", &self.service)
            .field("timeout", &self.timeout)
            .field("custom_backend", &self.builder.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct SessionOut<'a> {
    version: u32,
    session: ExposedSession<'a>,
}

#[derive(Deserialize)]
struct SessionIn {
    version: u32,
    session: Session,
}

#[derive(Serialize, Deserialize)]
struct Index {
    version: u32,
    profiles: Vec<String>,
}

/// Why a JSON entry is unreadable, never quoting what it holds.
fn corrupt(entry: &str, e: &serde_json::Error) -> Error {
    store_error(entry, &format!("corrupt entry: {}", twofa_core::json::describe_error(e)))
}

impl KeyringStore {
    /// Items under `service` (e.g. `twofa`) in the platform's default keyring.
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            timeout: Duration::from_secs(5),
            builder: None,
            index: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Items made by `builder` instead of the platform's default keyring: another keyring crate
    /// backend, or a mock in tests.
    pub fn with_credential_builder(mut self, builder: Box<CredentialBuilder>) -> Self {
        self.builder = Some(Arc::from(builder));
        self
    }

    /// How long one keyring call may take (default 5 s) before it is an [`Error::Store`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The service name of every item.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The name of the item holding `profile`'s session, as errors and `twofa status` show it.
    pub fn session_entry(&self, profile: &str) -> String {
        format!("{}/session:{profile}", self.service)
    }

    fn entry(&self, user: &str) -> keyring::Result<Entry> {
        match &self.builder {
            Some(builder) => builder.build(None, &self.service, user).map(Entry::new_with_credential),
            None => Entry::new(&self.service, user),
        }
    }

    /// Reads one item, bounded in size; `None` when it does not exist.
    async fn get(&self, user: String, max: usize) -> Result<Option<Zeroizing<String>>, Error> {
        let store = self.clone();
        let name = format!("{}/{user}", self.service);
        bounded(&name.clone(), self.timeout, move || {
            let value = match store.entry(&user).and_then(|entry| entry.get_password()) {
                Ok(value) => Zeroizing::new(value),
                Err(keyring::Error::NoEntry) => return Ok(None),
                Err(e) => return Err(keyring_error(&name, "cannot read", &e)),
            };
            if value.len() > max {
                return Err(store_error(&name, &format!("refused: larger than {max} bytes")));
            }
            Ok(Some(value))
        })
        .await
    }

    async fn set(&self, user: String, value: Zeroizing<String>, max: usize) -> Result<(), Error> {
        let name = format!("{}/{user}", self.service);
        if value.len() > max {
            return Err(store_error(&name, &format!("refused: larger than {max} bytes")));
        }
        let store = self.clone();
        bounded(&name.clone(), self.timeout, move || {
            store
                .entry(&user)
                .and_then(|entry| entry.set_password(&value))
                .map_err(|e| keyring_error(&name, "cannot write", &e))
        })
        .await
    }

    async fn remove(&self, user: String) -> Result<(), Error> {
        let store = self.clone();
        let name = format!("{}/{user}", self.service);
        bounded(&name.clone(), self.timeout, move || match store.entry(&user).and_then(|e| e.delete_credential()) {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(&name, "cannot delete", &e)),
        })
        .await
    }

    /// Checks that a keyring answers: reads an item that need not exist, within the timeout.
    pub async fn probe(&self) -> Result<(), Error> {
        self.get("probe".into(), MAX_PASSWORD).await.map(drop)
    }

    /// Keeps `password` for `profile`, replacing the one there.
    pub async fn save_password(&self, profile: &str, password: &Password) -> Result<(), Error> {
        check_profile(profile)?;
        self.set(format!("password:{profile}"), Zeroizing::new(password.expose_secret().to_owned()), MAX_PASSWORD).await
    }

    /// The password kept for `profile`, if any.
    pub async fn load_password(&self, profile: &str) -> Result<Option<Password>, Error> {
        check_profile(profile)?;
        Ok(self.get(format!("password:{profile}"), MAX_PASSWORD).await?.map(|p| Password::new(p.as_str())))
    }

    /// Forgets the password of `profile`; forgetting none is not an error.
    pub async fn delete_password(&self, profile: &str) -> Result<(), Error> {
        check_profile(profile)?;
        self.remove(format!("password:{profile}")).await
    }

    /// Keeps an API key and its secret for `profile` (items `api-key:{profile}` and
    /// `api-secret:{profile}`), replacing those there.
    pub async fn save_api_key(&self, profile: &str, key: &ApiKey, secret: &ApiSecret) -> Result<(), Error> {
        check_profile(profile)?;
        self.set(format!("api-key:{profile}"), Zeroizing::new(key.expose_secret().to_owned()), MAX_PASSWORD).await?;
        self.set(format!("api-secret:{profile}"), Zeroizing::new(secret.expose_secret().to_owned()), MAX_PASSWORD).await
    }

    /// The API key and secret kept for `profile`; `None` unless both are there.
    pub async fn load_api_key(&self, profile: &str) -> Result<Option<(ApiKey, ApiSecret)>, Error> {
        check_profile(profile)?;
        let Some(key) = self.get(format!("api-key:{profile}"), MAX_PASSWORD).await? else { return Ok(None) };
        let Some(secret) = self.get(format!("api-secret:{profile}"), MAX_PASSWORD).await? else { return Ok(None) };
        Ok(Some((ApiKey::new(key.as_str()), ApiSecret::new(secret.as_str()))))
    }

    /// Forgets the API key and secret of `profile`; forgetting none is not an error.
    pub async fn delete_api_key(&self, profile: &str) -> Result<(), Error> {
        check_profile(profile)?;
        self.remove(format!("api-key:{profile}")).await?;
        self.remove(format!("api-secret:{profile}")).await
    }

    async fn read_index(&self) -> Result<Vec<String>, Error> {
        let Some(json) = self.get("index".into(), MAX_INDEX).await? else { return Ok(Vec::new()) };
        let name = format!("{}/index", self.service);
        let index: Index = serde_json::from_str(&json).map_err(|e| corrupt(&name, &e))?;
        if index.version != VERSION {
            return Err(store_error(&name, &format!("unsupported version {}", index.version)));
        }
        Ok(index.profiles.into_iter().filter(|p| check_profile(p).is_ok()).collect())
    }

    /// Adds or removes `profile` in the index. A garbled index is left as it is (and reported by
    /// `profiles`): rewriting it would lose the other names.
    async fn update_index(&self, profile: &str, present: bool) -> Result<(), Error> {
        let _turn = self.index.lock().await;
        let mut names = match self.read_index().await {
            Ok(names) => names,
            Err(e) => {
                tracing::warn!(profile, error = %e, "the keyring's profile index is unreadable; leaving it alone");
                return Ok(());
            }
        };
        if names.iter().any(|n| n == profile) == present {
            return Ok(());
        }
        names.retain(|n| n != profile);
        if present {
            names.push(profile.to_owned());
        }
        names.sort();
        let json = serde_json::to_string(&Index { version: VERSION, profiles: names })
            .map_err(|e| store_error("index", &e.to_string()))?;
        self.set("index".into(), Zeroizing::new(json), MAX_INDEX).await
    }
}

#[async_trait]
impl SessionStore for KeyringStore {
    async fn load(&self, profile: &str) -> Result<Option<Session>, Error> {
        check_profile(profile)?;
        let Some(json) = self.get(format!("session:{profile}"), MAX_SESSION).await? else { return Ok(None) };
        let name = self.session_entry(profile);
        let stored: SessionIn = serde_json::from_str(&json).map_err(|e| corrupt(&name, &e))?;
        if stored.version != VERSION {
            return Err(store_error(&name, &format!("unsupported version {}", stored.version)));
        }
        Ok(Some(stored.session))
    }

    async fn save(&self, profile: &str, session: &Session) -> Result<(), Error> {
        check_profile(profile)?;
        let json = serde_json::to_string(&SessionOut { version: VERSION, session: session.expose_secrets() })
            .map_err(|e| store_error(&self.session_entry(profile), &format!("cannot encode the session: {e}")))?;
        self.set(format!("session:{profile}"), Zeroizing::new(json), MAX_SESSION).await?;
        self.update_index(profile, true).await
    }

    async fn delete(&self, profile: &str) -> Result<(), Error> {
        check_profile(profile)?;
        self.remove(format!("session:{profile}")).await?;
        self.update_index(profile, false).await
    }

    async fn profiles(&self) -> Result<Vec<String>, Error> {
        self.read_index().await
    }
}
