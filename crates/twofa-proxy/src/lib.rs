//! A local reverse proxy to one profile's API that adds the session's headers to every request.
//!
//! Any client in any language — the vendor's ETNA samples, ccxt, curl — logs in by changing only
//! its base URL to the one the proxy prints (`http://127.0.0.1:PORT/<access token>/`). The proxy:
//!
//! - adds every header of the [`Session`] the [`Authenticator`] holds (renewed once however many
//!   requests wait, across processes with a shared store), and drops every credential header the
//!   client sent ([`CLIENT_CREDENTIAL_HEADERS`]);
//! - forwards only to the profile's own origin: an absolute-form request to another host and
//!   `CONNECT` are refused, so it is never an open proxy; hop-by-hop headers are stripped;
//! - on an upstream 401 renews once and retries once a request whose body it buffered (at most
//!   [`ProxyBuilder::retry_body_limit`]), else hands the 401 on;
//! - when a renewal needs a person's code, lets requests wait up to [`ProxyBuilder::code_wait`],
//!   then answers 503 with `{"error":"code_needed","where":…}`;
//! - listens on loopback TCP (guarded by the random access token in the path and a `Host` check)
//!   or a `0600` Unix socket; answers `/_twofa/healthz`, `/_twofa/readyz` and `/_twofa/metrics`
//!   (Prometheus text, from a [registry](ProxyBuilder::metrics) it can share with the console);
//!   writes an [audit](ProxyBuilder::audit) line per session taken into use; finishes in-flight
//!   requests on [`RunningProxy::shutdown`];
//! - for the OMS, relays WebSocket upgrades to the gateway ([`ProxyBuilder::oms_gateway`]): its
//!   own socket, logged in with the session, frames relayed with `i`/`n` kept, the client's login
//!   frames answered from the session or refused and never forwarded, every relay bounded in
//!   message size, queued messages, idle and write time; the OMS HTTP gateway (`/AP/*` with
//!   `aptoken`) goes through like any API.
//!
//! Request heads are parsed by hyper (no HTTP parsing here): a request with both `Content-Length`
//! and `Transfer-Encoding` is read as chunked with its length dropped and its connection closed
//! after the answer, so no second request can hide in it; conflicting or malformed lengths are a 400.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sandbox = twofa_sandbox::Sandbox::start().await?;
//! # let flow = twofa_etna::EtnaFlow::builder().base_url(sandbox.etna_base_url())
//! #     .app_key(twofa_sandbox::etna::APP_KEY).username(twofa_sandbox::etna::USER_NO_2FA)
//! #     .password(twofa_sandbox::etna::PASSWORD).build()?;
//! use std::sync::Arc;
//! use twofa_core::Authenticator;
//! use twofa_proxy::Proxy;
//!
//! let auth = Arc::new(Authenticator::builder(Arc::new(flow)).build());
//! let proxy = Proxy::builder(auth, sandbox.etna_base_url()).listen_tcp(([127, 0, 0, 1], 0).into()).await?;
//! // A client that knows nothing of logins: only its base URL changed.
//! let base = proxy.base_url().expose_secret().to_owned();
//! let me = reqwest::get(format!("{base}v1.0/users/me")).await?;
//! assert_eq!(me.status(), 200);
//! proxy.shutdown().await;
//! # Ok(()) }
//! ```

mod body;
mod forward;
mod headers;
mod metrics;
pub mod owner;
mod refusal;
mod ws;

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use http::HeaderName;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
    sync::{mpsc, watch},
    task::JoinHandle,
};
use tracing::{debug, info, warn};
use twofa_core::http::HttpOptions;
pub use twofa_core::{Authenticator, Error, Secret, Session};

use crate::{forward::Shared, metrics::Metrics, ws::WsLimits};
pub use crate::{headers::CLIENT_CREDENTIAL_HEADERS, ws::PLACEHOLDER_SESSION_TOKEN};

/// The path prefix of the proxy's own endpoints; no API of the three backends has a path like it.
pub const OWN_PREFIX: &str = "/_twofa/";

pub use crate::owner::OWNER_HEADER;

/// The namespace of the proxy's entry point, [`Proxy::builder`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Proxy;

impl Proxy {
    /// Settings of a proxy for `auth`'s profile, forwarding to `origin`: the profile's base URL
    /// (e.g. ETNA's `https://host/api/`, the OMS's `https://host/`). The paths under the proxy's
    /// base URL are the paths under `origin`.
    pub fn builder(auth: Arc<Authenticator>, origin: impl Into<String>) -> ProxyBuilder {
        ProxyBuilder {
            auth,
            origin: origin.into(),
            http: HttpOptions::default(),
            retry_body_limit: 1 << 20,
            code_wait: Duration::from_secs(30),
            code_where: None,
            head_timeout: Duration::from_secs(10),
            upstream_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            max_head_bytes: 64 * 1024,
            max_headers: 100,
            extra_credential_headers: Vec::new(),
            token: None,
            owner: None,
            shutdown_grace: Duration::from_secs(30),
            gateway: None,
            ws_limits: WsLimits {
                max_message: twofa_core::http::MAX_BODY_BYTES,
                max_buffered: 64,
                idle: Duration::from_secs(300),
                write: Duration::from_secs(30),
            },
            metrics: None,
            audit: None,
        }
    }
}

/// Settings of a proxy; [`ProxyBuilder::listen_tcp`] or [`ProxyBuilder::listen_unix`] starts it.
pub struct ProxyBuilder {
    auth: Arc<Authenticator>,
    origin: String,
    http: HttpOptions,
    retry_body_limit: usize,
    code_wait: Duration,
    code_where: Option<String>,
    head_timeout: Duration,
    upstream_timeout: Duration,
    idle_timeout: Duration,
    max_head_bytes: usize,
    max_headers: usize,
    extra_credential_headers: Vec<HeaderName>,
    token: Option<Secret>,
    owner: Option<Secret>,
    shutdown_grace: Duration,
    gateway: Option<Arc<twofa_oms::OmsFlow>>,
    ws_limits: WsLimits,
    metrics: Option<Arc<twofa_ops::metrics::Metrics>>,
    audit: Option<Arc<twofa_ops::audit::AuditLog>>,
}

impl fmt::Debug for ProxyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyBuilder")
            .field("profile", &self.auth.profile())
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl ProxyBuilder {
    /// The upstream connection's settings: roots added with
    /// [`HttpOptions::add_root_certificate`], the connect timeout, the insecure-HTTP opt-in. The
    /// same rustls configuration as the providers' (aws-lc-rs, the platform's verifier).
    pub fn http_options(mut self, http: HttpOptions) -> Self {
        self.http = http;
        self
    }

    /// The largest request body kept in memory so that it can be sent again after an upstream 401
    /// and a renewal (default 1 MiB). A larger body, or one of unknown length, streams through and
    /// its 401 goes back to the client.
    pub fn retry_body_limit(mut self, bytes: usize) -> Self {
        self.retry_body_limit = bytes;
        self
    }

    /// How long a request waits for a renewal — one that waits for a person's code — before it
    /// gets a 503 `code_needed` (default 30 s). The renewal goes on meanwhile, so a retry after the
    /// code was given succeeds.
    pub fn code_wait(mut self, wait: Duration) -> Self {
        self.code_wait = wait;
        self
    }

    /// Where a person gives the code (the console's URL, "the proxy's terminal"): the `where` of
    /// the 503 `code_needed` answer. Not secret: it is shown to every client.
    pub fn code_where(mut self, place: impl Into<String>) -> Self {
        self.code_where = Some(place.into());
        self
    }

    /// The time a client has to send a whole request head (default 10 s).
    pub fn head_timeout(mut self, timeout: Duration) -> Self {
        self.head_timeout = timeout;
        self
    }

    /// The time the upstream has to send an answer's head (default 30 s), and to open its
    /// WebSocket.
    pub fn upstream_timeout(mut self, timeout: Duration) -> Self {
        self.upstream_timeout = timeout;
        self
    }

    /// The longest pause inside a body, either way, before the exchange is cut (default 30 s): a
    /// peer that trickles a body holds a connection for this long at most per chunk.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The largest request head a client may send (default 64 KiB; at least 8 KiB), and the most
    /// header lines (default 100). Upstream answers' heads are bounded by the HTTP client (about
    /// 400 KiB and 100 headers).
    pub fn max_head(mut self, bytes: usize, headers: usize) -> Self {
        self.max_head_bytes = bytes.max(8192);
        self.max_headers = headers;
        self
    }

    /// One more client header to drop besides [`CLIENT_CREDENTIAL_HEADERS`] and the session's own.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a name HTTP does not allow.
    pub fn drop_client_header(mut self, name: &str) -> Result<Self, Error> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::InvalidInput("not a valid HTTP header name".into()))?;
        self.extra_credential_headers.push(name);
        Ok(self)
    }

    /// The access token in the base URL (default: 43 random letters and digits, new each start).
    pub fn access_token(mut self, token: Secret) -> Self {
        self.token = Some(token);
        self
    }

    /// The registry the proxy counts in (default: its own): share the console's, or the one the
    /// process's [`OpsLayer`](twofa_ops::layer::OpsLayer) feeds, so one `/metrics` serves
    /// the logins, the console and every proxy of the process.
    pub fn metrics(mut self, metrics: Arc<twofa_ops::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Writes one audit line (actor `proxy`, with the token's fingerprint) for each session the
    /// proxy takes into use.
    pub fn audit(mut self, audit: Arc<twofa_ops::audit::AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// A second secret that lets the proxy's owner — `twofa token` run by the same user — take the
    /// session itself: `GET /_twofa/session` (under the access token on TCP) with the header
    /// [`OWNER_HEADER`] (the owner token's digest, [`owner::request_value`]) answers the session as
    /// a store keeps it (its secrets included), renewed first if needed, with no round trip to the
    /// API while it is fresh, and [`owner::PROOF_HEADER`] proving the proxy holds the owner token.
    /// Without an owner token, or without the header, that path is a bare 404: clients holding
    /// only the base URL never see a credential.
    pub fn owner_token(mut self, owner: Secret) -> Self {
        self.owner = Some(owner);
        self
    }

    /// How long [`RunningProxy::shutdown`] waits for in-flight requests (default 30 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Relays WebSocket upgrades to `flow`'s [gateway](twofa_oms::OmsFlow::gateway_url), logged
    /// in with the session (`flow` is the profile's, the one the authenticator logs in with).
    /// Without it, an upgrade is refused (404 `no_websocket`).
    pub fn oms_gateway(mut self, flow: Arc<twofa_oms::OmsFlow>) -> Self {
        self.gateway = Some(flow);
        self
    }

    /// The relay's memory bounds: the largest message either way (default 1 MiB; a larger one
    /// closes the relay with 1009), and the most messages queued toward each side (default 64;
    /// past it the relay stops reading the side that sends, so TCP pushes back).
    pub fn websocket_limits(mut self, max_message: usize, max_buffered: usize) -> Self {
        self.ws_limits.max_message = max_message.max(1024);
        self.ws_limits.max_buffered = max_buffered.max(1);
        self
    }

    /// The relay's time bounds: no message on a side for `idle` (default 5 min; APEX clients Ping
    /// every few seconds) or one write taking longer than `write` (default 30 s: a peer that
    /// stops reading) ends the relay with 1001.
    pub fn websocket_timeouts(mut self, idle: Duration, write: Duration) -> Self {
        self.ws_limits.idle = idle;
        self.ws_limits.write = write;
        self
    }

    /// Starts the proxy on `addr`, a loopback address (port 0: any free port).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a non-loopback address, a bad origin, or an address that cannot be bound.
    pub async fn listen_tcp(self, addr: SocketAddr) -> Result<RunningProxy, Error> {
        if !addr.ip().is_loopback() {
            return Err(Error::Config(
                "the proxy listens on loopback only (127.0.0.1, [::1]); use a Unix socket to share it otherwise".into(),
            ));
        }
        let listener =
            TcpListener::bind(addr).await.map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
        let local = listener.local_addr().map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
        let token = self.token.clone().unwrap_or_else(random_token);
        let base_url = Secret::new(format!("http://{local}/{}/", token.expose_secret()));
        let (shared, stop) = self.shared(Some((local.port(), token)))?;
        info!(profile = %shared.auth.profile(), addr = %local, "the proxy listens");
        Ok(RunningProxy::start(shared, stop, base_url, Some(local), None, Listener::Tcp(listener)))
    }

    /// Starts the proxy on a Unix socket at `path`, which only this user may open (`0600`): the
    /// socket's permissions guard it, so no access token is asked for. An existing socket at
    /// `path` is replaced; any other file there is an error.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `path` holds something else than a socket, or cannot be bound.
    #[cfg(unix)]
    pub async fn listen_unix(self, path: impl AsRef<Path>) -> Result<RunningProxy, Error> {
        let path = path.as_ref().to_path_buf();
        let listener = bind_private_unix(&path)?;
        let (shared, stop) = self.shared(None)?;
        info!(profile = %shared.auth.profile(), "the proxy listens on a Unix socket");
        Ok(RunningProxy::start(
            shared,
            stop,
            Secret::new("http://localhost/"),
            None,
            Some(path),
            Listener::Unix(listener),
        ))
    }

    fn shared(self, guard: Option<(u16, Secret)>) -> Result<(Arc<Shared>, watch::Sender<bool>), Error> {
        let origin = self.http.base_url(&self.origin)?;
        let http = self.http.build()?;
        let metrics = Metrics::new(self.metrics.unwrap_or_default(), self.auth.profile());
        let (stop, stopping) = watch::channel(false);
        let shared = Arc::new(Shared {
            relays: Arc::new(ws::Relays::new(
                Arc::clone(&self.auth),
                self.gateway,
                self.ws_limits,
                self.upstream_timeout,
                stopping,
            )),
            auth: self.auth,
            origin,
            http,
            guard,
            retry_body_limit: self.retry_body_limit,
            code_wait: self.code_wait,
            code_where: self.code_where,
            head_timeout: self.head_timeout,
            upstream_timeout: self.upstream_timeout,
            idle_timeout: self.idle_timeout,
            max_head_bytes: self.max_head_bytes,
            max_headers: self.max_headers,
            extra_credential_headers: self.extra_credential_headers,
            owner: self.owner,
            shutdown_grace: self.shutdown_grace,
            metrics,
            audit: self.audit,
            last_session: std::sync::atomic::AtomicUsize::new(0),
        });
        Ok((shared, stop))
    }
}

/// A fresh secret for [`ProxyBuilder::access_token`] or [`ProxyBuilder::owner_token`]: 43
/// letters and digits (about 256 bits) from the operating system's generator.
pub fn random_token() -> Secret {
    use rand::{Rng as _, distr::Alphanumeric};
    Secret::new(rand::rng().sample_iter(Alphanumeric).take(43).map(char::from).collect::<String>())
}

/// Binds a socket at `path` that is `0600` from the first moment it can be reached: it is made in
/// a fresh `0700` directory beside `path`, its mode set, and only then renamed into place.
#[cfg(unix)]
fn bind_private_unix(path: &Path) -> Result<tokio::net::UnixListener, Error> {
    use std::os::unix::fs::{DirBuilderExt as _, FileTypeExt as _, PermissionsExt as _};
    let fail = |what: &str, e: std::io::Error| Error::Config(format!("cannot {what} the proxy's Unix socket: {e}"));
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {}
        Ok(_) => return Err(Error::Config("the proxy's Unix socket path holds a file that is not a socket".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail("inspect", e)),
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let staging = parent.join(format!(".twofa-proxy-{}", random_token().expose_secret().get(..12).unwrap_or("x")));
    std::fs::DirBuilder::new().mode(0o700).create(&staging).map_err(|e| fail("prepare", e))?;
    let staged = staging.join("s");
    let result = (|| {
        let listener = std::os::unix::net::UnixListener::bind(&staged).map_err(|e| fail("bind", e))?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600)).map_err(|e| fail("protect", e))?;
        std::fs::rename(&staged, path).map_err(|e| fail("place", e))?;
        listener.set_nonblocking(true).map_err(|e| fail("bind", e))?;
        tokio::net::UnixListener::from_std(listener).map_err(|e| fail("bind", e))
    })();
    let _ = std::fs::remove_file(&staged);
    let _ = std::fs::remove_dir(&staging);
    result
}

enum Listener {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(tokio::net::UnixListener),
}

/// A running proxy: its base URL, its session, its metrics, and its shutdown.
///
/// Dropping it without [`RunningProxy::shutdown`] stops accepting connections at once.
pub struct RunningProxy {
    shared: Arc<Shared>,
    base_url: Secret,
    local_addr: Option<SocketAddr>,
    socket_path: Option<PathBuf>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for RunningProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningProxy")
            .field("profile", &self.shared.auth.profile())
            .field("local_addr", &self.local_addr)
            .field("socket_path", &self.socket_path)
            .finish_non_exhaustive()
    }
}

impl RunningProxy {
    fn start(
        shared: Arc<Shared>,
        stop: watch::Sender<bool>,
        base_url: Secret,
        local_addr: Option<SocketAddr>,
        socket_path: Option<PathBuf>,
        listener: Listener,
    ) -> Self {
        let stopped = stop.subscribe();
        let task = tokio::spawn(accept_loop(Arc::clone(&shared), listener, stopped));
        Self { shared, base_url, local_addr, socket_path, stop, task: Some(task) }
    }

    /// The URL clients use instead of the API's base URL. On TCP it carries the access token
    /// (`http://127.0.0.1:PORT/<token>/`), so it is a secret: hand it only to the clients (their
    /// environment, a `0600` file), never to a log. On a Unix socket it is `http://localhost/`.
    pub fn base_url(&self) -> &Secret {
        &self.base_url
    }

    /// The TCP address the proxy listens on (`None` on a Unix socket).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The Unix socket the proxy listens on (`None` on TCP).
    pub fn socket_path(&self) -> Option<&Path> {
        self.socket_path.as_deref()
    }

    /// The authenticator whose session the proxy adds.
    pub fn authenticator(&self) -> &Arc<Authenticator> {
        &self.shared.auth
    }

    /// The session the proxy uses, renewed first if needed: in-process callers (`twofa token`,
    /// `twofa exec` sharing the process) get it without a network round trip while it is fresh.
    ///
    /// # Errors
    ///
    /// As [`Authenticator::session`].
    pub async fn session(&self) -> Result<Arc<Session>, Error> {
        self.shared.auth.session().await
    }

    /// The metrics as `/_twofa/metrics` serves them (Prometheus text format): the whole shared
    /// registry (see [`ProxyBuilder::metrics`]).
    pub fn metrics(&self) -> String {
        self.shared.metrics.render()
    }

    /// Stops accepting connections, lets in-flight requests finish (up to the
    /// [grace](ProxyBuilder::shutdown_grace)), then returns. Idle keep-alive connections are closed,
    /// and WebSocket relays closed (1001) on both sides.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: Listener, mut stopped: watch::Receiver<bool>) {
    // Every connection task holds a clone; when all are gone, `recv` returns `None`.
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    loop {
        let accepted = tokio::select! {
            _ = stopped.changed() => break,
            accepted = accept(&listener) => accepted,
        };
        match accepted {
            Ok(Accepted::Tcp(stream)) => {
                let _ = stream.set_nodelay(true);
                spawn_connection(&shared, stream, stopped.clone(), alive.clone());
            }
            #[cfg(unix)]
            Ok(Accepted::Unix(stream)) => spawn_connection(&shared, stream, stopped.clone(), alive.clone()),
            Err(e) => {
                // Out of file descriptors and the like: wait a little instead of spinning.
                warn!(error = %e, "the proxy could not accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(alive);
    let finished = async {
        let _ = all_done.recv().await;
        shared.relays.all_closed().await;
    };
    if tokio::time::timeout(shared.shutdown_grace, finished).await.is_err() {
        warn!("the proxy's grace period ended with requests still in flight");
    }
    debug!("the proxy stopped");
}

enum Accepted {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
}

async fn accept(listener: &Listener) -> std::io::Result<Accepted> {
    match listener {
        Listener::Tcp(l) => Ok(Accepted::Tcp(l.accept().await?.0)),
        #[cfg(unix)]
        Listener::Unix(l) => Ok(Accepted::Unix(l.accept().await?.0)),
    }
}

fn spawn_connection<S>(shared: &Arc<Shared>, stream: S, mut stopped: watch::Receiver<bool>, alive: mpsc::Sender<()>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let _alive = alive;
        let service = {
            let shared = Arc::clone(&shared);
            hyper::service::service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, std::convert::Infallible>(shared.handle(request).await) }
            })
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(shared.head_timeout)
            .max_buf_size(shared.max_head_bytes)
            .max_headers(shared.max_headers)
            .keep_alive(true);
        let connection = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
        tokio::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            _ = stopped.changed() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(e) = result {
            debug!(error = %e, "a client connection ended with an error");
        }
    });
}
