//! The builder of an [`OmsFlow`]: validated once, in `build()`.

use std::time::Duration;

use twofa_core::{ApiKey, ApiSecret, Error, provider::ProviderConfig};

use crate::{OmsFlow, api_key::ApiKeyLogin};

/// How long an OMS session lives after its last activity (the docs: one hour).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// How to talk to the OMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// The WebSocket gateway (`wss://host/WSGateway`): the native one; the challenge holds the
    /// connection, so it cannot be serialized.
    WebSocket,
    /// The HTTP gateway (`https://host`, calls under `/AP/`); the challenge is portable.
    Http,
}

/// Configuration of an [`OmsFlow`].
#[derive(Debug, Clone)]
pub struct OmsBuilder {
    pub(crate) common: ProviderConfig,
    pub(crate) transport: Option<Transport>,
    pub(crate) oms_id: Option<u32>,
    pub(crate) idle_timeout: Duration,
    pub(crate) api_key: Option<ApiKeyLogin>,
}

impl Default for OmsBuilder {
    fn default() -> Self {
        Self {
            common: ProviderConfig::default(),
            transport: None,
            oms_id: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            api_key: None,
        }
    }
}

impl OmsBuilder {
    twofa_core::provider_setters!(
        endpoint: "The gateway: `wss://host/WSGateway` (the full WebSocket URL) or `https://host` (the root before `/AP/`). Required.",
        username: "The user's login. Required, with [`OmsBuilder::password`], unless an [`OmsBuilder::api_key`] is given."
    );

    /// Logs in with an API key instead of a username and password: `AuthenticateUser` with
    /// `APIKey`, `UserId`, a fresh `Nonce` and their HMAC-SHA256 `Signature` keyed with
    /// `api_secret` (headers over HTTP, the payload over WebSocket). An API-key login has no
    /// second factor. Give either this or a username and password, not both.
    pub fn api_key(mut self, user_id: u64, api_key: impl Into<ApiKey>, api_secret: impl Into<ApiSecret>) -> Self {
        self.api_key = Some(ApiKeyLogin { user_id, key: api_key.into(), secret: api_secret.into() });
        self
    }

    /// The transport (default: inferred from the endpoint's scheme).
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The OMS id, recorded in the session's extras for later calls that need it.
    pub fn oms_id(mut self, oms_id: u32) -> Self {
        self.oms_id = Some(oms_id);
        self
    }

    /// How long a session lives without activity (default [`DEFAULT_IDLE_TIMEOUT`]).
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// Checks the configuration and builds the flow.
    pub fn build(self) -> Result<OmsFlow, Error> {
        OmsFlow::from_builder(self)
    }
}
