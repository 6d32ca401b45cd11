//! The per-profile rate limit: a login storm sends one message per profile, not hundreds.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

/// Whether a profile's waiting notice went out and is not followed up yet, and when the last went.
#[derive(Debug, Default)]
struct Profile {
    open: bool,
    last_waiting: Option<Instant>,
}

/// Decides which notices of a profile go out: one waiting notice while the profile waits (and at
/// most one per `min_interval`), and one final follow-up to each waiting notice sent.
#[derive(Debug)]
pub(crate) struct Limiter {
    min_interval: Duration,
    profiles: Mutex<HashMap<String, Profile>>,
}

impl Limiter {
    pub(crate) fn new(min_interval: Duration) -> Self {
        Self { min_interval, profiles: Mutex::default() }
    }

    /// Whether a waiting notice of `profile` goes out now.
    pub(crate) fn waiting(&self, profile: &str) -> bool {
        let mut profiles = self.profiles.lock().unwrap_or_else(PoisonError::into_inner);
        let state = profiles.entry(profile.to_owned()).or_default();
        let now = Instant::now();
        let recent = state.last_waiting.is_some_and(|at| now.duration_since(at) < self.min_interval);
        if state.open || recent {
            return false;
        }
        state.open = true;
        state.last_waiting = Some(now);
        true
    }

    /// Whether a follow-up of `profile` goes out: only while its waiting notice is open. A `final`
    /// one (answered, failed, expired) closes it; a refusal with a retry keeps it open.
    pub(crate) fn follow_up(&self, profile: &str, last: bool) -> bool {
        let mut profiles = self.profiles.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(state) = profiles.get_mut(profile).filter(|s| s.open) else { return false };
        if last {
            state.open = false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_waiting_notice_per_profile_and_one_follow_up_each() {
        let limiter = Limiter::new(Duration::ZERO);
        assert!(limiter.waiting("a"));
        assert!(!limiter.waiting("a"), "the profile already waits");
        assert!(limiter.waiting("b"));
        assert!(limiter.follow_up("a", false), "a refusal with a retry");
        assert!(limiter.follow_up("a", true));
        assert!(!limiter.follow_up("a", true), "followed up already");
        assert!(!limiter.follow_up("c", true), "never announced");
        assert!(limiter.waiting("a"), "a new wait after the last follow-up");
        let slow = Limiter::new(Duration::from_secs(3600));
        assert!(slow.waiting("a") && slow.follow_up("a", true));
        assert!(!slow.waiting("a"), "within the minimum interval");
    }
}
