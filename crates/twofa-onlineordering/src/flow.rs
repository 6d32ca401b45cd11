//! The trait implementation: requests, and the one mapping from NCR's answers to twofa's.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use reqwest::{
    Method, RequestBuilder, Url,
    header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue},
};
use twofa_core::{
    AccessToken, AuthenticatorSetup, Challenge, Clock, Error, LoginPassword, Method as Delivery, OneTimeCode, Origin,
    RenewalToken, Secret, Session, Step, TokenPlacement, TwoFactorFlow,
    http::{Answer, Http, HttpOptions, sensitive_value},
    json::from_slice_ci,
    provider::{Spec, basic_auth, required},
};

use crate::{
    CustomerTokenPlacement, OnlineOrderingBuilder, ResponseFormat,
    wire::{Claims, LoginBody, RefreshBody, TokenResult, decode_id_token, text},
};

/// The provider name sessions and challenges carry.
pub const PROVIDER: &str = "onlineordering";

/// The `id_token` key under which a remembered device's id comes back (inferred: NCR does not document it).
pub const DEVICE_ID_CLAIM: &str = "DeviceId";

/// The `id_token` claims of authenticator setup data: the key to type, and the QR code's content.
/// Both hold the TOTP seed.
const SETUP_CLAIMS: [&str; 2] = ["ManualEntryKey", "QrCodeData"];

/// How errors name this provider and its common fields.
const SPEC: Spec = Spec::new(
    "Online Ordering",
    "a base URL (e.g. twofa_onlineordering::PRODUCTION)",
    "the customer's email",
    "the customer's password",
);

/// What the guest login is called in configuration errors.
const GUEST: &str = "a guest email (guest)";

/// How the flow starts: a customer with a password, or a guest with an email only.
#[derive(Debug)]
enum Login {
    /// `POST v1/Authenticate/2FA` with `{Email, Password, DeviceId?}`.
    Customer { password: LoginPassword },
    /// `POST v1/Authenticate/Guest` with `{Email, DeviceId?}`.
    Guest,
}

/// NCR Aloha Online Ordering login; build it with [`OnlineOrderingFlow::builder`].
#[derive(Debug)]
pub struct OnlineOrderingFlow {
    login_url: Url,
    guest_url: Url,
    refresh_url: Url,
    company_code: String,
    integrator: Secret,
    /// What every request carries: the integrator's credentials (marked sensitive), the company
    /// code and the format, checked and built once.
    headers: HeaderMap,
    email: String,
    login: Login,
    device_id: Option<Secret>,
    send_email: bool,
    remember_device: Option<String>,
    placement: CustomerTokenPlacement,
    http: Http,
    clock: Arc<dyn Clock>,
    /// The base URL and the account (company code, `customer` or `guest`, email): stamped on every
    /// session, required of every session sent.
    origin: Origin,
}

/// Which call an answer belongs to: the same status means different things on each.
#[derive(Clone, Copy)]
pub(crate) enum Call {
    Login,
    Verify,
    Refresh,
}

impl OnlineOrderingFlow {
    /// A builder; base URL, company code, integrator credentials, and either email and password
    /// or a guest email are required.
    pub fn builder() -> OnlineOrderingBuilder {
        OnlineOrderingBuilder::default()
    }

    pub(crate) fn from_builder(b: OnlineOrderingBuilder) -> Result<Self, Error> {
        let guest = b.guest.is_some();
        let ep = match b.guest {
            Some(email) => b.common.resolve_passwordless(&SPEC, email, GUEST, HttpOptions::base_url)?,
            None if !b.common.has_password_login() => {
                return Err(Error::Config(format!(
                    "Online Ordering needs {} and {}, or {GUEST}",
                    SPEC.login, SPEC.password
                )));
            }
            None => b.common.resolve(&SPEC, HttpOptions::base_url)?,
        };
        let company_code = required(b.company_code, SPEC.name, "a company code (X-Api-CompanyCode)")?;
        let (api_user, api_password) = required(b.integrator, SPEC.name, "integrator credentials")?;
        if company_code.is_empty() || api_user.is_empty() {
            return Err(Error::Config("Online Ordering needs a non-empty company code and integrator".into()));
        }
        if b.remember_device.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(Error::InvalidInput("remembering a device needs a nickname".into()));
        }
        let integrator = basic_auth(&api_user, api_password.expose_secret());
        let accept = match b.format {
            ResponseFormat::Json => "application/json",
            ResponseFormat::Xml => "application/xml",
        };
        let headers = HeaderMap::from_iter([
            (AUTHORIZATION, sensitive_value(integrator.expose_secret(), "the integrator credentials")?),
            (HeaderName::from_static("x-api-companycode"), sensitive_value(&company_code, "the company code")?),
            (ACCEPT, HeaderValue::from_static(accept)),
        ]);
        if let CustomerTokenPlacement::Header(name) = &b.placement {
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::Config(format!("`{name}` is not a valid header name")))?;
        }
        let kind = if guest { "guest" } else { "customer" };
        let origin = Origin::new(&ep.url, [company_code.as_str(), kind, ep.login.as_str()]);
        Ok(Self {
            origin,
            login_url: ep.join("v1/Authenticate/2FA")?,
            guest_url: ep.join("v1/Authenticate/Guest")?,
            refresh_url: ep.join("v1/Authenticate/2FA/Refresh")?,
            company_code,
            integrator,
            headers,
            email: ep.login,
            login: if guest { Login::Guest } else { Login::Customer { password: ep.password } },
            device_id: b.device_id,
            send_email: b.send_email,
            remember_device: b.remember_device,
            placement: b.placement,
            http: ep.http,
            clock: ep.clock,
        })
    }

    /// A request with the integrator's credentials, the company code and the format.
    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.http.request_with(method, url, self.headers.clone())
    }

    fn with_json(request: RequestBuilder, body: &impl serde::Serialize) -> Result<RequestBuilder, Error> {
        let bytes =
            serde_json::to_vec(body).map_err(|e| Error::InvalidInput(format!("cannot encode the request: {e}")))?;
        Ok(request.header(CONTENT_TYPE, "application/json").body(bytes))
    }

    /// A session from a token answer; `previous` supplies the subject when the answer has no `id_token`.
    pub(crate) fn session(&self, answer: &Answer, previous: Option<&Session>) -> Result<Session, Error> {
        let result = TokenResult::parse(&answer.body, answer.content_type())
            .ok_or_else(|| answer.unexpected("a token result (JSON or XML)"))?
            .checked()?;
        let access =
            result.access_token.filter(|t| !t.is_empty()).ok_or_else(|| answer.unexpected("an access_token"))?;
        let now = self.clock.now();
        let expires_at = match result.expires_in_seconds {
            Some(secs) if secs.is_finite() && secs >= 0.0 => Some(now + Duration::from_secs_f64(secs.min(1e10))),
            Some(_) => return Err(answer.unexpected("a non-negative expires_in_seconds")),
            None => None,
        };
        let token = AccessToken::new(&*access);
        let integrator = Secret::new(self.integrator.expose_secret());
        let mut session = match &self.placement {
            CustomerTokenPlacement::BearerWithCustomAuth => {
                Session::new(PROVIDER, token, TokenPlacement::Bearer, now).with_header("x-api-custom-auth", integrator)
            }
            CustomerTokenPlacement::Header(name) => {
                Session::new(PROVIDER, token, TokenPlacement::Header { name: name.clone() }, now)
                    .with_header("Authorization", integrator)
            }
        }
        .with_header("X-Api-CompanyCode", Secret::new(&*self.company_code))
        .with_expires_at(expires_at)
        .with_origin(self.origin.clone());
        if let Some(refresh) = result.refresh_token.filter(|t| !t.is_empty()) {
            session = session.with_renewal_token(RenewalToken::new(&*refresh));
        }
        let json = result.id_token.as_deref().and_then(decode_id_token);
        match json.as_deref().and_then(Claims::parse) {
            Some(claims) => {
                // The device id goes back to the server on the next login.
                claims.credential(DEVICE_ID_CLAIM)?;
                for (key, value) in claims {
                    // Setup data holds the TOTP seed, and the extras are not secret.
                    if SETUP_CLAIMS.iter().any(|setup| key.eq_ignore_ascii_case(setup)) {
                        continue;
                    }
                    let subject = matches!(&*key, "CustomerId" | "LoyaltyId").then(|| value.text()).flatten();
                    session = match subject {
                        Some(id) => session.with_subject(&*key, id),
                        None => session.with_extra(&*key, value.into_json()),
                    };
                }
            }
            None => {
                for (key, value) in previous.map(|p| p.subject().clone()).unwrap_or_default() {
                    session = session.with_subject(key, value);
                }
            }
        }
        Ok(session)
    }

    /// A challenge from a 303 answer: the method and setup data are inside the `id_token`.
    pub(crate) fn challenge(&self, answer: &Answer) -> Result<Challenge, Error> {
        let result = TokenResult::parse(&answer.body, answer.content_type())
            .ok_or_else(|| answer.unexpected("a GenerateCodeResult"))?
            .checked()?;
        let json = result.id_token.as_deref().and_then(decode_id_token);
        let claims = json
            .as_deref()
            .and_then(Claims::parse)
            .ok_or_else(|| answer.unexpected("an id_token naming the second factor"))?;
        // Setup data is shown on a terminal and holds the TOTP seed: a credential like any other.
        let secret = |key: &'static str| -> Result<Option<Secret>, Error> {
            Ok(claims.credential(key)?.filter(|s| !s.is_empty()).map(Secret::new))
        };
        let [manual_key, qr_data] = SETUP_CLAIMS.map(secret);
        let (manual_key, qr_data) = (manual_key?, qr_data?);
        // Inferred: the method comes as a name or as the enum's number (None = 0, Email = 1, Authenticator = 2).
        let method = claims.text("AuthenticationMethod").map(|m| m.to_ascii_lowercase());
        let method = match method.as_deref() {
            Some("email" | "1") => Delivery::Email,
            Some("authenticator" | "2") => Delivery::Authenticator { setup: self.setup(manual_key, qr_data) },
            Some("none" | "0") => return Err(answer.unexpected("a second-factor method other than None on a 303")),
            Some(other) => Delivery::Other { name: other.to_owned() },
            None if manual_key.is_some() || qr_data.is_some() => {
                Delivery::Authenticator { setup: self.setup(manual_key, qr_data) }
            }
            None => Delivery::Email,
        };
        let hint = match method {
            Delivery::Email => format!("a code was emailed to {}", self.email),
            _ => "enter the code your authenticator app shows".to_owned(),
        };
        let state = Secret::new(result.auth_code.as_deref().unwrap_or_default());
        Ok(Challenge::portable(PROVIDER, method, self.clock.now(), state).with_hint(hint))
    }

    fn setup(&self, manual_key: Option<Secret>, qr_data: Option<Secret>) -> Option<AuthenticatorSetup> {
        if manual_key.is_none() && qr_data.is_none() {
            return None;
        }
        let uri = match (&qr_data, &manual_key) {
            (Some(qr), _) if qr.expose_secret().starts_with("otpauth://") => Some(Secret::new(qr.expose_secret())),
            (_, Some(key)) => otpauth_uri(&self.email, key),
            _ => None,
        };
        Some(AuthenticatorSetup::new(manual_key, uri, qr_data))
    }

    pub(crate) fn error(answer: &Answer, call: Call) -> Error {
        match (answer.status, call) {
            (429, _) => Error::RateLimited { retry_after: answer.retry_after() },
            (400, _) => Error::InvalidInput(format!(
                "Online Ordering refused the request as malformed (HTTP 400, {})",
                answer.describe()
            )),
            // ASP.NET's authorization filter: the integrator or the company was refused.
            (401, _) if is_filter_denial(answer) => Error::InvalidAppKey,
            (401 | 404, Call::Login) => Error::InvalidCredentials,
            (404, Call::Verify) => Error::InvalidCode,
            (401 | 404, Call::Refresh) => Error::SessionExpired,
            (403, _) => Error::AccountLocked,
            _ => answer.unexpected("a 2xx answer"),
        }
    }
}

fn is_filter_denial(answer: &Answer) -> bool {
    #[derive(serde::Deserialize)]
    struct Denial {
        message: String,
    }
    from_slice_ci::<Denial>(&answer.body)
        .is_ok_and(|d| d.message.to_ascii_lowercase().contains("authorization has been denied"))
}

fn otpauth_uri(email: &str, key: &Secret) -> Option<Secret> {
    let mut uri = Url::parse("otpauth://totp/").ok()?;
    uri.set_path(&format!("Online Ordering:{email}"));
    uri.query_pairs_mut().append_pair("secret", key.expose_secret()).append_pair("issuer", "Online Ordering");
    Some(Secret::new(uri.as_str()))
}

/// The id of the device remembered at this login, to pass to [`OnlineOrderingBuilder::device_id`] next time.
pub fn remembered_device_id(session: &Session) -> Option<String> {
    session.extras().get(DEVICE_ID_CLAIM).and_then(text).filter(|id| !id.is_empty())
}

#[async_trait]
impl TwoFactorFlow for OnlineOrderingFlow {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn origin(&self) -> Option<&Origin> {
        Some(&self.origin)
    }

    /// Every call is an [`Http`] request, which ends at the deadline.
    fn waits_are_clamped(&self) -> bool {
        true
    }

    async fn start(&self) -> Result<Step, Error> {
        // The guest login answers like the customer's: 200 with a (limited) token, or 303 with the
        // second factor in the id_token, verified by the same GET.
        let (mut url, password) = match &self.login {
            Login::Customer { password } => (self.login_url.clone(), Some(password.fresh().await?)),
            Login::Guest => (self.guest_url.clone(), None),
        };
        url.query_pairs_mut().append_pair("sendEmail", if self.send_email { "true" } else { "false" });
        let password = password.as_ref().map(|p| p.expose_secret());
        let body =
            LoginBody { device_id: self.device_id.as_ref().map(Secret::expose_secret), email: &self.email, password };
        let request = Self::with_json(self.request(Method::POST, url), &body)?;
        let answer = self.http.send(request).await?;
        match answer.status {
            200 => Ok(Step::Authenticated(self.session(&answer, None)?)),
            303 => Ok(Step::Challenge(self.challenge(&answer)?)),
            _ => Err(Self::error(&answer, Call::Login)),
        }
    }

    /// Online Ordering has one second factor: a successful verify always ends in a session.
    async fn verify(&self, challenge: &Challenge, code: &OneTimeCode) -> Result<Step, Error> {
        challenge.portable_state(PROVIDER)?;
        let mut url = self.login_url.clone();
        url.query_pairs_mut()
            .append_pair("email", &self.email)
            .append_pair("code", code.expose_secret())
            .append_pair("rememberMe", if self.remember_device.is_some() { "true" } else { "false" })
            .append_pair("nickname", self.remember_device.as_deref().unwrap_or_default());
        let answer = self.http.send(self.request(Method::GET, url)).await?;
        match answer.status {
            200 => self.session(&answer, None).map(Step::Authenticated),
            _ => Err(Self::error(&answer, Call::Verify)),
        }
    }

    async fn resume(&self, session: &Session) -> Result<Session, Error> {
        session.ensure_issued_by(PROVIDER, &self.origin)?;
        let refresh =
            session.renewal_token().ok_or(Error::Unsupported { operation: "resume without a refresh token" })?;
        let body = RefreshBody { refresh_token: refresh.expose_secret() };
        let request = Self::with_json(self.request(Method::POST, self.refresh_url.clone()), &body)?;
        let answer = self.http.send(request).await?;
        match answer.status {
            200 => self.session(&answer, Some(session)),
            _ => Err(Self::error(&answer, Call::Refresh)),
        }
    }
}
