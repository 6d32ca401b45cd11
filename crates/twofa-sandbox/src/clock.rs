use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

/// The sandbox's notion of now: real time plus an offset tests can push forward.
#[derive(Debug, Default)]
pub struct SandboxClock {
    offset_ms: AtomicU64,
}

impl SandboxClock {
    /// Now, as the sandbox sees it.
    pub fn now(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves the sandbox's time forward: tickets, tokens and idle sessions age at once.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}
