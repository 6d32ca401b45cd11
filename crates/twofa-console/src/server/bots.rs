//! The console's end of the bot channel ([`crate::channel`]): the hello that proves the console
//! to a bot, and the layer that opens every sealed request and seals its answer. A bot is known
//! by its profile: its key serves that profile only ([`BotScope`]).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    Json,
    body::{Body, to_bytes},
    extract::{Request, State, rejection::JsonRejection},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use twofa_core::store::check_profile;

use super::{App, MAX_BODY_BYTES};
use crate::channel::{self, Hello, HelloAnswer, SEAL_OVERHEAD, SEQ_HEADER, SESSION_HEADER, SessionKey};

/// The most sessions whose bot has not yet sent a sealed call: anyone may say hello, so these
/// are capped apart, the oldest dropped first, and never push out a proven bot's session.
pub const MAX_UNPROVEN: usize = 64;

/// The most sessions of proven bots; past it the least recently used is dropped (its bot says
/// hello again at its next code).
pub const MAX_SESSIONS: usize = 256;

/// How long a hello waits for the bot's first sealed call.
const UNPROVEN_LIFETIME: Duration = Duration::from_secs(60);

/// How long a proven session lives without a call (a long poll calls every 25 s at most).
const IDLE_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// The largest answer sealed: a registration, a code, a refusal's words.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The profile the sealed request's bot may act for, put in the request's extensions.
#[derive(Debug, Clone)]
pub struct BotScope {
    /// The profile whose key sealed the request.
    pub profile: String,
}

/// A request opened: who sealed it, the session's keys (to seal the answer), the body.
type Opened = (BotScope, Arc<SessionKey>, Vec<u8>);

#[derive(Debug)]
struct BotSession {
    profile: String,
    keys: Arc<SessionKey>,
    /// The last sequence number opened; 0 before the bot's first call (unproven).
    last_seq: u64,
    used: Instant,
}

impl BotSession {
    fn proven(&self) -> bool {
        self.last_seq > 0
    }

    fn expired(&self, now: Instant) -> bool {
        let lifetime = if self.proven() { IDLE_LIFETIME } else { UNPROVEN_LIFETIME };
        now.duration_since(self.used) >= lifetime
    }
}

/// The sessions of the bots that said hello.
#[derive(Debug, Default)]
pub struct Bots {
    sessions: Mutex<HashMap<String, BotSession>>,
}

impl Bots {
    /// A new session for `profile` after the bot's hello: its id, and its keys.
    fn open_session(&self, profile: String, keys: Arc<SessionKey>) -> String {
        let id = channel::new_nonce();
        let now = Instant::now();
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.retain(|_, s| !s.expired(now));
        let unproven = sessions.values().filter(|s| !s.proven()).count();
        if unproven >= MAX_UNPROVEN {
            drop_oldest(&mut sessions, |s| !s.proven());
        }
        sessions.insert(id.clone(), BotSession { profile, keys, last_seq: 0, used: now });
        id
    }

    /// The session's profile and keys, when `seq` opens `sealed` under them and comes after every
    /// call opened before (a replay or a reordered call does not).
    fn open(&self, id: &str, seq: u64, method: &str, path: &str, sealed: &[u8]) -> Option<Opened> {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let session = sessions.get_mut(id).filter(|s| !s.expired(now) && seq > s.last_seq)?;
        let body = session.keys.open_request(id, seq, method, path, sealed)?;
        let newly_proven = !session.proven();
        session.last_seq = seq;
        session.used = now;
        let opened = (BotScope { profile: session.profile.clone() }, Arc::clone(&session.keys), body);
        if newly_proven && sessions.values().filter(|s| s.proven()).count() > MAX_SESSIONS {
            // This session was used just now: the oldest is another.
            drop_oldest(&mut sessions, BotSession::proven);
        }
        Some(opened)
    }

    /// How many sessions are kept (proven or not).
    pub fn count(&self) -> usize {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

fn drop_oldest(sessions: &mut HashMap<String, BotSession>, which: impl Fn(&BotSession) -> bool) {
    let oldest = sessions.iter().filter(|(_, s)| which(s)).min_by_key(|(_, s)| s.used).map(|(k, _)| k.clone());
    if let Some(oldest) = oldest {
        sessions.remove(&oldest);
    }
}

/// `POST /api/hello`: the console proves it holds the key of the bot's profile. Anyone may ask;
/// the answer is a proof for that hello only and gives nothing to act on.
pub async fn hello(State(app): State<Arc<App>>, body: Result<Json<Hello>, JsonRejection>) -> Response {
    let Json(hello) = match body {
        Ok(body) => body,
        Err(rejection) => return (rejection.status(), rejection.body_text()).into_response(),
    };
    if let Err(e) = check_profile(&hello.profile) {
        return (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).into_response();
    }
    if !channel::is_nonce(&hello.nonce) {
        return (StatusCode::UNPROCESSABLE_ENTITY, "the nonce is not 32 random bytes in base64url").into_response();
    }
    let nonce = channel::new_nonce();
    let key = app.keys.bot_key(&hello.profile);
    let keys = Arc::new(SessionKey::derive(&key, &hello.profile, &hello.nonce, &nonce));
    let proof = keys.proof();
    let session = app.bots.open_session(hello.profile, keys);
    Json(HelloAnswer { session, nonce, proof }).into_response()
}

/// An answer to a request that could not be opened: plain, since there is no key to seal it
/// with; a bot acts on none.
fn refused(status: StatusCode, text: &'static str) -> Response {
    (status, text).into_response()
}

fn header_text(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Opens a sealed request (the bot proves its key with it), hands the handler its body as JSON
/// with the bot's [`BotScope`], and seals the handler's answer with the request's number and the
/// answer's status.
pub async fn sealed(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let (Some(session), Some(seq)) = (
        header_text(request.headers(), SESSION_HEADER),
        header_text(request.headers(), SEQ_HEADER).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        return refused(StatusCode::UNAUTHORIZED, "a bot call needs a session: say hello first (docs/console.md)");
    };
    let (mut parts, body) = request.into_parts();
    let Ok(sealed) = to_bytes(body, MAX_BODY_BYTES + SEAL_OVERHEAD).await else {
        return refused(StatusCode::PAYLOAD_TOO_LARGE, "the call is larger than this console accepts");
    };
    let path = parts.uri.path_and_query().map_or("", |p| p.as_str()).trim_start_matches('/').to_owned();
    let Some((scope, keys, body)) = app.bots.open(&session, seq, parts.method.as_str(), &path, &sealed) else {
        return refused(
            StatusCode::UNAUTHORIZED,
            "this call is not sealed with a live session's key (unknown or expired session, or a replay)",
        );
    };
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.extensions.insert(scope);
    let answer = next.run(Request::from_parts(parts, Body::from(body))).await;
    let status = answer.status().as_u16();
    let body = to_bytes(answer.into_body(), MAX_ANSWER_BYTES).await.unwrap_or_default();
    let sealed = keys.seal_answer(&session, seq, status, &body);
    // The status travels sealed; the answer's own headers (a content type of the plain body) not.
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"))], sealed).into_response()
}
