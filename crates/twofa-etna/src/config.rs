//! The builder of an [`EtnaFlow`]: validated once, in `build()`.

use std::time::Duration;

use twofa_core::{ApiKey, Error, Pin, provider::ProviderConfig};

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
    pub(crate) common: ProviderConfig,
    pub(crate) app_key: Option<ApiKey>,
    pub(crate) pin: Option<Pin>,
    pub(crate) token_lifetime: Duration,
}

impl Default for EtnaBuilder {
    fn default() -> Self {
        Self { common: ProviderConfig::default(), app_key: None, pin: None, token_lifetime: DEFAULT_TOKEN_LIFETIME }
    }
}

impl EtnaBuilder {
    twofa_core::provider_setters!(
        base_url: "The API base, ending in `/api` for ETNA (e.g. [`DEMO_TRADER_API`]); `/token` is appended. Required.",
        username: "The user's login. Required."
    );

    /// The company's `Et-App-Key`. Required.
    pub fn app_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.app_key = Some(key.into());
        self
    }

    /// The user's security PIN, for accounts that ask for one (the documented `SecutityPin` step).
    /// Optional: when set, it is sent in the `PinCode` header as soon as the server asks, without
    /// a challenge reaching the code source; without it, the PIN step is a challenge of kind
    /// [`Method::SecurityPin`](twofa_core::Method::SecurityPin).
    pub fn pin(mut self, pin: impl Into<Pin>) -> Self {
        self.pin = Some(pin.into());
        self
    }

    /// How long a token is taken to live (default [`DEFAULT_TOKEN_LIFETIME`]).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Checks the configuration and builds the flow.
    pub fn build(self) -> Result<EtnaFlow, Error> {
        EtnaFlow::from_builder(self)
    }
}
