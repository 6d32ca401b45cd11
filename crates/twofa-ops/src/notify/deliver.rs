//! Delivery: one worker per notifier sends the notices in order, each to every sink, retrying a
//! failed `POST` with the jittered exponential [`Backoff`] of `twofa-core`.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use twofa_core::retry::Backoff;

use super::{message::Notice, sink::Sink};

/// What the worker is asked to do.
pub(crate) enum Job {
    Send(Box<Notice>),
    /// Answered once every job queued before it is done.
    Flush(oneshot::Sender<()>),
}

/// Starts the worker; it ends when the last sender is dropped.
pub(crate) fn spawn(sinks: Arc<[Sink]>, http: reqwest::Client, retry: Backoff) -> mpsc::UnboundedSender<Job> {
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
async fn deliver(http: &reqwest::Client, sink: &Sink, notice: &Notice, retry: Backoff) {
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
