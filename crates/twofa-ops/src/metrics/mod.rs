//! One Prometheus registry for a twofa process: logins, renewals, resumes and logouts by provider,
//! failures by provider, operation and error kind, codes waited for and how long a person took,
//! pending codes, and each profile's session time left.
//!
//! The operation counters fill themselves from the spans `twofa-core` opens for every login,
//! renewal, resume and logout: install an [`OpsLayer`](crate::layer::OpsLayer) in the process's
//! `tracing` subscriber. The code
//! waits are counted by whoever waits (the web console, or [`CodeWaits`] around any code source);
//! the gauges are set when scraped. Others (the proxy) [`register`](Metrics::register) their own
//! families in the same registry, so one `/metrics` serves all. Labels are provider names,
//! profile names, method names and error kinds: never a secret.
//!
//! ```
//! use std::sync::Arc;
//! use tracing_subscriber::layer::SubscriberExt as _;
//!
//! let metrics = Arc::new(twofa_ops::metrics::Metrics::new());
//! let layer = twofa_ops::layer::OpsLayer::new().metrics(Arc::clone(&metrics));
//! let subscriber = tracing_subscriber::registry().with(layer.filtered());
//! # drop(subscriber);
//! metrics.code_asked("etna", "sms");
//! assert!(metrics.encode().contains("twofa_codes_waited_total{provider=\"etna\",method=\"sms\"} 1"));
//! ```

#[cfg(feature = "test-util")]
pub mod scrape;
mod waits;

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    sync::{Mutex, PoisonError, RwLock},
    time::Duration,
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
pub use waits::CodeWaits;

/// Upper bounds of the "how long a person took" buckets, in seconds: from a code typed at once
/// to one typed at the end of a ten-minute wait.
const WAIT_BUCKETS: [f64; 10] = [5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 1800.0];

/// What a span of `twofa-core` describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// A login.
    Login,
    /// A renewal (which may resume, refresh or log in again).
    Renewal,
    /// A resume of an idle session.
    Resume,
    /// A logout.
    Logout,
}

impl Operation {
    /// The span's name: `login`, `renewal`, `resume`, `logout`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Renewal => "renewal",
            Self::Resume => "resume",
            Self::Logout => "logout",
        }
    }

    /// The operation a span name stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Login, Self::Renewal, Self::Resume, Self::Logout].into_iter().find(|o| o.name() == name)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabel {
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RenewalLabels {
    provider: String,
    how: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    provider: String,
    operation: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    provider: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProfileLabel {
    profile: String,
}

fn wait_histogram() -> Histogram {
    Histogram::new(WAIT_BUCKETS)
}

/// The registry and twofa's own families.
#[derive(Debug)]
pub struct Metrics {
    registry: RwLock<Registry>,
    logins: Family<ProviderLabel, Counter>,
    renewals: Family<RenewalLabels, Counter>,
    resumes: Family<ProviderLabel, Counter>,
    logouts: Family<ProviderLabel, Counter>,
    failures: Family<FailureLabels, Counter>,
    codes_waited: Family<MethodLabels, Counter>,
    code_wait: Family<ProviderLabel, Histogram, fn() -> Histogram>,
    pending: Gauge,
    seconds_left: Family<ProfileLabel, Gauge>,
    /// Families others registered, by their type: registered once however many ask.
    extensions: Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with twofa's families, all at zero.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let m = Self {
            registry: RwLock::new(Registry::default()),
            logins: Family::default(),
            renewals: Family::default(),
            resumes: Family::default(),
            logouts: Family::default(),
            failures: Family::default(),
            codes_waited: Family::default(),
            code_wait: Family::new_with_constructor(wait_histogram),
            pending: Gauge::default(),
            seconds_left: Family::default(),
            extensions: Mutex::default(),
        };
        registry.register("twofa_logins", "Logins that ended with a session, by provider", m.logins.clone());
        registry.register(
            "twofa_renewals",
            "Renewals that ended with a usable session, by provider and how (resumed, logged_in, adopted from another process, kept_current)",
            m.renewals.clone(),
        );
        registry.register("twofa_resumes", "Idle sessions resumed without a code, by provider", m.resumes.clone());
        registry.register("twofa_logouts", "Logouts the provider confirmed, by provider", m.logouts.clone());
        registry.register(
            "twofa_failures",
            "Failed logins, renewals, resumes and logouts, by provider, operation and error kind",
            m.failures.clone(),
        );
        registry.register(
            "twofa_codes_waited",
            "Codes (and PINs) a login waited for a person to type, by provider and delivery method",
            m.codes_waited.clone(),
        );
        registry.register(
            "twofa_code_wait_seconds",
            "How long a person took to type a code, from the request to the code, by provider",
            m.code_wait.clone(),
        );
        registry.register("twofa_pending_codes", "Logins waiting for a code now", m.pending.clone());
        registry.register(
            "twofa_session_seconds_left",
            "Seconds until each profile's session expires (negative: expired)",
            m.seconds_left.clone(),
        );
        *m.registry.write().unwrap_or_else(PoisonError::into_inner) = registry;
        m
    }

    /// Lets `add` register more families in this registry.
    pub fn register(&self, add: impl FnOnce(&mut Registry)) {
        add(&mut self.registry.write().unwrap_or_else(PoisonError::into_inner));
    }

    /// The families of type `T` (a crate's own set, such as the proxy's), registered by `init`
    /// the first time they are asked for, and shared afterwards: several proxies in one process
    /// count in the same families (telling themselves apart by a label), so each name is
    /// exposed once.
    pub fn families<T: Clone + Send + Sync + 'static>(&self, init: impl FnOnce(&mut Registry) -> T) -> T {
        let mut extensions = self.extensions.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(families) = extensions.get(&TypeId::of::<T>()).and_then(|b| b.downcast_ref::<T>()) {
            return families.clone();
        }
        let families = init(&mut self.registry.write().unwrap_or_else(PoisonError::into_inner));
        extensions.insert(TypeId::of::<T>(), Box::new(families.clone()));
        families
    }

    /// The Prometheus text exposition (format 0.0.4; serve it with [`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
        out
    }

    /// The end of a span of `operation` at `provider`: `Ok(how)` (the span's outcome) or
    /// `Err(kind)` (the error's [kind](twofa_core::Error::kind)).
    pub fn operation(&self, operation: Operation, provider: &str, outcome: Result<&str, &str>) {
        let provider = provider.to_owned();
        match (operation, outcome) {
            (_, Err(kind)) => {
                let labels = FailureLabels { provider, operation: operation.name().to_owned(), kind: kind.to_owned() };
                self.failures.get_or_create(&labels).inc();
            }
            // "challenged": the login goes on with a code; "unsupported": nothing was done.
            (_, Ok("challenged" | "unsupported")) => {}
            (Operation::Login, Ok(_)) => {
                self.logins.get_or_create(&ProviderLabel { provider }).inc();
            }
            (Operation::Renewal, Ok(how)) => {
                self.renewals.get_or_create(&RenewalLabels { provider, how: how.to_owned() }).inc();
            }
            (Operation::Resume, Ok(_)) => {
                self.resumes.get_or_create(&ProviderLabel { provider }).inc();
            }
            (Operation::Logout, Ok(_)) => {
                self.logouts.get_or_create(&ProviderLabel { provider }).inc();
            }
        }
    }

    /// A login of `provider` waits for a person's answer by `method` (a
    /// [`Method::name`](twofa_core::Method::name)).
    pub fn code_asked(&self, provider: &str, method: &str) {
        let labels = MethodLabels { provider: provider.to_owned(), method: method.to_owned() };
        self.codes_waited.get_or_create(&labels).inc();
    }

    /// The person typed the code `took` after it was asked for.
    pub fn code_typed(&self, provider: &str, took: Duration) {
        self.code_wait.get_or_create(&ProviderLabel { provider: provider.to_owned() }).observe(took.as_secs_f64());
    }

    /// How many logins wait for a code now.
    pub fn set_pending(&self, waiting: usize) {
        self.pending.set(i64::try_from(waiting).unwrap_or(i64::MAX));
    }

    /// One more (`+1`) or one fewer (`-1`) login waits for a code.
    pub fn add_pending(&self, change: i64) {
        self.pending.inc_by(change);
    }

    /// The seconds left on each profile's session; profiles not named are dropped from the gauge.
    pub fn set_sessions<'a>(&self, sessions: impl IntoIterator<Item = (&'a str, i64)>) {
        self.seconds_left.clear();
        for (profile, left) in sessions {
            self.seconds_left.get_or_create(&ProfileLabel { profile: profile.to_owned() }).set(left);
        }
    }

    /// The seconds left on one profile's session (others are kept).
    pub fn set_session(&self, profile: &str, left: i64) {
        self.seconds_left.get_or_create(&ProfileLabel { profile: profile.to_owned() }).set(left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_counts_what_it_names() {
        let m = Metrics::new();
        m.operation(Operation::Login, "etna", Ok("ok"));
        m.operation(Operation::Login, "etna", Ok("challenged"));
        m.operation(Operation::Renewal, "oms", Ok("resumed"));
        m.operation(Operation::Resume, "oms", Ok("ok"));
        m.operation(Operation::Login, "etna", Err("invalid_code"));
        m.code_typed("etna", Duration::from_secs(12));
        m.set_sessions([("desk", 300), ("bot", -5)]);
        m.set_pending(2);
        let text = m.encode();
        for line in [
            "twofa_logins_total{provider=\"etna\"} 1\n",
            "twofa_renewals_total{provider=\"oms\",how=\"resumed\"} 1\n",
            "twofa_resumes_total{provider=\"oms\"} 1\n",
            "twofa_failures_total{provider=\"etna\",operation=\"login\",kind=\"invalid_code\"} 1\n",
            "twofa_code_wait_seconds_bucket{provider=\"etna\",le=\"10\"} 0\n",
            "twofa_code_wait_seconds_bucket{provider=\"etna\",le=\"20\"} 1\n",
            "twofa_session_seconds_left{profile=\"bot\"} -5\n",
            "twofa_pending_codes 2\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        m.set_sessions([("desk", 200)]);
        assert!(!m.encode().contains("profile=\"bot\""), "a profile gone from the list leaves the gauge");
    }
}
