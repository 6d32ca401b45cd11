//! Delivery: one worker per notifier sends the notices in order, each to every sink, retrying a
//! failed `POST` with jittered exponential backoff.

use std::{sync::Arc, time::Duration};

use rand::Rng as _;
use tokio::sync::{mpsc, oneshot};

use super::{message::Notice, sink::Sink};

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retry {
    /// Tries in all (at least 1).
    pub attempts: u32,
    /// The first backoff; each next one doubles, up to `max`.
    pub base: Duration,
    /// The longest backoff.
    pub max: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self { attempts: 5, base: Duration::from_secs(1), max: Duration::from_secs(60) }
    }
}

impl Retry {
    /// `attempts` tries, backing off from `base` up to `max`.
    pub fn new(attempts: u32, base: Duration, max: Duration) -> Self {
        Self { attempts: attempts.max(1), base, max }
    }

    /// The wait before try `n + 1` (after `n` failed ones): a random time up to
    /// `min(max, base · 2ⁿ⁻¹)` ("full jitter"), so many notifiers that failed together do not
    /// retry together.
    pub fn delay(&self, n: u32) -> Duration {
        let ceiling = self.base.saturating_mul(1u32 << n.saturating_sub(1).min(20)).min(self.max);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }
}

/// What the worker is asked to do.
pub(crate) enum Job {
    Send(Box<Notice>),
    /// Answered once every job queued before it is done.
    Flush(oneshot::Sender<()>),
}

/// Starts the worker; it ends when the last sender is dropped.
pub(crate) fn spawn(sinks: Arc<[Sink]>, http: reqwest::Client, retry: Retry) -> mpsc::UnboundedSender<Job> {
    let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
    tokio::spawn(async move {
        while let Some(job) = queue.recv().await {
            match job {
                Job::Send(notice) => {
                    for sink in sinks.iter() {
                        deliver(&http, sink, &notice, retry).await;
                    }
                }
                Job::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    });
    jobs
}

/// Whether an answer is worth another try: the server's trouble, or too many requests.
fn retryable(status: reqwest::StatusCode) -> bool {
    status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS
}

/// Sends `notice` to `sink`, retrying; a failure is logged (kind and host, never the URL).
async fn deliver(http: &reqwest::Client, sink: &Sink, notice: &Notice, retry: Retry) {
    for attempt in 1..=retry.attempts {
        let problem = match sink.request(http, notice).send().await {
            Ok(answer) if answer.status().is_success() => return,
            Ok(answer) if !retryable(answer.status()) => {
                tracing::warn!(
                    sink = sink.kind().name(),
                    host = sink.host(),
                    status = answer.status().as_u16(),
                    "the notification was refused"
                );
                return;
            }
            Ok(answer) => format!("HTTP {}", answer.status().as_u16()),
            // Without the URL: it may hold a token.
            Err(e) => e.without_url().to_string(),
        };
        if attempt == retry.attempts {
            tracing::warn!(
                sink = sink.kind().name(),
                host = sink.host(),
                problem,
                attempts = attempt,
                "the notification could not be delivered"
            );
            return;
        }
        tracing::debug!(sink = sink.kind().name(), host = sink.host(), problem, attempt, "retrying the notification");
        tokio::time::sleep(retry.delay(attempt)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_ceiling_with_jitter() {
        let retry = Retry::new(5, Duration::from_millis(100), Duration::from_millis(350));
        for _ in 0..50 {
            assert!(retry.delay(1) <= Duration::from_millis(100));
            assert!(retry.delay(2) <= Duration::from_millis(200));
            assert!(retry.delay(3) <= Duration::from_millis(350), "capped");
            assert!(retry.delay(30) <= Duration::from_millis(350));
        }
        let delays: std::collections::HashSet<_> = (0..20).map(|_| retry.delay(3)).collect();
        assert!(delays.len() > 1, "jittered");
        assert_eq!(Retry::new(0, Duration::ZERO, Duration::ZERO).attempts, 1);
    }
}
