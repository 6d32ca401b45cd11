//! The console: an axum server on loopback (or TLS), its pages and the bot API.

mod access;
mod accounts;
mod bots;
mod html;
mod ops;
mod pages;
mod qr;
mod registry;
mod routes;
mod serve;
mod tls;

use std::{
    collections::HashSet,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    middleware,
    routing::{get, post},
};
use tokio::{net::TcpListener, sync::watch};
use twofa_core::{Error, Secret};
use twofa_ops::{metrics::Metrics, notify::Notifier};

pub use access::{COOKIE, constant_time_eq};
pub use accounts::{Account, Accounts, EXPIRING, NoAccounts, SessionState};
pub use bots::{MAX_SESSIONS, MAX_UNPROVEN};
pub use registry::{
    Enrolment, Entry, Event, LocalCodeSource, MAX_LIFETIME, MAX_PENDING, Origin, Phase, Poll, Registry, SubmitError,
};

/// The largest request body any route reads: a code, a password and a CSRF token fit many times.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The largest request head (request line and headers) read: what a browser or a bot sends fits
/// many times; a connection that sends more is answered `431` and closed, so connections that
/// never finish their heads hold at most this much each.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// How long a connection may take to send a request's headers (default of
/// [`ConsoleBuilder::header_timeout`]); an idle kept-alive connection is closed after it too.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connections are served at once (default of [`ConsoleBuilder::max_connections`]).
pub const MAX_CONNECTIONS: usize = 256;

/// State shared by the handlers.
#[derive(Debug)]
pub(crate) struct App {
    keys: access::Keys,
    registry: Arc<Registry>,
    bots: bots::Bots,
    accounts: Arc<dyn Accounts>,
    /// Profiles whose console-started login runs.
    logins: Mutex<HashSet<String>>,
    code_wait: Duration,
    /// What `/metrics` serves.
    metrics: Arc<Metrics>,
}

impl App {
    /// Marks a console login of `profile` as running; false when one already is.
    fn start_login(&self, profile: &str) -> bool {
        self.logins.lock().unwrap_or_else(PoisonError::into_inner).insert(profile.to_owned())
    }

    fn end_login(&self, profile: &str) {
        self.logins.lock().unwrap_or_else(PoisonError::into_inner).remove(profile);
    }
}

/// Settings of a console; start one with [`ConsoleBuilder::start`].
#[derive(Debug)]
pub struct ConsoleBuilder {
    listen: SocketAddr,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    allow_remote_plaintext: bool,
    accounts: Arc<dyn Accounts>,
    token: Option<Secret>,
    code_wait: Duration,
    limits: serve::Limits,
    metrics: Option<Arc<Metrics>>,
    notifier: Option<Arc<Notifier>>,
    ops_listen: Option<SocketAddr>,
}

impl ConsoleBuilder {
    /// The address to listen on (default `127.0.0.1:0`, a free loopback port). Any other than
    /// loopback needs [`ConsoleBuilder::tls_pem`] or [`ConsoleBuilder::allow_remote_plaintext`].
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Serves HTTPS with this PEM certificate chain and private key.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when they are not valid PEM or do not match.
    pub fn tls_pem(mut self, cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, Error> {
        self.tls = Some(tls::config(cert_pem, key_pem)?);
        self.allow_remote_plaintext
            .then_some(())
            .map_or(Ok(()), |()| Err(Error::Config("TLS and plain HTTP were both asked for".into())))?;
        Ok(self)
    }

    /// Serves plain HTTP on an address other than loopback: the token, the codes and typed
    /// passwords then cross the network in clear. For a trusted network or a TLS proxy in front.
    pub fn allow_remote_plaintext(mut self, allow: bool) -> Self {
        self.allow_remote_plaintext = allow;
        self
    }

    /// The profiles the Sessions page lists and logs in (default: none, bots only).
    pub fn accounts(mut self, accounts: Arc<dyn Accounts>) -> Self {
        self.accounts = accounts;
        self
    }

    /// The access token (default: 43 random alphanumerics, about 256 bits, new at every start).
    pub fn token(mut self, token: Secret) -> Self {
        self.token = Some(token);
        self
    }

    /// How long a login started from the console waits for its code (default 10 min).
    pub fn code_wait(mut self, wait: Duration) -> Self {
        self.code_wait = wait;
        self
    }

    /// The largest request head (request line and headers) read: what a browser or a bot sends fits
    /// many times; a connection that sends more is answered `431` and closed, so connections that
    /// never finish their heads hold at most this much each.
    pub const MAX_HEAD_BYTES: usize = 16 * 1024;

    /// How long a connection may take to send a request's headers, and stay idle between requests,
    /// before it is closed (default [`HEADER_TIMEOUT`]). A request whose headers arrived may wait
    /// longer for its answer (the long poll).
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header_timeout = timeout;
        self
    }

    /// How many connections are served at once (default [`MAX_CONNECTIONS`], at least 1); one
    /// beyond is closed as soon as it is accepted.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.limits.max_connections = max.max(1);
        self
    }

    /// The registry `/metrics` serves (default: a new one): share it with the process's
    /// [`OpsLayer`](twofa_ops::layer::OpsLayer) and a proxy to serve all in one place.
    pub fn metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Tells a person through `notifier` when a login (a bot's or the console's own) waits for a
    /// code, and what became of it. Its notices link to the console's Pending page unless it was
    /// given another link (a name the phone reaches the console by).
    pub fn notifier(mut self, notifier: Arc<Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Also serves `/metrics`, `/healthz` and `/readyz`, without the access token, on this
    /// loopback address (for a local Prometheus or health check). Without it they are served
    /// on the console's own address, behind its access token (`Authorization: Bearer`).
    pub fn ops_listen(mut self, addr: SocketAddr) -> Self {
        self.ops_listen = Some(addr);
        self
    }

    /// Binds and serves until the [`Console`] is dropped or stopped.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an address other than loopback without TLS or the explicit opt-in, an
    /// ops address other than loopback, or one that cannot be bound.
    pub async fn start(self) -> Result<Console, Error> {
        if !self.listen.ip().is_loopback() && self.tls.is_none() && !self.allow_remote_plaintext {
            return Err(Error::Config(format!(
                "{} is not a loopback address: serve it with a TLS certificate and key, or allow plain HTTP \
                 explicitly (the access token and the codes would cross the network in clear)",
                self.listen
            )));
        }
        let listener = TcpListener::bind(self.listen)
            .await
            .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", self.listen)))?;
        let addr = listener.local_addr().map_err(|e| Error::Config(format!("cannot read the bound address: {e}")))?;
        let ops_listener = match self.ops_listen {
            Some(ops) => Some(ops::bind(ops).await?),
            None => None,
        };
        let metrics = self.metrics.unwrap_or_default();
        if let Some(notifier) = &self.notifier {
            let scheme = if self.tls.is_some() { "https" } else { "http" };
            notifier.link_pending(format!("{}pending", shown_url(scheme, addr)));
        }
        let app = Arc::new(App {
            keys: access::Keys::new(self.token, self.tls.is_some(), addr),
            registry: Arc::new(Registry::with_ops(Some(Arc::clone(&metrics)), self.notifier)),
            bots: bots::Bots::default(),
            accounts: self.accounts,
            logins: Mutex::default(),
            code_wait: self.code_wait,
            metrics,
        });
        let router = router(Arc::clone(&app));
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let tls = self.tls.map(tokio_rustls::TlsAcceptor::from);
        let (shutdown, stop) = watch::channel(());
        let ops_addr = match ops_listener {
            Some(listener) => {
                let ops_addr =
                    listener.local_addr().map_err(|e| Error::Config(format!("cannot read the ops address: {e}")))?;
                let router = ops::router(Arc::clone(&app), ops_addr.port());
                tokio::spawn(serve::run(listener, None, router, self.limits, stop.clone()));
                Some(ops_addr)
            }
            None => None,
        };
        tokio::spawn(serve::run(listener, tls, router, self.limits, stop));
        Ok(Console { addr, ops_addr, scheme, app, _shutdown: shutdown })
    }
}

fn router(app: Arc<App>) -> Router {
    // Every bot call but the hello is sealed (crate::channel): the layer opens it and seals the answer.
    let sealed = Router::new()
        .route("/api/challenges", post(routes::register))
        .route("/api/challenges/{id}/code", post(routes::code))
        .route("/api/challenges/{id}/outcome", post(routes::outcome))
        .layer(middleware::from_fn_with_state(Arc::clone(&app), bots::sealed));
    Router::new()
        .route("/", get(routes::sessions))
        .route("/pending", get(routes::pending))
        .route("/pending/{id}", post(routes::submit_code))
        .route("/enrolment", get(routes::enrolment))
        .route("/sessions/{profile}/login", post(routes::login))
        .route("/sessions/{profile}/logout", post(routes::logout))
        .route("/static/console.css", get(routes::stylesheet))
        .route("/metrics", get(ops::metrics))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/api/hello", post(bots::hello))
        .merge(sealed)
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::wrong_method)
        .layer(middleware::from_fn_with_state(Arc::clone(&app), access::guard))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(access::headers))
        .with_state(app)
}

/// `scheme://addr/`, an unspecified address (`0.0.0.0`) shown as loopback.
fn shown_url(scheme: &str, addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("{scheme}://{}/", SocketAddr::new(ip, addr.port()))
}

/// A running console; stops when dropped.
#[derive(Debug)]
pub struct Console {
    addr: SocketAddr,
    ops_addr: Option<SocketAddr>,
    scheme: &'static str,
    app: Arc<App>,
    /// Dropped with the console: the server stops accepting and ends its connections gracefully.
    _shutdown: watch::Sender<()>,
}

impl Console {
    /// Settings for a console.
    pub fn builder() -> ConsoleBuilder {
        ConsoleBuilder {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls: None,
            allow_remote_plaintext: false,
            accounts: Arc::new(NoAccounts),
            token: None,
            code_wait: Duration::from_secs(600),
            limits: serve::Limits { header_timeout: HEADER_TIMEOUT, max_connections: MAX_CONNECTIONS },
            metrics: None,
            notifier: None,
            ops_listen: None,
        }
    }

    /// The address of the token-free `/metrics`, `/healthz` and `/readyz`, when
    /// [`ConsoleBuilder::ops_listen`] asked for one.
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.ops_addr
    }

    /// The registry `/metrics` serves.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.app.metrics
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/` (or `https://…`), without the token. An unspecified listen
    /// address (`0.0.0.0`) is shown as loopback.
    pub fn base_url(&self) -> String {
        shown_url(self.scheme, self.addr)
    }

    /// The link to open: [`Console::base_url`] with `?token=…`. It grants full access.
    pub fn access_url(&self) -> Secret {
        Secret::new(format!("{}?token={}", self.base_url(), self.app.keys.token().expose_secret()))
    }

    /// The access token.
    pub fn token(&self) -> &Secret {
        self.app.keys.token()
    }

    /// The key of a bot of `profile` ([`channel::bot_key`](crate::channel::bot_key)): it serves
    /// that profile only, and never travels (the bot proves it knows it).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `profile` is not a valid profile name.
    pub fn bot_key(&self, profile: &str) -> Result<Secret, Error> {
        twofa_core::store::check_profile(profile)?;
        Ok(self.app.keys.bot_key(profile))
    }

    /// The link a bot of `profile` takes (`TWOFA_CONSOLE`): [`Console::base_url`] with
    /// `?profile=…&key=…`. It registers and answers that profile's challenges only.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `profile` is not a valid profile name.
    pub fn bot_url(&self, profile: &str) -> Result<Secret, Error> {
        let key = self.bot_key(profile)?;
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("profile", profile)
            .append_pair("key", key.expose_secret())
            .finish();
        Ok(Secret::new(format!("{}?{query}", self.base_url())))
    }

    /// How many bot sessions the console keeps (each hello makes one; see [`MAX_UNPROVEN`]).
    pub fn bot_sessions(&self) -> usize {
        self.app.bots.count()
    }

    /// The name of the cookie the printed link sets: [`COOKIE`] and the port.
    pub fn cookie_name(&self) -> &str {
        self.app.keys.cookie()
    }

    /// The pending codes and recent events.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.app.registry
    }
}
