//! Telling a person that a login waits for a code: a [`Notifier`] posts a [`Notice`] to each
//! configured [`Sink`], and a follow-up when the code was answered, refused or expired;
//! [`Notifying`] wraps any [`CodeSource`](twofa_core::CodeSource) to do it.
//!
//! Notices go out in order from one background task, each retried with jittered backoff
//! ([`Backoff`]), so a login never waits on a slow webhook. A per-profile limit sends one waiting
//! notice while a profile waits, however many logins wait with it, and one final follow-up.
//!
//! ```no_run
//! # async fn demo() -> Result<(), twofa_ops::OpsError> {
//! use std::sync::Arc;
//! use twofa_ops::notify::{Notifier, NotifySpec, Notifying};
//!
//! // NTFY_URL=https://ntfy.sh/my-secret-topic
//! let spec: NotifySpec = "ntfy:env:NTFY_URL".parse()?;
//! let notifier = Arc::new(Notifier::builder().sink(spec.sink()?).pending_url("https://console.example/pending").build()?);
//! let codes = Notifying::new(Arc::new(twofa_core::code_source::EnvCode::new("ETNA_CODE")), notifier, "etna-bot");
//! # drop(codes); Ok(()) }
//! ```

mod deliver;
mod limit;
mod message;
mod sink;
mod source;
mod spec;
#[cfg(feature = "test-util")]
pub mod testing;

use std::{
    sync::{Arc, Mutex, OnceLock, PoisonError},
    time::Duration,
};

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

pub use message::{Event, Notice, SCHEMA};
pub use sink::{Sink, SinkKind};
pub use source::Notifying;
pub use spec::{NotifySpec, UrlFrom};
pub use twofa_core::retry::Backoff;

use crate::OpsError;

/// The least time between two waiting notices of one profile by default.
pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_secs(30);

/// How long one delivery may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How a failed delivery is retried by default: 5 tries in all, each wait doubling from 1 s up to
/// 60 s, less a random part of up to half (so notifiers that failed together do not retry together).
pub fn default_backoff() -> Backoff {
    let mut backoff = Backoff::default();
    backoff.attempts = 5;
    backoff.base = Duration::from_secs(1);
    backoff.max = Duration::from_secs(60);
    backoff
}

/// Settings of a [`Notifier`].
#[derive(Debug, Default)]
pub struct NotifierBuilder {
    sinks: Vec<Sink>,
    retry: Option<Backoff>,
    min_interval: Option<Duration>,
    pending_url: Option<String>,
}

impl NotifierBuilder {
    /// Adds a sink (see [`NotifySpec::sink`]).
    pub fn sink(mut self, sink: Sink) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Adds the sinks of `specs`, reading each URL now.
    ///
    /// # Errors
    ///
    /// As [`NotifySpec::sink`].
    pub fn specs<'a>(mut self, specs: impl IntoIterator<Item = &'a NotifySpec>) -> Result<Self, OpsError> {
        for spec in specs {
            self.sinks.push(spec.sink()?);
        }
        Ok(self)
    }

    /// How failed deliveries are retried (default [`default_backoff`]).
    pub fn retry(mut self, retry: Backoff) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The least time between two waiting notices of one profile (default [`DEFAULT_MIN_INTERVAL`]).
    pub fn min_interval(mut self, interval: Duration) -> Self {
        self.min_interval = Some(interval);
        self
    }

    /// The console's Pending codes page, linked from waiting notices (without any token).
    pub fn pending_url(mut self, url: impl Into<String>) -> Self {
        self.pending_url = Some(url.into());
        self
    }

    /// The notifier. Its worker starts with the first notice (inside a Tokio runtime).
    ///
    /// # Errors
    ///
    /// [`OpsError::Config`] when the HTTP client cannot be built.
    pub fn build(self) -> Result<Notifier, OpsError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OpsError::Config(format!("cannot build the notification HTTP client: {}", e.without_url())))?;
        Ok(Notifier {
            sinks: self.sinks.into(),
            http,
            retry: self.retry.unwrap_or_else(default_backoff),
            limiter: limit::Limiter::new(self.min_interval.unwrap_or(DEFAULT_MIN_INTERVAL)),
            pending_url: self.pending_url.map(OnceLock::from).unwrap_or_default(),
            jobs: Mutex::new(None),
        })
    }
}

/// Sends notices to its sinks, in order, from a background task.
#[derive(Debug)]
pub struct Notifier {
    sinks: Arc<[Sink]>,
    http: reqwest::Client,
    retry: Backoff,
    limiter: limit::Limiter,
    pending_url: OnceLock<String>,
    jobs: Mutex<Option<mpsc::UnboundedSender<deliver::Job>>>,
}

impl Notifier {
    /// Settings for a notifier.
    pub fn builder() -> NotifierBuilder {
        NotifierBuilder::default()
    }

    /// The sinks notices go to.
    pub fn sinks(&self) -> &[Sink] {
        &self.sinks
    }

    /// The page waiting notices link to.
    pub fn pending_url(&self) -> Option<&str> {
        self.pending_url.get().map(String::as_str)
    }

    /// Links waiting notices to `url` unless a page was given already (the console links its own
    /// Pending page once it knows its address). Whether this link was taken.
    pub fn link_pending(&self, url: impl Into<String>) -> bool {
        self.pending_url.set(url.into()).is_ok()
    }

    /// A login of `profile` at `provider` waits for the answer of `method` (a
    /// [`Method::name`](twofa_core::Method::name)) until `expires_at`: notifies, unless the profile's
    /// waiting notice went out already. Whether it was queued.
    pub fn waiting(&self, profile: &str, provider: &str, method: &str, expires_at: Option<OffsetDateTime>) -> bool {
        if !self.limiter.waiting(profile) {
            return false;
        }
        let now = OffsetDateTime::now_utc();
        self.send(Notice::waiting(profile, provider, method, expires_at, self.pending_url(), now))
    }

    /// What became of `profile`'s wait: sent only if its waiting notice went out and was not
    /// followed up yet. `retry` for a refusal after which another code is asked for (the wait
    /// stays open). Whether it was queued.
    pub fn follow_up(&self, event: Event, profile: &str, provider: &str, method: &str, retry: bool) -> bool {
        let last = !(event == Event::Refused && retry);
        if event == Event::Waiting || !self.limiter.follow_up(profile, last) {
            return false;
        }
        self.send(Notice::follow_up(event, profile, provider, method, retry))
    }

    /// Queues `notice` for every sink, past the rate limit. Whether it was queued (not outside a
    /// Tokio runtime before the worker started).
    pub fn send(&self, notice: Notice) -> bool {
        self.job(deliver::Job::Send(Box::new(notice)))
    }

    /// Waits until every notice queued so far was delivered, or given up on.
    pub async fn flush(&self) {
        let (done, delivered) = oneshot::channel();
        if self.job(deliver::Job::Flush(done)) {
            let _ = delivered.await;
        }
    }

    fn job(&self, job: deliver::Job) -> bool {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        if jobs.is_none() {
            if tokio::runtime::Handle::try_current().is_err() {
                tracing::warn!("a notification was dropped: no async runtime to send it from");
                return false;
            }
            *jobs = Some(deliver::spawn(Arc::clone(&self.sinks), self.http.clone(), self.retry));
        }
        jobs.as_ref().is_some_and(|jobs| jobs.send(job).is_ok())
    }
}
