//! NCR Aloha Online Ordering: `POST /v1/Authenticate/2FA?sendEmail=`, `GET /v1/Authenticate/2FA`,
//! `POST /v1/Authenticate/2FA/Refresh`, the guest login `POST /v1/Authenticate/Guest?sendEmail=`,
//! the legacy `POST /v1/Authenticate` (the bare customer GUID), and one protected endpoint,
//! `GET /v1/Customers/me`. As ASP.NET Web API does, routes, query names and body keys match
//! without regard to case, and so does the `Bearer` scheme (RFC 7235 §2.1); a request body may be
//! DataContract XML as well as JSON, as the help pages document for every call.
//!
//! The sandbox answers as NCR's help pages document; where they are silent it offers each
//! plausible variant as a knob, never the client's guess: whether a guest gets a second factor
//! ([`GuestLogin`]) and where the customer token travels on later calls ([`TokenPlacement`]).
//!
//! A 2FA login answers **303** with a `Location` header, so a client that follows redirects
//! visibly loses the challenge. Answers are JSON, or WCF-style XML when `Accept` asks for XML.
//! Where NCR documents nothing (login errors, the remembered device id), the sandbox follows the
//! inferences in `docs/providers/onlineordering.md`.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use rand::Rng as _;
use serde_json::{Value, json};

use crate::{Delivery, SandboxBuilder, Shared, field_ci, header, lock, random_token};

/// The company code the sandbox knows.
pub const COMPANY_CODE: &str = "SANDBOX001";
/// The integrator account (HTTP Basic).
pub const API_USER: &str = "sandbox-integrator";
/// The integrator account's password.
pub const API_PASSWORD: &str = "sandbox-api-password";
/// The password of every seeded customer.
pub const PASSWORD: &str = "sandbox-password";
/// A customer whose second factor is an emailed code.
pub const CUSTOMER_EMAIL_2FA: &str = "email.customer@example.com";
/// A customer with an authenticator app; its seed is [`TOTP_SEED`].
pub const CUSTOMER_TOTP: &str = "totp.customer@example.com";
/// A customer without a second factor.
pub const CUSTOMER_NO_2FA: &str = "plain.customer@example.com";
/// A customer whose account is locked.
pub const CUSTOMER_LOCKED: &str = "locked.customer@example.com";
/// The authenticator seed of [`CUSTOMER_TOTP`] (base32).
pub const TOTP_SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// How long an access token lives, in seconds (the help page's sample says 1800).
pub const TOKEN_LIFETIME_SECS: u64 = 1800;
/// An email that can check out as a guest (any non-empty email can).
pub const GUEST_EMAIL: &str = "guest@example.com";

/// What `POST v1/Authenticate/Guest` answers. NCR documents the guest body and "a limited guest
/// token" in a `GenerateCodeResult`, and the same `sendEmail` flag as the customer login, so a
/// guest may get the 303 challenge too: both are offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GuestLogin {
    /// 303 with `AuthenticationMethod: Email` in the `id_token` and a code mailed to the guest,
    /// verified by `GET v1/Authenticate/2FA` like a customer's. The default.
    #[default]
    EmailCode,
    /// 200 with the guest token at once.
    Direct,
}

/// Where `GET /v1/Customers/me` expects the customer's access token. NCR documents none: each
/// candidate is a variant, and the client is tested against every one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenPlacement {
    /// `Authorization: Bearer <access_token>`, the integrator's Basic in `x-api-custom-auth`
    /// (the header NCR's own apps send with the Basic value). The default.
    #[default]
    BearerWithCustomAuth,
    /// `<name>: <access_token>`, `Authorization` keeping the integrator's Basic (the observed
    /// client reused the Basic header on customer calls).
    Header(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    None,
    Email,
    Authenticator,
}

fn method_of(email: &str) -> Option<Method> {
    match email {
        CUSTOMER_EMAIL_2FA => Some(Method::Email),
        CUSTOMER_TOTP => Some(Method::Authenticator),
        CUSTOMER_NO_2FA | CUSTOMER_LOCKED => Some(Method::None),
        _ => None,
    }
}

fn customer_id(email: &str) -> String {
    // A stable GUID-looking id per customer.
    let h = email.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        (h >> 20) & 0xfff,
        h & 0xffff_ffff_ffff
    )
}

#[derive(Debug)]
struct Pending {
    guest: bool,
    code: Option<String>,
    expires: Instant,
    wrong: u32,
}

/// The Online Ordering backend's state.
#[derive(Debug)]
pub(crate) struct OnlineState {
    ticket_ttl: Duration,
    max_code_attempts: u32,
    pending: Mutex<HashMap<String, Pending>>,
    access: Mutex<HashMap<String, (String, Instant)>>,
    /// Refresh token → (email, customer id): a guest's id survives a refresh.
    refresh: Mutex<HashMap<String, (String, String)>>,
    devices: Mutex<HashMap<String, String>>,
    locked: Mutex<HashSet<String>>,
}

impl OnlineState {
    pub(crate) fn new(options: &SandboxBuilder) -> Self {
        Self {
            ticket_ttl: options.ticket_ttl,
            max_code_attempts: options.max_code_attempts,
            pending: Mutex::default(),
            access: Mutex::default(),
            refresh: Mutex::default(),
            devices: Mutex::default(),
            locked: Mutex::new(HashSet::from([CUSTOMER_LOCKED.to_owned()])),
        }
    }

    pub(crate) fn set_locked(&self, email: &str, locked: bool) {
        let mut set = lock(&self.locked);
        if locked {
            set.insert(email.to_owned());
        } else {
            set.remove(email);
        }
    }

    fn is_locked(&self, email: &str) -> bool {
        lock(&self.locked).contains(email)
    }

    /// Issues an access and a refresh token; the result's fields in NCR's names.
    fn issue(&self, email: &str, now: Instant, extra_claims: Value) -> Value {
        let (access, refresh) = (random_token(), random_token());
        lock(&self.access).insert(access.clone(), (email.to_owned(), now + Duration::from_secs(TOKEN_LIFETIME_SECS)));
        let mut claims = json!({ "CustomerId": customer_id(email), "LoyaltyId": "" });
        if let (Some(map), Value::Object(extra)) = (claims.as_object_mut(), extra_claims) {
            map.extend(extra);
        }
        let id = claims["CustomerId"].as_str().unwrap_or_default().to_owned();
        lock(&self.refresh).insert(refresh.clone(), (email.to_owned(), id));
        json!({
            "auth_code": null,
            "access_token": access,
            "refresh_token": refresh,
            "expires_in_seconds": TOKEN_LIFETIME_SECS as f64,
            "id_token": id_token(&claims),
        })
    }
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/Authenticate", post(legacy_login))
        .route("/v1/Authenticate/2FA", post(login).get(verify))
        .route("/v1/Authenticate/2FA/Refresh", post(refresh))
        .route("/v1/Authenticate/Guest", post(guest))
        .route("/v1/Customers/me", get(me))
}

fn id_token(claims: &Value) -> String {
    STANDARD.encode(claims.to_string())
}

fn integrator() -> String {
    format!("Basic {}", STANDARD.encode(format!("{API_USER}:{API_PASSWORD}")))
}

/// The integrator's credentials (in `Authorization` or `x-api-custom-auth`) and the company code.
fn integrator_ok(headers: &HeaderMap) -> bool {
    let basic = integrator();
    let sent = [header(headers, "authorization"), header(headers, "x-api-custom-auth")];
    sent.contains(&Some(basic.as_str())) && header(headers, "x-api-companycode") == Some(COMPANY_CODE)
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({ "Message": text }))).into_response()
}

fn denied() -> Response {
    message(StatusCode::UNAUTHORIZED, "Authorization has been denied for this request.")
}

fn invalid() -> Response {
    message(StatusCode::BAD_REQUEST, "The request is invalid.")
}

/// A token result, as JSON (with Json.NET's `$id`) or as DataContract XML when `Accept` asks.
fn result(headers: &HeaderMap, status: StatusCode, root: &str, fields: &Value) -> Response {
    if header(headers, "accept").is_some_and(|a| a.contains("xml")) {
        let mut xml = format!(
            r#"<{root} xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.datacontract.org/2004/07/OnlineOrderingAPI.Models.v1.Response">"#
        );
        for name in ["access_token", "auth_code", "expires_in_seconds", "id_token", "refresh_token"] {
            if name == "auth_code" && root != "GenerateCodeResult" {
                continue;
            }
            match fields.get(name) {
                Some(Value::String(s)) => xml.push_str(&format!("<{name}>{s}</{name}>")),
                Some(Value::Number(n)) => xml.push_str(&format!("<{name}>{n}</{name}>")),
                _ => xml.push_str(&format!(r#"<{name} i:nil="true"/>"#)),
            }
        }
        xml.push_str(&format!("</{root}>"));
        return (status, [(header::CONTENT_TYPE, "application/xml; charset=utf-8")], xml).into_response();
    }
    let mut body = json!({ "$id": "1" });
    if let (Some(map), Value::Object(f)) = (body.as_object_mut(), fields.clone()) {
        map.extend(f);
        // Only `GenerateCodeResult` has `auth_code`; `ConfirmCodeResult` and
        // `RefreshAccessTokenResult` are the four token fields.
        if root != "GenerateCodeResult" {
            map.remove("auth_code");
        }
    }
    (status, axum::Json(body)).into_response()
}

/// A request body as JSON, or as DataContract XML when `Content-Type` says XML (NCR documents both
/// for every call); `None` when it is neither.
fn body_fields(headers: &HeaderMap, body: &[u8]) -> Option<Value> {
    if header(headers, "content-type").is_some_and(|t| t.contains("xml")) {
        return crate::xml_body::fields(std::str::from_utf8(body).ok()?);
    }
    serde_json::from_slice(body).ok()
}

/// The checks both customer logins make: the integrator, a JSON body with `Email` and `Password`
/// (names in any case), the right password (401 otherwise), an account not locked (403): the
/// body, or the refusal.
fn customer_login(s: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Value, Box<Response>> {
    if !integrator_ok(headers) {
        return Err(Box::new(denied()));
    }
    let Some(body) = body_fields(headers, body) else { return Err(Box::new(invalid())) };
    let field = |k: &str| field_ci(&body, k).and_then(Value::as_str).filter(|v| !v.is_empty());
    let (Some(email), Some(password)) = (field("Email"), field("Password")) else { return Err(Box::new(invalid())) };
    if method_of(email).is_none() || password != PASSWORD {
        return Err(Box::new(message(StatusCode::UNAUTHORIZED, "Invalid email or password.")));
    }
    if s.online.is_locked(email) {
        return Err(Box::new(message(StatusCode::FORBIDDEN, "The account is locked.")));
    }
    Ok(body)
}

/// `sendEmail` is accepted and ignored: the sandbox's setup data is in the `id_token` either way.
async fn login(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    s.stats.hit("onlineordering.login");
    let body = match customer_login(&s, &headers, &body) {
        Ok(body) => body,
        Err(refusal) => return *refusal,
    };
    let field = |k: &str| field_ci(&body, k).and_then(Value::as_str).filter(|v| !v.is_empty());
    let (Some(email), Some(method)) = (field("Email"), field("Email").and_then(method_of)) else { return invalid() };
    let state = &s.online;
    let now = s.clock.now();
    let remembered = field("DeviceId").is_some_and(|d| lock(&state.devices).get(d).is_some_and(|e| e == email));
    if method == Method::None || remembered {
        return result(&headers, StatusCode::OK, "GenerateCodeResult", &state.issue(email, now, json!({})));
    }
    let mut claims = json!({ "CustomerId": customer_id(email), "LoyaltyId": "" });
    let code = match method {
        Method::Email => {
            claims["AuthenticationMethod"] = json!("Email");
            Some(mail_code(&s, email))
        }
        _ => {
            claims["AuthenticationMethod"] = json!("Authenticator");
            claims["ManualEntryKey"] = json!(TOTP_SEED);
            claims["QrCodeData"] = json!(format!("otpauth://totp/Sandbox:{email}?secret={TOTP_SEED}&issuer=Sandbox"));
            None
        }
    };
    lock(&state.pending)
        .insert(email.to_owned(), Pending { guest: false, code, expires: now + state.ticket_ttl, wrong: 0 });
    see_other(&headers, Value::String(random_token()), &claims)
}

/// The legacy `POST v1/Authenticate` with `InLogin {Email, Password}` (the production help; NCR's
/// own C# demo calls it): the customer's GUID alone, `"…"` as JSON or
/// `<guid xmlns="http://schemas.microsoft.com/2003/10/Serialization/">…</guid>` as XML. It asks
/// for no second factor (the call predates it), and refuses wrong credentials with 401 and a
/// locked customer with 403 as the 2FA login does (both inferred: the page lists no errors).
async fn legacy_login(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    s.stats.hit("onlineordering.legacy_login");
    let body = match customer_login(&s, &headers, &body) {
        Ok(body) => body,
        Err(refusal) => return *refusal,
    };
    let id = customer_id(field_ci(&body, "Email").and_then(Value::as_str).unwrap_or_default());
    if header(&headers, "accept").is_some_and(|a| a.contains("xml")) {
        let xml = format!(r#"<guid xmlns="http://schemas.microsoft.com/2003/10/Serialization/">{id}</guid>"#);
        return (StatusCode::OK, [(header::CONTENT_TYPE, "application/xml; charset=utf-8")], xml).into_response();
    }
    (StatusCode::OK, axum::Json(Value::String(id))).into_response()
}

/// Mails a fresh six-digit code to `email` and returns it.
fn mail_code(s: &Shared, email: &str) -> String {
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000));
    s.outbox.deliver(Delivery {
        provider: "onlineordering",
        recipient: email.into(),
        channel: "email",
        code: code.clone(),
    });
    code
}

/// The 303 `GenerateCodeResult` of a login that needs the second factor named in `claims`.
fn see_other(headers: &HeaderMap, auth_code: Value, claims: &Value) -> Response {
    let fields = json!({
        "auth_code": auth_code,
        "access_token": null,
        "refresh_token": null,
        "expires_in_seconds": 0.0,
        "id_token": id_token(claims),
    });
    let mut response = result(headers, StatusCode::SEE_OTHER, "GenerateCodeResult", &fields);
    response.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/v1/Authenticate/2FA"));
    response
}

/// A guest's customer id: stable per email, never a registered customer's.
fn guest_id(email: &str) -> String {
    customer_id(&format!("guest:{email}"))
}

/// `POST v1/Authenticate/Guest?sendEmail=` with `InGuestLogin {Email (required), DeviceId}`: a
/// limited guest token, at once or after an emailed code (see [`GuestLogin`]). The help page's
/// guest sample has `"auth_code": null`, so the guest answers carry none.
async fn guest(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    s.stats.hit("onlineordering.guest");
    if !integrator_ok(&headers) {
        return denied();
    }
    let Some(body) = body_fields(&headers, &body) else { return invalid() };
    let Some(email) = field_ci(&body, "Email").and_then(Value::as_str).filter(|v| !v.trim().is_empty()) else {
        return invalid();
    };
    if field_ci(&body, "DeviceId").is_some_and(|d| !d.is_string() && !d.is_null()) {
        return invalid();
    }
    let state = &s.online;
    let now = s.clock.now();
    let claims = json!({ "CustomerId": guest_id(email), "LoyaltyId": "" });
    if s.variants().oo_guest_login == GuestLogin::Direct {
        return result(&headers, StatusCode::OK, "GenerateCodeResult", &state.issue(email, now, claims));
    }
    let code = Some(mail_code(&s, email));
    lock(&state.pending)
        .insert(email.to_owned(), Pending { guest: true, code, expires: now + state.ticket_ttl, wrong: 0 });
    let mut claims = claims;
    claims["AuthenticationMethod"] = json!("Email");
    see_other(&headers, Value::Null, &claims)
}

async fn verify(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    s.stats.hit("onlineordering.verify");
    if !integrator_ok(&headers) {
        return denied();
    }
    // ASP.NET Web API binds query names without regard to case.
    let q: HashMap<String, String> = q.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
    let param = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let (Some(email), Some(code)) = (param("email"), param("code")) else { return invalid() };
    let remember = param("rememberme").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if remember && param("nickname").is_none() {
        return invalid();
    }
    let state = &s.online;
    let now = s.clock.now();
    let mut pending = lock(&state.pending);
    let Some(p) = pending.get_mut(email).filter(|p| p.expires > now) else {
        pending.remove(email);
        return message(StatusCode::NOT_FOUND, "The code is incorrect or has expired.");
    };
    let right = match &p.code {
        Some(expected) => expected == code,
        None => crate::totp::matches(TOTP_SEED, code),
    };
    if !right {
        p.wrong += 1;
        if p.wrong >= state.max_code_attempts {
            pending.remove(email);
        }
        return message(StatusCode::NOT_FOUND, "The code is incorrect or has expired.");
    }
    let guest = pending.remove(email).is_some_and(|p| p.guest);
    drop(pending);
    let mut claims = if guest { json!({ "CustomerId": guest_id(email) }) } else { json!({}) };
    if remember {
        let device = random_token();
        lock(&state.devices).insert(device.clone(), email.to_owned());
        claims["DeviceId"] = json!(device);
    }
    result(&headers, StatusCode::OK, "ConfirmCodeResult", &state.issue(email, now, claims))
}

async fn refresh(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    s.stats.hit("onlineordering.refresh");
    if !integrator_ok(&headers) {
        return denied();
    }
    let Some(token) = body_fields(&headers, &body)
        .and_then(|b| field_ci(&b, "RefreshToken").and_then(Value::as_str).map(str::to_owned))
    else {
        return invalid();
    };
    let state = &s.online;
    // Rotation: a refresh token works once.
    let Some((email, id)) = lock(&state.refresh).remove(&token) else {
        return message(StatusCode::NOT_FOUND, "The refresh token is invalid.");
    };
    if state.is_locked(&email) {
        return message(StatusCode::FORBIDDEN, "The account is locked.");
    }
    result(
        &headers,
        StatusCode::OK,
        "RefreshAccessTokenResult",
        &state.issue(&email, s.clock.now(), json!({ "CustomerId": id })),
    )
}

/// A customer call, with the token where the [`TokenPlacement`] knob says, and only there.
async fn me(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    s.stats.hit("onlineordering.me");
    let basic = integrator();
    let (token, integrator_ok) = match &s.variants().oo_token_placement {
        TokenPlacement::BearerWithCustomAuth => {
            (crate::bearer(&headers).map(str::to_owned), header(&headers, "x-api-custom-auth") == Some(basic.as_str()))
        }
        TokenPlacement::Header(name) => {
            (header(&headers, name).map(str::to_owned), header(&headers, "authorization") == Some(basic.as_str()))
        }
    };
    let company_ok = header(&headers, "x-api-companycode") == Some(COMPANY_CODE);
    let now = s.clock.now();
    let email =
        token.and_then(|t| lock(&s.online.access).get(&t).filter(|(_, exp)| *exp > now).map(|(e, _)| e.clone()));
    match email {
        Some(email) if integrator_ok && company_ok => {
            (StatusCode::OK, axum::Json(json!({ "CustomerId": customer_id(&email), "Email": email }))).into_response()
        }
        _ => denied(),
    }
}
