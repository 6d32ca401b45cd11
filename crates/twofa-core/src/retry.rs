//! Bounded retries with exponential backoff and jitter, for idempotent calls only.
//!
//! twofa retries a logout or an OMS session re-establishment after a transport error or a 5xx:
//! repeating them changes nothing at the provider. It never retries a login start (it may send
//! the user another code) or a code submission (it burns an attempt), nor a rate-limited call
//! (the caller decides when to come back).

use std::{future::Future, time::Duration};

use crate::Error;

/// How many times, and how patiently, an idempotent call is tried.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Backoff {
    /// Tries in all, the first included (default 3).
    pub attempts: u32,
    /// The wait before the second try; it doubles after each failure (default 100 ms).
    pub base: Duration,
    /// The longest wait between tries (default 2 s).
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { attempts: 3, base: Duration::from_millis(100), max: Duration::from_secs(2) }
    }
}

impl Backoff {
    /// The wait after failed try number `n` (1-based): `base·2ⁿ⁻¹`, capped, less up to half as jitter.
    pub fn delay(&self, n: u32) -> Duration {
        let full = self.base.saturating_mul(2u32.saturating_pow(n.saturating_sub(1))).min(self.max);
        full.mul_f64(1.0 - 0.5 * jitter())
    }

    /// Runs `call` until it succeeds, fails with an error that retrying cannot fix, or runs out of tries.
    pub async fn retry<T, F, Fut>(&self, mut call: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut tried = 1;
        loop {
            match call().await {
                Err(e) if tried < self.attempts && worth_retrying(&e) => {
                    tracing::debug!(attempt = tried, error = %e, "retrying an idempotent call");
                    tokio::time::sleep(crate::deadline::clamp(self.delay(tried))).await;
                    tried += 1;
                }
                result => return result,
            }
        }
    }
}

fn worth_retrying(e: &Error) -> bool {
    e.is_retryable() && !matches!(e, Error::RateLimited { .. })
}

/// A number in `[0, 1)`, different on every call (std's per-instance random hash keys).
pub(crate) fn jitter() -> f64 {
    use std::hash::{BuildHasher as _, RandomState};
    (RandomState::new().hash_one(std::time::Instant::now()) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::TransportKind;

    fn quick() -> Backoff {
        Backoff { attempts: 3, base: Duration::from_millis(1), max: Duration::from_millis(4) }
    }

    #[test]
    fn delays_grow_and_stay_bounded() {
        let b = Backoff::default();
        for n in 1..10 {
            let d = b.delay(n);
            let full = (b.base * 2u32.pow(n - 1)).min(b.max);
            assert!(d <= full && d >= full / 2, "{n}: {d:?}");
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let result = quick()
            .retry(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(Error::unexpected(Some(503), "down")),
                    1 => Err(Error::transport(TransportKind::Connect, "refused")),
                    _ => Ok(7),
                }
            })
            .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn tries_are_bounded_and_the_last_error_returned() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = quick()
            .retry(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::unexpected(Some(502), "bad gateway"))
            })
            .await;
        assert!(matches!(result, Err(Error::UnexpectedResponse { status: Some(502), .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn definitive_errors_and_rate_limits_are_not_retried() {
        for error in
            [Error::SessionExpired, Error::RateLimited { retry_after: None }, Error::unexpected(Some(400), "bad")]
        {
            let calls = AtomicU32::new(0);
            let result: Result<(), _> = quick()
                .retry(|| async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(error.clone())
                })
                .await;
            assert!(result.is_err());
            assert_eq!(calls.load(Ordering::SeqCst), 1, "{error}");
        }
    }
}
