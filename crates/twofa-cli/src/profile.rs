//! What a login remembers besides its session, so that `token` and `logout` can work without
//! the original flags: endpoints, user names and the *names* of variables holding secrets —
//! never a secret itself.

use std::{path::Path, sync::Arc};

use serde::{Deserialize, Serialize};
use twofa_core::{
    ApiKey, ApiSecret, Error, Origin, PasswordSource, Pin, Session, TwoFactorFlow,
    http::HttpOptions,
    store::{check_profile, private_fs},
};
use twofa_etna::EtnaFlow;
use twofa_oms::{OmsFlow, Transport};
use twofa_onlineordering::{OnlineOrderingFlow, remembered_device_id};

/// A backend and how to reach it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum Backend {
    Etna {
        base_url: String,
        app_key_env: String,
        username: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pin_env: Option<String>,
        /// `login etna --token-lifetime`, in seconds (the flow's default when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token_lifetime: Option<u64>,
    },
    Oms {
        url: String,
        websocket: bool,
        /// The login of a username/password profile.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        /// The API key of an API-key profile: the user id and the variables' names.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key: Option<OmsApiKey>,
    },
    Onlineordering {
        base_url: String,
        company_code: String,
        api_credentials_env: String,
        email: String,
        remember_device: Option<String>,
        /// A guest login: the email only, never a password.
        #[serde(default)]
        guest: bool,
    },
}

/// Where a profile keeps its session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// A 0600 file under the store directory
    #[default]
    File,
    /// The OS keyring (Keychain, Credential Manager, Secret Service); files when none answers
    Keyring,
    /// Redis, sealed, shared by every process and machine given the same `TWOFA_REDIS_URL` and
    /// `TWOFA_REDIS_KEY`
    Redis,
}

/// An OMS API-key login as a profile keeps it: the user id, and where the key and the secret are —
/// the *names* of the variables holding them, or the store `twofa oms api-key create` put them in;
/// never their values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OmsApiKey {
    pub user_id: u64,
    #[serde(flatten)]
    pub source: ApiKeySource,
}

/// Where an API-key profile finds its key and secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ApiKeySource {
    /// `login oms --api-key-env … --api-secret-env …`: two environment variables, by name.
    Env { api_key_env: String, api_secret_env: String },
    /// `oms api-key create`: the OS keyring or a 0600 file (see `api_key_store`).
    Stored { api_key_store: ApiKeyStore },
}

/// Where `oms api-key create` keeps a new key and its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiKeyStore {
    /// A 0600 file under the store directory (`api-keys/{profile}.json`)
    File,
    /// The OS keyring (`twofa/api-key:{profile}`, `twofa/api-secret:{profile}`)
    Keyring,
}

/// An API key and its secret, as read from a store.
pub type KeyPair = (ApiKey, ApiSecret);

impl OmsApiKey {
    /// The key and the secret: from the variables, or `stored` as read from the profile's store.
    pub fn pair(&self, stored: Option<&Result<KeyPair, Error>>) -> Result<KeyPair, Error> {
        match (&self.source, stored) {
            (ApiKeySource::Env { api_key_env, api_secret_env }, _) => Ok((
                ApiKey::new(secret_env(api_key_env, "the API key")?.as_str()),
                ApiSecret::new(secret_env(api_secret_env, "the API secret")?.as_str()),
            )),
            (ApiKeySource::Stored { .. }, Some(read)) => read.clone(),
            (ApiKeySource::Stored { .. }, None) => {
                Err(Error::Config("the profile's API key was not read from its store".into()))
            }
        }
    }
}

/// A stored profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    #[serde(flatten)]
    pub backend: Backend,
    pub password_env: Option<String>,
    pub code_env: Option<String>,
    pub totp_secret_env: Option<String>,
    /// `--password-command`: the argv to run for the password (never its output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_command: Option<Vec<String>>,
    /// `--code-command`: the argv to run for each code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_command: Option<Vec<String>>,
    /// `login etna --pin-command`: the argv to run for the security PIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_command: Option<Vec<String>>,
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Where the session is kept (profiles from before the keyring store: files).
    #[serde(default)]
    pub store: StoreKind,
    /// Whether the OS keyring holds the password.
    #[serde(default)]
    pub password_keyring: bool,
    /// `--notify` specs (`ntfy:env:VAR`…): who is told when a login waits for a code. Names of
    /// variables and files, never a URL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
}

/// Reads a secret from the environment, naming the variable (never the value) when it is missing.
pub fn secret_env(var: &str, what: &str) -> Result<zeroize::Zeroizing<String>, Error> {
    std::env::var(var)
        .map(zeroize::Zeroizing::new)
        .map_err(|_| Error::Config(format!("the environment variable {var} ({what}) is not set")))
}

impl Profile {
    fn path(dir: &Path, name: &str) -> Result<std::path::PathBuf, Error> {
        check_profile(name)?;
        Ok(dir.join(format!("{name}.json")))
    }

    /// The profile `name`, if saved; read under the private-file rules (no symbolic link, no FIFO,
    /// nothing another user owns or may write, at most 1 MiB).
    pub fn load(dir: &Path, name: &str) -> Result<Option<Self>, Error> {
        let path = Self::path(dir, name)?;
        let Some(bytes) = private_fs::read(&path)? else { return Ok(None) };
        Self::parse(&path, &bytes).map(Some)
    }

    /// A profile from the bytes of its file; `path` only names the file in errors.
    fn parse(path: &Path, bytes: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(bytes).map_err(|e| Error::Store {
            path: Some(path.to_owned()),
            detail: format!("corrupt profile: {}", twofa_core::json::describe_error(&e)),
        })
    }

    /// The API's URL as the profile gives it: ETNA's and Online Ordering's base URL, the OMS
    /// gateway's URL (`wss://…/WSGateway` or the root of its HTTP `/AP/` calls).
    pub fn api_url(&self) -> &str {
        match &self.backend {
            Backend::Etna { base_url, .. } | Backend::Onlineordering { base_url, .. } => base_url,
            Backend::Oms { url, .. } => url,
        }
    }

    /// The origin `twofa proxy` forwards HTTP requests to: [`Profile::api_url`], but for an OMS
    /// WebSocket profile the root of the same host over HTTP(S), where its `/AP/` calls live
    /// (`wss://host/WSGateway` → `https://host/`).
    pub fn http_origin(&self) -> String {
        let url = self.api_url().trim();
        let (scheme, rest) = match url.split_once("://") {
            Some(("wss", rest)) => ("https", rest),
            Some(("ws", rest)) => ("http", rest),
            _ => return url.to_owned(),
        };
        let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        format!("{scheme}://{host}/")
    }

    /// Refuses a URL with userinfo before anything is asked or saved: a `user:secret@` in it would
    /// be written into the profile file. The builders refuse it too; this says so before the
    /// password prompt.
    pub fn check(&self) -> Result<(), Error> {
        match twofa_core::reqwest::Url::parse(self.api_url().trim()) {
            Ok(url) => twofa_core::http::refuse_userinfo(&url),
            // Not a URL at all: the builder says why.
            Err(_) => Ok(()),
        }
    }

    /// Saves the profile atomically, 0600 in a 0700 directory.
    pub fn save(&self, dir: &Path, name: &str) -> Result<(), Error> {
        self.check()?;
        let path = Self::path(dir, name)?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::Config(e.to_string()))?;
        private_fs::write(&path, &json)
    }

    pub fn delete(dir: &Path, name: &str) -> Result<(), Error> {
        private_fs::remove(&Self::path(dir, name)?)
    }

    /// The names of the saved profiles, sorted.
    pub fn names(dir: &Path) -> Result<Vec<String>, Error> {
        private_fs::list(dir, ".json", |name| check_profile(name).is_ok())
    }

    /// Whether logging in asks for a password (an OMS API-key profile and an Online Ordering guest do not).
    pub fn uses_password(&self) -> bool {
        !matches!(self.backend, Backend::Oms { api_key: Some(_), .. } | Backend::Onlineordering { guest: true, .. })
    }

    /// Who logs in, for prompts: a username, an email, or an API key's user id.
    pub fn who(&self) -> String {
        match &self.backend {
            Backend::Etna { username, .. } | Backend::Oms { username: Some(username), .. } => username.clone(),
            Backend::Oms { api_key: Some(key), .. } => format!("user id {}", key.user_id),
            Backend::Oms { .. } => String::new(),
            Backend::Onlineordering { email, .. } => email.clone(),
        }
    }

    /// The endpoint and account the profile's flow logs in to, as that flow stamps its sessions
    /// — computed without any of the profile's variables (`token` with a fresh session reads
    /// none). `None` for a URL that does not parse (the flow's builder then says why).
    pub fn origin(&self) -> Option<Origin> {
        let (url, account): (&str, Vec<String>) = match &self.backend {
            Backend::Etna { base_url, username, .. } => (base_url, vec![username.clone()]),
            Backend::Oms { url, api_key: Some(key), .. } => (url, vec!["user_id".into(), key.user_id.to_string()]),
            Backend::Oms { url, username, .. } => (url, vec!["username".into(), username.clone().unwrap_or_default()]),
            Backend::Onlineordering { base_url, company_code, email, guest, .. } => {
                let kind = if *guest { "guest" } else { "customer" };
                (base_url, vec![company_code.clone(), kind.into(), email.clone()])
            }
        };
        let url = twofa_core::reqwest::Url::parse(url.trim()).ok()?;
        Some(Origin::new(&url, account))
    }

    pub fn provider(&self) -> &'static str {
        match self.backend {
            Backend::Etna { .. } => twofa_etna::PROVIDER,
            Backend::Oms { .. } => twofa_oms::PROVIDER,
            Backend::Onlineordering { .. } => twofa_onlineordering::PROVIDER,
        }
    }

    /// The gateway URL and whether it is the WebSocket one, for an OMS profile.
    pub fn oms_endpoint(&self) -> Option<(&str, bool)> {
        match &self.backend {
            Backend::Oms { url, websocket, .. } => Some((url, *websocket)),
            _ => None,
        }
    }

    /// Where the key of an API-key profile made by `oms api-key create` is kept.
    pub fn stored_api_key(&self) -> Option<ApiKeyStore> {
        match &self.backend {
            Backend::Oms {
                api_key: Some(OmsApiKey { source: ApiKeySource::Stored { api_key_store }, .. }), ..
            } => Some(*api_key_store),
            _ => None,
        }
    }

    /// The OMS flow of an OMS profile (`None` for another backend); `stored` is the key pair of a
    /// profile whose key is [stored](Profile::stored_api_key), as read (or why it could not be).
    pub fn oms_flow(
        &self,
        password: Arc<dyn PasswordSource>,
        timeout: std::time::Duration,
        stored: Option<&Result<KeyPair, Error>>,
    ) -> Option<Result<OmsFlow, Error>> {
        let Backend::Oms { url, websocket, username, api_key } = &self.backend else { return None };
        let http = HttpOptions::default().timeout(timeout).allow_insecure_http(self.allow_insecure_http);
        let builder = OmsFlow::builder()
            .endpoint(url)
            .transport(if *websocket { Transport::WebSocket } else { Transport::Http })
            .http(http);
        // Either a username and password or an API key; the builder refuses both and neither.
        let builder = match (username, api_key) {
            (_, Some(key)) => match key.pair(stored) {
                Ok((api_key, api_secret)) => builder.api_key(key.user_id, api_key, api_secret),
                Err(e) => return Some(Err(e)),
            },
            (Some(username), None) => builder.username(username).password_source(password),
            (None, None) => builder,
        };
        Some(builder.build())
    }

    /// The flow for this profile; `password` is asked only when a fresh login starts (and only by
    /// a profile that [uses one](Profile::uses_password)). `previous` supplies a remembered device
    /// id; `stored` the key pair of a profile whose API key is stored.
    pub fn flow(
        &self,
        password: Arc<dyn PasswordSource>,
        timeout: std::time::Duration,
        previous: Option<&Session>,
        stored: Option<&Result<KeyPair, Error>>,
    ) -> Result<Arc<dyn TwoFactorFlow>, Error> {
        if let Some(oms) = self.oms_flow(Arc::clone(&password), timeout, stored) {
            return Ok(Arc::new(oms?));
        }
        // The other backends.
        let http = HttpOptions::default().timeout(timeout).allow_insecure_http(self.allow_insecure_http);
        Ok(match &self.backend {
            Backend::Etna { base_url, app_key_env, username, pin_env, token_lifetime } => {
                let mut builder = EtnaFlow::builder()
                    .base_url(base_url)
                    .app_key(ApiKey::new(secret_env(app_key_env, "the app key")?.as_str()))
                    .username(username)
                    .password_source(password)
                    .http(http);
                if let Some(var) = pin_env {
                    builder = builder.pin(Pin::new(secret_env(var, "the security PIN")?.as_str()));
                }
                if let Some(seconds) = token_lifetime {
                    builder = builder.token_lifetime(std::time::Duration::from_secs(*seconds));
                }
                Arc::new(builder.build()?)
            }
            Backend::Oms { .. } => return Err(Error::Config("an OMS profile's flow is `oms_flow`".into())),
            Backend::Onlineordering { base_url, company_code, api_credentials_env, email, remember_device, guest } => {
                let credentials = secret_env(api_credentials_env, "the integrator's user:password")?;
                let (user, api_password) = credentials
                    .split_once(':')
                    .ok_or_else(|| Error::Config(format!("{api_credentials_env} must hold `user:password`")))?;
                let mut builder = OnlineOrderingFlow::builder()
                    .base_url(base_url)
                    .company_code(company_code)
                    .integrator(user, api_password)
                    .http(http);
                builder = if *guest { builder.guest(email) } else { builder.email(email).password_source(password) };
                if let Some(nickname) = remember_device {
                    builder = builder.remember_device(nickname);
                }
                // A device id another endpoint or account issued is not this login's to send.
                let own = previous.filter(|p| p.origin().is_some() && p.origin() == self.origin().as_ref());
                if let Some(device) = own.and_then(remembered_device_id) {
                    builder = builder.device_id(device);
                }
                Arc::new(builder.build()?)
            }
        })
    }
}

/// The `cli_profile` fuzz target's body (feature `fuzzing`, as in every crate); the test below
/// replays the committed corpus through it. A profile file that loads must also save and load the
/// same.
#[cfg(any(test, feature = "fuzzing"))]
pub fn fuzz_profile_file(bytes: &[u8]) {
    let path = Path::new("fuzz.json");
    let Ok(profile) = Profile::parse(path, bytes) else { return };
    let _ = profile.provider();
    let saved = serde_json::to_vec_pretty(&profile).unwrap_or_default();
    let again = Profile::parse(path, &saved).map(|p| serde_json::to_vec_pretty(&p).unwrap_or_default());
    assert_eq!(again.ok(), Some(saved), "a saved profile loads as itself");
}

#[cfg(test)]
mod fuzz_tests {
    #[test]
    fn profile_corpus_replays_without_panic() {
        twofa_core::fuzzing::replay("cli_profile", super::fuzz_profile_file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oms(url: &str) -> Profile {
        serde_json::from_value(serde_json::json!({ "provider": "oms", "url": url, "websocket": true })).unwrap()
    }

    #[test]
    fn the_proxys_http_origin_of_an_oms_websocket_profile_is_its_hosts_root() {
        assert_eq!(oms("wss://apex.example/WSGateway").http_origin(), "https://apex.example/");
        assert_eq!(oms("ws://127.0.0.1:8700/WSGateway/?x=1").http_origin(), "http://127.0.0.1:8700/");
        assert_eq!(oms("https://apex.example/").http_origin(), "https://apex.example/");
    }
}
