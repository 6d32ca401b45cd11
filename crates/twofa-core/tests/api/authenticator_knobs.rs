//! The authenticator's knobs against a fake flow: the overall deadline (in tokio's paused clock),
//! the cool-down of failed renewals, and the jitter on the refresh margin.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::time::Instant;
use twofa_core::{
    AccessToken, Authenticator, Challenge, Clock, Cooldown, Error, LoginOptions, ManualClock, Method, OneTimeCode,
    Secret, Session, Step, TokenPlacement, TransportKind, TwoFactorFlow, code_source, login,
    retry::Backoff,
    store::{MemoryStore, SessionStore},
};

/// A flow whose every step takes a set (virtual) time, and counts what it was asked.
#[derive(Debug)]
struct Fake {
    clock: ManualClock,
    start_takes: Duration,
    verify_takes: Duration,
    /// Each resume (and logout) attempt takes this long, then times out; up to 5 attempts.
    /// `None`: the provider cannot resume (a renewal is a login).
    attempt_takes: Option<Duration>,
    challenge: bool,
    start_error: Mutex<Option<Error>>,
    lifetime: Duration,
    starts: AtomicU32,
    attempts: AtomicU32,
}

impl Fake {
    fn new() -> Self {
        Self {
            clock: ManualClock::new(OffsetDateTime::now_utc()),
            start_takes: Duration::ZERO,
            verify_takes: Duration::ZERO,
            attempt_takes: None,
            challenge: false,
            start_error: Mutex::new(None),
            lifetime: Duration::from_secs(3600),
            starts: AtomicU32::new(0),
            attempts: AtomicU32::new(0),
        }
    }

    fn failing(error: Error) -> Self {
        let fake = Self::new();
        *fake.start_error.lock().unwrap() = Some(error);
        fake
    }

    fn session(&self) -> Session {
        let now = self.clock.now();
        Session::new("fake", AccessToken::new("tok"), TokenPlacement::Bearer, now)
            .with_expires_at(Some(now + self.lifetime))
    }

    /// An idempotent call retried as providers do (5 tries), each try running into its own timeout.
    async fn retried(&self, operation: &'static str) -> Result<(), Error> {
        let Some(takes) = self.attempt_takes else { return Err(Error::Unsupported { operation }) };
        let mut backoff = Backoff::default();
        (backoff.attempts, backoff.base, backoff.max) = (5, Duration::from_millis(1), Duration::from_millis(1));
        backoff
            .retry(|| async {
                self.attempts.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(takes).await;
                Err(Error::transport(TransportKind::Timeout, "no answer"))
            })
            .await
    }

    fn starts(&self) -> u32 {
        self.starts.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TwoFactorFlow for Fake {
    fn provider(&self) -> &'static str {
        "fake"
    }

    async fn start(&self) -> Result<Step, Error> {
        self.starts.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.start_takes).await;
        if let Some(e) = self.start_error.lock().unwrap().clone() {
            return Err(e);
        }
        Ok(if self.challenge {
            Step::Challenge(Challenge::portable("fake", Method::Sms, self.clock.now(), Secret::new("ticket")))
        } else {
            Step::Authenticated(self.session())
        })
    }

    async fn verify(&self, _: &Challenge, _: &OneTimeCode) -> Result<Step, Error> {
        tokio::time::sleep(self.verify_takes).await;
        Ok(Step::Authenticated(self.session()))
    }

    async fn resume(&self, _: &Session) -> Result<Session, Error> {
        self.retried("resume").await.map(|()| self.session())
    }

    async fn logout(&self, _: &Session) -> Result<(), Error> {
        self.retried("logout").await
    }
}

fn expired_session() -> Session {
    Session::new("fake", AccessToken::new("old"), TokenPlacement::Bearer, OffsetDateTime::UNIX_EPOCH)
        .with_expires_at(Some(OffsetDateTime::UNIX_EPOCH + Duration::from_secs(60)))
}

fn is_timeout(result: &Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(result, Err(Error::Transport { kind: TransportKind::Timeout, .. }))
}

// ---- deadline -------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn retries_of_a_resume_stop_at_the_renewal_deadline() {
    let flow = Arc::new(Fake { attempt_takes: Some(secs(10)), ..Fake::new() });
    let store = Arc::new(MemoryStore::new());
    store.save("fake", &expired_session()).await.unwrap();
    let auth = Authenticator::builder(flow.clone()).store(store).deadline(Duration::from_secs(25)).build();
    let begin = Instant::now();
    let result = auth.token().await;
    let took = begin.elapsed();
    assert!(is_timeout(&result), "{result:?}");
    assert_eq!(flow.attempts.load(Ordering::SeqCst), 3, "tries at 0 s, 10 s and 20 s; the third is cut at 25 s");
    assert!(took >= Duration::from_secs(25) && took < Duration::from_millis(25_050), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn retries_of_a_logout_stop_at_the_deadline() {
    let flow = Arc::new(Fake { attempt_takes: Some(secs(10)), ..Fake::new() });
    let store = Arc::new(MemoryStore::new());
    store.save("fake", &expired_session()).await.unwrap();
    let auth = Authenticator::builder(flow.clone()).store(store.clone()).deadline(Duration::from_secs(15)).build();
    let begin = Instant::now();
    let result = auth.logout().await;
    assert!(is_timeout(&result), "{result:?}");
    assert_eq!(flow.attempts.load(Ordering::SeqCst), 2);
    assert!(begin.elapsed() < Duration::from_millis(15_050), "{:?}", begin.elapsed());
    assert!(store.load("fake").await.unwrap().is_none(), "the local session ends anyway");
}

/// A person typing for two minutes does not eat the network deadline.
#[tokio::test(start_paused = true)]
async fn waiting_for_the_code_does_not_count_against_the_deadline() {
    let codes = code_source::from_fn(|_| async {
        tokio::time::sleep(Duration::from_secs(120)).await;
        Ok("123456".to_owned())
    });
    let options = LoginOptions::default().deadline(Duration::from_secs(20));
    let within = Fake { challenge: true, start_takes: secs(8), verify_takes: secs(8), ..Fake::new() };
    let begin = Instant::now();
    login(&within, &codes, &options).await.unwrap();
    assert_eq!(begin.elapsed(), secs(136));

    let over = Fake { challenge: true, start_takes: secs(8), verify_takes: secs(15), ..Fake::new() };
    let begin = Instant::now();
    let result = login(&over, &codes, &options).await;
    assert!(is_timeout(&result), "{result:?}");
    assert_eq!(begin.elapsed(), secs(8 + 120 + 12), "verify is cut when the 20 s of network time are spent");
}

#[tokio::test(start_paused = true)]
async fn a_login_start_that_never_answers_ends_at_the_deadline() {
    let flow = Fake { start_takes: secs(3600), ..Fake::new() };
    let begin = Instant::now();
    let result = login(&flow, &code_source::from_fn(|_| async { Ok("1".into()) }), &LoginOptions::default()).await;
    assert!(is_timeout(&result), "{result:?}");
    assert_eq!(begin.elapsed(), secs(60), "the documented default");
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

// ---- cool-down -----------------------------------------------------------------------------

#[tokio::test]
async fn rejected_credentials_are_answered_from_memory_for_the_cooldown() {
    let flow = Arc::new(Fake::failing(Error::InvalidCredentials));
    let auth = Authenticator::builder(flow.clone()).clock(Arc::new(flow.clock.clone())).build();
    for _ in 0..10 {
        assert!(matches!(auth.token().await, Err(Error::InvalidCredentials)));
    }
    assert_eq!(flow.starts(), 1);
    flow.clock.advance(secs(29));
    assert!(matches!(auth.token().await, Err(Error::InvalidCredentials)));
    assert_eq!(flow.starts(), 1, "29 s later: still cooling down");
    flow.clock.advance(secs(1));
    assert!(matches!(auth.token().await, Err(Error::InvalidCredentials)));
    assert_eq!(flow.starts(), 2, "after the 30 s cool-down a call tries again");
}

#[tokio::test]
async fn a_transport_error_cools_down_briefly() {
    let flow = Arc::new(Fake::failing(Error::transport(TransportKind::Connect, "refused")));
    let auth = Authenticator::builder(flow.clone()).clock(Arc::new(flow.clock.clone())).build();
    assert!(matches!(auth.token().await, Err(Error::Transport { kind: TransportKind::Connect, .. })));
    assert!(matches!(auth.token().await, Err(Error::Transport { kind: TransportKind::Connect, .. })));
    assert_eq!(flow.starts(), 1);
    flow.clock.advance(secs(1));
    *flow.start_error.lock().unwrap() = None;
    auth.token().await.unwrap();
    assert_eq!(flow.starts(), 2, "the network is back: one second later the login goes through");
}

#[tokio::test]
async fn a_rate_limit_cools_down_as_long_as_the_provider_asked() {
    let flow = Arc::new(Fake::failing(Error::RateLimited { retry_after: Some(secs(90)) }));
    let auth = Authenticator::builder(flow.clone()).clock(Arc::new(flow.clock.clone())).build();
    assert!(matches!(auth.token().await, Err(Error::RateLimited { .. })));
    flow.clock.advance(secs(89));
    assert!(matches!(auth.token().await, Err(Error::RateLimited { .. })));
    assert_eq!(flow.starts(), 1);
    flow.clock.advance(secs(1));
    assert!(matches!(auth.token().await, Err(Error::RateLimited { .. })));
    assert_eq!(flow.starts(), 2);
}

#[tokio::test]
async fn without_a_cooldown_every_call_tries_again() {
    let flow = Arc::new(Fake::failing(Error::InvalidCredentials));
    let auth =
        Authenticator::builder(flow.clone()).clock(Arc::new(flow.clock.clone())).cooldown(Cooldown::none()).build();
    for _ in 0..3 {
        assert!(matches!(auth.token().await, Err(Error::InvalidCredentials)));
    }
    assert_eq!(flow.starts(), 3);
}

// ---- jitter --------------------------------------------------------------------------------

#[tokio::test]
async fn jitter_renews_early_by_at_most_its_bound() {
    let flow = Arc::new(Fake::new());
    let auth = Authenticator::builder(flow.clone())
        .clock(Arc::new(flow.clock.clone()))
        .refresh_margin(secs(60))
        .refresh_jitter(secs(30))
        .build();
    auth.token().await.unwrap();
    flow.clock.advance(secs(3600 - 90) - Duration::from_millis(1));
    auth.token().await.unwrap();
    assert_eq!(flow.starts(), 1, "before margin + jitter: fresh");
    flow.clock.advance(secs(30));
    auth.token().await.unwrap();
    assert_eq!(flow.starts(), 2, "within the margin: renewed whatever the jitter");
}

#[tokio::test]
async fn a_fleet_with_jitter_does_not_renew_in_the_same_second() {
    let clock = ManualClock::new(OffsetDateTime::now_utc());
    let mut fleet = Vec::new();
    for _ in 0..32 {
        let flow = Arc::new(Fake { clock: clock.clone(), ..Fake::new() });
        let auth = Authenticator::builder(flow.clone()).clock(Arc::new(clock.clone())).refresh_jitter(secs(30)).build();
        auth.token().await.unwrap();
        fleet.push((flow, auth));
    }
    clock.advance(secs(3600 - 75)); // the middle of the 30 s jitter window
    let mut renewed = 0;
    for (flow, auth) in &fleet {
        auth.token().await.unwrap();
        renewed += flow.starts() - 1;
    }
    // Each renews here with probability 1/2: all or none of 32 happens once in 2^31 runs.
    assert!(renewed > 0 && renewed < 32, "{renewed} of 32 renewed at the same instant");
}

#[tokio::test]
async fn without_jitter_the_margin_is_exact() {
    let flow = Arc::new(Fake::new());
    let auth = Authenticator::builder(flow.clone()).clock(Arc::new(flow.clock.clone())).build();
    auth.token().await.unwrap();
    flow.clock.advance(secs(3600 - 60) - Duration::from_millis(1));
    auth.token().await.unwrap();
    assert_eq!(flow.starts(), 1);
    flow.clock.advance(Duration::from_millis(1));
    auth.token().await.unwrap();
    assert_eq!(flow.starts(), 2);
}
