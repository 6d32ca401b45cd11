//! ETNA Trader / AutoShares: `POST /api/token` (headers in, `State`/`Step`/`Reason`/`Token` out),
//! `POST /api/logout`, and one protected endpoint, `GET /api/v1.0/users/me`.
//!
//! Answers follow the vendor pages byte for byte where they give them; where they are silent
//! (the reply to a wrong code) the sandbox answers 401 `Failed`/`VerificationCode` with its own reason.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header::RETRY_AFTER},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use rand::Rng as _;
use serde_json::{Value, json};

use crate::{Delivery, SandboxBuilder, Shared, header, lock, random_token};

/// The only `Et-App-Key` the sandbox accepts.
pub const APP_KEY: &str = "sandbox-et-app-key";
/// The password of every seeded ETNA user.
pub const PASSWORD: &str = "sandbox-password";
/// A user with 2FA by email. Any `alice.<suffix>` is one too, each with its own mailbox, so
/// concurrent load tests never read each other's codes.
pub const USER_2FA: &str = "alice";
/// A user without 2FA.
pub const USER_NO_2FA: &str = "bob";
/// A user whose password has expired.
pub const USER_PASSWORD_EXPIRED: &str = "carol";
/// A user who must enter a security PIN (a step twofa does not perform).
pub const USER_PIN: &str = "dave";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    TwoFactor,
    Plain,
    PasswordExpired,
    Pin,
}

fn kind_of(username: &str) -> Option<Kind> {
    match username {
        USER_2FA => Some(Kind::TwoFactor),
        USER_NO_2FA => Some(Kind::Plain),
        USER_PASSWORD_EXPIRED => Some(Kind::PasswordExpired),
        USER_PIN => Some(Kind::Pin),
        _ if username.strip_prefix("alice.").is_some_and(|suffix| !suffix.is_empty()) => Some(Kind::TwoFactor),
        _ => None,
    }
}

#[derive(Debug)]
struct Ticket {
    username: String,
    code: String,
    expires: Instant,
    wrong: u32,
}

#[derive(Debug)]
struct Token {
    username: String,
    expires: Instant,
}

/// The ETNA backend's state.
#[derive(Debug)]
pub(crate) struct EtnaState {
    ticket_ttl: Duration,
    max_code_attempts: u32,
    token_lifetime: Duration,
    rate_limit: AtomicU32,
    recent_calls: Mutex<VecDeque<Instant>>,
    tickets: Mutex<HashMap<String, Ticket>>,
    tokens: Mutex<HashMap<String, Token>>,
}

impl EtnaState {
    pub(crate) fn new(options: &SandboxBuilder) -> Self {
        Self {
            ticket_ttl: options.ticket_ttl,
            max_code_attempts: options.max_code_attempts,
            token_lifetime: options.etna_token_lifetime,
            rate_limit: AtomicU32::new(options.etna_rate_limit.unwrap_or(0)),
            recent_calls: Mutex::default(),
            tickets: Mutex::default(),
            tokens: Mutex::default(),
        }
    }

    pub(crate) fn set_rate_limit(&self, per_minute: Option<u32>) {
        self.rate_limit.store(per_minute.unwrap_or(0), Ordering::Relaxed);
    }

    /// Records a `/token` call; `Some(wait)` when it is over the limit.
    fn over_limit(&self, now: Instant) -> Option<Duration> {
        let limit = self.rate_limit.load(Ordering::Relaxed) as usize;
        if limit == 0 {
            return None;
        }
        let window = Duration::from_secs(60);
        let mut calls = lock(&self.recent_calls);
        while calls.front().is_some_and(|t| now.duration_since(*t) >= window) {
            calls.pop_front();
        }
        if calls.len() >= limit {
            let oldest = calls.front().copied().unwrap_or(now);
            return Some(window.saturating_sub(now.duration_since(oldest)));
        }
        calls.push_back(now);
        None
    }

    fn issue_token(&self, username: &str, now: Instant) -> String {
        let token = random_token();
        lock(&self.tokens)
            .insert(token.clone(), Token { username: username.into(), expires: now + self.token_lifetime });
        token
    }

    fn user_of(&self, token: &str, now: Instant) -> Option<String> {
        let tokens = lock(&self.tokens);
        tokens.get(token).filter(|t| t.expires > now).map(|t| t.username.clone())
    }
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/token", post(token))
        .route("/api/logout", post(logout))
        .route("/api/v1.0/users/me", get(me))
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn failed(step: &str, reason: &str) -> Response {
    answer(StatusCode::UNAUTHORIZED, json!({ "State": "Failed", "Step": step, "Reason": reason }))
}

fn denied() -> Response {
    answer(StatusCode::UNAUTHORIZED, json!({ "Message": "Authorization has been denied for this request." }))
}

fn bad_app_key() -> Response {
    answer(StatusCode::UNAUTHORIZED, json!({ "error": "Application key is not defined or does not exist" }))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    header(headers, "authorization").and_then(|v| v.strip_prefix("Bearer "))
}

async fn token(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    s.stats.hit("etna.token");
    let now = s.clock.now();
    if header(&headers, "et-app-key") != Some(APP_KEY) {
        return bad_app_key();
    }
    if let Some(wait) = s.etna.over_limit(now) {
        let mut response = answer(StatusCode::TOO_MANY_REQUESTS, json!({ "Message": "Too many requests" }));
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
        return response;
    }
    let username = header(&headers, "username").unwrap_or_default();
    let password_ok = header(&headers, "password") == Some(PASSWORD);
    let Some(kind) = kind_of(username).filter(|_| password_ok) else {
        return failed("BaseAuthentication", "Invalid credentials");
    };
    if let Some(code) = header(&headers, "verificationcode") {
        // Without the interim token the docs answer "Corrupted ticket".
        return match bearer(&headers) {
            Some(ticket) => verify(&s, ticket, username, code, now),
            None => failed("VerificationCode", "Corrupted ticket"),
        };
    }
    match kind {
        Kind::Plain => {
            answer(StatusCode::OK, json!({ "State": "Succeeded", "Token": s.etna.issue_token(username, now) }))
        }
        Kind::PasswordExpired => answer(
            StatusCode::UNAUTHORIZED,
            json!({ "State": "BaseAuthentication", "Reason": "Your Password has expired and must be changed", "Token": random_token() }),
        ),
        Kind::Pin => answer(
            StatusCode::ACCEPTED,
            json!({ "Step": "SecutityPin", "Reason": "Invalid pin", "State": "Expecting", "Token": random_token() }),
        ),
        Kind::TwoFactor => {
            let ticket = random_token();
            let code = format!("{:06}", rand::rng().random_range(0..1_000_000));
            lock(&s.etna.tickets).insert(
                ticket.clone(),
                Ticket { username: username.into(), code: code.clone(), expires: now + s.etna.ticket_ttl, wrong: 0 },
            );
            s.outbox.deliver(Delivery { provider: "etna", recipient: username.into(), channel: "email", code });
            answer(
                StatusCode::ACCEPTED,
                json!({ "Step": "VerificationCode", "Reason": "Expecting confirmation code", "State": "Expecting", "Token": ticket }),
            )
        }
    }
}

fn verify(s: &Shared, ticket_id: &str, username: &str, code: &str, now: Instant) -> Response {
    let mut tickets = lock(&s.etna.tickets);
    let Some(ticket) = tickets.get_mut(ticket_id).filter(|t| t.username == username && t.expires > now) else {
        tickets.remove(ticket_id);
        return failed("VerificationCode", "Corrupted ticket");
    };
    if ticket.code != code {
        ticket.wrong += 1;
        if ticket.wrong >= s.etna.max_code_attempts {
            tickets.remove(ticket_id);
        }
        return failed("VerificationCode", "Invalid verification code");
    }
    tickets.remove(ticket_id);
    drop(tickets);
    answer(StatusCode::OK, json!({ "State": "Succeeded", "Token": s.etna.issue_token(username, now) }))
}

async fn logout(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    s.stats.hit("etna.logout");
    if header(&headers, "et-app-key") != Some(APP_KEY) {
        return bad_app_key();
    }
    match bearer(&headers).and_then(|t| lock(&s.etna.tokens).remove(t)) {
        Some(_) => answer(StatusCode::OK, json!({})),
        None => denied(),
    }
}

async fn me(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    s.stats.hit("etna.me");
    if header(&headers, "et-app-key") != Some(APP_KEY) {
        return bad_app_key();
    }
    match bearer(&headers).and_then(|t| s.etna.user_of(t, s.clock.now())) {
        Some(username) => answer(StatusCode::OK, json!({ "Username": username })),
        None => denied(),
    }
}
