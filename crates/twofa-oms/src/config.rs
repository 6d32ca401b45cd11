//! The builder of an [`OmsFlow`]: validated once, in `build()`.

use std::{sync::Arc, time::Duration};

use twofa_core::{Clock, Error, Password, SystemClock, http::HttpOptions};

use crate::OmsFlow;

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
    pub(crate) endpoint: Option<String>,
    pub(crate) transport: Option<Transport>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Password>,
    pub(crate) oms_id: Option<u32>,
    pub(crate) idle_timeout: Duration,
    pub(crate) http: HttpOptions,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Default for OmsBuilder {
    fn default() -> Self {
        Self {
            endpoint: None,
            transport: None,
            username: None,
            password: None,
            oms_id: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            http: HttpOptions::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl OmsBuilder {
    /// The gateway: `wss://host/WSGateway` (the full WebSocket URL) or `https://host` (the root
    /// before `/AP/`). Required.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// The transport (default: inferred from the endpoint's scheme).
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = Some(transport);
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

    /// Network settings: timeouts (both transports), client and insecure opt-in (HTTP, and `ws://`).
    pub fn http(mut self, http: HttpOptions) -> Self {
        self.http = http;
        self
    }

    /// The clock that stamps sessions (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration and builds the flow.
    pub fn build(self) -> Result<OmsFlow, Error> {
        OmsFlow::from_builder(self)
    }
}

pub(crate) fn required<T>(value: Option<T>, what: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::Config(format!("the OMS needs {what}")))
}
