//! One overall deadline per login, renewal or logout, that retries never exceed.
//!
//! Each request has its own time limit, and idempotent calls (a logout, an OMS session
//! re-establishment) are retried with backoff — so without an overall bound one renewal could take
//! several request timeouts. A [`Budget`] is the network time one operation may spend: every call
//! to the provider runs under what is left of it, and when it runs out the call in progress (and
//! any retry or backoff wait inside it) is dropped and [`Error::Transport`] with
//! [`TransportKind::Timeout`] is returned.
//!
//! Only time spent on the provider's calls counts. Time a person takes to type a code is not
//! network time, so [`login`](crate::login) stops the budget while the code source is asked.
//!
//! The deadline also reaches inside each call: [`clamp`] shortens a request's time limit to what
//! is left, and [`Http`](crate::http::Http) applies it to every request. A flow whose waits are all
//! such requests says so ([`TwoFactorFlow::waits_are_clamped`]), and its calls then run without a
//! timer of their own: one timer per request instead of two. On a multi-threaded runtime each
//! timer armed while another worker sleeps wakes that worker; the benchmark's login-vs-raw ratios
//! moved by several percent with it (`docs/benchmarks.md`).

use std::{future::Future, time::Duration};

use tokio::time::Instant;

use crate::{Error, TransportKind, TwoFactorFlow};

tokio::task_local! {
    /// The deadline of the operation the current call belongs to, set by [`Budget::run`].
    static DEADLINE: Instant;
}

/// The time limit for a wait that starts now: `limit`, or what is left of the current operation's
/// deadline when that comes sooner (outside any operation, `limit`). [`Http`](crate::http::Http)
/// applies it to every request.
pub fn clamp(limit: Duration) -> Duration {
    DEADLINE
        .try_with(|deadline| deadline.saturating_duration_since(Instant::now()))
        .map_or(limit, |left| left.min(limit))
}

/// The default deadline of one login, renewal or logout (60 s of network time).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

/// The network time left to one login, renewal or logout.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use twofa_core::{Error, deadline::Budget};
///
/// let mut budget = Budget::new(Duration::from_millis(10));
/// let slow = budget.run(async {
///     tokio::time::sleep(Duration::from_secs(5)).await;
///     Ok::<_, Error>(())
/// });
/// assert!(slow.await.unwrap_err().is_timeout());
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    limit: Duration,
    left: Duration,
}

impl Budget {
    /// A budget of `limit` network time (a zero limit is raised to 1 ms: every call gets a chance to fail cleanly).
    pub fn new(limit: Duration) -> Self {
        let limit = limit.max(Duration::from_millis(1));
        Self { limit, left: limit }
    }

    /// The deadline this budget started with.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// The network time not yet spent.
    pub fn left(&self) -> Duration {
        self.left
    }

    /// Runs `call` with what is left of the budget, and charges the time it took. A call still
    /// running when the budget runs out is dropped (with whatever retry it was in) and a
    /// timeout error is returned.
    pub async fn run<T>(&mut self, call: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        self.charge(call, true).await
    }

    /// [`run`](Self::run) for a call of `flow`: a flow whose every wait is bounded by [`clamp`]
    /// ([`TwoFactorFlow::waits_are_clamped`]) runs without a timer of its own — its requests'
    /// time limits end at the deadline — which saves a timer, and the wake-up of a parked runtime
    /// thread it can cost, per call.
    pub async fn run_for<T>(
        &mut self,
        flow: &dyn TwoFactorFlow,
        call: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        self.charge(call, !flow.waits_are_clamped()).await
    }

    async fn charge<T>(&mut self, call: impl Future<Output = Result<T, Error>>, timer: bool) -> Result<T, Error> {
        if self.left.is_zero() {
            return Err(self.exceeded());
        }
        let started = Instant::now();
        let call = DEADLINE.scope(started + self.left, call);
        let outcome = match timer {
            true => tokio::time::timeout(self.left, call).await.ok(),
            false => Some(call.await),
        };
        self.left = self.left.saturating_sub(started.elapsed());
        match outcome {
            // A request cut short by the deadline says so like the budget's own timer would.
            Some(Err(e)) if e.is_timeout() && self.left.is_zero() => Err(self.exceeded()),
            Some(result) => result,
            None => {
                self.left = Duration::ZERO;
                Err(self.exceeded())
            }
        }
    }

    fn exceeded(&self) -> Error {
        Error::transport(
            TransportKind::Timeout,
            format!("the provider did not answer within the {} ms deadline of this operation", self.limit.as_millis()),
        )
    }
}

/// Runs `call` under a deadline of its own: [`Budget::run`] with a new [`Budget`].
pub async fn within<T>(limit: Duration, call: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    Budget::new(limit).run(call).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn calls_share_one_budget_and_the_last_is_cut_at_the_deadline() {
        let mut budget = Budget::new(Duration::from_secs(10));
        let begin = Instant::now();
        budget
            .run(async {
                tokio::time::sleep(Duration::from_secs(6)).await;
                Ok::<_, Error>(())
            })
            .await
            .unwrap();
        assert_eq!(budget.left(), Duration::from_secs(4));
        let cut = budget
            .run(async {
                tokio::time::sleep(Duration::from_secs(6)).await;
                Ok::<_, Error>(())
            })
            .await;
        assert!(matches!(cut, Err(Error::Transport { kind: TransportKind::Timeout, .. })), "{cut:?}");
        assert_eq!(begin.elapsed(), Duration::from_secs(10), "cut exactly at the deadline");
        let after = budget.run(async { Ok::<_, Error>(()) }).await;
        assert!(after.unwrap_err().is_timeout(), "a spent budget starts nothing");
    }

    #[tokio::test(start_paused = true)]
    async fn the_error_of_a_call_within_the_budget_is_returned_as_is() {
        let result: Result<(), _> = within(Duration::from_secs(1), async { Err(Error::InvalidCredentials) }).await;
        assert!(matches!(result, Err(Error::InvalidCredentials)));
    }
}
