use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

/// Counters the sandbox keeps: TCP connections accepted and requests per endpoint.
#[derive(Debug, Default)]
pub struct Stats {
    connections: AtomicU64,
    requests: Mutex<BTreeMap<&'static str, u64>>,
}

impl Stats {
    pub(crate) fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn hit(&self, endpoint: &'static str) {
        *self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(endpoint).or_default() += 1;
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Requests to `endpoint` so far, e.g. `etna.token`.
    pub fn requests(&self, endpoint: &str) -> u64 {
        self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(endpoint).copied().unwrap_or(0)
    }
}
