//! The builder of an [`OnlineOrderingFlow`]: validated once, in `build()`.

use twofa_core::{Error, Password, Secret, provider::ProviderConfig};

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
#[derive(Debug, Clone, Default)]
pub struct OnlineOrderingBuilder {
    pub(crate) common: ProviderConfig,
    pub(crate) guest: Option<String>,
    pub(crate) company_code: Option<String>,
    pub(crate) integrator: Option<(String, Password)>,
    pub(crate) device_id: Option<Secret>,
    pub(crate) send_email: bool,
    pub(crate) remember_device: Option<String>,
    pub(crate) format: ResponseFormat,
    pub(crate) placement: CustomerTokenPlacement,
}

impl OnlineOrderingBuilder {
    twofa_core::provider_setters!(
        base_url: "The API root before `v1/` (e.g. [`PRODUCTION`]). Required.",
        email: "The customer's email; with [`password`](Self::password). Required unless [`guest`](Self::guest) is used."
    );

    /// Logs in as a guest (`POST v1/Authenticate/Guest`) with this email and no password: the
    /// alternative to [`email`](Self::email) + [`password`](Self::password). `build()` refuses a
    /// builder given both, or neither, with [`Error::Config`].
    pub fn guest(mut self, email: impl Into<String>) -> Self {
        self.guest = Some(email.into());
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

    /// A device remembered on an earlier login: sent as `DeviceId`, it skips the second factor.
    /// For a guest, the id of the local device (`InGuestLogin.DeviceId`).
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

    /// Checks the configuration and builds the flow.
    pub fn build(self) -> Result<OnlineOrderingFlow, Error> {
        OnlineOrderingFlow::from_builder(self)
    }
}
