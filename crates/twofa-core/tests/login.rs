//! The login driver against a scripted flow: every path of start → code → verify.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
};

use async_trait::async_trait;
use time::OffsetDateTime;
use twofa_core::{
    AccessToken, Challenge, CodeSource, Error, LoginOptions, Method, OneTimeCode, Secret, Session, Step,
    TokenPlacement, TwoFactorFlow, code_source, login,
};

/// A flow that plays back scripted answers and records the codes it was given.
#[derive(Debug, Default)]
struct Scripted {
    starts: Mutex<VecDeque<Result<bool, Error>>>,
    verifies: Mutex<VecDeque<Result<(), Error>>>,
    codes: Mutex<Vec<String>>,
    start_calls: AtomicU32,
}

impl Scripted {
    /// `starts`: `Ok(true)` means a challenge, `Ok(false)` a session at once.
    fn new(starts: Vec<Result<bool, Error>>, verifies: Vec<Result<(), Error>>) -> Self {
        Self { starts: Mutex::new(starts.into()), verifies: Mutex::new(verifies.into()), ..Self::default() }
    }

    fn session() -> Session {
        Session::new("scripted", AccessToken::new("tok"), TokenPlacement::Bearer, OffsetDateTime::UNIX_EPOCH)
    }
}

#[async_trait]
impl TwoFactorFlow for Scripted {
    fn provider(&self) -> &'static str {
        "scripted"
    }

    async fn start(&self) -> Result<Step, Error> {
        let n = self.start_calls.fetch_add(1, Ordering::SeqCst);
        let next = self.starts.lock().unwrap().pop_front().expect("unscripted start");
        Ok(match next? {
            false => Step::Authenticated(Self::session()),
            true => Step::Challenge(
                Challenge::portable(
                    "scripted",
                    Method::Sms,
                    OffsetDateTime::UNIX_EPOCH,
                    Secret::new(format!("ticket-{n}")),
                )
                .with_hint("sent"),
            ),
        })
    }

    async fn verify(&self, challenge: &Challenge, code: &OneTimeCode) -> Result<Session, Error> {
        challenge.portable_state("scripted")?;
        self.codes.lock().unwrap().push(code.expose_secret().to_owned());
        self.verifies.lock().unwrap().pop_front().expect("unscripted verify").map(|()| Self::session())
    }
}

/// Hands out "code-1", "code-2"… and records the attempt numbers it was asked for.
fn counting_codes(attempts: Arc<Mutex<Vec<u32>>>) -> impl CodeSource {
    let n = AtomicU32::new(0);
    code_source::from_fn(move |request| {
        attempts.lock().unwrap().push(request.attempt);
        let i = n.fetch_add(1, Ordering::SeqCst) + 1;
        async move { Ok(format!("code-{i}")) }
    })
}

#[tokio::test]
async fn no_second_factor_needs_no_code() {
    let flow: Box<dyn TwoFactorFlow> = Box::new(Scripted::new(vec![Ok(false)], vec![]));
    let asked = Arc::new(Mutex::new(Vec::new()));
    let session = login(flow.as_ref(), &counting_codes(asked.clone()), &LoginOptions::default()).await.unwrap();
    assert_eq!(session.provider(), "scripted");
    assert!(asked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn right_code_first_time() {
    let flow = Scripted::new(vec![Ok(true)], vec![Ok(())]);
    let asked = Arc::new(Mutex::new(Vec::new()));
    login(&flow, &counting_codes(asked.clone()), &LoginOptions::default()).await.unwrap();
    assert_eq!(*flow.codes.lock().unwrap(), ["code-1"]);
    assert_eq!(*asked.lock().unwrap(), [1]);
}

#[tokio::test]
async fn wrong_then_right_code_asks_again_on_the_same_challenge() {
    let flow = Scripted::new(vec![Ok(true)], vec![Err(Error::InvalidCode), Ok(())]);
    let asked = Arc::new(Mutex::new(Vec::new()));
    login(&flow, &counting_codes(asked.clone()), &LoginOptions::default()).await.unwrap();
    assert_eq!(*flow.codes.lock().unwrap(), ["code-1", "code-2"]);
    assert_eq!(*asked.lock().unwrap(), [1, 2]);
    assert_eq!(flow.start_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn attempts_exhausted_returns_invalid_code() {
    let flow = Scripted::new(vec![Ok(true)], vec![Err(Error::InvalidCode), Err(Error::InvalidCode)]);
    let asked = Arc::new(Mutex::new(Vec::new()));
    let err =
        login(&flow, &counting_codes(asked.clone()), &LoginOptions::default().max_code_attempts(2)).await.unwrap_err();
    assert!(matches!(err, Error::InvalidCode));
    assert_eq!(*asked.lock().unwrap(), [1, 2]);
}

#[tokio::test]
async fn expired_challenge_restarts_once() {
    let flow = Scripted::new(vec![Ok(true), Ok(true)], vec![Err(Error::ChallengeExpired), Ok(())]);
    let asked = Arc::new(Mutex::new(Vec::new()));
    login(&flow, &counting_codes(asked.clone()), &LoginOptions::default()).await.unwrap();
    assert_eq!(flow.start_calls.load(Ordering::SeqCst), 2);
    assert_eq!(*asked.lock().unwrap(), [1, 1], "the new challenge starts counting again");
}

#[tokio::test]
async fn expired_twice_gives_up() {
    let flow =
        Scripted::new(vec![Ok(true), Ok(true)], vec![Err(Error::ChallengeExpired), Err(Error::ChallengeExpired)]);
    let err = login(&flow, &counting_codes(Arc::default()), &LoginOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::ChallengeExpired));
    assert_eq!(flow.start_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn no_restart_when_disabled() {
    let flow = Scripted::new(vec![Ok(true)], vec![Err(Error::ChallengeExpired)]);
    let options = LoginOptions::default().restart_on_expired(false);
    let err = login(&flow, &counting_codes(Arc::default()), &options).await.unwrap_err();
    assert!(matches!(err, Error::ChallengeExpired));
    assert_eq!(flow.start_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn code_source_failure_ends_the_login() {
    let flow = Scripted::new(vec![Ok(true)], vec![]);
    let codes = code_source::from_fn(|_| async { Err(Error::CodeSource("mailbox unreachable".into())) });
    let err = login(&flow, &codes, &LoginOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::CodeSource(_)));
    assert!(flow.codes.lock().unwrap().is_empty());
}

#[tokio::test]
async fn invalid_code_text_from_the_source_is_invalid_input() {
    let flow = Scripted::new(vec![Ok(true)], vec![]);
    let codes = code_source::from_fn(|_| async { Ok("   ".to_string()) });
    let err = login(&flow, &codes, &LoginOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)));
}

#[tokio::test]
async fn start_errors_are_returned_without_retry() {
    for error in [Error::InvalidCredentials, Error::transport(twofa_core::TransportKind::Connect, "refused")] {
        let flow = Scripted::new(vec![Err(error.clone())], vec![]);
        let err = login(&flow, &counting_codes(Arc::default()), &LoginOptions::default()).await.unwrap_err();
        assert_eq!(err.to_string(), error.to_string());
        assert_eq!(flow.start_calls.load(Ordering::SeqCst), 1, "a login start is never retried");
    }
}

#[tokio::test]
async fn other_verify_errors_are_not_retried() {
    let flow = Scripted::new(vec![Ok(true)], vec![Err(Error::AccountLocked)]);
    let err = login(&flow, &counting_codes(Arc::default()), &LoginOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::AccountLocked));
    assert_eq!(flow.codes.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn default_resume_and_logout_are_unsupported() {
    let flow: Arc<dyn TwoFactorFlow> = Arc::new(Scripted::default());
    let s = Scripted::session();
    assert!(matches!(flow.resume(&s).await, Err(Error::Unsupported { operation: "resume" })));
    assert!(matches!(flow.logout(&s).await, Err(Error::Unsupported { operation: "logout" })));
}
