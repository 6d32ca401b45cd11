//! The trait implementation over both transports.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use reqwest::{
    Method, RequestBuilder, Url,
    header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE},
};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use twofa_core::{
    AccessToken, Challenge, Clock, Error, LiveChallenge, LoginPassword, OneTimeCode, Origin, RenewalToken, Secret,
    Session, Step, TokenPlacement, TransportKind, TwoFactorFlow,
    http::{Answer, Http, HttpOptions, sensitive_value},
    provider::{Spec, basic_auth},
    retry::Backoff,
};

use crate::{
    OmsBuilder, Transport,
    api_key::ApiKeyLogin,
    wire::{Call, Outcome, Reply},
    ws::Connection,
};

/// The provider name sessions and challenges carry.
pub const PROVIDER: &str = "oms";

/// The header that carries the session token on HTTP calls.
pub const SESSION_HEADER: &str = "aptoken";

/// How errors name this provider and its common fields.
const SPEC: Spec =
    Spec::new("the OMS", "an endpoint (wss://host/WSGateway or https://host)", "a username", "a password");

/// Exchange OMS login (AlphaPoint APEX and white labels); build it with [`OmsFlow::builder`].
#[derive(Debug)]
pub struct OmsFlow {
    endpoint: Url,
    transport: Transport,
    credentials: Credentials,
    oms_id: Option<u32>,
    idle_timeout: Duration,
    http: Http,
    connect_timeout: Duration,
    timeout: Duration,
    clock: Arc<dyn Clock>,
    /// The endpoint and the account (`username`, or an API key's `user_id`): stamped on every
    /// session, required of every session sent.
    origin: Origin,
}

/// How the flow logs in: one of the two, never both (checked in `build()`).
#[derive(Debug)]
enum Credentials {
    Password { username: String, password: LoginPassword },
    ApiKey(ApiKeyLogin),
}

/// The live state of a WebSocket challenge: the connection that is waiting for the code, and
/// what it takes to turn the gateway's answer into a session.
#[derive(Debug)]
struct PendingLogin {
    connection: Mutex<Option<Connection>>,
    shape: SessionShape,
}

/// How this flow's sessions look: what a reply needs besides its token to become a [`Session`].
#[derive(Debug, Clone)]
struct SessionShape {
    transport: Transport,
    /// The user id an API-key login names up front: the reply may leave it out.
    user_id: Option<String>,
    idle_timeout: Duration,
    oms_id: Option<u32>,
    clock: Arc<dyn Clock>,
    origin: Origin,
}

impl SessionShape {
    fn session(&self, token: Secret, user_id: Option<String>, oms_id: Option<String>) -> Session {
        let transport = match self.transport {
            Transport::WebSocket => "websocket",
            Transport::Http => "http",
        };
        let placement = TokenPlacement::Header { name: SESSION_HEADER.into() };
        let mut session = Session::new(PROVIDER, AccessToken::new(token.expose_secret()), placement, self.clock.now())
            .with_idle_timeout(self.idle_timeout)
            .with_renewal_token(RenewalToken::new(token.expose_secret()))
            .with_extra("transport", json!(transport))
            .with_origin(self.origin.clone());
        if let Some(id) = user_id {
            session = session.with_subject("UserId", id);
        }
        if let Some(id) = oms_id.or(self.oms_id.map(|id| id.to_string())) {
            session = session.with_extra("OMSId", json!(id));
        }
        session
    }

    fn session_of(&self, outcome: Outcome) -> Result<Session, Error> {
        match outcome {
            Outcome::Session { token, user_id, oms_id } => {
                Ok(self.session(token, user_id.or_else(|| self.user_id.clone()), oms_id))
            }
            Outcome::Challenge { .. } => Err(Error::unexpected(None, "a second 2FA request after the code")),
        }
    }
}

/// APEX has one second factor: a code accepted on the connection always ends in a session.
#[async_trait]
impl LiveChallenge for PendingLogin {
    async fn verify(&self, code: &OneTimeCode) -> Result<Step, Error> {
        let mut slot = self.connection.lock().await;
        let conn = slot.as_mut().ok_or(Error::ChallengeExpired)?;
        let reply = match conn.call("Authenticate2FA", &json!({ "Code": code.expose_secret() })).await {
            Ok(reply) => reply,
            // The pending login lived on that connection: it is gone with it.
            Err(Error::Transport { kind: TransportKind::Closed, .. }) => {
                *slot = None;
                return Err(Error::ChallengeExpired);
            }
            Err(e) => return Err(e),
        };
        let session = self.shape.session_of(Reply::parse(reply.as_bytes())?.outcome(Call::Verify)?)?;
        if let Some(conn) = slot.take() {
            conn.close().await;
        }
        Ok(Step::Authenticated(session))
    }
}

impl OmsFlow {
    /// A builder; the endpoint is required, and either a username and password or an API key.
    pub fn builder() -> OmsBuilder {
        OmsBuilder::default()
    }

    pub(crate) fn from_builder(b: OmsBuilder) -> Result<Self, Error> {
        let mut transport = Transport::Http;
        let parse = |http: &HttpOptions, raw: &str| {
            let endpoint = Url::parse(raw.trim()).map_err(|e| Error::Config(format!("invalid OMS endpoint: {e}")))?;
            let inferred = match endpoint.scheme() {
                "wss" | "ws" => Transport::WebSocket,
                _ => Transport::Http,
            };
            transport = b.transport.unwrap_or(inferred);
            if transport != inferred {
                return Err(Error::Config(format!(
                    "the endpoint's scheme `{}` does not match the {transport:?} transport",
                    endpoint.scheme()
                )));
            }
            match transport {
                Transport::WebSocket => http.check_scheme(&endpoint, "wss").map(|()| endpoint),
                Transport::Http => http.base_url(endpoint.as_str()),
            }
        };
        let (network, credentials) = match b.api_key {
            Some(key) => {
                let network = b.common.resolve_without_password(&SPEC, "an API key", parse)?;
                if key.key.expose_secret().is_empty() || key.secret.expose_secret().is_empty() {
                    return Err(Error::Config("the OMS needs a non-empty API key and API secret".into()));
                }
                (network, Credentials::ApiKey(key))
            }
            None if !b.common.has_password_login() => {
                return Err(Error::Config(
                    "the OMS needs a username and a password, or an API key (user id, key and secret)".into(),
                ));
            }
            None => {
                let (network, username, password) = b.common.resolve(&SPEC, parse)?.into_parts();
                (network, Credentials::Password { username, password })
            }
        };
        let origin = match &credentials {
            Credentials::Password { username, .. } => Origin::new(&network.url, ["username", username.as_str()]),
            Credentials::ApiKey(key) => Origin::new(&network.url, ["user_id".to_owned(), key.user_id.to_string()]),
        };
        Ok(Self {
            origin,
            transport,
            oms_id: b.oms_id,
            idle_timeout: b.idle_timeout,
            connect_timeout: network.options.connect_time_limit(),
            timeout: network.options.request_timeout(),
            endpoint: network.url,
            credentials,
            http: network.http,
            clock: network.clock,
        })
    }

    /// The transport in use.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    fn shape(&self) -> SessionShape {
        SessionShape {
            transport: self.transport,
            user_id: match &self.credentials {
                Credentials::ApiKey(key) => Some(key.user_id.to_string()),
                Credentials::Password { .. } => None,
            },
            idle_timeout: self.idle_timeout,
            oms_id: self.oms_id,
            clock: Arc::clone(&self.clock),
            origin: self.origin.clone(),
        }
    }

    fn session(&self, token: Secret, user_id: Option<String>, oms_id: Option<String>) -> Session {
        self.shape().session(token, user_id, oms_id)
    }

    pub(crate) fn session_of(&self, outcome: Outcome) -> Result<Session, Error> {
        self.shape().session_of(outcome)
    }

    async fn connect(&self) -> Result<Connection, Error> {
        Connection::open(&self.endpoint, self.http.tls_config(), self.connect_timeout, self.timeout).await
    }

    /// A new connection authenticated with the session token.
    async fn reconnect(&self, session: &Session) -> Result<(Connection, Session), Error> {
        let mut conn = self.connect().await?;
        let reply = conn
            .call("WebAuthenticateUser", &json!({ "SessionToken": session.access_token().expose_secret() }))
            .await?;
        match Reply::parse(reply.as_bytes())?.outcome(Call::Resume)? {
            // The re-authentication reply may omit the user id: keep the one the session had.
            Outcome::Session { token, user_id, oms_id } => {
                let user_id = user_id.or_else(|| session.subject().get("UserId").cloned());
                Ok((conn, self.session(token, user_id, oms_id)))
            }
            Outcome::Challenge { .. } => Err(Error::unexpected(None, "a 2FA request to a session-token login")),
        }
    }

    /// `{endpoint}/AP/{function}`.
    fn ap(&self, function: &str) -> Result<Url, Error> {
        self.endpoint.join(&format!("AP/{function}")).map_err(|e| Error::Config(format!("invalid OMS endpoint: {e}")))
    }

    fn post(&self, function: &str, body: &Value) -> Result<RequestBuilder, Error> {
        Ok(self
            .http
            .request(Method::POST, self.ap(function)?)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string()))
    }

    /// An HTTP answer's reply; HTTP-level refusals first (APEX itself answers 200 with a logical error).
    pub(crate) fn reply(answer: &Answer, call: Call) -> Result<Reply, Error> {
        match answer.status {
            200..=299 => Reply::parse(&answer.body).map_err(|e| match e {
                Error::MalformedCredential { .. } => e,
                _ => answer.unexpected("an APEX JSON reply"),
            }),
            429 => Err(Error::RateLimited { retry_after: answer.retry_after() }),
            // A gateway without the call: nothing to do there, not a dead session.
            404 if call == Call::Other => Err(Error::Unsupported { operation: "logout" }),
            401 | 403 => Err(match call {
                Call::Login => Error::InvalidCredentials,
                Call::KeyLogin => Error::InvalidApiKey,
                Call::Verify => Error::ChallengeExpired,
                Call::Resume | Call::Other => Error::SessionExpired,
            }),
            _ => Err(answer.unexpected("a 2xx answer")),
        }
    }

    async fn send(&self, request: RequestBuilder, call: Call) -> Result<Reply, Error> {
        Self::reply(&self.http.send(request).await?, call)
    }

    /// Refuses a session this flow did not issue (another endpoint, account or provider).
    pub(crate) fn check_session(&self, session: &Session) -> Result<(), Error> {
        session.ensure_issued_by(PROVIDER, &self.origin)
    }

    /// `function` with `payload` on `session`, sent once (it may change state): over WebSocket on a
    /// new connection re-authenticated with the session token, over HTTP as a POST with `aptoken`.
    /// The reply's payload, whatever its shape; HTTP-level refusals are errors.
    pub(crate) async fn session_call(
        &self,
        session: &Session,
        function: &'static str,
        payload: &Value,
    ) -> Result<Vec<u8>, Error> {
        self.check_session(session)?;
        match self.transport {
            Transport::WebSocket => {
                let (mut conn, _) = self.reconnect(session).await?;
                let reply = conn.call(function, payload).await;
                conn.close().await;
                Ok(reply?.into_bytes())
            }
            Transport::Http => {
                let answer = self.http.send(Self::with_session(self.post(function, payload)?, session)?).await?;
                match answer.status {
                    200..=299 => Ok(answer.body),
                    429 => Err(Error::RateLimited { retry_after: answer.retry_after() }),
                    404 => Err(Error::Unsupported { operation: function }),
                    401 | 403 => Err(Error::SessionExpired),
                    _ => Err(answer.unexpected("a 2xx answer")),
                }
            }
        }
    }

    fn with_session(request: RequestBuilder, session: &Session) -> Result<RequestBuilder, Error> {
        Ok(request
            .header(SESSION_HEADER, sensitive_value(session.access_token().expose_secret(), "the session token")?))
    }
}

#[async_trait]
impl TwoFactorFlow for OmsFlow {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn origin(&self) -> Option<&Origin> {
        Some(&self.origin)
    }

    /// Over HTTP every call is an [`Http`](twofa_core::http::Http) request, which ends at the
    /// deadline; the WebSocket keeps time limits of its own.
    fn waits_are_clamped(&self) -> bool {
        matches!(self.transport, Transport::Http)
    }

    async fn start(&self) -> Result<Step, Error> {
        match self.transport {
            Transport::WebSocket => {
                // A password login is `WebAuthenticateUser`; the API-key form is documented for
                // `AuthenticateUser` only. The password is asked for before the connection opens.
                let (function, credentials, call) = match &self.credentials {
                    Credentials::Password { username, password } => (
                        "WebAuthenticateUser",
                        json!({ "UserName": username, "Password": password.fresh().await?.expose_secret() }),
                        Call::Login,
                    ),
                    Credentials::ApiKey(key) => {
                        ("AuthenticateUser", key.sign(self.clock.now())?.payload(&key.key), Call::KeyLogin)
                    }
                };
                let mut conn = self.connect().await?;
                let reply = conn.call(function, &credentials).await?;
                match Reply::parse(reply.as_bytes())?.outcome(call)? {
                    Outcome::Challenge { method, .. } => {
                        let pending =
                            Arc::new(PendingLogin { connection: Mutex::new(Some(conn)), shape: self.shape() });
                        Ok(Step::Challenge(
                            Challenge::live(PROVIDER, method, self.clock.now(), pending)
                                .with_hint("enter the code of the OMS's second factor on the same connection"),
                        ))
                    }
                    session => {
                        conn.close().await;
                        Ok(Step::Authenticated(self.session_of(session)?))
                    }
                }
            }
            Transport::Http => {
                let request =
                    self.http.request(Method::GET, self.ap("AuthenticateUser")?).header(ACCEPT, "application/json");
                let (request, call) = match &self.credentials {
                    Credentials::Password { username, password } => {
                        let basic = basic_auth(username, password.fresh().await?.expose_secret());
                        let value = sensitive_value(basic.expose_secret(), "the credentials")?;
                        (request.header(AUTHORIZATION, value), Call::Login)
                    }
                    Credentials::ApiKey(key) => {
                        let signed = key.sign(self.clock.now())?;
                        let request = request
                            .header("APIKey", sensitive_value(key.key.expose_secret(), "the API key")?)
                            .header("Signature", sensitive_value(signed.signature.expose_secret(), "the signature")?)
                            .header("UserId", signed.user_id)
                            .header("Nonce", signed.nonce);
                        (request, Call::KeyLogin)
                    }
                };
                match self.send(request, call).await?.outcome(call)? {
                    Outcome::Challenge { method, pending } => Ok(Step::Challenge(Challenge::portable(
                        PROVIDER,
                        method,
                        self.clock.now(),
                        pending.unwrap_or_else(|| Secret::new("")),
                    ))),
                    session => Ok(Step::Authenticated(self.session_of(session)?)),
                }
            }
        }
    }

    /// APEX has one second factor: a successful verify always ends in a session.
    async fn verify(&self, challenge: &Challenge, code: &OneTimeCode) -> Result<Step, Error> {
        match self.transport {
            Transport::WebSocket => challenge.live_state(PROVIDER)?.verify(code).await,
            Transport::Http => {
                let payload = json!({ "Code": code.expose_secret() });
                let pending = challenge.portable_state(PROVIDER)?;
                let mut request = self.post("Authenticate2FA", &payload)?;
                if !pending.expose_secret().is_empty() {
                    request = request
                        .header("pending2FaToken", sensitive_value(pending.expose_secret(), "the pending 2FA token")?);
                }
                self.session_of(self.send(request, Call::Verify).await?.outcome(Call::Verify)?).map(Step::Authenticated)
            }
        }
    }

    /// Over WebSocket, `WebAuthenticateUser {SessionToken}` on a new connection; re-authenticating
    /// is idempotent, so transport errors and 5xx are retried. Over HTTP no stored document shows
    /// a call that re-establishes or checks a session, so HTTP cannot resume:
    /// [`Error::Unsupported`], and an [`Authenticator`](twofa_core::Authenticator) logs in afresh
    /// (no code for an API key).
    async fn resume(&self, session: &Session) -> Result<Session, Error> {
        session.ensure_issued_by(PROVIDER, &self.origin)?;
        match self.transport {
            Transport::WebSocket => Backoff::default().retry(|| self.resume_once(session)).await,
            Transport::Http => Err(Error::Unsupported { operation: "resume" }),
        }
    }

    async fn logout(&self, session: &Session) -> Result<(), Error> {
        session.ensure_issued_by(PROVIDER, &self.origin)?;
        Backoff::default().retry(|| self.logout_once(session)).await
    }
}

impl OmsFlow {
    async fn resume_once(&self, session: &Session) -> Result<Session, Error> {
        let (conn, renewed) = self.reconnect(session).await?;
        conn.close().await;
        Ok(renewed)
    }

    async fn logout_once(&self, session: &Session) -> Result<(), Error> {
        match self.transport {
            Transport::WebSocket => {
                let (mut conn, _) = self.reconnect(session).await?;
                let reply = conn.call("LogOut", &json!({})).await;
                conn.close().await;
                Reply::parse(reply?.as_bytes())?.generic(Call::Other)
            }
            Transport::Http => {
                // The documented HTTP path is `/AP/Logout` (the WebSocket function is `LogOut`).
                let request = Self::with_session(self.post("Logout", &json!({}))?, session)?;
                self.send(request, Call::Other).await?.generic(Call::Other)
            }
        }
    }
}
