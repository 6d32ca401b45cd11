//! Who may use the console: the holder of its random token (in the printed URL once, then in an
//! HttpOnly SameSite=Strict cookie, or as `Authorization: Bearer` for bots), every form carrying
//! the CSRF token, and strict headers on every answer.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use twofa_core::Secret;

use super::{App, pages};
pub use crate::channel::constant_time_eq;

/// The start of the name of the cookie that carries the token after the first visit; the name
/// ends with the console's port (`twofa_console_8700`): browsers share a host's cookies among all
/// its ports, so one name would let a second console's link replace the first's cookie.
pub const COOKIE: &str = "twofa_console";

/// The console's secrets: the access token and the CSRF token of its forms.
#[derive(Debug)]
pub struct Keys {
    token: Secret,
    csrf: Secret,
    /// Whether the console is served over TLS (the cookie is then `Secure`).
    pub(crate) secure: bool,
    /// The cookie's name: [`COOKIE`] and the port.
    cookie: String,
    /// The port, when the console listens on loopback: then only loopback host names are answered.
    loopback_port: Option<u16>,
}

impl Keys {
    /// `token`, or a fresh random one; a fresh CSRF token; for a console listening on `addr`.
    pub fn new(token: Option<Secret>, secure: bool, addr: SocketAddr) -> Self {
        let token = token.unwrap_or_else(|| Secret::new(super::registry::random_string(43)));
        Self {
            token,
            csrf: Secret::new(super::registry::random_string(43)),
            secure,
            cookie: format!("{COOKIE}_{}", addr.port()),
            loopback_port: addr.ip().is_loopback().then_some(addr.port()),
        }
    }

    /// The name of the cookie.
    pub fn cookie(&self) -> &str {
        &self.cookie
    }

    /// Whether a request with this `Host` header may be answered: on loopback, only a loopback
    /// name with the console's port. A page of another site whose name was rebound to 127.0.0.1
    /// (DNS rebinding) sends its own name, and gets nothing, not even the login page.
    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(port) = self.loopback_port else { return true };
        twofa_core::local::host_is_loopback(headers, port, if self.secure { 443 } else { 80 })
    }

    /// The access token.
    pub fn token(&self) -> &Secret {
        &self.token
    }

    /// The key of a bot of `profile`, derived from the access token.
    pub fn bot_key(&self, profile: &str) -> Secret {
        crate::channel::bot_key(&self.token, profile)
    }

    /// The CSRF token forms carry.
    pub fn csrf(&self) -> &str {
        self.csrf.expose_secret()
    }

    /// Whether `given` is the access token (constant time).
    pub fn is_token(&self, given: &str) -> bool {
        constant_time_eq(given.as_bytes(), self.token.expose_secret().as_bytes())
    }

    /// Whether `given` is the CSRF token (constant time).
    pub fn is_csrf(&self, given: &str) -> bool {
        constant_time_eq(given.as_bytes(), self.csrf.expose_secret().as_bytes())
    }
}

/// The credential a request carries: the Bearer header, else (pages only) the cookie `cookie`.
fn credential<'h>(headers: &'h HeaderMap, cookie: &str, cookie_allowed: bool) -> Option<&'h str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if bearer.is_some() || !cookie_allowed {
        return bearer;
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie)
        .map(|(_, value)| value)
}

/// The `token` query parameter, if the URL has one.
fn query_token(uri: &Uri) -> Option<String> {
    let query = uri.query()?;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned())
}

/// Lets a request through only with the token. A page URL carrying `?token=` (the printed link)
/// sets the cookie and redirects to the same page without it, so the token leaves the address bar
/// and the history.
pub async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if !app.keys.host_allowed(request.headers()) {
        return pages::error(StatusCode::MISDIRECTED_REQUEST, "Wrong host name", WRONG_HOST);
    }
    // Bots prove their key in every sealed call (super::bots), and never send the token.
    if request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    if let Some(token) = query_token(request.uri()) {
        if !app.keys.is_token(&token) {
            return pages::error(StatusCode::FORBIDDEN, "Wrong access token", WRONG_TOKEN);
        }
        if request.method() != Method::GET {
            return pages::error(StatusCode::BAD_REQUEST, "Token in a form's address", "Open the printed link first.");
        }
        let secure = if app.keys.secure { "; Secure" } else { "" };
        let cookie = format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
            app.keys.cookie(),
            app.keys.token().expose_secret()
        );
        // One leading slash: `//host/…` would be a redirect to another site.
        let here = format!("/{}", request.uri().path().trim_start_matches('/'));
        let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, here)]).into_response();
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        return response;
    }
    match credential(request.headers(), app.keys.cookie(), true) {
        None => pages::error(StatusCode::UNAUTHORIZED, "Access token needed", NO_TOKEN),
        Some(given) if !app.keys.is_token(given) => {
            pages::error(StatusCode::FORBIDDEN, "Wrong access token", WRONG_TOKEN)
        }
        Some(_) => next.run(request).await,
    }
}

const NO_TOKEN: &str = "This console answers only the link it printed when it started (…/?token=…). \
    Open that link. Bots never send it: they prove their own key (docs/console.md).";
const WRONG_HOST: &str = "This console answers only its own loopback address (127.0.0.1, [::1] or localhost, \
    with its port): a page of another site reaching it under its own name gets nothing.";
const WRONG_TOKEN: &str = "This token is not this console's. A console makes a new token each time it \
    starts: open the link it printed this time.";

/// Strict headers on every answer: no script but the console's own files (there are none), no
/// framing, no referrer, no sniffing, no caching.
pub async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let set = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in set {
        h.insert(name, HeaderValue::from_static(value));
    }
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        let keys = Keys::new(Some(Secret::new("abc")), false, SocketAddr::from(([127, 0, 0, 1], 8700)));
        assert!(keys.is_token("abc"));
        assert!(!keys.is_token("abd") && !keys.is_token("ab") && !keys.is_token("abcd") && !keys.is_token(""));
        assert!(!keys.is_csrf("abc") && keys.is_csrf(keys.csrf()));
    }

    #[test]
    fn bearer_wins_and_apis_ignore_cookies() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=b; twofa_console=from-cookie"));
        assert_eq!(credential(&h, COOKIE, true), Some("from-cookie"));
        assert_eq!(credential(&h, COOKIE, false), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer from-header"));
        assert_eq!(credential(&h, COOKIE, true), Some("from-header"));
    }
}
