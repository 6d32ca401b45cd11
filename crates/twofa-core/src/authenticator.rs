//! The session manager: a token that stays valid, renewed once however many tasks ask, persisted,
//! and attached to every request.
//!
//! [`Authenticator::session`] answers from memory while the session is fresh (a lock-free
//! `arc-swap` load and a clock read). When it is not — expired within the refresh margin, idle too
//! long, invalidated by a 401, or never loaded — exactly one renewal runs and every caller waiting
//! meanwhile gets its result, success or failure: a failed renewal is never retried behind the
//! callers' backs, so a person is never asked for two codes.
//!
//! Renewal order: the stored session (first call only, and only one of this provider issued by
//! the flow's [origin](crate::Origin): another endpoint's or account's is treated as absent, so
//! its tokens never reach this flow's endpoint); then `resume` (refresh token, OMS session
//! token); then a full [`login`](crate::login) with the code source — but only when resume is
//! unsupported or definitively refused. A network error during resume is returned as is (no
//! prompt in a headless service because the network blinked), and a still-valid token is kept.
//!
//! [`Authenticator::login`] skips the first two and always logs in afresh; [`Authenticator::start_login`]
//! and [`Authenticator::finish_login`] split such a login in two, for a code that arrives after the
//! request (or the process) that started it has ended. The flow's password source is asked only by
//! a login, never by a resume.
//!
//! A failed renewal is remembered for a [`Cooldown`]: callers meanwhile get the same error without
//! a request, so a wrong password is tried once, not once per caller. A renewal's calls to the
//! provider (resume, then login) share one [deadline](crate::deadline), and every renewal, resume,
//! login and logout runs in a `tracing` span that records its outcome.

use std::{
    fmt,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::Duration,
};

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use reqwest::RequestBuilder;
use time::OffsetDateTime;
use tokio::sync::OnceCell;
use tracing::{Instrument as _, debug, info, warn};

use crate::{
    AccessToken, Challenge, Clock, CodeRequest, CodeSource, Cooldown, Error, LoginOptions, OneTimeCode, Session, Step,
    SystemClock, TwoFactorFlow,
    deadline::Budget,
    http::transport_error,
    login::{finish_within, login_within},
    store::{MemoryStore, RenewalLease, SessionStore, check_profile},
    telemetry::{self, Operation},
};

/// The session in use, and when it last did something useful.
struct Current {
    session: Arc<Session>,
    /// When the session stops being fresh (expiry less the margin), in Unix nanoseconds, so the
    /// hot path compares two integers instead of doing date arithmetic.
    fresh_until_ns: i64,
    last_used_ns: AtomicI64,
    stale: AtomicBool,
}

impl Current {
    /// `early`: the margin, plus this session's share of the jitter.
    fn new(session: Arc<Session>, early: Duration, last_used: OffsetDateTime) -> Self {
        let fresh_until_ns = session.expires_at().map_or(i64::MAX, |at| nanos(at - early));
        Self { session, fresh_until_ns, last_used_ns: AtomicI64::new(nanos(last_used)), stale: AtomicBool::new(false) }
    }
}

type Flight = OnceCell<Result<Arc<Session>, Error>>;

/// A forced login's body, as [`Authenticator::forced`] runs it.
type LoginFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(Arc<Session>, &'static str), Error>> + Send + 'a>>;

/// The renewal in flight, and the last failure while it cools down.
#[derive(Default)]
struct Slot {
    flight: Option<Arc<Flight>>,
    failure: Option<Failure>,
}

struct Failure {
    error: Error,
    /// Unix nanoseconds, on the authenticator's clock.
    until_ns: i64,
}

struct Inner {
    flow: Arc<dyn TwoFactorFlow>,
    codes: Option<Arc<dyn CodeSource>>,
    store: Arc<dyn SessionStore>,
    profile: String,
    margin: Duration,
    jitter: Duration,
    login: LoginOptions,
    cooldown: Cooldown,
    clock: Arc<dyn Clock>,
    lease: Duration,
    resume_stored_idle: bool,
    /// Why the settings are unusable (an invalid profile name given to [`AuthenticatorBuilder::build`]):
    /// every operation returns it without touching the store.
    refused: Option<Error>,
    current: ArcSwapOption<Current>,
    slot: Mutex<Slot>,
    store_checked: AtomicBool,
}

/// Hands out valid sessions for one profile; cheap to clone, shared by every task.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let sandbox = twofa_sandbox::Sandbox::start().await?;
/// # let flow = twofa_etna::EtnaFlow::builder().base_url(sandbox.etna_base_url())
/// #     .app_key(twofa_sandbox::etna::APP_KEY).username(twofa_sandbox::etna::USER_NO_2FA)
/// #     .password(twofa_sandbox::etna::PASSWORD).build()?;
/// # let url = format!("{}/v1.0/users/me", sandbox.etna_base_url());
/// # let dir = tempfile::tempdir()?;
/// use std::sync::Arc;
/// use twofa_core::{Authenticator, code_source::Prompt, store::FileStore};
///
/// let auth = Authenticator::builder(Arc::new(flow))
///     .code_source(Arc::new(Prompt::new())) // asked only when a new login needs a code
///     .store(Arc::new(FileStore::new(dir.path()))) // survives restarts
///     .build();
/// let client = reqwest::Client::new();
/// let response = auth.send_with_retry_on_401(|| client.get(&url)).await?;
/// assert_eq!(response.status(), 200);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

/// Settings of an [`Authenticator`].
pub struct AuthenticatorBuilder {
    flow: Arc<dyn TwoFactorFlow>,
    codes: Option<Arc<dyn CodeSource>>,
    store: Arc<dyn SessionStore>,
    profile: Option<String>,
    margin: Duration,
    jitter: Duration,
    login: LoginOptions,
    cooldown: Cooldown,
    clock: Arc<dyn Clock>,
    lease: Duration,
    resume_stored_idle: bool,
}

impl AuthenticatorBuilder {
    /// Where codes come from when a full login is needed. Without one, an account that needs a
    /// second factor fails with [`Error::CodeSource`] instead of prompting anyone.
    pub fn code_source(mut self, codes: Arc<dyn CodeSource>) -> Self {
        self.codes = Some(codes);
        self
    }

    /// Where the session persists (default: memory only).
    pub fn store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.store = store;
        self
    }

    /// The profile name in the store (default: the provider's name): letters, digits, `.`, `_`,
    /// `-`, not starting with `.` (see [`check_profile`]); [`AuthenticatorBuilder::try_build`]
    /// refuses any other.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// How long before expiry (or idle timeout) a session counts as stale (default 60 s).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// Renews each session a random amount earlier, up to `jitter` more than the margin (default
    /// zero), so a fleet that logged in together does not renew in the same second. The jitter
    /// never exceeds a quarter of the session's lifetime, so short sessions stay usable; it is
    /// drawn once per session, so the hot path pays nothing for it.
    pub fn refresh_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Code attempts, restarts and the deadline for full logins (this replaces a
    /// [`AuthenticatorBuilder::deadline`] set before).
    pub fn login_options(mut self, options: LoginOptions) -> Self {
        self.login = options;
        self
    }

    /// The renewal timeout: the network time one renewal (resume, then login if needed) or one
    /// logout may take, retries included, before it ends with a timeout error (default 60 s; see
    /// [`deadline`](crate::deadline)). Waiting for a person to type a code, and for another process
    /// holding the renewal lease, does not count. Sets [`LoginOptions::deadline`].
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.login.deadline = deadline;
        self
    }

    /// How long a failed renewal is answered from memory before another is tried (default
    /// [`Cooldown::default`]: 30 s after rejected credentials or codes, 1 s after a transport error).
    pub fn cooldown(mut self, cooldown: Cooldown) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The clock that decides freshness (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long a renewal may hold a shared store's renewal lock, and how long another process
    /// waits for it (default 5 min: long enough for a person to type a code). A holder that dies
    /// frees the lock when this runs out.
    pub fn renewal_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Resumes a stored session that has an idle timeout before its first use (default false), so
    /// its idle window counts from now, instead of trusting it for what is left of the window
    /// counted from its issue. For a program that hands the token on (the `twofa token` command):
    /// the next user of the token gets a whole idle window. A provider without a resume call (the
    /// OMS over HTTP) keeps the stored session while it is inside that window.
    pub fn resume_stored_idle_sessions(mut self, resume: bool) -> Self {
        self.resume_stored_idle = resume;
        self
    }

    /// The authenticator, or [`Error::InvalidInput`] when the profile name is not one a store
    /// accepts (e.g. `../escape`). Nothing is sent until a session is asked for.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an invalid profile name.
    pub fn try_build(self) -> Result<Authenticator, Error> {
        let auth = self.build();
        match &auth.inner.refused {
            Some(e) => Err(e.clone()),
            None => Ok(auth),
        }
    }

    /// The authenticator. Nothing is sent until a session is asked for.
    ///
    /// Infallible for the sake of the many callers with a fixed or default profile name: an invalid
    /// name yields an authenticator whose every call fails with [`Error::InvalidInput`] before the
    /// store is touched. Use [`AuthenticatorBuilder::try_build`] to get that error now.
    pub fn build(self) -> Authenticator {
        let profile = self.profile.unwrap_or_else(|| self.flow.provider().to_owned());
        let refused = check_profile(&profile).err();
        Authenticator {
            inner: Arc::new(Inner {
                flow: self.flow,
                codes: self.codes,
                store: self.store,
                profile,
                margin: self.margin,
                jitter: self.jitter,
                login: self.login,
                cooldown: self.cooldown,
                clock: self.clock,
                lease: self.lease,
                resume_stored_idle: self.resume_stored_idle,
                refused,
                current: ArcSwapOption::empty(),
                slot: Mutex::new(Slot::default()),
                store_checked: AtomicBool::new(false),
            }),
        }
    }
}

/// A stored session's last activity is unknown: count it as idle since its issue.
fn last_use(session: &Session, now: OffsetDateTime) -> OffsetDateTime {
    if session.idle_timeout().is_some() { session.issued_at().min(now) } else { now }
}

fn nanos(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

/// The code source used when none is configured: it refuses, so nobody is prompted unexpectedly.
#[derive(Debug)]
struct NoCodeSource;

#[async_trait]
impl CodeSource for NoCodeSource {
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, Error> {
        Err(Error::CodeSource(format!(
            "{} asks for a second factor ({}) and this authenticator has no code source",
            request.provider, request.method
        )))
    }
}

impl Authenticator {
    /// Settings for an authenticator over `flow`.
    pub fn builder(flow: Arc<dyn TwoFactorFlow>) -> AuthenticatorBuilder {
        AuthenticatorBuilder {
            flow,
            codes: None,
            store: Arc::new(MemoryStore::new()),
            profile: None,
            margin: Duration::from_secs(60),
            jitter: Duration::ZERO,
            login: LoginOptions::default(),
            cooldown: Cooldown::default(),
            clock: Arc::new(SystemClock),
            lease: Duration::from_secs(300),
            resume_stored_idle: false,
        }
    }

    /// The profile this authenticator manages.
    pub fn profile(&self) -> &str {
        &self.inner.profile
    }

    /// A valid access token, renewing first if needed.
    pub async fn token(&self) -> Result<AccessToken, Error> {
        Ok(self.session().await?.access_token().clone())
    }

    /// A valid session, renewing first if needed (see the module docs for the order).
    pub async fn session(&self) -> Result<Arc<Session>, Error> {
        match self.fresh() {
            Some(session) => Ok(session),
            None => self.renew_once().await,
        }
    }

    /// The session in memory, fresh or not, without renewing.
    pub fn peek(&self) -> Option<Arc<Session>> {
        self.inner.current.load().as_ref().map(|c| Arc::clone(&c.session))
    }

    /// Adds the session's headers to a request.
    pub async fn authorize(&self, request: RequestBuilder) -> Result<RequestBuilder, Error> {
        self.session().await?.authorize(request)
    }

    /// Records activity, for sessions with an idle timeout: call it after a successful API call
    /// made without [`Authenticator::send_with_retry_on_401`] (which calls it itself).
    pub fn touch(&self) {
        if let Some(current) = self.inner.current.load().as_ref() {
            current.last_used_ns.store(self.inner.clock.unix_nanos(), Ordering::Relaxed);
        }
    }

    /// Marks `session` as refused by the API (a 401), so the next call renews. A session other
    /// than the current one is ignored: a late 401 never throws away a newer session.
    pub fn invalidate(&self, session: &Arc<Session>) {
        if let Some(current) = self.inner.current.load().as_ref()
            && Arc::ptr_eq(&current.session, session)
        {
            current.stale.store(true, Ordering::Relaxed);
        }
    }

    /// Sends the request built by `make` with the session's headers; on a 401, invalidates the
    /// session, renews, and sends once more — only once, never in a loop.
    pub async fn send_with_retry_on_401(&self, make: impl Fn() -> RequestBuilder) -> Result<reqwest::Response, Error> {
        let session = self.session().await?;
        let response = session.authorize(make())?.send().await.map_err(transport_error)?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            self.touch_if_ok(&response);
            return Ok(response);
        }
        info!(profile = %self.inner.profile, "the API answered 401; renewing and retrying once");
        self.invalidate(&session);
        let response = self.session().await?.authorize(make())?.send().await.map_err(transport_error)?;
        self.touch_if_ok(&response);
        Ok(response)
    }

    fn touch_if_ok(&self, response: &reqwest::Response) {
        if response.status().is_success() {
            self.touch();
        }
    }

    /// Ends the session at the provider (when it has a logout) and in the store. The local
    /// session ends even when the provider's logout fails; that failure is returned.
    pub async fn logout(&self) -> Result<(), Error> {
        self.usable()?;
        let inner = &self.inner;
        inner.store_checked.store(true, Ordering::Relaxed);
        let session = match inner.current.swap(None) {
            Some(current) => Some(Arc::clone(&current.session)),
            // Only a session this flow issued goes to its logout; another's is just forgotten.
            None => self.stored().await,
        };
        let remote = match session {
            Some(session) => {
                let span = self.span(Operation::Logout);
                let ended = crate::deadline::within(inner.login.deadline, inner.flow.logout(&session));
                match ended.instrument(span.clone()).await {
                    Err(Error::Unsupported { .. }) => {
                        telemetry::record(&span, Ok("unsupported"));
                        Ok(())
                    }
                    other => telemetry::finish(&span, other),
                }
            }
            None => Ok(()),
        };
        inner.store.delete(&inner.profile).await?;
        remote
    }

    /// Logs in afresh, whatever the current or stored session: no resume, no adopted session. The
    /// code source is asked as in a renewal; callers of [`Authenticator::session`] meanwhile wait
    /// for this login. Unlike a renewal, a session that cannot be saved is an error here: the caller
    /// asked for a login to keep (it stays in memory all the same).
    ///
    /// # Errors
    ///
    /// The login's error, or the store's.
    pub async fn login(&self) -> Result<Arc<Session>, Error> {
        self.forced(|auth| Box::pin(auth.login_holding_lease())).await
    }

    /// Starts a fresh login and stops at its first challenge, for a login finished later — by
    /// another request or another process — with [`Authenticator::finish_login`]. A provider that
    /// asks for no second factor answers with a session, installed and saved as
    /// [`Authenticator::login`] does.
    ///
    /// # Errors
    ///
    /// The provider's error, or the store's.
    pub async fn start_login(&self) -> Result<Step, Error> {
        self.usable()?;
        let inner = &self.inner;
        let span = self.span(Operation::Login);
        let started = Budget::new(inner.login.deadline)
            .run_for(inner.flow.as_ref(), inner.flow.start())
            .instrument(span.clone())
            .await;
        match started {
            Ok(Step::Authenticated(session)) => {
                telemetry::record(&span, Ok("logged_in"));
                let installed = self.install(session, inner.clock.now()).await?;
                Ok(Step::Authenticated(Session::clone(&installed)))
            }
            Ok(Step::Challenge(challenge)) => {
                telemetry::record(&span, Ok("challenged"));
                Ok(Step::Challenge(challenge))
            }
            Err(e) => telemetry::finish(&span, Err(e)),
        }
    }

    /// Answers `challenge` (from [`Authenticator::start_login`], possibly in another process) and
    /// any challenge after it with the code source, then installs and saves the session as
    /// [`Authenticator::login`] does.
    ///
    /// # Errors
    ///
    /// As [`login_from`](crate::login_from), or the store's.
    pub async fn finish_login(&self, challenge: Challenge) -> Result<Arc<Session>, Error> {
        self.forced(move |auth| {
            Box::pin(async move {
                let inner = &auth.inner;
                let now = inner.clock.now();
                let mut budget = Budget::new(inner.login.deadline);
                let session =
                    finish_within(inner.flow.as_ref(), challenge, auth.codes(), &inner.login, &mut budget).await?;
                Ok((auth.install(session, now).await?, "logged_in"))
            })
        })
        .await
    }

    /// Runs `login` as the renewal every caller joins, under the renewal lease, after any renewal
    /// already in flight.
    async fn forced<F>(&self, login: F) -> Result<Arc<Session>, Error>
    where
        F: for<'a> FnOnce(&'a Self) -> LoginFuture<'a>,
    {
        self.usable()?;
        loop {
            let (flight, mine) = {
                let mut slot = self.slot();
                match &slot.flight {
                    Some(flight) => (Arc::clone(flight), false),
                    None => {
                        slot.failure = None;
                        let flight = Arc::new(Flight::new());
                        slot.flight = Some(Arc::clone(&flight));
                        (flight, true)
                    }
                }
            };
            if !mine {
                // A renewal is under way: let it end (this login replaces its session anyway).
                let _ = flight.get_or_init(|| self.renew_and_settle(&flight)).await;
                continue;
            }
            let run = async {
                let span = self.span(Operation::Renewal);
                let result = self.holding_lease(login).instrument(span.clone()).await;
                telemetry::record(&span, result.as_ref().map(|(_, how)| *how));
                self.settle(&flight, result.map(|(session, _)| session))
            };
            return flight.get_or_init(|| run).await.clone();
        }
    }

    /// `login` with the renewal lease held (never adopting another process's session).
    async fn holding_lease<F>(&self, login: F) -> Result<(Arc<Session>, &'static str), Error>
    where
        F: for<'a> FnOnce(&'a Self) -> LoginFuture<'a>,
    {
        let lease = self.lease(false).await?;
        let result = login(self).await;
        if let Some(lease) = lease {
            self.unlock(lease).await;
        }
        result
    }

    async fn login_holding_lease(&self) -> Result<(Arc<Session>, &'static str), Error> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let mut budget = Budget::new(inner.login.deadline);
        let session = login_within(inner.flow.as_ref(), self.codes(), &inner.login, &mut budget).await?;
        Ok((self.install(session, now).await?, "logged_in"))
    }

    fn codes(&self) -> &dyn CodeSource {
        match &self.inner.codes {
            Some(codes) => codes.as_ref(),
            None => &NoCodeSource,
        }
    }

    /// The error of unusable settings, if any.
    fn usable(&self) -> Result<(), Error> {
        match &self.inner.refused {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// The session in memory if it is fresh — what [`Authenticator::session`] answers without
    /// renewing: no lock, no allocation beyond an `Arc` clone, and no renewal started when it is
    /// not (a server that answers every request this way spawns a renewal only when it must).
    pub fn fresh(&self) -> Option<Arc<Session>> {
        let guard = self.inner.current.load();
        let current = guard.as_ref()?;
        self.is_fresh(current, self.inner.clock.unix_nanos()).then(|| Arc::clone(&current.session))
    }

    /// `now` in Unix nanoseconds.
    fn is_fresh(&self, current: &Current, now: i64) -> bool {
        if current.stale.load(Ordering::Relaxed) || now >= current.fresh_until_ns {
            return false;
        }
        match current.session.idle_timeout() {
            None => true,
            Some(idle) => {
                let idle_ns = i64::try_from((idle.saturating_sub(self.inner.margin)).as_nanos()).unwrap_or(i64::MAX);
                now.saturating_sub(current.last_used_ns.load(Ordering::Relaxed)) < idle_ns
            }
        }
    }

    /// Joins the renewal in flight, or starts one; every joiner gets the same result. Within the
    /// cool-down of a failed renewal, its error is returned without starting another.
    async fn renew_once(&self) -> Result<Arc<Session>, Error> {
        let flight = {
            let mut slot = self.slot();
            if let Some(failure) = &slot.failure {
                if self.inner.clock.unix_nanos() < failure.until_ns {
                    debug!(profile = %self.inner.profile, error = %failure.error, "the last renewal failed moments ago; returning its error");
                    return Err(failure.error.clone());
                }
                slot.failure = None;
            }
            Arc::clone(slot.flight.get_or_insert_with(|| Arc::new(Flight::new())))
        };
        flight.get_or_init(|| self.renew_and_settle(&flight)).await.clone()
    }

    /// Renews, then — before any joiner sees the result — frees the slot and records a failure,
    /// so a caller arriving a moment later gets the cached failure instead of a new login.
    async fn renew_and_settle(&self, flight: &Arc<Flight>) -> Result<Arc<Session>, Error> {
        let result = self.renew().await;
        self.settle(flight, result)
    }

    /// Frees the slot of `flight` and records a failure for the cool-down; returns `result`.
    fn settle(&self, flight: &Arc<Flight>, result: Result<Arc<Session>, Error>) -> Result<Arc<Session>, Error> {
        let mut slot = self.slot();
        if slot.flight.as_ref().is_some_and(|f| Arc::ptr_eq(f, flight)) {
            slot.flight = None;
        }
        if let Err(error) = &result {
            let wait = self.inner.cooldown.for_error(error);
            if !wait.is_zero() {
                let until_ns =
                    self.inner.clock.unix_nanos().saturating_add(i64::try_from(wait.as_nanos()).unwrap_or(i64::MAX));
                slot.failure = Some(Failure { error: error.clone(), until_ns });
            }
        }
        result
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.inner.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn span(&self, operation: Operation) -> tracing::Span {
        telemetry::span(operation, self.inner.flow.provider(), Some(&self.inner.profile))
    }

    async fn renew(&self) -> Result<Arc<Session>, Error> {
        // A caller that saw a stale session may arrive just after a renewal finished.
        if let Some(session) = self.fresh() {
            return Ok(session);
        }
        let span = self.span(Operation::Renewal);
        let result = self.renew_traced().instrument(span.clone()).await;
        telemetry::record(&span, result.as_ref().map(|(_, how)| *how));
        result.map(|(session, _)| session)
    }

    /// The renewed session, and how it was obtained (the span's outcome).
    async fn renew_traced(&self) -> Result<(Arc<Session>, &'static str), Error> {
        self.usable()?;
        let Some(lease) = self.lease(true).await? else {
            // Another process renewed while we waited, and we adopted its session.
            return self
                .fresh()
                .map(|session| (session, "adopted"))
                .ok_or_else(|| Error::Store { path: None, detail: "the adopted session is stale".into() });
        };
        let result = self.renew_holding_lease().await;
        self.unlock(lease).await;
        result
    }

    async fn unlock(&self, lease: RenewalLease) {
        if let Err(e) = self.inner.store.unlock_renewal(&self.inner.profile, lease).await {
            warn!(profile = %self.inner.profile, error = %e, "cannot release the renewal lock; it will expire");
        }
    }

    /// The renewal lease of a shared store, waiting (with backoff) while another process holds
    /// it. `None` when, meanwhile, that process saved a fresh session, now adopted (only if `adopt`).
    async fn lease(&self, adopt: bool) -> Result<Option<RenewalLease>, Error> {
        let inner = &self.inner;
        let give_up = tokio::time::Instant::now() + inner.lease;
        let backoff =
            crate::retry::Backoff { attempts: u32::MAX, base: Duration::from_millis(20), max: Duration::from_secs(1) };
        for waited in 1.. {
            if let Some(lease) = inner.store.try_lock_renewal(&inner.profile, inner.lease).await? {
                return Ok(Some(lease));
            }
            debug!(profile = %inner.profile, "another process is renewing; waiting for its session");
            tokio::time::sleep(backoff.delay(waited.min(16))).await;
            if adopt && self.adopt_stored().await {
                return Ok(None);
            }
            if tokio::time::Instant::now() >= give_up {
                break;
            }
        }
        Err(Error::Store { path: None, detail: "another process held the renewal lock past its lease".into() })
    }

    /// Installs the stored session if it is fresh; whether one now is.
    async fn adopt_stored(&self) -> bool {
        match self.stored().await {
            Some(stored) => self.adopt_if_fresh(stored),
            None => false,
        }
    }

    /// Installs `stored` if it is fresh and is not the session a 401 just refused.
    fn adopt_if_fresh(&self, stored: Arc<Session>) -> bool {
        let inner = &self.inner;
        if let Some(current) = inner.current.load().as_ref()
            && current.stale.load(Ordering::Relaxed)
            && current.session.access_token().expose_secret() == stored.access_token().expose_secret()
        {
            return false;
        }
        let candidate = self.current(Arc::clone(&stored), last_use(&stored, inner.clock.now()));
        let fresh = self.is_fresh(&candidate, inner.clock.unix_nanos());
        if fresh {
            debug!(profile = %inner.profile, "adopted the stored session");
            inner.current.store(Some(Arc::new(candidate)));
        }
        fresh
    }

    async fn renew_holding_lease(&self) -> Result<(Arc<Session>, &'static str), Error> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let mut budget = Budget::new(inner.login.deadline);
        let mut previous = inner.current.load_full().map(|c| Arc::clone(&c.session));
        let first_look = !inner.store_checked.swap(true, Ordering::Relaxed);
        // A stored idle session kept unresumed, for a provider that cannot resume it.
        let mut fallback = None;
        if inner.store.is_shared() || (previous.is_none() && first_look) {
            // Another process may have renewed just before us: its session is as good as ours.
            if let Some(stored) = self.stored().await {
                let resume_first = inner.resume_stored_idle && previous.is_none() && stored.idle_timeout().is_some();
                if resume_first {
                    fallback = Some(Arc::clone(&stored));
                } else if self.adopt_if_fresh(Arc::clone(&stored)) {
                    return self.fresh().map(|session| (session, "adopted")).ok_or(Error::SessionExpired);
                }
                if previous.is_none() {
                    self.put(Arc::clone(&stored), now);
                    previous = Some(stored);
                }
            }
        }
        if let Some(previous) = previous {
            match self.resume(&previous, &mut budget).await {
                Ok(session) => {
                    info!(profile = %inner.profile, "session renewed without a code");
                    return Ok((self.install_or_warn(session, now).await, "resumed"));
                }
                // No resume call (the OMS over HTTP): a stored session inside the idle window
                // counted from its issue is alive whatever happened since.
                Err(Error::Unsupported { .. }) if fallback.clone().is_some_and(|s| self.adopt_if_fresh(s)) => {
                    return self.fresh().map(|session| (session, "adopted")).ok_or(Error::SessionExpired);
                }
                Err(e @ (Error::Unsupported { .. } | Error::SessionExpired | Error::ForeignSession)) => {
                    debug!(profile = %inner.profile, error = %e, "cannot resume; logging in again");
                }
                Err(e) => {
                    if !previous.is_expired_at(now, Duration::ZERO) && previous.idle_timeout().is_none() {
                        warn!(profile = %inner.profile, error = %e, "early renewal failed; keeping the current token");
                        return Ok((previous, "kept_current"));
                    }
                    return Err(e);
                }
            }
        }
        let session = login_within(inner.flow.as_ref(), self.codes(), &inner.login, &mut budget).await?;
        Ok((self.install_or_warn(session, now).await, "logged_in"))
    }

    /// The provider's resume, charged to `budget`, in a `resume` span.
    async fn resume(&self, previous: &Session, budget: &mut Budget) -> Result<Session, Error> {
        let span = self.span(Operation::Resume);
        match budget.run_for(self.inner.flow.as_ref(), self.inner.flow.resume(previous)).instrument(span.clone()).await
        {
            Err(e @ Error::Unsupported { .. }) => {
                span.record("outcome", "unsupported");
                Err(e)
            }
            other => telemetry::finish(&span, other),
        }
    }

    /// The stored session, when it is readable, this provider's and from this flow's origin.
    async fn stored(&self) -> Option<Arc<Session>> {
        let inner = &self.inner;
        match inner.store.load(&inner.profile).await {
            Ok(Some(other)) if other.provider() != inner.flow.provider() => {
                warn!(profile = %inner.profile, provider = other.provider(), "the stored session is another provider's; ignoring it");
                None
            }
            // Its tokens are good only where they were issued: never sent to this flow's endpoint.
            Ok(Some(other)) if inner.flow.origin().is_some_and(|origin| other.origin() != Some(origin)) => {
                warn!(profile = %inner.profile, "the stored session was issued by another endpoint or account; ignoring it");
                None
            }
            Ok(Some(session)) => Some(Arc::new(session)),
            Ok(None) => None,
            Err(e) => {
                warn!(profile = %inner.profile, error = %e, "the stored session is unreadable; it will be replaced after the next login");
                None
            }
        }
    }

    fn put(&self, session: Arc<Session>, now: OffsetDateTime) {
        let last_used = last_use(&session, now);
        self.inner.current.store(Some(Arc::new(self.current(session, last_used))));
    }

    /// `session` as the current one, with the margin and a fresh draw of the jitter.
    fn current(&self, session: Arc<Session>, last_used: OffsetDateTime) -> Current {
        let inner = &self.inner;
        let jitter = match session.expires_at() {
            Some(expires) if !inner.jitter.is_zero() => {
                let fresh_life = Duration::try_from(expires - inner.margin - session.issued_at()).unwrap_or_default();
                inner.jitter.min(fresh_life / 4).mul_f64(crate::retry::jitter())
            }
            _ => Duration::ZERO,
        };
        Current::new(session, inner.margin.saturating_add(jitter), last_used)
    }

    /// Installs `session` and saves it; a store that refuses it is the error (the session stays
    /// in memory all the same).
    async fn install(&self, session: Session, now: OffsetDateTime) -> Result<Arc<Session>, Error> {
        let session = self.put_renewed(session, now);
        self.inner.store.save(&self.inner.profile, &session).await?;
        Ok(session)
    }

    /// [`Authenticator::install`] for a renewal: a store that refuses the session is only warned
    /// about, since the caller asked for a token, which it has.
    async fn install_or_warn(&self, session: Session, now: OffsetDateTime) -> Arc<Session> {
        let session = self.put_renewed(session, now);
        if let Err(e) = self.inner.store.save(&self.inner.profile, &session).await {
            warn!(profile = %self.inner.profile, error = %e, "cannot save the session; it lives in memory only");
        }
        session
    }

    /// `session`, just obtained, as the current one; in use since `now` at the latest.
    fn put_renewed(&self, session: Session, now: OffsetDateTime) -> Arc<Session> {
        let session = Arc::new(session);
        let last_used = now.max(self.inner.clock.now());
        self.inner.current.store(Some(Arc::new(self.current(Arc::clone(&session), last_used))));
        session
    }
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("provider", &self.inner.flow.provider())
            .field("profile", &self.inner.profile)
            .field("store", &self.inner.store)
            .field("session", &self.peek())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for AuthenticatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatorBuilder").field("profile", &self.profile).finish_non_exhaustive()
    }
}
