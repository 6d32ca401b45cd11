//! The HTTP plumbing every provider shares: a client with safe defaults, base-URL checks,
//! bounded response reading, sensitive headers and transport errors without URLs.
//!
//! Providers never build their own `reqwest::Client` per call: one [`Http`] lives in each flow and
//! keeps its connections alive, so a whole 2FA login runs over one TCP connection.
//!
//! **TLS** is rustls (aws-lc-rs) with the platform's verifier, plus any root added with
//! [`HttpOptions::add_root_certificate`]; the same [`rustls::ClientConfig`] serves HTTPS and the
//! providers' WebSockets ([`Http::tls_config`]), so both trust exactly the same certificates.
//!
//! **Proxies**: HTTPS requests to remote hosts honour the usual variables (`HTTPS_PROXY`,
//! `ALL_PROXY`, `NO_PROXY`, lower case too). Plain `http://` and loopback destinations never go
//! through a proxy: a loopback login sent to `HTTP_PROXY` would carry the password in clear to
//! another process or machine.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use reqwest::{
    Method, RequestBuilder, Url,
    header::{HeaderMap, HeaderValue, RETRY_AFTER},
    redirect,
};

use crate::{Error, TransportKind};

/// The largest response body read; a larger one is refused without being read to the end.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The `User-Agent` every request of twofa's own clients carries, so a provider can tell it apart.
pub const USER_AGENT: &str = concat!("twofa/", env!("CARGO_PKG_VERSION"));

/// HTTP settings shared by the providers' builders.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    client: Option<reqwest::Client>,
    timeout: Duration,
    connect_timeout: Duration,
    allow_insecure_http: bool,
    extra_roots: Vec<Vec<u8>>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            client: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            allow_insecure_http: false,
            extra_roots: Vec::new(),
        }
    }
}

impl HttpOptions {
    /// Uses the caller's client for HTTP calls (its proxies, roots… as they are). It must not
    /// follow redirects: build it with `redirect(reqwest::redirect::Policy::none())`; a followed
    /// redirect is reported as [`Error::Config`]. A WebSocket transport does not use it: roots for
    /// both transports go through [`HttpOptions::add_root_certificate`].
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The time limit of each request, from sending to the end of the body (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The time limit to open a connection (default 10 s), for the client twofa builds.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Allows plain `http://` to hosts other than loopback. Off by default: credentials would travel in clear.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Trusts one more root certificate (PEM, one or more `CERTIFICATE` blocks), beside the
    /// platform's, over HTTPS and WebSocket alike — e.g. a company's TLS-inspecting proxy or a
    /// test server. Checked by `build()`: text without a certificate is an [`Error::Config`].
    /// A client given with [`HttpOptions::client`] keeps its own roots for HTTP.
    pub fn add_root_certificate(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.extra_roots.push(pem.as_ref().to_vec());
        self
    }

    /// The per-request time limit.
    pub fn request_timeout(&self) -> Duration {
        self.timeout
    }

    /// The time limit to open a connection.
    pub fn connect_time_limit(&self) -> Duration {
        self.connect_timeout
    }

    /// Checks and parses a base URL: `https://`, or `http://` to a loopback host (or with the opt-in).
    /// The result ends in `/` so that relative paths join under it.
    pub fn base_url(&self, raw: &str) -> Result<Url, Error> {
        let mut url = Url::parse(raw.trim()).map_err(|e| Error::Config(format!("invalid base URL: {e}")))?;
        self.check_scheme(&url, "https")?;
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(url)
    }

    /// Checks that `url` is safe to send credentials to: no userinfo (see [`refuse_userinfo`]), and
    /// `secure` scheme (`https`/`wss`), or its plain twin on loopback or with the opt-in.
    pub fn check_scheme(&self, url: &Url, secure: &str) -> Result<(), Error> {
        refuse_userinfo(url)?;
        let plain = secure.strip_suffix('s').unwrap_or(secure);
        match url.scheme() {
            s if s == secure => Ok(()),
            s if s == plain && (self.allow_insecure_http || is_loopback(url)) => Ok(()),
            s if s == plain => Err(Error::Config(format!(
                "plain {plain}:// is only allowed for loopback hosts; use {secure}:// or opt in to insecure HTTP"
            ))),
            other => Err(Error::Config(format!("unsupported URL scheme `{other}`; expected {secure}://"))),
        }
    }

    /// Builds the shared HTTP handle.
    pub fn build(&self) -> Result<Http, Error> {
        let tls = self.tls_config()?;
        let built = |r: reqwest::Result<reqwest::Client>| {
            r.map_err(|e| Error::Config(format!("cannot build the HTTP client: {}", e.without_url())))
        };
        let (client, direct) = match &self.client {
            Some(client) => (client.clone(), client.clone()),
            None => (built(self.client_builder(&tls).build())?, built(self.client_builder(&tls).no_proxy().build())?),
        };
        Ok(Http { client, direct, tls, timeout: self.timeout })
    }

    fn client_builder(&self, tls: &rustls::ClientConfig) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls.clone())
            .redirect(redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .user_agent(USER_AGENT)
    }

    /// The one TLS configuration: the platform's verifier with the added roots, aws-lc-rs.
    ///
    /// Without added roots it is built once per process and shared: the platform verifier reads
    /// the system's certificates when it is made, which cost tens of milliseconds per flow when a
    /// back office built one flow per user.
    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, Error> {
        use rustls::pki_types::{CertificateDer, pem::PemObject as _};
        static PLATFORM: OnceLock<Result<Arc<rustls::ClientConfig>, Error>> = OnceLock::new();
        if self.extra_roots.is_empty() {
            return PLATFORM.get_or_init(|| platform_tls(Vec::new())).clone();
        }
        let mut roots = Vec::new();
        for pem in &self.extra_roots {
            let before = roots.len();
            for cert in CertificateDer::pem_slice_iter(pem) {
                roots.push(cert.map_err(|_| Error::Config("an added root certificate is not valid PEM".into()))?);
            }
            if roots.len() == before {
                return Err(Error::Config("a root certificate was added that holds no PEM certificate".into()));
            }
        }
        platform_tls(roots)
    }
}

/// The platform's verifier, trusting `extra_roots` too, on aws-lc-rs.
fn platform_tls(
    extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
) -> Result<Arc<rustls::ClientConfig>, Error> {
    let tls_error = |e: rustls::Error| Error::Config(format!("cannot set up TLS: {e}"));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, Arc::clone(&provider))
        .map_err(tls_error)?;
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth(),
    ))
}

/// Refuses a URL with userinfo (`https://user:secret@host/`): that secret would ride along with
/// every request and be saved wherever the URL is. The message quotes neither part.
///
/// # Errors
///
/// [`Error::Config`] when the URL names a user or a password.
pub fn refuse_userinfo(url: &Url) -> Result<(), Error> {
    if url.username().is_empty() && url.password().is_none() {
        return Ok(());
    }
    Err(Error::Config(
        "the URL carries a user name or password (`user:secret@host`); remove it and pass credentials through their own settings".into(),
    ))
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The clients plus the per-request time limit and the TLS configuration.
#[derive(Clone)]
pub struct Http {
    /// Honours the proxy variables: HTTPS to remote hosts.
    client: reqwest::Client,
    /// Never uses a proxy: plain HTTP and loopback.
    direct: reqwest::Client,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl Http {
    /// Starts a request; [`Http::send`] sends it within the time limit.
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.request_with(method, url, HeaderMap::new())
    }

    /// [`Http::request`] carrying `headers` from the start: a flow builds what every request it
    /// sends carries once, and each request clones the map instead of adding header by header.
    pub fn request_with(&self, method: Method, url: Url, headers: HeaderMap) -> RequestBuilder {
        let client = self.client_for(&url).clone();
        let mut request = reqwest::Request::new(method, url);
        *request.headers_mut() = headers;
        RequestBuilder::from_parts(client, request)
    }

    /// The TLS configuration HTTPS uses (the platform's verifier and the added roots), for the
    /// providers' WebSockets. Its ALPN list is empty: HTTP/1.1, as a WebSocket upgrade needs.
    pub fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        Arc::clone(&self.tls)
    }

    /// Plain HTTP and loopback go direct; the rest may go through the proxy variables.
    fn client_for(&self, url: &Url) -> &reqwest::Client {
        if url.scheme() == "http" || is_loopback(url) { &self.direct } else { &self.client }
    }

    /// Sends a request and reads its answer, at most [`MAX_BODY_BYTES`], within the request time
    /// limit — never past the deadline of the login, renewal or logout it belongs to
    /// ([`deadline::clamp`](crate::deadline::clamp)).
    ///
    /// Never retries: a login start or a code submission must not be repeated behind the caller's back.
    pub async fn send(&self, request: RequestBuilder) -> Result<Answer, Error> {
        crate::deadline::bounded(self.timeout, self.exchange(request)).await
    }

    async fn exchange(&self, request: RequestBuilder) -> Result<Answer, Error> {
        let request = request.build().map_err(transport_error)?;
        let url = request.url().clone();
        let response = self.client_for(&url).execute(request).await.map_err(transport_error)?;
        if response.url() != &url {
            return Err(Error::Config(
                "the HTTP client followed a redirect; twofa needs a client with redirects disabled".into(),
            ));
        }
        Answer::read(response).await
    }
}

/// A response read into memory: status, headers and a bounded body.
#[derive(Debug)]
#[non_exhaustive]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, at most [`MAX_BODY_BYTES`].
    pub body: Vec<u8>,
}

impl Answer {
    /// An answer built by hand: for tests and fuzz targets that feed a provider's parser.
    pub fn new(status: u16, headers: HeaderMap, body: Vec<u8>) -> Self {
        Self { status, headers, body }
    }

    async fn read(mut response: reqwest::Response) -> Result<Self, Error> {
        let status = response.status().as_u16();
        let too_large = || Error::unexpected(Some(status), format!("the body is larger than {MAX_BODY_BYTES} bytes"));
        let declared = response.content_length().unwrap_or(0);
        if declared > MAX_BODY_BYTES as u64 {
            return Err(too_large());
        }
        // Sized once when the server says how much follows (checked just above, so bounded).
        let mut body = Vec::with_capacity(declared as usize);
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Self { status, headers: std::mem::take(response.headers_mut()), body })
    }

    /// The `Retry-After` delay, given in seconds or as an HTTP date.
    pub fn retry_after(&self) -> Option<Duration> {
        let value = self.headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
        if let Ok(secs) = value.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        let at = httpdate::parse_http_date(value).ok()?;
        Some(at.duration_since(std::time::SystemTime::now()).unwrap_or_default())
    }

    /// The body's content type, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.headers.get(reqwest::header::CONTENT_TYPE)?.to_str().ok()
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A description of the body that never quotes it, for error messages.
    pub fn describe(&self) -> String {
        let kind = self.content_type().and_then(|t| t.split(';').next()).unwrap_or("untyped");
        format!("a {}-byte {kind} body", self.body.len())
    }

    /// An [`Error::UnexpectedResponse`] for this answer: `what` was expected.
    pub fn unexpected(&self, what: &str) -> Error {
        Error::unexpected(Some(self.status), format!("expected {what}, got {}", self.describe()))
    }
}

/// A header value marked sensitive (hidden from reqwest's and hyper's debug output).
///
/// Fails with [`Error::InvalidInput`] naming `what`, never the value, when the value is not
/// header-safe (control characters, non-visible bytes).
pub fn sensitive_value(value: &str, what: &str) -> Result<HeaderValue, Error> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        Error::InvalidInput(format!("{what} contains characters that cannot be sent in an HTTP header"))
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Converts a reqwest error, dropping its URL (a query string can carry a code).
pub fn transport_error(e: reqwest::Error) -> Error {
    let kind = if e.is_timeout() {
        TransportKind::Timeout
    } else if e.is_connect() {
        TransportKind::Connect
    } else if e.is_body() || e.is_decode() {
        TransportKind::Body
    } else {
        TransportKind::Other
    };
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    Error::Transport { kind, message, source: Some(Arc::new(e)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The platform verifier reads the system's certificates when made: one per process, not per flow.
    #[test]
    fn the_platform_tls_configuration_is_built_once_and_shared() {
        let first = HttpOptions::default().build().unwrap();
        let second = HttpOptions::default().timeout(Duration::from_secs(5)).build().unwrap();
        assert!(Arc::ptr_eq(&first.tls_config(), &second.tls_config()));
        let bad = HttpOptions::default().add_root_certificate("no certificate here");
        assert!(matches!(bad.build(), Err(Error::Config(_))), "added roots are still checked, not cached");
    }

    #[test]
    fn base_urls_need_https_unless_loopback() {
        let o = HttpOptions::default();
        assert_eq!(o.base_url("https://example.com/api").unwrap().as_str(), "https://example.com/api/");
        assert!(o.base_url("http://127.0.0.1:8080/api").is_ok());
        assert!(o.base_url("http://localhost/api").is_ok());
        assert!(o.base_url("http://[::1]/").is_ok());
        assert!(matches!(o.base_url("http://example.com/api"), Err(Error::Config(_))));
        assert!(matches!(o.base_url("ftp://example.com/"), Err(Error::Config(_))));
        assert!(matches!(o.base_url("not a url"), Err(Error::Config(_))));
        assert!(o.clone().allow_insecure_http(true).base_url("http://example.com/api").is_ok());
    }

    #[test]
    fn websocket_urls_follow_the_same_rule() {
        let o = HttpOptions::default();
        assert!(o.check_scheme(&Url::parse("wss://h/WSGateway").unwrap(), "wss").is_ok());
        assert!(o.check_scheme(&Url::parse("ws://127.0.0.1:1/WSGateway").unwrap(), "wss").is_ok());
        assert!(matches!(o.check_scheme(&Url::parse("ws://h/WSGateway").unwrap(), "wss"), Err(Error::Config(_))));
    }

    #[test]
    fn sensitive_values_refuse_control_characters_without_echoing() {
        assert!(sensitive_value("abc", "x").unwrap().is_sensitive());
        let Err(e) = sensitive_value("pass\nword-SECRET", "the password") else { panic!("accepted") };
        assert!(matches!(e, Error::InvalidInput(_)));
        assert!(!e.to_string().contains("SECRET"));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut a = Answer { status: 429, headers: HeaderMap::new(), body: Vec::new() };
        assert_eq!(a.retry_after(), None);
        a.headers.insert(RETRY_AFTER, HeaderValue::from_static("12"));
        assert_eq!(a.retry_after(), Some(Duration::from_secs(12)));
        a.headers.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(a.retry_after(), Some(Duration::ZERO));
        a.headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(a.retry_after(), None);
    }
}
