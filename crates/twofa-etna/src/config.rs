//! The builder of an [`EtnaFlow`]: validated once, in `build()`.

use std::{sync::Arc, time::Duration};

use twofa_core::{ApiKey, Clock, Error, Password, SystemClock, http::HttpOptions};

use crate::EtnaFlow;

/// ETNA's demo trader API base (from the vendor docs).
pub const DEMO_TRADER_API: &str = "https://pub-api-et-demo-prod.etnasoft.us/api";
/// ETNA's demo "private/extended/broker" API base.
pub const DEMO_BROKER_API: &str = "https://priv-api-et-demo-prod.etnasoft.us/api";
/// The AutoShares sandbox (its `/token` hangs directly off the host).
pub const AUTOSHARES_SANDBOX: &str = "https://api.autoshares.dev";
/// AutoShares production.
pub const AUTOSHARES_PRODUCTION: &str = "https://api.autoshares.com";
/// How long a token is taken to live: the older docs say 24 h, newer pages say 60 min.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Configuration of an [`EtnaFlow`].
#[derive(Debug, Clone)]
pub struct EtnaBuilder {
    pub(crate) base_url: Option<String>,
    pub(crate) app_key: Option<ApiKey>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Password>,
    pub(crate) http: HttpOptions,
    pub(crate) token_lifetime: Duration,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Default for EtnaBuilder {
    fn default() -> Self {
        Self {
            base_url: None,
            app_key: None,
            username: None,
            password: None,
            http: HttpOptions::default(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            clock: Arc::new(SystemClock),
        }
    }
}

impl EtnaBuilder {
    /// The API base, ending in `/api` for ETNA (e.g. [`DEMO_TRADER_API`]); `/token` is appended. Required.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The company's `Et-App-Key`. Required.
    pub fn app_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.app_key = Some(key.into());
        self
    }

    /// The user's login. Required.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The user's password. Required.
    pub fn password(mut self, password: impl Into<Password>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// HTTP settings: client, timeouts, insecure-HTTP opt-in.
    pub fn http(mut self, http: HttpOptions) -> Self {
        self.http = http;
        self
    }

    /// How long a token is taken to live (default [`DEFAULT_TOKEN_LIFETIME`]).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// The clock that stamps sessions (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration and builds the flow.
    pub fn build(self) -> Result<EtnaFlow, Error> {
        EtnaFlow::from_builder(self)
    }
}

pub(crate) fn required<T>(value: Option<T>, what: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::Config(format!("ETNA needs {what}")))
}
