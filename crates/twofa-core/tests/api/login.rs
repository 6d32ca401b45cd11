//! The login driver against a scripted flow: every path of start → code → verify.

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
    /// `Ok(None)`: a session; `Ok(Some(method))`: a further challenge of that method.
    verifies: Mutex<VecDeque<Result<Option<Method>, Error>>>,
    codes: Mutex<Vec<String>>,
    start_calls: AtomicU32,
}

impl Scripted {
    /// `starts`: `Ok(true)` means a challenge, `Ok(false)` a session at once.
    fn new(starts: Vec<Result<bool, Error>>, verifies: Vec<Result<Option<Method>, Error>>) -> Self {
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

    async fn verify(&self, challenge: &Challenge, code: &OneTimeCode) -> Result<Step, Error> {
        challenge.portable_state("scripted")?;
        let n = self.codes.lock().unwrap().len();
        self.codes.lock().unwrap().push(format!("{}:{}", challenge.method().name(), code.expose_secret()));
        Ok(match self.verifies.lock().unwrap().pop_front().expect("unscripted verify")? {
            None => Step::Authenticated(Self::session()),
            Some(method) => Step::Challenge(Challenge::portable(
                "scripted",
                method,
                OffsetDateTime::UNIX_EPOCH,
                Secret::new(format!("next-{n}")),
            )),
        })
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
    let flow = Scripted::new(vec![Ok(true)], vec![Ok(None)]);
    let asked = Arc::new(Mutex::new(Vec::new()));
    login(&flow, &counting_codes(asked.clone()), &LoginOptions::default()).await.unwrap();
    assert_eq!(*flow.codes.lock().unwrap(), ["sms:code-1"]);
    assert_eq!(*asked.lock().unwrap(), [1]);
}

#[tokio::test]
async fn wrong_then_right_code_asks_again_on_the_same_challenge() {
    let flow = Scripted::new(vec![Ok(true)], vec![Err(Error::InvalidCode), Ok(None)]);
    let asked = Arc::new(Mutex::new(Vec::new()));
    login(&flow, &counting_codes(asked.clone()), &LoginOptions::default()).await.unwrap();
    assert_eq!(*flow.codes.lock().unwrap(), ["sms:code-1", "sms:code-2"]);
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
    let flow = Scripted::new(vec![Ok(true), Ok(true)], vec![Err(Error::ChallengeExpired), Ok(None)]);
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

/// Hands out "code-N" for codes and "pin-N" for PINs, and records (step, attempt, wants_pin).
fn step_codes(asked: Arc<Mutex<Vec<(u32, u32, bool)>>>) -> impl CodeSource {
    let n = AtomicU32::new(0);
    code_source::from_fn(move |request| {
        asked.lock().unwrap().push((request.step, request.attempt, request.wants_pin()));
        let i = n.fetch_add(1, Ordering::SeqCst) + 1;
        let kind = if request.wants_pin() { "pin" } else { "code" };
        async move { Ok(format!("{kind}-{i}")) }
    })
}

#[tokio::test]
async fn a_code_then_a_pin_is_two_steps() {
    let flow = Scripted::new(vec![Ok(true)], vec![Ok(Some(Method::SecurityPin)), Ok(None)]);
    let asked = Arc::new(Mutex::new(Vec::new()));
    login(&flow, &step_codes(asked.clone()), &LoginOptions::default()).await.unwrap();
    assert_eq!(*flow.codes.lock().unwrap(), ["sms:code-1", "security_pin:pin-2"]);
    assert_eq!(*asked.lock().unwrap(), [(1, 1, false), (2, 1, true)]);
}

#[tokio::test]
async fn attempts_are_counted_per_challenge() {
    // Two wrong codes, the right code, then a wrong PIN (asked again by the provider) and the right PIN.
    let flow = Scripted::new(
        vec![Ok(true)],
        vec![
            Err(Error::InvalidCode),
            Err(Error::InvalidCode),
            Ok(Some(Method::SecurityPin)),
            Ok(Some(Method::SecurityPin)),
            Ok(None),
        ],
    );
    let asked = Arc::new(Mutex::new(Vec::new()));
    login(&flow, &step_codes(asked.clone()), &LoginOptions::default()).await.unwrap();
    assert_eq!(*asked.lock().unwrap(), [(1, 1, false), (1, 2, false), (1, 3, false), (2, 1, true), (2, 2, true)]);
}

#[tokio::test]
async fn a_pin_asked_again_after_the_last_attempt_is_invalid_pin() {
    let flow = Scripted::new(
        vec![Ok(true)],
        vec![Ok(Some(Method::SecurityPin)), Ok(Some(Method::SecurityPin)), Ok(Some(Method::SecurityPin))],
    );
    let err =
        login(&flow, &step_codes(Arc::default()), &LoginOptions::default().max_code_attempts(2)).await.unwrap_err();
    assert!(matches!(err, Error::InvalidPin), "{err:?}");
}

#[tokio::test]
async fn a_wrong_pin_error_is_retried_on_a_pin_challenge_only() {
    let flow = Scripted::new(vec![Ok(true)], vec![Ok(Some(Method::SecurityPin)), Err(Error::InvalidPin), Ok(None)]);
    let asked = Arc::new(Mutex::new(Vec::new()));
    login(&flow, &step_codes(asked.clone()), &LoginOptions::default()).await.unwrap();
    assert_eq!(*asked.lock().unwrap(), [(1, 1, false), (2, 1, true), (2, 2, true)]);
    // A PIN the flow sent by itself, refused while a code was asked for: no second code is asked for.
    let flow = Scripted::new(vec![Ok(true)], vec![Err(Error::InvalidPin)]);
    let asked = Arc::new(Mutex::new(Vec::new()));
    let err = login(&flow, &step_codes(asked.clone()), &LoginOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidPin));
    assert_eq!(asked.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_number_of_steps_is_bounded() {
    let methods = [Method::Email, Method::Sms, Method::SecurityPin, Method::EmailOrSms, Method::Email];
    let flow = Scripted::new(vec![Ok(true)], methods.into_iter().map(|m| Ok(Some(m))).collect());
    let err = login(&flow, &step_codes(Arc::default()), &LoginOptions::default().max_steps(3)).await.unwrap_err();
    assert!(
        matches!(&err, Error::UnexpectedResponse { detail, .. } if detail.contains("more than 3 login steps")),
        "{err:?}"
    );
    assert_eq!(flow.codes.lock().unwrap().len(), 3, "stopped after the third answer");
}

/// Records what [`CodeSource::answered`] is told after each verification.
#[derive(Debug, Default)]
struct Reporting {
    outcomes: Mutex<Vec<(u32, u32, String)>>,
}

#[async_trait]
impl CodeSource for Reporting {
    async fn code(&self, request: &twofa_core::CodeRequest) -> Result<OneTimeCode, Error> {
        OneTimeCode::new(format!("code-{}", request.attempt))
    }

    async fn answered(&self, request: &twofa_core::CodeRequest, outcome: Result<(), &Error>) {
        let said = outcome.map_or_else(|e| format!("{e:?}"), |()| "ok".to_owned());
        self.outcomes.lock().unwrap().push((request.step, request.attempt, said));
    }
}

#[tokio::test]
async fn the_source_hears_what_became_of_each_answer() {
    // A wrong code (an error), a wrong code (asked again), the right code (a PIN next), a wrong
    // PIN (asked again), then the right PIN.
    let flow = Scripted::new(
        vec![Ok(true)],
        vec![
            Err(Error::InvalidCode),
            Ok(Some(Method::Sms)),
            Ok(Some(Method::SecurityPin)),
            Ok(Some(Method::SecurityPin)),
            Ok(None),
        ],
    );
    let codes = Reporting::default();
    login(&flow, &codes, &LoginOptions::default()).await.unwrap();
    let said = codes.outcomes.lock().unwrap().clone();
    let expected = [(1, 1, "InvalidCode"), (1, 2, "InvalidCode"), (1, 3, "ok"), (2, 1, "InvalidPin"), (2, 2, "ok")];
    assert_eq!(said, expected.map(|(s, a, o)| (s, a, o.to_owned())));
    // Another error is passed on as it is.
    let flow = Scripted::new(vec![Ok(true)], vec![Err(Error::AccountLocked)]);
    let codes = Reporting::default();
    assert!(matches!(login(&flow, &codes, &LoginOptions::default()).await, Err(Error::AccountLocked)));
    assert_eq!(codes.outcomes.lock().unwrap()[0].2, "AccountLocked");
}
