//! The builder of an [`OnlineOrderingFlow`]: validated once, in `build()`.

use std::sync::Arc;

use base64::Engine as _;
use twofa_core::{Clock, Error, Password, Secret, SystemClock, http::HttpOptions};

use crate::OnlineOrderingFlow;

/// NCR's production API host.
pub const PRODUCTION: &str = "https://api.alohaorderonline.com";
/// NCR's lab host.
pub const LAB: &str = "https://api.alohaonline.swenglabs.ncr.com";

/// How the customer's access token goes on later API calls.
///
/// NCR's help pages do not say (see `docs/providers/onlineordering.md`); both candidates are offered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CustomerTokenPlacement {
    /// `Authorization: Bearer <access_token>`, with the integrator's Basic credentials moved to
    /// `x-api-custom-auth`, as NCR's own apps send that header. The default.
    #[default]
    BearerWithCustomAuth,
    /// `<name>: <access_token>`, with `Authorization` keeping the integrator's Basic credentials.
    Header(String),
}

/// The response format asked for with `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResponseFormat {
    /// `application/json` (the default).
    #[default]
    Json,
    /// `application/xml` (WCF DataContract XML).
    Xml,
}

/// Configuration of an [`OnlineOrderingFlow`].
#[derive(Debug, Clone)]
pub struct OnlineOrderingBuilder {
    pub(crate) base_url: Option<String>,
    pub(crate) company_code: Option<String>,
    pub(crate) integrator: Option<(String, Password)>,
    pub(crate) email: Option<String>,
    pub(crate) password: Option<Password>,
    pub(crate) device_id: Option<Secret>,
    pub(crate) send_email: bool,
    pub(crate) remember_device: Option<String>,
    pub(crate) format: ResponseFormat,
    pub(crate) placement: CustomerTokenPlacement,
    pub(crate) http: HttpOptions,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Default for OnlineOrderingBuilder {
    fn default() -> Self {
        Self {
            base_url: None,
            company_code: None,
            integrator: None,
            email: None,
            password: None,
            device_id: None,
            send_email: false,
            remember_device: None,
            format: ResponseFormat::Json,
            placement: CustomerTokenPlacement::default(),
            http: HttpOptions::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl OnlineOrderingBuilder {
    /// The API root before `v1/` (e.g. [`PRODUCTION`]). Required.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The company code sent as `X-Api-CompanyCode`. Required.
    pub fn company_code(mut self, code: impl Into<String>) -> Self {
        self.company_code = Some(code.into());
        self
    }

    /// The integrator account, sent as HTTP Basic. Required.
    pub fn integrator(mut self, user: impl Into<String>, password: impl Into<Password>) -> Self {
        self.integrator = Some((user.into(), password.into()));
        self
    }

    /// The customer's email. Required.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// The customer's password. Required.
    pub fn password(mut self, password: impl Into<Password>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// A device remembered on an earlier login: sent as `DeviceId`, it skips the second factor.
    pub fn device_id(mut self, device_id: impl Into<Secret>) -> Self {
        self.device_id = Some(device_id.into());
        self
    }

    /// Asks the server to email authenticator setup data (`sendEmail=true`).
    pub fn send_email(mut self, send: bool) -> Self {
        self.send_email = send;
        self
    }

    /// Asks the server to remember this device under `nickname` when the code is verified.
    pub fn remember_device(mut self, nickname: impl Into<String>) -> Self {
        self.remember_device = Some(nickname.into());
        self
    }

    /// JSON (default) or XML answers.
    pub fn format(mut self, format: ResponseFormat) -> Self {
        self.format = format;
        self
    }

    /// Where the customer token goes on later calls (default [`CustomerTokenPlacement::BearerWithCustomAuth`]).
    pub fn token_placement(mut self, placement: CustomerTokenPlacement) -> Self {
        self.placement = placement;
        self
    }

    /// HTTP settings: client, timeouts, insecure-HTTP opt-in.
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
    pub fn build(self) -> Result<OnlineOrderingFlow, Error> {
        OnlineOrderingFlow::from_builder(self)
    }
}

pub(crate) fn required<T>(value: Option<T>, what: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::Config(format!("Online Ordering needs {what}")))
}

/// `Basic base64(user:password)`.
pub(crate) fn basic(user: &str, password: &Password) -> Secret {
    let pair = zeroize::Zeroizing::new(format!("{user}:{}", password.expose_secret()));
    Secret::new(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair.as_bytes())))
}
