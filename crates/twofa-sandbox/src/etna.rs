//! ETNA Trader / AutoShares: `POST /api/token` (headers in, `State`/`Step`/`Reason`/`Token` out),
//! `POST /api/logout`, two protected endpoints, `GET /api/v1.0/users/me` and
//! `GET /api/v1.0/users/{userId}/info`, and the two documented
//! calls that unblock an account: `PUT /api/v1.0/users/passwords/reset/` and
//! `GET /api/v1.0/users/pincode/change`.
//!
//! **Rule:** answers follow the vendor documents ("Requesting Tokens — Syntax", "Two-Factor
//! Authentication", "Password Expiration", "Set a New PIN Code"), byte for byte where they give a
//! body. Where they are silent the sandbox offers each plausible variant as a knob ([`PinStep`],
//! [`WrongPin`], [`ExpiredField`]) and never copies a guess from the client; the reply to a wrong
//! code, which no document shows, is 401 `Failed`/`VerificationCode` with the sandbox's own reason.
//!
//! Every documented state is reachable: a code user ([`USER_2FA`]), a PIN-only user
//! ([`USER_PIN`]), a code-then-PIN user ([`USER_CODE_THEN_PIN`]), a password-expired user
//! ([`USER_PASSWORD_EXPIRED`], who can reset) and a user without a PIN ([`USER_PIN_NOT_SET`], who
//! can set one).
//!
//! As ETNA's ASP.NET service does, routes match in any case and with a trailing slash, and the
//! `Bearer` scheme in any case (RFC 7235 §2.1); `GET v1.0/users/{userId}/info`, the protected call
//! the vendor's own samples make, answers the documented `UserInfoModel` ([`user_id`] gives the
//! ids; `@me` works too).

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
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header::CONTENT_TYPE, header::RETRY_AFTER},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use rand::Rng as _;
use serde_json::{Value, json};

use crate::{Delivery, SandboxBuilder, Shared, bearer, header, lock, random_token};

/// The only `Et-App-Key` the sandbox accepts.
pub const APP_KEY: &str = "sandbox-et-app-key";
/// The password of every seeded ETNA user.
pub const PASSWORD: &str = "sandbox-password";
/// A user with 2FA by email. Any `alice.<suffix>` is one too, each with its own mailbox, so
/// concurrent load tests never read each other's codes.
pub const USER_2FA: &str = "alice";
/// A user without 2FA.
pub const USER_NO_2FA: &str = "bob";
/// A user whose password has expired; after a reset through `PUT v1.0/users/passwords/reset/`
/// the new password logs in without a second factor.
pub const USER_PASSWORD_EXPIRED: &str = "carol";
/// A user whose only second factor is the security PIN ([`PIN`]).
pub const USER_PIN: &str = "dave";
/// A user asked for a verification code (by email), then for the security PIN ([`PIN`]).
pub const USER_CODE_THEN_PIN: &str = "erin";
/// A user whose security PIN is not set ("PIN code is not init"); after
/// `GET v1.0/users/pincode/change` they log in like [`USER_PIN`], with the PIN they set.
pub const USER_PIN_NOT_SET: &str = "frank";
/// The internal user id of a seeded user (the `{userId}` of `GET v1.0/users/{userId}/info`):
/// [`USER_2FA`] is 1, [`USER_NO_2FA`] 2, [`USER_PASSWORD_EXPIRED`] 3, [`USER_PIN`] 4,
/// [`USER_CODE_THEN_PIN`] 5, [`USER_PIN_NOT_SET`] 6; an `alice.<suffix>` or `erin.<suffix>` user
/// gets a stable id of 1000 or more. `None` for an unknown user.
pub fn user_id(username: &str) -> Option<u32> {
    let seeded = [USER_2FA, USER_NO_2FA, USER_PASSWORD_EXPIRED, USER_PIN, USER_CODE_THEN_PIN, USER_PIN_NOT_SET];
    if let Some(i) = seeded.iter().position(|u| *u == username) {
        return u32::try_from(i + 1).ok();
    }
    kind_of(username)?;
    let hash = username.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    Some(1000 + hash % 1_000_000)
}

/// The security PIN of [`USER_PIN`] and [`USER_CODE_THEN_PIN`].
pub const PIN: &str = "2468";

/// How the PIN step is spelled in `Step`: the ETNA, AutoShares and OpenAPI copies of "Requesting
/// Tokens — Syntax" write `SecutityPin` (sic); the AutoShares admin-guide copy writes `SecurityPin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PinStep {
    /// `SecutityPin`, as most copies spell it (default).
    #[default]
    Secutity,
    /// `SecurityPin`.
    Security,
}

impl PinStep {
    /// The `Step` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secutity => "SecutityPin",
            Self::Security => "SecurityPin",
        }
    }
}

/// How a wrong PIN is answered. "Requesting Tokens — Syntax" shows `Reason: "Invalid pin"` both in
/// a 401 `Failed` body and in a 202 `Expecting` body with a new token; which one a wrong PIN gets
/// is not said, so both are offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WrongPin {
    /// 401 `{"State":"Failed","Step":"SecutityPin","Reason":"Invalid pin"}` (default).
    #[default]
    Failed,
    /// 202 `{"Step":"SecutityPin","Reason":"Invalid pin","State":"Expecting","Token":"…"}`: asked again.
    AskAgain,
}

/// Which field holds `BaseAuthentication` in the password-expired answer: the "Two-Factor
/// Authentication" article writes `State` (probably a slip for `Step`); both are offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ExpiredField {
    /// `"State":"BaseAuthentication"`, as documented (default).
    #[default]
    State,
    /// `"Step":"BaseAuthentication"`.
    Step,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    TwoFactor,
    Plain,
    PasswordExpired,
    Pin,
    CodeThenPin,
    PinNotSet,
}

fn kind_of(username: &str) -> Option<Kind> {
    match username {
        USER_2FA => Some(Kind::TwoFactor),
        USER_NO_2FA => Some(Kind::Plain),
        USER_PASSWORD_EXPIRED => Some(Kind::PasswordExpired),
        USER_PIN => Some(Kind::Pin),
        USER_CODE_THEN_PIN => Some(Kind::CodeThenPin),
        USER_PIN_NOT_SET => Some(Kind::PinNotSet),
        _ if username.strip_prefix("alice.").is_some_and(|suffix| !suffix.is_empty()) => Some(Kind::TwoFactor),
        _ if username.strip_prefix("erin.").is_some_and(|suffix| !suffix.is_empty()) => Some(Kind::CodeThenPin),
        _ => None,
    }
}

/// What a pending ticket waits for.
#[derive(Debug, PartialEq, Eq)]
enum Stage {
    /// The verification code; `then_pin` when the PIN step follows.
    Code { code: String, then_pin: bool },
    /// The security PIN.
    Pin,
}

#[derive(Debug)]
struct Ticket {
    username: String,
    stage: Stage,
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
    /// Password-reset tokens (of [`USER_PASSWORD_EXPIRED`]) and PIN-setup tokens (bearer,
    /// confirmation) handed out, by token.
    reset_tokens: Mutex<HashMap<String, String>>,
    pin_setups: Mutex<HashMap<(String, String), String>>,
    /// Passwords reset and PINs set through the documented calls.
    new_passwords: Mutex<HashMap<String, String>>,
    pins_set: Mutex<HashMap<String, String>>,
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
            reset_tokens: Mutex::default(),
            pin_setups: Mutex::default(),
            new_passwords: Mutex::default(),
            pins_set: Mutex::default(),
        }
    }

    /// The password `username` logs in with now.
    fn password_ok(&self, username: &str, given: Option<&str>) -> bool {
        match lock(&self.new_passwords).get(username) {
            Some(new) => given == Some(new.as_str()),
            None => given == Some(PASSWORD),
        }
    }

    /// The kind of `username` now: a reset password or a set PIN changes it.
    fn current_kind(&self, username: &str, kind: Kind) -> Kind {
        match kind {
            Kind::PasswordExpired if lock(&self.new_passwords).contains_key(username) => Kind::Plain,
            Kind::PinNotSet if lock(&self.pins_set).contains_key(username) => Kind::Pin,
            other => other,
        }
    }

    /// The PIN `username` must enter.
    fn pin_of(&self, username: &str) -> String {
        lock(&self.pins_set).get(username).cloned().unwrap_or_else(|| PIN.to_owned())
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
        .route("/api/v1.0/users/{id}/info", get(user_info))
        .route("/api/v1.0/users/passwords/reset/", put(reset_password))
        .route("/api/v1.0/users/pincode/change", get(change_pin))
}

/// A body exactly as written (key order and all), for the documented ones.
fn raw(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response()
}

/// A JSON string literal.
fn quoted(text: &str) -> String {
    Value::from(text).to_string()
}

/// 202 asking for the PIN: the "Requesting Tokens — Syntax" example, byte for byte but the token.
fn expecting_pin(step: &str, token: &str) -> Response {
    raw(
        StatusCode::ACCEPTED,
        format!(r#"{{"Step":{},"Reason":"Invalid pin","State":"Expecting","Token":{}}}"#, quoted(step), quoted(token)),
    )
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn failed(step: &str, reason: &str) -> Response {
    raw(
        StatusCode::UNAUTHORIZED,
        format!(r#"{{"State":"Failed","Step":{},"Reason":{}}}"#, quoted(step), quoted(reason)),
    )
}

fn denied() -> Response {
    answer(StatusCode::UNAUTHORIZED, json!({ "Message": "Authorization has been denied for this request." }))
}

fn bad_app_key() -> Response {
    answer(StatusCode::UNAUTHORIZED, json!({ "error": "Application key is not defined or does not exist" }))
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
    let Some(kind) = kind_of(username).filter(|_| s.etna.password_ok(username, header(&headers, "password"))) else {
        return failed("BaseAuthentication", "Invalid credentials");
    };
    let kind = s.etna.current_kind(username, kind);
    if let Some(code) = header(&headers, "verificationcode") {
        // Without the interim token the docs answer "Corrupted ticket".
        return match bearer(&headers) {
            Some(ticket) => verify(&s, ticket, username, code, now),
            None => failed("VerificationCode", "Corrupted ticket"),
        };
    }
    if let Some(pin) = header(&headers, "pincode") {
        return match bearer(&headers) {
            Some(ticket) => verify_pin(&s, ticket, username, pin, now),
            None => failed(s.variants().etna_pin_step.as_str(), "Corrupted ticket"),
        };
    }
    match kind {
        Kind::Plain => succeeded(&s, username, now),
        Kind::PasswordExpired => {
            let reset = random_token();
            lock(&s.etna.reset_tokens).insert(reset.clone(), username.into());
            let field = if s.variants().etna_expired_field == ExpiredField::Step { "Step" } else { "State" };
            raw(
                StatusCode::UNAUTHORIZED,
                format!(
                    r#"{{"{field}":"BaseAuthentication","Reason":"Your Password has expired and must be changed","Token":{}}}"#,
                    quoted(&reset)
                ),
            )
        }
        Kind::PinNotSet => {
            let (bearer, confirmation) = (random_token(), random_token());
            lock(&s.etna.pin_setups).insert((bearer.clone(), confirmation.clone()), username.into());
            raw(
                StatusCode::ACCEPTED,
                format!(
                    r#"{{"State":"Expecting","Reason":"PIN code is not init","Token":{},"ConfirmationToken":{}}}"#,
                    quoted(&bearer),
                    quoted(&confirmation)
                ),
            )
        }
        Kind::Pin => {
            let ticket = new_ticket(&s, username, Stage::Pin, now);
            expecting_pin(s.variants().etna_pin_step.as_str(), &ticket)
        }
        Kind::TwoFactor | Kind::CodeThenPin => {
            let code = format!("{:06}", rand::rng().random_range(0..1_000_000));
            let stage = Stage::Code { code: code.clone(), then_pin: kind == Kind::CodeThenPin };
            let ticket = new_ticket(&s, username, stage, now);
            s.outbox.deliver(Delivery { provider: "etna", recipient: username.into(), channel: "email", code });
            raw(
                StatusCode::ACCEPTED,
                format!(
                    r#"{{"Step":"VerificationCode","Reason":"Expecting confirmation code","State":"Expecting","Token":{}}}"#,
                    quoted(&ticket)
                ),
            )
        }
    }
}

fn new_ticket(s: &Shared, username: &str, stage: Stage, now: Instant) -> String {
    let ticket = random_token();
    lock(&s.etna.tickets).insert(
        ticket.clone(),
        Ticket { username: username.into(), stage, expires: now + s.etna.ticket_ttl, wrong: 0 },
    );
    ticket
}

fn succeeded(s: &Shared, username: &str, now: Instant) -> Response {
    answer(StatusCode::OK, json!({ "State": "Succeeded", "Token": s.etna.issue_token(username, now) }))
}

fn verify(s: &Shared, ticket_id: &str, username: &str, code: &str, now: Instant) -> Response {
    let mut tickets = lock(&s.etna.tickets);
    let Some(ticket) = tickets.get_mut(ticket_id).filter(|t| t.username == username && t.expires > now) else {
        tickets.remove(ticket_id);
        return failed("VerificationCode", "Corrupted ticket");
    };
    let Stage::Code { code: expected, then_pin } = &ticket.stage else {
        return failed("VerificationCode", "Corrupted ticket");
    };
    let then_pin = *then_pin;
    if expected != code {
        ticket.wrong += 1;
        if ticket.wrong >= s.etna.max_code_attempts {
            tickets.remove(ticket_id);
        }
        return failed("VerificationCode", "Invalid verification code");
    }
    tickets.remove(ticket_id);
    drop(tickets);
    if then_pin {
        let ticket = new_ticket(s, username, Stage::Pin, now);
        return expecting_pin(s.variants().etna_pin_step.as_str(), &ticket);
    }
    succeeded(s, username, now)
}

fn verify_pin(s: &Shared, ticket_id: &str, username: &str, pin: &str, now: Instant) -> Response {
    let variants = s.variants();
    let step = variants.etna_pin_step.as_str();
    let mut tickets = lock(&s.etna.tickets);
    let Some(ticket) = tickets.get_mut(ticket_id).filter(|t| t.username == username && t.expires > now) else {
        tickets.remove(ticket_id);
        return failed(step, "Corrupted ticket");
    };
    if ticket.stage != Stage::Pin {
        return failed(step, "Corrupted ticket");
    }
    if pin != s.etna.pin_of(username) {
        ticket.wrong += 1;
        let used_up = ticket.wrong >= s.etna.max_code_attempts;
        if used_up || variants.etna_wrong_pin == WrongPin::AskAgain {
            let wrong = ticket.wrong;
            tickets.remove(ticket_id);
            if !used_up {
                // Asked again with a new token; the count of wrong PINs carries over.
                let next = random_token();
                tickets.insert(
                    next.clone(),
                    Ticket { username: username.into(), stage: Stage::Pin, expires: now + s.etna.ticket_ttl, wrong },
                );
                return expecting_pin(step, &next);
            }
        }
        return failed(step, "Invalid pin");
    }
    tickets.remove(ticket_id);
    drop(tickets);
    succeeded(s, username, now)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResetBody {
    token: String,
    password: String,
    password_confirmation: String,
}

/// `PUT v1.0/users/passwords/reset/` ("Update the Password"): `{Token, Password,
/// PasswordConfirmation}` → `{"Errors":[],"IsSucceed":true}`.
async fn reset_password(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    s.stats.hit("etna.password_reset");
    if header(&headers, "et-app-key") != Some(APP_KEY) {
        return bad_app_key();
    }
    let Ok(body) = serde_json::from_slice::<ResetBody>(&body) else {
        return refused(StatusCode::BAD_REQUEST, "Token, Password and PasswordConfirmation are required");
    };
    if body.password.is_empty() || body.password != body.password_confirmation {
        return refused(StatusCode::BAD_REQUEST, "Password and PasswordConfirmation do not match");
    }
    let Some(username) = lock(&s.etna.reset_tokens).remove(&body.token) else {
        return denied();
    };
    lock(&s.etna.new_passwords).insert(username, body.password);
    raw(StatusCode::OK, r#"{"Errors":[],"IsSucceed":true}"#.into())
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PinBody {
    token: String,
    pin: String,
}

/// `GET v1.0/users/pincode/change` with a body ("Set a New PIN Code"): bearer = the token of the
/// "PIN code is not init" answer, body `{Token: ConfirmationToken, Pin, ImageName, PersonalPhrase}`.
async fn change_pin(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    s.stats.hit("etna.pincode_change");
    if header(&headers, "et-app-key") != Some(APP_KEY) {
        return bad_app_key();
    }
    let Ok(body) = serde_json::from_slice::<PinBody>(&body) else {
        return refused(StatusCode::BAD_REQUEST, "Token and Pin are required");
    };
    if body.pin.is_empty() {
        return refused(StatusCode::BAD_REQUEST, "Pin is required");
    }
    let Some(bearer) = bearer(&headers) else { return denied() };
    let key = (bearer.to_owned(), body.token);
    let Some(username) = lock(&s.etna.pin_setups).remove(&key) else { return denied() };
    lock(&s.etna.pins_set).insert(username, body.pin);
    raw(StatusCode::OK, r#"{"Errors":[],"ErrorsCode":[],"StatusCode":"Continue","IsSucceed":true}"#.into())
}

fn refused(status: StatusCode, message: &str) -> Response {
    raw(status, format!(r#"{{"Errors":[{}],"IsSucceed":false}}"#, quoted(message)))
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

/// `GET v1.0/users/{userId}/info` ("Get user info by Id"), the protected call the vendor's own
/// samples make: the `UserInfoModel` of the token's user, by id or by the `@me` directive; 401
/// with no content for another user's id ("the access level … is not sufficient"), 403 with no
/// content for a wrong `Et-App-Key`, as the page's response table says.
async fn user_info(State(s): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    s.stats.hit("etna.user_info");
    if header(&headers, "et-app-key") != Some(APP_KEY) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Some(username) = bearer(&headers).and_then(|t| s.etna.user_of(t, s.clock.now())) else { return denied() };
    let Some(own) = user_id(&username) else { return denied() };
    let asked_for_self = matches!(id.as_str(), "@me" | "%40me") || id.parse::<u32>().ok() == Some(own);
    if !asked_for_self {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    answer(
        StatusCode::OK,
        json!({
            "UserId": own, "FirstName": username, "MiddleName": "", "LastName": "Sandbox", "Login": username,
            "Email": format!("{username}@sandbox.example"), "AddedDate": "2024-01-02T03:04:05Z",
            "Salutation": "NoSalutation", "Suffix": "NoSuffix",
        }),
    )
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
