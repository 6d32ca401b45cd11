//! An exchange OMS (AlphaPoint APEX): the WebSocket gateway at `/WSGateway` and the HTTP gateway
//! under `/AP/`, answering as the APEX documents describe — `AuthenticateUser`,
//! `WebAuthenticateUser`, `Authenticate2FA`, `LogOut`, `Ping` and `GetUserInfo` (a protected call).
//!
//! The citations are anchors of docs/protocols/oms.md, which records what each vendor document says
//! (AlphaPoint's "Authenticate2FA" API page, the AlphaPoint slate pages, the APEX v4 / VulcanX
//! "Authentication" section):
//!
//! - paths match whatever their case, with or without a trailing slash (docs/protocols/oms.md#frames: the
//!   documents write `/WSGateway/`, `/wsgateway`, `/AP/` and `/ap/`);
//! - a WebSocket Close frame is answered with a Close frame (RFC 6455 §5.5.1), so a client close is clean;
//! - `AuthenticateUser` logs in with `UserName`/`Password` over WebSocket as over HTTP
//!   (docs/protocols/oms.md#authenticateuser), or with an API key (`APIKey`, `Signature`, `UserId`,
//!   `Nonce`; see [`crate::oms_api_key`]), which also serves `AddUserAPIKey`, `GetUserAPIKeys` and
//!   `RemoveUserAPIKey` (docs/protocols/oms.md#api-keys); `LogOut` needs no session
//!   (docs/protocols/oms.md#logout); `Ping` answers `{"msg":"PONG"}` (docs/protocols/oms.md#other-calls);
//! - `twoFAToken` carries the `otpauth://` enrolment URI only while the user has not enrolled
//!   ([`USER_ENROLLING`]; AlphaPoint's "Authenticate2FA" API page: the token is the enrolment QR code;
//!   docs/protocols/oms.md#webauthenticateuser), an empty string after and for enrolled users
//!   ([`USER_TOTP`]);
//! - a TOTP code is accepted once: each user remembers the last accepted time step and a code for it or
//!   an earlier one is refused (RFC 6238 §5.2, docs/protocols/oms.md#authenticate2fa);
//! - logical errors are HTTP 200 with the generic `{result:false,…}` body
//!   (docs/protocols/oms.md#generic-response); the error-frame knob answers `m:5` frames.
//!
//! Where the documents disagree or are silent, [`OmsVariant`] holds each reading as a knob.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{
        FromRequestParts, Path, State, WebSocketUpgrade,
        ws::{Message, WebSocket},
    },
    http::{HeaderMap, Method, StatusCode, request::Parts},
    response::{IntoResponse, Response},
    routing::any,
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use crate::{
    SandboxBuilder, Shared, header, lock,
    oms_api_key::{self, ApiKeys, Signed},
    random_token,
};

/// The password of every seeded OMS user.
pub const PASSWORD: &str = "sandbox-password";
/// A user who has enrolled an authenticator ("Google") second factor; its seed is [`TOTP_SEED`].
pub const USER_TOTP: &str = "trader.totp";
/// A user whose authenticator second factor is switched on but not yet enrolled: its password
/// logins carry the `otpauth://` URI of [`ENROLLING_SEED`] in `twoFAToken` until a code is accepted.
pub const USER_ENROLLING: &str = "trader.enrolling";
/// A user without a second factor.
pub const USER_NO_2FA: &str = "trader.plain";
/// A locked user.
pub const USER_LOCKED: &str = "trader.locked";
/// The authenticator seed of [`USER_TOTP`] (base32).
pub const TOTP_SEED: &str = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU";
/// The authenticator seed [`USER_ENROLLING`] is offered at enrolment (base32).
pub const ENROLLING_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// The generic "Not Authorized" response, byte for byte as the documents print it
/// (docs/protocols/oms.md#generic-response).
pub const NOT_AUTHORIZED: &str = r#"{"result":false,"errormsg":"Not Authorized","errorcode":20,"detail":null}"#;
/// The generic "Operation Not Supported" response (docs/protocols/oms.md#generic-response).
pub const NOT_SUPPORTED: &str =
    r#"{"result":false,"errormsg":"Operation Not Supported","errorcode":106,"detail":null}"#;
/// The generic "Server Error" response the error-frame knob sends in `m:5` frames
/// (docs/protocols/oms.md#generic-response).
pub const SERVER_ERROR: &str = r#"{"result":false,"errormsg":"Server Error","errorcode":102,"detail":null}"#;
/// The `LogOut` success response (docs/protocols/oms.md#logout).
pub const LOGGED_OUT: &str = r#"{"result":true,"errormsg":null,"errorcode":0,"detail":null}"#;
/// The `LogOut` success response as the APEX v4 sample prints it, `result` a string
/// (docs/protocols/oms.md#logout).
pub const LOGGED_OUT_V4: &str = r#"{"result":"true","errormsg":null,"errorcode":0,"detail":null}"#;
/// The keep-alive reply clients wait for (docs/protocols/oms.md#other-calls).
pub const PONG: &str = r#"{"msg":"PONG"}"#;

/// Readings of the OMS the documents leave open; each is a knob so a client can be run against all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct OmsVariant {
    /// `UserId` in `WebAuthenticateUser`/`Authenticate2FA` replies as a string, as
    /// docs/protocols/oms.md#webauthenticateuser documents it (default: a number, as
    /// docs/protocols/oms.md#webauthenticateuser observes in practice).
    pub user_id_as_string: bool,
    /// `LogOut` answers `"result":"true"`, as the APEX v4 sample prints it (default: `true`,
    /// docs/protocols/oms.md#logout).
    pub logout_result_as_string: bool,
    /// Accept the same TOTP code again within its time window, as a lax server would (default:
    /// refuse, RFC 6238 §5.2). For load tests that replay one code.
    pub allow_totp_replay: bool,
}

impl OmsVariant {
    /// Every combination of the knobs, for suites that run a client against each.
    pub fn all() -> Vec<Self> {
        (0..8u8)
            .map(|bits| {
                Self::default()
                    .user_id_as_string(bits & 1 != 0)
                    .logout_result_as_string(bits & 2 != 0)
                    .allow_totp_replay(bits & 4 != 0)
            })
            .collect()
    }

    /// Sets [`OmsVariant::user_id_as_string`](field@OmsVariant::user_id_as_string).
    pub fn user_id_as_string(mut self, on: bool) -> Self {
        self.user_id_as_string = on;
        self
    }

    /// Sets [`OmsVariant::logout_result_as_string`](field@OmsVariant::logout_result_as_string).
    pub fn logout_result_as_string(mut self, on: bool) -> Self {
        self.logout_result_as_string = on;
        self
    }

    /// Sets [`OmsVariant::allow_totp_replay`](field@OmsVariant::allow_totp_replay).
    pub fn allow_totp_replay(mut self, on: bool) -> Self {
        self.allow_totp_replay = on;
        self
    }
}

/// A seeded account, shaped like the v4 `User` object (docs/protocols/oms.md#authenticateuser).
struct Account {
    id: u64,
    name: &'static str,
    email: &'static str,
    account_id: u64,
    seed: Option<&'static str>,
    locked: bool,
}

const ACCOUNTS: [Account; 4] = [
    Account { id: 1, name: USER_NO_2FA, email: "plain@sandbox.example", account_id: 11, seed: None, locked: false },
    Account {
        id: 2,
        name: USER_TOTP,
        email: "totp@sandbox.example",
        account_id: 12,
        seed: Some(TOTP_SEED),
        locked: false,
    },
    Account { id: 3, name: USER_LOCKED, email: "locked@sandbox.example", account_id: 13, seed: None, locked: true },
    Account {
        id: 4,
        name: USER_ENROLLING,
        email: "enrolling@sandbox.example",
        account_id: 14,
        seed: Some(ENROLLING_SEED),
        locked: false,
    },
];

fn account(username: &str) -> Option<&'static Account> {
    ACCOUNTS.iter().find(|a| a.name == username)
}

impl Account {
    /// The v4 `User` object (docs/protocols/oms.md#authenticateuser), PascalCase.
    fn user(&self) -> Value {
        json!({
            "UserId": self.id, "UserName": self.name, "Email": self.email, "EmailVerified": true,
            "AccountId": self.account_id, "OMSId": 1, "Use2FA": self.seed.is_some(),
        })
    }

    /// The slate `user` object (docs/protocols/oms.md#authenticateuser), camelCase.
    fn user_camel(&self) -> Value {
        json!({
            "userId": self.id, "userName": self.name, "email": self.email, "emailVerified": true,
            "accountId": self.account_id, "omsId": 1, "use2FA": self.seed.is_some(),
        })
    }

    /// `GetUserInfo`'s fields, as the Notbank client's model lists them
    /// (docs/protocols/oms.md#other-calls); the password hash and salt stay empty.
    fn info(&self) -> Value {
        json!({
            "UserId": self.id, "UserName": self.name, "Email": self.email, "PasswordHash": "",
            "PendingEmailCode": "", "EmailVerified": true, "AccountId": self.account_id,
            "DateTimeCreated": "2024-01-02T03:04:05Z", "AffiliateId": 0, "RefererId": 0, "OMSId": 1,
            "Use2FA": self.seed.is_some(), "Salt": "", "PendingCodeTime": "0001-01-01T00:00:00Z",
            "Locked": self.locked, "LockedTime": "0001-01-01T00:00:00Z", "NumberOfFailedAttempt": 0,
            "MarginBorrowerEnabled": false, "MarginAcquisitionHalt": false, "OperatorId": 1,
        })
    }
}

/// What the sandbox remembers of a user's second factor.
#[derive(Debug, Default, Clone, Copy)]
struct Factor {
    /// Whether the user finished enrolment (a code was accepted).
    enrolled: bool,
    /// The last accepted time step (RFC 6238 §5.2).
    last_step: Option<u64>,
}

#[derive(Debug)]
struct Pending {
    username: String,
    expires: Instant,
    wrong: u32,
}

#[derive(Debug)]
struct Live {
    username: String,
    last_activity: Instant,
}

/// The OMS backend's state.
#[derive(Debug)]
pub(crate) struct OmsState {
    ticket_ttl: Duration,
    max_code_attempts: u32,
    idle_timeout: Duration,
    totp_period: u64,
    variant: Mutex<OmsVariant>,
    event_burst: AtomicU32,
    error_frames: AtomicBool,
    factors: Mutex<HashMap<String, Factor>>,
    sessions: Mutex<HashMap<String, Live>>,
    pending_http: Mutex<HashMap<String, Pending>>,
    // API-key login (issue 15 item 3): the nonces seen; the logic is in `oms_api_key`.
    pub(crate) api_keys: ApiKeys,
}

impl OmsState {
    pub(crate) fn new(options: &SandboxBuilder) -> Self {
        let factors = HashMap::from([(USER_TOTP.to_owned(), Factor { enrolled: true, last_step: None })]);
        Self {
            ticket_ttl: options.ticket_ttl,
            max_code_attempts: options.max_code_attempts,
            idle_timeout: options.oms_idle_timeout,
            totp_period: options.oms_totp_period.as_secs().max(1),
            variant: Mutex::new(options.oms_variant),
            event_burst: AtomicU32::new(0),
            error_frames: AtomicBool::new(false),
            factors: Mutex::new(factors),
            sessions: Mutex::default(),
            pending_http: Mutex::default(),
            api_keys: ApiKeys::default(),
        }
    }

    pub(crate) fn set_event_burst(&self, frames: u32) {
        self.event_burst.store(frames, Ordering::Relaxed);
    }

    pub(crate) fn set_error_frames(&self, on: bool) {
        self.error_frames.store(on, Ordering::Relaxed);
    }

    pub(crate) fn set_variant(&self, variant: OmsVariant) {
        *lock(&self.variant) = variant;
    }

    fn variant(&self) -> OmsVariant {
        *lock(&self.variant)
    }

    /// A user id as the variant writes it in login replies.
    fn user_id(&self, account: &Account) -> Value {
        if self.variant().user_id_as_string { json!(account.id.to_string()) } else { json!(account.id) }
    }

    fn open_session(&self, username: &str, now: Instant) -> String {
        let token = random_token();
        lock(&self.sessions).insert(token.clone(), Live { username: username.into(), last_activity: now });
        token
    }

    /// The user of a live session, touching it; `None` if unknown or idle too long.
    fn touch(&self, token: &str, now: Instant) -> Option<String> {
        let mut sessions = lock(&self.sessions);
        let alive = sessions.get(token).is_some_and(|s| now.duration_since(s.last_activity) < self.idle_timeout);
        if !alive {
            sessions.remove(token);
            return None;
        }
        let live = sessions.get_mut(token)?;
        live.last_activity = now;
        Some(live.username.clone())
    }

    /// The `otpauth://` URI to send in `twoFAToken`: only while the user has not enrolled.
    fn enrolment_uri(&self, account: &Account) -> String {
        let enrolled = lock(&self.factors).get(account.name).is_some_and(|f| f.enrolled);
        match account.seed {
            Some(seed) if !enrolled => {
                let mut uri = format!("otpauth://totp/SandboxOMS:{}?secret={seed}&issuer=SandboxOMS", account.name);
                if self.totp_period != 30 {
                    uri.push_str(&format!("&period={}", self.totp_period));
                }
                uri
            }
            _ => String::new(),
        }
    }

    /// Checks a `UserName`/`Password` pair: the account, or the documented failure reply
    /// (docs/protocols/oms.md#authenticateuser).
    fn check_password(&self, username: &str, password: &str) -> Result<&'static Account, Value> {
        let Some(account) = account(username).filter(|_| password == PASSWORD) else {
            return Err(json!({ "Authenticated": false, "Locked": false, "errormsg": "Invalid username or password" }));
        };
        if account.locked {
            return Err(json!({
                "Authenticated": false, "Locked": true, "errormsg": "User is locked. Please contact administrator"
            }));
        }
        Ok(account)
    }

    fn pending(&self, account: &Account, now: Instant) -> Pending {
        Pending { username: account.name.into(), expires: now + self.ticket_ttl, wrong: 0 }
    }

    /// `WebAuthenticateUser {UserName, Password}` (docs/protocols/oms.md#webauthenticateuser): its keys,
    /// and the pending 2FA login.
    fn web_login(&self, username: &str, password: &str, now: Instant) -> (Value, Option<Pending>) {
        let account = match self.check_password(username, password) {
            Ok(account) => account,
            Err(reply) => return (reply, None),
        };
        if account.seed.is_some() {
            // As the v4 docs warn: Authenticated is already true while 2FA is pending.
            let reply = json!({
                "Authenticated": true, "Requires2FA": true, "AuthType": "Google",
                "twoFAToken": self.enrolment_uri(account), "AddtlInfo": "", "errormsg": null,
            });
            return (reply, Some(self.pending(account, now)));
        }
        let token = self.open_session(account.name, now);
        let reply = json!({
            "Authenticated": true, "SessionToken": token, "UserId": self.user_id(account),
            "twoFAToken": "", "Requires2FA": false, "AuthType": "", "errormsg": null,
        });
        (reply, None)
    }

    /// `AuthenticateUser`/`Authenticate` with a password, in the v4 PascalCase shape
    /// (docs/protocols/oms.md#authenticateuser).
    fn user_login(&self, username: &str, password: &str, now: Instant) -> (Value, Option<Pending>) {
        let account = match self.check_password(username, password) {
            Ok(account) => account,
            Err(reply) => return (reply, None),
        };
        if account.seed.is_some() {
            let uri = self.enrolment_uri(account);
            let mut reply =
                json!({ "Authenticated": true, "Requires2FA": true, "AuthType": "Google", "AddtlInfo": "" });
            if !uri.is_empty() {
                reply["TwoFAToken"] = json!(uri);
            }
            return (reply, Some(self.pending(account, now)));
        }
        let reply = json!({
            "Authenticated": true, "SessionToken": self.open_session(account.name, now), "User": account.user(),
            "Locked": false, "Requires2FA": false, "EnforceEnable2FA": false, "TwoFAType": null,
            "TwoFAToken": null, "errormsg": null,
        });
        (reply, None)
    }

    /// `AuthenticateUser {UserName, Password}` over WebSocket, in the slate camelCase shape
    /// (docs/protocols/oms.md#authenticateuser).
    fn ws_user_login(&self, username: &str, password: &str, now: Instant) -> (Value, Option<Pending>) {
        let account = match self.check_password(username, password) {
            Ok(account) => account,
            Err(reply) => return (lower_first(&reply), None),
        };
        let mut reply = json!({
            "authenticated": true, "user": account.user_camel(), "locked": false, "requires2FA": false,
            "twoFAType": "", "twoFAToken": "", "errormsg": "",
        });
        if account.seed.is_some() {
            reply["requires2FA"] = json!(true);
            reply["twoFAType"] = json!("Google");
            reply["twoFAToken"] = json!(self.enrolment_uri(account));
            return (reply, Some(self.pending(account, now)));
        }
        reply["sessionToken"] = json!(self.open_session(account.name, now));
        (reply, None)
    }

    /// Whether `code` is a fresh TOTP code of `account`; records its step, and enrolment, if so.
    fn accept_code(&self, account: &Account, code: &str) -> bool {
        let Some(seed) = account.seed else { return false };
        let Some(step) = crate::totp::matching_step(seed, code, self.totp_period) else { return false };
        let mut factors = lock(&self.factors);
        let factor = factors.entry(account.name.to_owned()).or_default();
        let replayed = factor.last_step.is_some_and(|last| step <= last);
        if replayed && !self.variant().allow_totp_replay {
            tracing::debug!(user = account.name, "sandbox refused a replayed TOTP code");
            return false;
        }
        factor.last_step = Some(factor.last_step.map_or(step, |last| last.max(step)));
        factor.enrolled = true;
        true
    }

    /// An API-key `AuthenticateUser` (`oms_api_key`, docs/protocols/oms.md#api-key-login): a session of
    /// the key's user in the v4 shape, never a 2FA request ("authentication using an API key bypasses
    /// 2FA"), or the documented refusal.
    fn api_key_login(&self, signed: &Signed, now: Instant) -> Out {
        let account = self.api_keys.check(signed).and_then(|id| ACCOUNTS.iter().find(|a| a.id == id));
        let Some(account) = account else { return Out::Doc(oms_api_key::REFUSED) };
        oms_api_key::accepted(&self.open_session(account.name, now), account.user()).into()
    }

    /// `Authenticate2FA {Code}` against a pending login (docs/protocols/oms.md#authenticate2fa); the
    /// pending state survives a wrong code.
    fn second_factor(&self, pending: &mut Option<Pending>, code: &str, now: Instant) -> Out {
        let Some(p) = pending.as_mut().filter(|p| p.expires > now) else {
            *pending = None;
            return Out::Doc(NOT_AUTHORIZED);
        };
        let Some(account) = account(&p.username) else { return Out::Doc(NOT_AUTHORIZED) };
        if !self.accept_code(account, code) {
            p.wrong += 1;
            if p.wrong >= self.max_code_attempts {
                *pending = None;
            }
            return json!({ "Authenticated": false }).into();
        }
        *pending = None;
        let token = self.open_session(account.name, now);
        json!({ "Authenticated": true, "UserId": self.user_id(account), "SessionToken": token }).into()
    }

    /// Re-authentication with `{SessionToken}` (docs/protocols/oms.md#resume): the session's reply, or
    /// the observed refusal.
    fn resume(&self, token: &str, now: Instant) -> Value {
        match self.touch(token, now).as_deref().and_then(account) {
            Some(account) => json!({
                "Authenticated": true, "SessionToken": token, "UserId": self.user_id(account),
                "twoFAToken": "", "Requires2FA": false, "AuthType": "", "errormsg": null,
            }),
            None => json!({ "Authenticated": false, "errormsg": "Invalid session token" }),
        }
    }

    /// `LogOut` (docs/protocols/oms.md#logout): ends the session if there is one; needs none.
    fn logout(&self, token: Option<&str>) -> Out {
        if let Some(token) = token {
            lock(&self.sessions).remove(token);
        }
        Out::Doc(if self.variant().logout_result_as_string { LOGGED_OUT_V4 } else { LOGGED_OUT })
    }

    /// `AddUserAPIKey`, `GetUserAPIKeys` or `RemoveUserAPIKey` (`oms_api_key`) for the session's
    /// user, or "Not Authorized" without a live session.
    fn manage_api_keys(&self, function: &str, token: Option<&str>, payload: &Value, now: Instant) -> Out {
        match token.and_then(|t| self.touch(t, now)).as_deref().and_then(account) {
            Some(account) => self.api_keys.manage(function, account.id, payload).into(),
            None => Out::Doc(NOT_AUTHORIZED),
        }
    }

    /// `GetUserInfo` for a session token, or "Not Authorized".
    fn user_info(&self, token: Option<&str>, now: Instant) -> Out {
        match token.and_then(|t| self.touch(t, now)).as_deref().and_then(account) {
            Some(account) => account.info().into(),
            None => Out::Doc(NOT_AUTHORIZED),
        }
    }
}

/// The slate spelling of a failure reply: the same keys with a lower-case first letter.
fn lower_first(reply: &Value) -> Value {
    let Some(map) = reply.as_object() else { return reply.clone() };
    let lowered = map.iter().map(|(k, v)| {
        let mut chars = k.chars();
        let key = chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default();
        (key, v.clone())
    });
    Value::Object(lowered.collect())
}

/// A reply body: a documented one sent byte for byte, or one built from its fields.
enum Out {
    Doc(&'static str),
    Json(Value),
}

impl From<Value> for Out {
    fn from(value: Value) -> Self {
        Self::Json(value)
    }
}

impl Out {
    fn text(&self) -> String {
        match self {
            Self::Doc(text) => (*text).to_owned(),
            Self::Json(value) => value.to_string(),
        }
    }

    /// The session token a login reply hands out, in either spelling.
    fn session_token(&self) -> Option<&str> {
        let Self::Json(reply) = self else { return None };
        reply
            .get("SessionToken")
            .or_else(|| reply.get("sessionToken"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
    }

    fn into_response(self) -> Response {
        ([(axum::http::header::CONTENT_TYPE, "application/json")], self.text()).into_response()
    }
}

/// Looks a key up whatever its case, as the real gateway does.
fn field<'a>(payload: &'a Value, key: &str) -> Option<&'a str> {
    payload.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).and_then(|(_, v)| v.as_str())
}

/// The documented functions, by their canonical names (docs/protocols/oms.md, AuthenticateUser to
/// LogOut); looked up case-insensitively.
const FUNCTIONS: [&str; 11] = [
    "AuthenticateUser",
    "Authenticate",
    "WebAuthenticateUser",
    "Authenticate2FA",
    "LogOut",
    "Logout",
    "Ping",
    "GetUserInfo",
    "AddUserAPIKey",
    "GetUserAPIKeys",
    "RemoveUserAPIKey",
];

fn canonical(function: &str) -> Option<&'static str> {
    let name = FUNCTIONS.into_iter().find(|f| f.eq_ignore_ascii_case(function))?;
    Some(if name == "Logout" { "LogOut" } else { name })
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    // Matched by pattern rather than by literal so that any case, with or without a trailing slash,
    // reaches the gateway (docs/protocols/oms.md#frames); literal routes of the other backends take
    // precedence.
    Router::new()
        .route("/{gateway}", any(gateway))
        .route("/{gateway}/", any(gateway))
        .route("/{ap}/{function}", any(http_call))
        .route("/{ap}/{function}/", any(http_call))
}

async fn gateway(State(s): State<Arc<Shared>>, Path(path): Path<String>, parts: Parts) -> Response {
    if !path.eq_ignore_ascii_case("WSGateway") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut parts = parts;
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &s).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    s.stats.hit("oms.ws.connect");
    upgrade.on_upgrade(move |socket| serve(s, socket))
}

/// What one WebSocket connection remembers: its pending 2FA login and its session.
#[derive(Default)]
struct Connection {
    pending: Option<Pending>,
    token: Option<String>,
}

async fn serve(s: Arc<Shared>, mut socket: WebSocket) {
    let mut conn = Connection::default();
    while let Some(Ok(message)) = socket.recv().await {
        let text = match message {
            Message::Text(text) => text,
            // RFC 6455 §5.5.1: a Close is answered with a Close. The WebSocket layer queues that
            // answer itself; reading on flushes it and then ends the stream, so the close is clean.
            // (Returning here, as the sandbox once did, dropped the answer: clients saw 1006.)
            Message::Close(_) => continue,
            _ => continue,
        };
        let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
        let (i, name) = (frame["i"].as_u64().unwrap_or(0), frame["n"].as_str().unwrap_or_default().to_owned());
        let payload = frame["o"].as_str().and_then(|o| serde_json::from_str(o).ok()).unwrap_or(Value::Null);
        s.stats.hit("oms.ws.request");
        for k in 0..s.oms.event_burst.load(Ordering::Relaxed) {
            // Events may reuse the request's number; foreign replies carry another: neither is the answer.
            let noise = if k % 2 == 0 {
                json!({ "m": 3, "i": i, "n": "LevelOneUpdateEvent", "o": "{\"LastTradedPx\":1.0}" })
            } else {
                json!({ "m": 1, "i": i + 1000 + u64::from(k), "n": "GetInstruments", "o": "[]" })
            };
            if socket.send(Message::text(noise.to_string())).await.is_err() {
                return;
            }
        }
        let (m, reply) = if s.oms.error_frames.load(Ordering::Relaxed) {
            (5, SERVER_ERROR.to_owned())
        } else {
            (1, handle(&s, &mut conn, &name, &payload).text())
        };
        let out = json!({ "m": m, "i": i, "n": name, "o": reply });
        if socket.send(Message::text(out.to_string())).await.is_err() {
            return;
        }
    }
}

fn handle(s: &Shared, conn: &mut Connection, name: &str, payload: &Value) -> Out {
    let oms = &s.oms;
    let now = s.clock.now();
    let credentials =
        || (field(payload, "UserName").unwrap_or_default(), field(payload, "Password").unwrap_or_default());
    let reply = match canonical(name) {
        Some("WebAuthenticateUser") => match field(payload, "SessionToken") {
            Some(token) => oms.resume(token, now).into(),
            None => {
                let (user, password) = credentials();
                let (reply, pending) = oms.web_login(user, password, now);
                conn.pending = pending;
                reply.into()
            }
        },
        Some("AuthenticateUser") => match Signed::from_payload(payload) {
            // The API-key form (`oms_api_key`).
            Some(signed) => oms.api_key_login(&signed, now),
            None => {
                let (user, password) = credentials();
                let (reply, pending) = oms.ws_user_login(user, password, now);
                conn.pending = pending;
                reply.into()
            }
        },
        // foxbit-client re-authenticates through Authenticate2FA {SessionToken}
        // (docs/protocols/oms.md#resume).
        Some("Authenticate2FA") => match (field(payload, "SessionToken"), field(payload, "Code")) {
            (Some(token), None) => oms.resume(token, now).into(),
            (_, code) => oms.second_factor(&mut conn.pending, code.unwrap_or_default(), now),
        },
        Some("LogOut") => {
            conn.pending = None;
            return oms.logout(conn.token.take().as_deref());
        }
        Some("Ping") => Out::Doc(PONG),
        Some("GetUserInfo") => oms.user_info(conn.token.as_deref(), now),
        Some(f @ ("AddUserAPIKey" | "GetUserAPIKeys" | "RemoveUserAPIKey")) => {
            oms.manage_api_keys(f, conn.token.as_deref(), payload, now)
        }
        _ => Out::Doc(NOT_SUPPORTED),
    };
    if let Some(token) = reply.session_token() {
        conn.token = Some(token.to_owned());
    }
    reply
}

/// `Authorization: Basic <b64>` or, as the v4 sample writes it, the bare Base64
/// (docs/protocols/oms.md#authenticateuser).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = header(headers, "authorization")?.trim();
    let encoded = value.strip_prefix("Basic ").unwrap_or(value);
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// `/AP/{Function}` over HTTP (docs/protocols/oms.md#frames): any case of `AP` and of the function name.
async fn http_call(
    State(s): State<Arc<Shared>>,
    Path((ap, function)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(function) = canonical(&function).filter(|_| ap.eq_ignore_ascii_case("AP")) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let oms = &s.oms;
    let now = s.clock.now();
    let aptoken = header(&headers, "aptoken");
    let reply = match function {
        // The v4 prose says POST, its samples GET: both are served
        // (docs/protocols/oms.md#authenticateuser).
        "AuthenticateUser" | "Authenticate" if method == Method::GET || method == Method::POST => {
            s.stats.hit("oms.http.authenticate");
            // The API-key headers (`oms_api_key`), else `Authorization`.
            if let Some(signed) = Signed::from_headers(&headers) {
                return oms.api_key_login(&signed, now).into_response();
            }
            let (username, password) = basic_credentials(&headers).unwrap_or_default();
            let (mut reply, pending) = oms.user_login(&username, &password, now);
            if let Some(pending) = pending {
                let token = random_token();
                lock(&oms.pending_http).insert(token.clone(), pending);
                reply["Pending2FaToken"] = json!(token);
            }
            reply.into()
        }
        "Authenticate2FA" if method == Method::POST => {
            s.stats.hit("oms.http.authenticate2fa");
            let payload = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
            let code = field(&payload, "Code").unwrap_or_default();
            let token = header(&headers, "pending2fatoken").unwrap_or_default();
            let mut pending_map = lock(&oms.pending_http);
            let mut pending = pending_map.remove(token);
            let reply = oms.second_factor(&mut pending, code, now);
            if let Some(still_pending) = pending {
                pending_map.insert(token.to_owned(), still_pending);
            }
            reply
        }
        "LogOut" if method == Method::POST => {
            s.stats.hit("oms.http.logout");
            oms.logout(aptoken)
        }
        "Ping" => Out::Doc(PONG),
        "GetUserInfo" if method == Method::POST || method == Method::GET => {
            s.stats.hit("oms.http.userinfo");
            oms.user_info(aptoken, now)
        }
        f @ ("AddUserAPIKey" | "GetUserAPIKeys" | "RemoveUserAPIKey") if method == Method::POST => {
            s.stats.hit("oms.http.api_keys");
            let payload = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
            oms.manage_api_keys(f, aptoken, &payload, now)
        }
        // WebAuthenticateUser is "not applicable in HTTP" (docs/protocols/oms.md#webauthenticateuser);
        // wrong methods likewise.
        _ => Out::Doc(NOT_SUPPORTED),
    };
    reply.into_response()
}
