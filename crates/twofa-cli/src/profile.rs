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

/// An OMS API-key login as a profile keeps it: the *names* of the variables holding the key and
/// the secret, never their values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OmsApiKey {
    pub user_id: u64,
    pub api_key_env: String,
    pub api_secret_env: String,
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

    /// Refuses a URL with userinfo before anything is asked or saved: a `user:secret@` in it would
    /// be written into the profile file. The builders refuse it too; this says so before the
    /// password prompt.
    pub fn check(&self) -> Result<(), Error> {
        let url = match &self.backend {
            Backend::Etna { base_url, .. } | Backend::Onlineordering { base_url, .. } => base_url,
            Backend::Oms { url, .. } => url,
        };
        match twofa_core::reqwest::Url::parse(url.trim()) {
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

    /// The flow for this profile; `password` is asked only when a fresh login starts (and only by
    /// a profile that [uses one](Profile::uses_password)). `previous` supplies a remembered device id.
    pub fn flow(
        &self,
        password: Arc<dyn PasswordSource>,
        timeout: std::time::Duration,
        previous: Option<&Session>,
    ) -> Result<Arc<dyn TwoFactorFlow>, Error> {
        let http = HttpOptions::default().timeout(timeout).allow_insecure_http(self.allow_insecure_http);
        Ok(match &self.backend {
            Backend::Etna { base_url, app_key_env, username, pin_env } => {
                let mut builder = EtnaFlow::builder()
                    .base_url(base_url)
                    .app_key(ApiKey::new(secret_env(app_key_env, "the app key")?.as_str()))
                    .username(username)
                    .password_source(password)
                    .http(http);
                if let Some(var) = pin_env {
                    builder = builder.pin(Pin::new(secret_env(var, "the security PIN")?.as_str()));
                }
                Arc::new(builder.build()?)
            }
            Backend::Oms { url, websocket, username, api_key } => {
                let builder = OmsFlow::builder()
                    .endpoint(url)
                    .transport(if *websocket { Transport::WebSocket } else { Transport::Http })
                    .http(http);
                // Either a username and password or an API key; the builder refuses both and neither.
                let builder = match (username, api_key) {
                    (_, Some(key)) => builder.api_key(
                        key.user_id,
                        ApiKey::new(secret_env(&key.api_key_env, "the API key")?.as_str()),
                        ApiSecret::new(secret_env(&key.api_secret_env, "the API secret")?.as_str()),
                    ),
                    (Some(username), None) => builder.username(username).password_source(password),
                    (None, None) => builder,
                };
                Arc::new(builder.build()?)
            }
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
