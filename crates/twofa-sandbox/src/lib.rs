//! A stateful local simulator of the login APIs twofa speaks: ETNA Trader `/token`, the exchange
//! OMS (AlphaPoint APEX, WebSocket and HTTP gateways) and NCR Aloha Online Ordering
//! `v1/Authenticate/2FA`.
//!
//! # The rule: the documents, not the client
//!
//! - The sandbox answers as the vendor documents say (what `docs/protocols/*.md` tags as
//!   documented or observed in public clients), byte for byte where they print a body.
//! - Where the documents are silent or disagree, it offers each plausible reading as a knob (for
//!   example both spellings of a field, both types of a value), and the conformance suite runs the
//!   client against every variant.
//! - It never copies a guess from the client: a behaviour the client expects but no document shows
//!   is not a reason to answer that way.
//! - It must be able to reach every documented state — each documented kind of user (with a
//!   second factor, not yet enrolled, locked, …) exists as a seeded account.
//!
//! The OMS part's behaviours and knobs, each naming the part of `docs/protocols/oms.md` it
//! follows, are listed in [`oms`] and in `docs/providers/oms.md`.
//!
//! It runs in-process on loopback, speaks the protocols as the vendor documents describe them,
//! delivers codes to an [`Outbox`] that tests and demos read, and exposes knobs (clock, rate
//! limits, ticket lifetimes) and counters (connections, requests per endpoint). No network, no
//! Docker. It depends on no twofa crate, so it checks the providers from the outside.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
//! let sandbox = twofa_sandbox::Sandbox::start().await?;
//! let url = sandbox.etna_base_url(); // http://127.0.0.1:PORT/api
//! assert!(url.starts_with("http://127.0.0.1:"));
//! # Ok(()) }
//! ```

mod clock;
pub mod etna;
pub mod oms;
pub mod oms_api_key;
pub mod onlineordering;
mod outbox;
mod stats;
mod totp;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, serve::ListenerExt as _};
use tokio::{net::TcpListener, sync::oneshot};

pub use clock::SandboxClock;
pub use outbox::{Delivery, Outbox};
pub use stats::Stats;

/// Settings of a sandbox; start one with [`SandboxBuilder::start`].
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    port: u16,
    ticket_ttl: Duration,
    max_code_attempts: u32,
    etna_token_lifetime: Duration,
    etna_rate_limit: Option<u32>,
    oms_idle_timeout: Duration,
    oms_totp_period: Duration,
    oms_variant: oms::OmsVariant,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        Self {
            port: 0,
            ticket_ttl: Duration::from_secs(300),
            max_code_attempts: 3,
            etna_token_lifetime: Duration::from_secs(24 * 3600),
            etna_rate_limit: None,
            oms_idle_timeout: Duration::from_secs(3600),
            oms_totp_period: Duration::from_secs(30),
            oms_variant: oms::OmsVariant::default(),
        }
    }
}

impl SandboxBuilder {
    /// The loopback port to listen on (default: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// How long a 2FA challenge accepts a code (default 5 min).
    pub fn ticket_ttl(mut self, ttl: Duration) -> Self {
        self.ticket_ttl = ttl;
        self
    }

    /// Wrong codes allowed per challenge before it is void (default 3).
    pub fn max_code_attempts(mut self, attempts: u32) -> Self {
        self.max_code_attempts = attempts;
        self
    }

    /// Lifetime of an ETNA access token (default 24 h).
    pub fn etna_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.etna_token_lifetime = lifetime;
        self
    }

    /// Limits ETNA `/token` to `per_minute` calls, answering 429 with `Retry-After` beyond (default: off).
    pub fn etna_rate_limit(mut self, per_minute: Option<u32>) -> Self {
        self.etna_rate_limit = per_minute;
        self
    }

    /// How long an OMS session lives without activity (default 1 h).
    pub fn oms_idle_timeout(mut self, idle: Duration) -> Self {
        self.oms_idle_timeout = idle;
        self
    }

    /// The TOTP time step of the OMS authenticator users (default 30 s, RFC 6238's and the
    /// authenticator apps'). A shorter step lets tests log in back to back without waiting 30 s for
    /// a fresh code; the enrolment URI then carries `period=`. Whole seconds, at least one.
    pub fn oms_totp_period(mut self, period: Duration) -> Self {
        self.oms_totp_period = period;
        self
    }

    /// The reading of the OMS documents to answer with where they are silent (default:
    /// [`oms::OmsVariant::default`]); changeable at run time with [`Sandbox::set_oms_variant`].
    pub fn oms_variant(mut self, variant: oms::OmsVariant) -> Self {
        self.oms_variant = variant;
        self
    }

    /// Binds `127.0.0.1` and serves until the [`Sandbox`] is dropped.
    pub async fn start(self) -> std::io::Result<Sandbox> {
        // A deep accept queue: the default of 128 makes hundreds of simultaneous connects wait out a
        // one-second SYN retransmit, which load tests would misread as the client's latency.
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], self.port)))?;
        let listener: TcpListener = socket.listen(4096)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            clock: SandboxClock::default(),
            outbox: Outbox::default(),
            stats: Arc::new(Stats::default()),
            etna: etna::EtnaState::new(&self),
            online: onlineordering::OnlineState::new(&self),
            oms: oms::OmsState::new(&self),
        });
        let app = Router::new()
            .route("/_sandbox/outbox/latest", axum::routing::get(outbox::latest_code))
            .merge(etna::router())
            .merge(onlineordering::router())
            .merge(oms::router())
            .with_state(Arc::clone(&shared));
        let stats = Arc::clone(&shared.stats);
        let listener = listener.tap_io(move |_| stats.connection_opened());
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!("sandbox server stopped: {e}");
            }
        });
        Ok(Sandbox { addr, shared, _shutdown: shutdown })
    }
}

/// State every simulated backend shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) clock: SandboxClock,
    pub(crate) outbox: Outbox,
    pub(crate) stats: Arc<Stats>,
    pub(crate) etna: etna::EtnaState,
    pub(crate) online: onlineordering::OnlineState,
    pub(crate) oms: oms::OmsState,
}

/// Locks a mutex, taking the data even if a panicking handler poisoned it.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A request header as text, if present and visible ASCII.
pub(crate) fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A random 40-character alphanumeric token.
pub(crate) fn random_token() -> String {
    use rand::{Rng as _, distr::Alphanumeric};
    rand::rng().sample_iter(Alphanumeric).take(40).map(char::from).collect()
}

/// A running sandbox; stops when dropped.
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _shutdown: oneshot::Sender<()>,
}

impl Sandbox {
    /// Starts a sandbox with default settings on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        Self::builder().start().await
    }

    /// Settings for a sandbox.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The ETNA API base, ending in `/api` as ETNA's do.
    pub fn etna_base_url(&self) -> String {
        format!("{}/api", self.base_url())
    }

    /// The Online Ordering API root (the part before `v1/`).
    pub fn onlineordering_base_url(&self) -> String {
        self.base_url()
    }

    /// Locks or unlocks an Online Ordering customer (logins and refreshes then answer 403).
    pub fn set_customer_locked(&self, email: &str, locked: bool) {
        self.shared.online.set_locked(email, locked);
    }

    /// The OMS WebSocket gateway, `ws://127.0.0.1:PORT/WSGateway` (any case, with or without a
    /// trailing slash, is served).
    pub fn oms_ws_url(&self) -> String {
        format!("ws://{}/WSGateway", self.addr)
    }

    /// The OMS HTTP gateway root (calls go under `/AP/`).
    pub fn oms_http_url(&self) -> String {
        self.base_url()
    }

    /// Sends `frames` event frames and foreign replies before every OMS WebSocket reply (default 0).
    pub fn set_oms_event_burst(&self, frames: u32) {
        self.shared.oms.set_event_burst(frames);
    }

    /// Answers with another reading of the OMS documents from now on.
    pub fn set_oms_variant(&self, variant: oms::OmsVariant) {
        self.shared.oms.set_variant(variant);
    }

    /// Turns every OMS WebSocket reply into an `m:5` error frame (code 102, "Server Error").
    pub fn set_oms_error_frames(&self, on: bool) {
        self.shared.oms.set_error_frames(on);
    }

    /// Accepts an OMS API-key login's nonce more than once (default: a replay is refused, see
    /// [`oms_api_key`]).
    pub fn set_oms_accept_nonce_replay(&self, on: bool) {
        self.shared.oms.api_keys.set_accept_replay(on);
    }

    /// Where delivered codes land; also readable over HTTP at
    /// `GET /_sandbox/outbox/latest?recipient=NAME` (the code as text, or 404).
    pub fn outbox(&self) -> Outbox {
        self.shared.outbox.clone()
    }

    /// Counters of connections and requests.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// The sandbox's clock; advance it to expire tickets and tokens without sleeping.
    pub fn clock(&self) -> &SandboxClock {
        &self.shared.clock
    }

    /// How the ETNA PIN step is spelled from now on (default [`etna::PinStep::Secutity`]).
    pub fn set_etna_pin_step(&self, spelling: etna::PinStep) {
        self.shared.etna.set_pin_step(spelling);
    }

    /// How ETNA answers a wrong PIN from now on (default [`etna::WrongPin::Failed`]).
    pub fn set_etna_wrong_pin(&self, answer: etna::WrongPin) {
        self.shared.etna.set_wrong_pin(answer);
    }

    /// Which field of ETNA's password-expired answer holds `BaseAuthentication` (default
    /// [`etna::ExpiredField::State`]).
    pub fn set_etna_expired_field(&self, field: etna::ExpiredField) {
        self.shared.etna.set_expired_field(field);
    }

    /// Changes the ETNA `/token` rate limit at run time (`None`: off).
    pub fn set_etna_rate_limit(&self, per_minute: Option<u32>) {
        self.shared.etna.set_rate_limit(per_minute);
    }

    /// What the Online Ordering guest login answers (default: an emailed code first).
    pub fn set_onlineordering_guest_login(&self, answer: onlineordering::GuestLogin) {
        self.shared.online.set_guest_login(answer);
    }

    /// Where Online Ordering customer calls expect the customer token (default: Bearer, with the
    /// integrator in `x-api-custom-auth`).
    pub fn set_onlineordering_token_placement(&self, placement: onlineordering::TokenPlacement) {
        self.shared.online.set_token_placement(placement);
    }
}
