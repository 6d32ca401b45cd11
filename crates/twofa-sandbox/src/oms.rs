//! An exchange OMS (AlphaPoint APEX): the WebSocket gateway at `/WSGateway` and the HTTP gateway
//! under `/AP/` — `AuthenticateUser`, `WebAuthenticateUser`, `Authenticate2FA`, `LogOut` and
//! `GetUserInfo` (a protected call).
//!
//! 2FA state is per connection on the WebSocket, per pending token over HTTP. Sessions expire
//! after an idle timeout (1 h by default) measured on the sandbox clock. Knobs interleave event
//! frames and foreign replies before every reply, and turn every reply into an `m:5` error frame.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{
        State, WebSocketUpgrade,
        ws::{Message, WebSocket},
    },
    http::HeaderMap,
    response::{IntoResponse, Response},
    routing::{any, get, post},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use crate::{SandboxBuilder, Shared, header, lock, random_token};

/// The password of every seeded OMS user.
pub const PASSWORD: &str = "sandbox-password";
/// A user with an authenticator ("Google") second factor; its seed is [`TOTP_SEED`].
pub const USER_TOTP: &str = "trader.totp";
/// A user without a second factor.
pub const USER_NO_2FA: &str = "trader.plain";
/// A locked user.
pub const USER_LOCKED: &str = "trader.locked";
/// The authenticator seed of [`USER_TOTP`] (base32).
pub const TOTP_SEED: &str = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU";

const NOT_AUTHORIZED: &str = r#"{"result":false,"errormsg":"Not Authorized","errorcode":20,"detail":null}"#;

fn user_id(username: &str) -> Option<u64> {
    match username {
        USER_TOTP => Some(2),
        USER_NO_2FA => Some(1),
        USER_LOCKED => Some(3),
        _ => None,
    }
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
    event_burst: AtomicU32,
    error_frames: AtomicBool,
    sessions: Mutex<HashMap<String, Live>>,
    pending_http: Mutex<HashMap<String, Pending>>,
}

impl OmsState {
    pub(crate) fn new(options: &SandboxBuilder) -> Self {
        Self {
            ticket_ttl: options.ticket_ttl,
            max_code_attempts: options.max_code_attempts,
            idle_timeout: options.oms_idle_timeout,
            event_burst: AtomicU32::new(0),
            error_frames: AtomicBool::new(false),
            sessions: Mutex::default(),
            pending_http: Mutex::default(),
        }
    }

    pub(crate) fn set_event_burst(&self, frames: u32) {
        self.event_burst.store(frames, Ordering::Relaxed);
    }

    pub(crate) fn set_error_frames(&self, on: bool) {
        self.error_frames.store(on, Ordering::Relaxed);
    }

    fn open_session(&self, username: &str, now: Instant) -> Value {
        let token = random_token();
        lock(&self.sessions).insert(token.clone(), Live { username: username.into(), last_activity: now });
        json!({ "Authenticated": true, "UserId": user_id(username), "SessionToken": token })
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

    /// `UserName`/`Password` login: a session, a 2FA request (and its pending state), or an error.
    fn password_login(&self, username: &str, password: &str, now: Instant) -> (Value, Option<Pending>) {
        if user_id(username).is_none() || password != PASSWORD {
            return (
                json!({ "Authenticated": false, "Locked": false, "errormsg": "Invalid username or password" }),
                None,
            );
        }
        match username {
            USER_LOCKED => (
                json!({ "Authenticated": false, "Locked": true, "errormsg": "User is locked. Please contact administrator" }),
                None,
            ),
            USER_TOTP => {
                let uri = format!("otpauth://totp/SandboxOMS:{username}?secret={TOTP_SEED}&issuer=SandboxOMS");
                // As the v4 docs warn: Authenticated is already true while 2FA is pending.
                let reply = json!({ "Authenticated": true, "Requires2FA": true, "AuthType": "Google", "twoFAToken": uri, "AddtlInfo": "" });
                (reply, Some(Pending { username: username.into(), expires: now + self.ticket_ttl, wrong: 0 }))
            }
            _ => {
                let mut reply = self.open_session(username, now);
                reply["User"] =
                    json!({ "UserId": user_id(username), "UserName": username, "OMSId": 1, "Use2FA": false });
                reply["Requires2FA"] = json!(false);
                reply["TwoFAToken"] = Value::Null;
                reply["errormsg"] = Value::Null;
                (reply, None)
            }
        }
    }

    /// `Authenticate2FA {Code}` against a pending login; the pending state survives a wrong code.
    fn second_factor(&self, pending: &mut Option<Pending>, code: &str, now: Instant) -> Value {
        let Some(p) = pending.as_mut().filter(|p| p.expires > now) else {
            *pending = None;
            return parse(NOT_AUTHORIZED);
        };
        if !crate::totp::matches(TOTP_SEED, code) {
            p.wrong += 1;
            if p.wrong >= self.max_code_attempts {
                *pending = None;
            }
            return json!({ "Authenticated": false, "SessionToken": null, "UserId": 0 });
        }
        let username = p.username.clone();
        *pending = None;
        self.open_session(&username, now)
    }
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Looks a key up whatever its case, as the real gateway does.
fn field<'a>(payload: &'a Value, key: &str) -> Option<&'a str> {
    payload.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).and_then(|(_, v)| v.as_str())
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/WSGateway", any(gateway))
        .route("/AP/AuthenticateUser", get(http_authenticate))
        .route("/AP/Authenticate2FA", post(http_second_factor))
        .route("/AP/LogOut", post(http_logout))
        .route("/AP/GetUserInfo", post(http_user_info))
}

async fn gateway(State(s): State<Arc<Shared>>, upgrade: WebSocketUpgrade) -> Response {
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
            Message::Close(_) => break,
            _ => continue,
        };
        let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
        let (i, name) = (frame["i"].as_u64().unwrap_or(0), frame["n"].as_str().unwrap_or_default().to_owned());
        let payload = frame["o"].as_str().map(parse).unwrap_or(Value::Null);
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
        let reply = handle(&s, &mut conn, &name, &payload);
        let m = if s.oms.error_frames.load(Ordering::Relaxed) { 5 } else { 1 };
        let reply = if m == 5 {
            json!({ "result": false, "errormsg": "Server Error", "errorcode": 102, "detail": null })
        } else {
            reply
        };
        let out = json!({ "m": m, "i": i, "n": name, "o": reply.to_string() });
        if socket.send(Message::text(out.to_string())).await.is_err() {
            return;
        }
    }
}

fn handle(s: &Shared, conn: &mut Connection, name: &str, payload: &Value) -> Value {
    let oms = &s.oms;
    let now = s.clock.now();
    match name {
        "WebAuthenticateUser" => {
            if let Some(token) = field(payload, "SessionToken") {
                return match oms.touch(token, now) {
                    Some(username) => {
                        conn.token = Some(token.to_owned());
                        json!({ "Authenticated": true, "SessionToken": token, "UserId": user_id(&username) })
                    }
                    None => json!({ "Authenticated": false, "errormsg": "Invalid session token" }),
                };
            }
            let (username, password) =
                (field(payload, "UserName").unwrap_or_default(), field(payload, "Password").unwrap_or_default());
            let (reply, pending) = oms.password_login(username, password, now);
            conn.pending = pending;
            if let Some(token) = reply["SessionToken"].as_str() {
                conn.token = Some(token.to_owned());
            }
            reply
        }
        "Authenticate2FA" => {
            let reply = oms.second_factor(&mut conn.pending, field(payload, "Code").unwrap_or_default(), now);
            if let Some(token) = reply["SessionToken"].as_str() {
                conn.token = Some(token.to_owned());
            }
            reply
        }
        "LogOut" => match conn.token.take().filter(|t| oms.touch(t, now).is_some()) {
            Some(token) => {
                lock(&oms.sessions).remove(&token);
                json!({ "result": true, "errormsg": null, "errorcode": 0, "detail": null })
            }
            None => parse(NOT_AUTHORIZED),
        },
        "GetUserInfo" => match conn.token.as_deref().and_then(|t| oms.touch(t, now)) {
            Some(username) => json!({ "UserId": user_id(&username), "UserName": username, "OMSId": 1 }),
            None => parse(NOT_AUTHORIZED),
        },
        _ => json!({ "result": false, "errormsg": "Operation Not Supported", "errorcode": 106, "detail": null }),
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = header(headers, "authorization")?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

async fn http_authenticate(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    s.stats.hit("oms.http.authenticate");
    let (username, password) = basic_credentials(&headers).unwrap_or_default();
    let (mut reply, pending) = s.oms.password_login(&username, &password, s.clock.now());
    if let Some(pending) = pending {
        let token = random_token();
        lock(&s.oms.pending_http).insert(token.clone(), pending);
        reply["Pending2FaToken"] = json!(token);
    }
    Json(reply).into_response()
}

async fn http_second_factor(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    s.stats.hit("oms.http.authenticate2fa");
    let payload = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    let code = field(&payload, "Code").unwrap_or_default();
    let token = header(&headers, "pending2fatoken").unwrap_or_default();
    let mut pending_map = lock(&s.oms.pending_http);
    let mut pending = pending_map.remove(token);
    let reply = s.oms.second_factor(&mut pending, code, s.clock.now());
    if let Some(still_pending) = pending {
        pending_map.insert(token.to_owned(), still_pending);
    }
    Json(reply).into_response()
}

async fn http_logout(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    s.stats.hit("oms.http.logout");
    let token = header(&headers, "aptoken").unwrap_or_default();
    let reply = match s.oms.touch(token, s.clock.now()) {
        Some(_) => {
            lock(&s.oms.sessions).remove(token);
            json!({ "result": true, "errormsg": null, "errorcode": 0, "detail": null })
        }
        None => parse(NOT_AUTHORIZED),
    };
    Json(reply).into_response()
}

async fn http_user_info(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    s.stats.hit("oms.http.userinfo");
    let token = header(&headers, "aptoken").unwrap_or_default();
    let reply = match s.oms.touch(token, s.clock.now()) {
        Some(username) => json!({ "UserId": user_id(&username), "UserName": username, "OMSId": 1 }),
        None => parse(NOT_AUTHORIZED),
    };
    Json(reply).into_response()
}
