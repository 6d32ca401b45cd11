//! The counters behind `/_twofa/metrics`, in the Prometheus text format.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// Upper bounds of the upstream latency buckets, in seconds.
const BUCKETS: [f64; 13] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// What the proxy counts; shared by every connection.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    by_status: Mutex<BTreeMap<u16, u64>>,
    pub(crate) renewals: AtomicU64,
    pub(crate) retries_401: AtomicU64,
    pub(crate) person_waits: AtomicU64,
    pub(crate) ws_sessions: AtomicU64,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

impl Metrics {
    /// One answer given to a client, with its status.
    pub(crate) fn answered(&self, status: u16) {
        *self.by_status.lock().unwrap_or_else(PoisonError::into_inner).entry(status).or_default() += 1;
    }

    /// The time from sending a request upstream to its answer's head.
    pub(crate) fn upstream_latency(&self, took: Duration) {
        let secs = took.as_secs_f64();
        for (bucket, bound) in self.latency_buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        let _ = writeln!(
            out,
            "# HELP twofa_proxy_requests_total Answers given to clients, by HTTP status.\n\
             # TYPE twofa_proxy_requests_total counter"
        );
        for (status, n) in self.by_status.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            let _ = writeln!(out, "twofa_proxy_requests_total{{status=\"{status}\"}} {n}");
        }
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            &mut out,
            "twofa_proxy_renewals_total",
            "Sessions the proxy took into use (the first one included).",
            load(&self.renewals),
        );
        counter(
            &mut out,
            "twofa_proxy_401_retries_total",
            "Requests retried once after an upstream 401 and a renewal.",
            load(&self.retries_401),
        );
        counter(
            &mut out,
            "twofa_proxy_person_waits_total",
            "Requests answered 503 code_needed: the renewal (a person's code) did not come in time.",
            load(&self.person_waits),
        );
        counter(
            &mut out,
            "twofa_proxy_websocket_sessions_total",
            "Client WebSockets relayed to the gateway.",
            load(&self.ws_sessions),
        );
        let _ = writeln!(
            out,
            "# HELP twofa_proxy_upstream_latency_seconds Time from sending upstream to the answer's head.\n\
             # TYPE twofa_proxy_upstream_latency_seconds histogram"
        );
        for (bucket, bound) in self.latency_buckets.iter().zip(BUCKETS) {
            let _ = writeln!(out, "twofa_proxy_upstream_latency_seconds_bucket{{le=\"{bound}\"}} {}", load(bucket));
        }
        let count = load(&self.latency_count);
        let _ = writeln!(out, "twofa_proxy_upstream_latency_seconds_bucket{{le=\"+Inf\"}} {count}");
        let sum = load(&self.latency_sum_micros) as f64 / 1e6;
        let _ = writeln!(out, "twofa_proxy_upstream_latency_seconds_sum {sum}");
        let _ = writeln!(out, "twofa_proxy_upstream_latency_seconds_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_has_every_family() {
        let m = Metrics::default();
        m.answered(200);
        m.answered(200);
        m.answered(503);
        m.upstream_latency(Duration::from_millis(3));
        let text = m.render();
        assert!(text.contains("twofa_proxy_requests_total{status=\"200\"} 2\n"), "{text}");
        assert!(text.contains("twofa_proxy_requests_total{status=\"503\"} 1\n"));
        assert!(text.contains("twofa_proxy_upstream_latency_seconds_bucket{le=\"0.0025\"} 0\n"));
        assert!(text.contains("twofa_proxy_upstream_latency_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("twofa_proxy_upstream_latency_seconds_count 1\n"));
        assert!(text.contains("twofa_proxy_renewals_total 0\n"));
    }
}
