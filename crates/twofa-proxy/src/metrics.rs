//! The proxy's families in the process's shared [`twofa_ops::metrics::Metrics`] registry, served
//! at `/_twofa/metrics` (and, shared, by the console's `/metrics`). Every sample carries the
//! proxy's `profile`, so several proxies of one process count apart in one set of families.

use std::{sync::Arc, time::Duration};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};
use twofa_ops::metrics::Metrics as Shared;

/// Upper bounds of the upstream latency buckets, in seconds.
const BUCKETS: [f64; 13] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProfileLabel {
    profile: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    profile: String,
    status: u16,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The families, registered once per shared registry.
#[derive(Clone, Debug)]
struct Families {
    requests: Family<StatusLabels, Counter>,
    renewals: Family<ProfileLabel, Counter>,
    retries_401: Family<ProfileLabel, Counter>,
    person_waits: Family<ProfileLabel, Counter>,
    latency: Family<ProfileLabel, Histogram, fn() -> Histogram>,
}

impl Families {
    fn register(registry: &mut Registry) -> Self {
        let f = Self {
            requests: Family::default(),
            renewals: Family::default(),
            retries_401: Family::default(),
            person_waits: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        };
        registry.register("twofa_proxy_requests", "Answers given to clients, by HTTP status", f.requests.clone());
        registry.register(
            "twofa_proxy_renewals",
            "Sessions the proxy took into use (the first one included)",
            f.renewals.clone(),
        );
        registry.register(
            "twofa_proxy_401_retries",
            "Requests retried once after an upstream 401 and a renewal",
            f.retries_401.clone(),
        );
        registry.register(
            "twofa_proxy_person_waits",
            "Requests answered 503 code_needed: the renewal (a person's code) did not come in time",
            f.person_waits.clone(),
        );
        registry.register(
            "twofa_proxy_upstream_latency_seconds",
            "Time from sending upstream to the answer's head",
            f.latency.clone(),
        );
        f
    }
}

/// What one proxy counts, in the shared registry.
#[derive(Debug)]
pub(crate) struct Metrics {
    shared: Arc<Shared>,
    families: Families,
    profile: ProfileLabel,
}

impl Metrics {
    /// The counters of the proxy of `profile` in `shared`.
    pub(crate) fn new(shared: Arc<Shared>, profile: &str) -> Self {
        let families = shared.families(Families::register);
        Self { shared, families, profile: ProfileLabel { profile: profile.to_owned() } }
    }

    /// The registry these count in.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// One answer given to a client, with its status.
    pub(crate) fn answered(&self, status: u16) {
        let labels = StatusLabels { profile: self.profile.profile.clone(), status };
        self.families.requests.get_or_create(&labels).inc();
    }

    /// The time from sending a request upstream to its answer's head.
    pub(crate) fn upstream_latency(&self, took: Duration) {
        self.families.latency.get_or_create(&self.profile).observe(took.as_secs_f64());
    }

    /// A new session taken into use.
    pub(crate) fn renewed(&self) {
        self.families.renewals.get_or_create(&self.profile).inc();
    }

    /// A request retried after an upstream 401.
    pub(crate) fn retried_401(&self) {
        self.families.retries_401.get_or_create(&self.profile).inc();
    }

    /// A request answered `503 code_needed`.
    pub(crate) fn person_waited(&self) {
        self.families.person_waits.get_or_create(&self.profile).inc();
    }

    /// The Prometheus text exposition of the whole shared registry (format 0.0.4).
    pub(crate) fn render(&self) -> String {
        self.shared.encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_proxies_count_apart_in_one_set_of_families() {
        let shared = Arc::new(Shared::new());
        let (a, b) = (Metrics::new(Arc::clone(&shared), "a"), Metrics::new(Arc::clone(&shared), "b"));
        a.answered(200);
        a.answered(200);
        b.answered(503);
        a.upstream_latency(Duration::from_millis(3));
        let text = a.render();
        assert!(text.contains("twofa_proxy_requests_total{profile=\"a\",status=\"200\"} 2\n"), "{text}");
        assert!(text.contains("twofa_proxy_requests_total{profile=\"b\",status=\"503\"} 1\n"));
        assert!(text.contains("twofa_proxy_upstream_latency_seconds_bucket{profile=\"a\",le=\"0.0025\"} 0\n"));
        assert!(text.contains("twofa_proxy_upstream_latency_seconds_bucket{profile=\"a\",le=\"0.005\"} 1\n"));
        assert!(text.contains("twofa_proxy_upstream_latency_seconds_count{profile=\"a\"} 1\n"));
        assert_eq!(text.matches("# TYPE twofa_proxy_requests_total counter").count(), 1, "{text}");
        assert!(text.contains("twofa_pending_codes 0\n"), "one registry with twofa's own families");
    }
}
