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
//! timer of their own; the requests of one operation share one timer, re-armed for each. On a
//! multi-threaded runtime a new timer armed while another worker sleeps wakes that worker, and
//! re-arming a registered one for later does not: a login arms a new timer once, not twice per
//! request as it used to (`docs/benchmarks.md`).

use std::{
    future::{Future, poll_fn},
    pin::{Pin, pin},
    sync::{Arc, Mutex},
    task::Poll,
    time::Duration,
};

use tokio::time::{Instant, Sleep};

use crate::{Error, TransportKind, TwoFactorFlow};

tokio::task_local! {
    /// The operation the current call belongs to, set by [`Budget::run`].
    static OPERATION: Operation;
}

/// What a call under a [`Budget`] sees: when its operation must end, and the timer its requests share.
#[derive(Clone)]
struct Operation {
    deadline: Instant,
    timer: SharedTimer,
}

/// One timer for the requests of one operation, re-armed for each.
///
/// A new timer that is the runtime's earliest wakes the thread parked on the timer driver (on a
/// multi-threaded runtime, often another worker); re-arming a registered timer to a later instant
/// does not. A login's requests run one after the other, so one timer serves them all, and the
/// login costs that wake-up once instead of once per request.
///
/// A timer is driven by the runtime it was made on, and a [`Budget`] is a value its caller may
/// carry to another runtime: a kept timer is re-armed only on the runtime it came from. Elsewhere
/// it would never fire (its runtime idle) or panic when polled (its runtime gone).
#[derive(Clone, Default)]
struct SharedTimer(Arc<Mutex<Option<Kept>>>);

/// A timer between two requests, and the runtime that drives it.
struct Kept {
    runtime: tokio::runtime::Id,
    sleep: Pin<Box<Sleep>>,
}

/// The time limit for a wait that starts now: `limit`, or what is left of the current operation's
/// deadline when that comes sooner (outside any operation, `limit`). [`Http`](crate::http::Http)
/// applies it to every request.
pub fn clamp(limit: Duration) -> Duration {
    OPERATION
        .try_with(|operation| operation.deadline.saturating_duration_since(Instant::now()))
        .map_or(limit, |left| left.min(limit))
}

/// Runs `call` (one request) within `limit`, clamped to the current operation's deadline; past
/// it, `call` is dropped and a timeout error returned. Under a [`Budget`] the operation's timer is
/// re-armed for it rather than a new one made.
pub(crate) async fn bounded<T>(limit: Duration, call: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    let limit = clamp(limit);
    let shared = OPERATION.try_with(|operation| operation.timer.clone()).ok();
    let mut timer = ArmedTimer::new(shared, later_by(Instant::now(), limit));
    let mut call = pin!(call);
    poll_fn(|cx| match call.as_mut().poll(cx) {
        Poll::Ready(result) => Poll::Ready(result),
        Poll::Pending => timer.poll(cx).map(|()| {
            Err(Error::transport(
                TransportKind::Timeout,
                format!("the provider did not answer within the {} ms request time limit", limit.as_millis()),
            ))
        }),
    })
    .await
}

/// A request's timer, handed back to the operation's [`SharedTimer`] when the request ends.
struct ArmedTimer {
    /// Where the timer goes back to, and the runtime it runs on; `None` outside a [`Budget`].
    shared: Option<(SharedTimer, tokio::runtime::Id)>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl ArmedTimer {
    fn new(shared: Option<SharedTimer>, at: Instant) -> Self {
        let here = tokio::runtime::Handle::try_current().ok().map(|runtime| runtime.id());
        let shared = shared.zip(here);
        // Taken, not borrowed: a request running beside this one (rare) makes a timer of its own.
        let kept = shared.as_ref().and_then(|(timer, _)| timer.0.lock().ok()?.take());
        let sleep = match kept {
            Some(Kept { runtime, mut sleep }) if Some(runtime) == here => {
                sleep.as_mut().reset(at);
                sleep
            }
            _ => Box::pin(tokio::time::sleep_until(at)),
        };
        Self { shared, sleep: Some(sleep) }
    }

    fn poll(&mut self, cx: &mut std::task::Context<'_>) -> Poll<()> {
        self.sleep.as_mut().map_or(Poll::Pending, |sleep| sleep.as_mut().poll(cx))
    }
}

impl Drop for ArmedTimer {
    fn drop(&mut self) {
        if let (Some((shared, runtime)), Some(sleep)) = (&self.shared, self.sleep.take())
            && let Ok(mut kept) = shared.0.lock()
        {
            kept.get_or_insert(Kept { runtime: *runtime, sleep });
        }
    }
}

/// `start + wait`, or a far future when that does not fit in an `Instant` (a limit of
/// `Duration::MAX` means no limit, not a panic).
fn later_by(start: Instant, wait: Duration) -> Instant {
    start.checked_add(wait).unwrap_or_else(|| start + Duration::from_secs(100 * 365 * 86_400))
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
#[derive(Clone)]
pub struct Budget {
    limit: Duration,
    left: Duration,
    timer: SharedTimer,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget").field("limit", &self.limit).field("left", &self.left).finish_non_exhaustive()
    }
}

impl Budget {
    /// A budget of `limit` network time (a zero limit is raised to 1 ms: every call gets a chance to fail cleanly).
    pub fn new(limit: Duration) -> Self {
        let limit = limit.max(Duration::from_millis(1));
        Self { limit, left: limit, timer: SharedTimer::default() }
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
        let operation = Operation { deadline: later_by(started, self.left), timer: self.timer.clone() };
        let call = OPERATION.scope(operation, call);
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

    /// A request that never ends.
    async fn hung() -> Result<(), Error> {
        std::future::pending().await
    }

    fn kept_timer(budget: &Budget) -> Option<*const Sleep> {
        budget.timer.0.lock().unwrap().as_ref().map(|kept| &*kept.sleep as *const Sleep)
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_is_cut_at_its_limit_or_at_the_deadline_whichever_comes_first() {
        let begin = Instant::now();
        let err = bounded(Duration::from_secs(3), hung()).await.unwrap_err();
        let Error::Transport { kind: TransportKind::Timeout, message, .. } = &err else { panic!("{err:?}") };
        assert!(message.contains("3000 ms request time limit"), "{message}");
        assert_eq!(begin.elapsed(), Duration::from_secs(3));

        let mut budget = Budget::new(Duration::from_secs(2));
        let err = budget.run(bounded(Duration::from_secs(30), hung())).await.unwrap_err();
        assert!(err.to_string().contains("2000 ms deadline"), "{err}");
        assert_eq!(begin.elapsed(), Duration::from_secs(5), "cut at the deadline, not the request limit");
        assert_eq!(bounded(Duration::from_secs(1), async { Ok(7) }).await.unwrap(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn the_requests_of_one_operation_share_one_timer_and_concurrent_ones_get_their_own() {
        let mut budget = Budget::new(Duration::from_secs(60));
        assert_eq!(kept_timer(&budget), None);
        budget.run(bounded(Duration::from_secs(30), async { Ok(()) })).await.unwrap();
        let first = kept_timer(&budget).expect("the timer is kept for the next request");
        budget
            .run(async {
                bounded(Duration::from_secs(30), async { Ok(()) }).await?;
                bounded(Duration::from_secs(30), async { Ok(()) }).await
            })
            .await
            .unwrap();
        assert_eq!(kept_timer(&budget), Some(first), "re-armed, not made anew");

        // Two at once: the second makes its own timer, and each is cut at its own limit.
        let begin = Instant::now();
        let (short, long) = budget
            .run(async {
                Ok(tokio::join!(bounded(Duration::from_secs(1), hung()), bounded(Duration::from_secs(2), hung())))
            })
            .await
            .unwrap();
        assert!(short.unwrap_err().is_timeout() && long.unwrap_err().is_timeout());
        assert_eq!(begin.elapsed(), Duration::from_secs(2));
        assert!(kept_timer(&budget).is_some());
    }

    /// A runtime of its own, with a real clock: these tests move a budget between runtimes.
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
    }

    /// A budget is a plain value a caller may keep: its timer must not tie it to the runtime its
    /// first request ran on, whether that runtime is gone (its timer would panic when polled) or
    /// idle (its timer would never fire, and a silent server would hang the request for ever).
    #[test]
    fn a_budget_moved_to_another_runtime_still_cuts_a_silent_request() {
        let mut budget = Budget::new(Duration::from_secs(20));
        let first = runtime();
        first.block_on(budget.run(bounded(Duration::from_secs(5), async { Ok(()) }))).unwrap();
        assert!(kept_timer(&budget).is_some());
        // The first runtime is alive but nobody drives it: its timers never fire.
        let (cut, took) = std::thread::scope(|scope| {
            let ran = scope.spawn(|| {
                let begin = std::time::Instant::now();
                let cut = runtime().block_on(budget.run(bounded(Duration::from_millis(50), hung())));
                (cut, begin.elapsed())
            });
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while !ran.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            assert!(ran.is_finished(), "the request was never cut: its timer sleeps on an idle runtime");
            ran.join().unwrap()
        });
        assert!(matches!(cut, Err(Error::Transport { kind: TransportKind::Timeout, .. })), "{cut:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        drop(first);
        // The runtime the kept timer came from is gone now.
        let cut = runtime().block_on(budget.run(bounded(Duration::from_millis(50), hung())));
        assert!(matches!(cut, Err(Error::Transport { kind: TransportKind::Timeout, .. })), "{cut:?}");
    }

    /// A login dropped mid-request (its caller gave up) hands the timer back; the next request
    /// under the same budget is cut at its own limit, and no timer is left armed.
    #[tokio::test(start_paused = true)]
    async fn a_request_dropped_midway_gives_the_timer_back() {
        let mut budget = Budget::new(Duration::from_secs(60));
        let abandoned =
            tokio::time::timeout(Duration::from_secs(1), budget.run(bounded(Duration::from_secs(30), hung())));
        assert!(abandoned.await.is_err(), "given up by its caller");
        assert!(kept_timer(&budget).is_some(), "the timer went back to the budget");
        let begin = Instant::now();
        let cut = budget.run(bounded(Duration::from_secs(2), hung())).await;
        assert!(matches!(cut, Err(Error::Transport { kind: TransportKind::Timeout, .. })), "{cut:?}");
        assert_eq!(begin.elapsed(), Duration::from_secs(2));
        assert_eq!(budget.run(bounded(Duration::from_secs(2), async { Ok(3) })).await.unwrap(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn limits_too_far_to_add_to_now_mean_no_limit_not_a_panic() {
        let mut budget = Budget::new(Duration::MAX);
        assert_eq!(budget.run(bounded(Duration::MAX, async { Ok(1) })).await.unwrap(), 1);
        assert_eq!(within(Duration::MAX, async { Ok(2) }).await.unwrap(), 2);
        let left = budget.run(async { Ok(clamp(Duration::MAX)) }).await.unwrap();
        assert!(left > Duration::from_secs(99 * 365 * 86_400), "{left:?}");
    }
}
