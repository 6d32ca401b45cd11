//! Time as a dependency, so expiry and idle-timeout logic is tested without sleeping.

use std::{
    fmt,
    sync::{Arc, Mutex},
    time::Duration,
};

use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, in UTC.
    fn now(&self) -> OffsetDateTime;

    /// Now, in nanoseconds since the Unix epoch: the session manager's hot path, which needs no calendar.
    fn unix_nanos(&self) -> i64 {
        i64::try_from(self.now().unix_timestamp_nanos()).unwrap_or(i64::MAX)
    }
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn unix_nanos(&self) -> i64 {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX)
    }
}

/// A clock that moves only when told to; clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use twofa_core::{Clock, ManualClock};
/// let clock = ManualClock::new(time::macros::datetime!(2026-01-01 0:00 UTC));
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.now(), time::macros::datetime!(2026-01-01 0:01:30 UTC));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
