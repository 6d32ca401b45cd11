//! One scenario list, run against every provider through `Box<dyn TwoFactorFlow>` and the sandbox.
//!
//! A provider plugs in by implementing [`Harness`] and invoking [`conformance_suite!`] with an
//! async constructor of it: each scenario becomes its own `#[tokio::test]`.

use std::{sync::Arc, time::Duration};

use twofa::{Challenge, Error, LoginOptions, OneTimeCode, Session, Step, TwoFactorFlow, code_source, login};
use twofa_sandbox::Sandbox;

/// The accounts a scenario can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    /// Has a second factor.
    TwoFactor,
    /// Has none.
    NoTwoFactor,
    /// Right user, wrong password.
    WrongPassword,
    /// Right user, unknown application key or company (`None` from `flow` when the backend has none).
    WrongAppKey,
    /// Has two challenges in a row (ETNA: a verification code, then the security PIN); `None`
    /// from `flow` when the backend documents no such login, and the two-step scenarios say they skip.
    TwoStep,
}

/// What a provider gives the suite.
pub trait Harness: Send + Sync + 'static {
    /// The running sandbox.
    fn sandbox(&self) -> &Sandbox;
    /// A flow for `account`; `None` when the provider has no such case.
    fn flow(&self, account: Account) -> Option<Box<dyn TwoFactorFlow>>;
    /// The right code for the newest challenge of the two-factor account.
    fn code(&self) -> String;
    /// Ages the sandbox past the challenge lifetime.
    fn expire_challenge(&self) {
        self.sandbox().clock().advance(Duration::from_secs(301));
    }
    /// Turns the login rate limit on and returns how many starts it allows; `None` when the
    /// provider has no documented limit.
    fn enable_rate_limit(&self) -> Option<u32>;
    /// Makes an authorized call to a protected sandbox endpoint and returns the HTTP status.
    fn call_api(&self, session: &Session) -> impl std::future::Future<Output = u16> + Send;
    /// Whether the backend has a logout call (Online Ordering documents none).
    fn has_logout(&self) -> bool {
        true
    }
    /// Every secret of the harness's accounts (passwords, keys), to look for in outputs.
    fn secrets(&self) -> Vec<String>;
    /// For [`Account::TwoStep`]: the right answer to challenge `step` (1-based) and a wrong one.
    fn two_step_answer(&self, _step: u32) -> (String, String) {
        unimplemented!("this harness has no two-step account")
    }
}

/// The two-step account's flow, or `None` after saying, visibly, that `scenario` is skipped.
fn two_step_flow(h: &impl Harness, scenario: &str) -> Option<Box<dyn TwoFactorFlow>> {
    let flow = h.flow(Account::TwoStep);
    if flow.is_none() {
        // Stable Rust has no "skipped" test outcome: the line shows with `--nocapture`, and the
        // provider's harness states the reason where it returns `None`.
        eprintln!("SKIPPED {scenario}: this provider documents no login with a second challenge");
    }
    flow
}

pub async fn two_step_login(h: impl Harness) {
    let Some(flow) = two_step_flow(&h, "two_step_login") else { return };
    let Step::Challenge(first) = flow.start().await.expect("start") else { panic!("no challenge") };
    let code = OneTimeCode::new(h.two_step_answer(1).0).unwrap();
    let Step::Challenge(second) = flow.verify(&first, &code).await.expect("first step") else {
        panic!("the two-step account logged in after one step")
    };
    assert_ne!(first.method().name(), second.method().name(), "the second step asks for another factor");
    // A web backend may store the pending second step between requests.
    if second.is_portable() {
        let saved = serde_json::to_string(&second.expose_secrets()).unwrap();
        let restored: Challenge = serde_json::from_str(&saved).unwrap();
        assert_eq!(restored.method().name(), second.method().name(), "the kind survives storage");
    }
    let answer = OneTimeCode::new(h.two_step_answer(2).0).unwrap();
    let Step::Authenticated(session) = flow.verify(&second, &answer).await.expect("second step") else {
        panic!("a third step")
    };
    assert_eq!(h.call_api(&session).await, 200);
}

pub async fn two_step_login_driver_asks_for_each_factor(h: impl Harness) {
    let Some(flow) = two_step_flow(&h, "two_step_login_driver_asks_for_each_factor") else { return };
    let h = Arc::new(h);
    let source = Arc::clone(&h);
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&asked);
    let codes = code_source::from_fn(move |request| {
        seen.lock().unwrap().push((request.step, request.attempt, request.method.name()));
        // A wrong first answer to the second step: it must be asked for again, not fail the login.
        let (right, wrong) = source.two_step_answer(request.step);
        let answer = if request.step == 2 && request.attempt == 1 { wrong } else { right };
        async move { Ok(answer) }
    });
    let session = login(flow.as_ref(), &codes, &LoginOptions::default()).await.expect("login");
    assert_eq!(h.call_api(&session).await, 200);
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.iter().map(|(step, attempt, _)| (*step, *attempt)).collect::<Vec<_>>(), [(1, 1), (2, 1), (2, 2)]);
    assert_ne!(asked[0].2, asked[1].2);
}

fn wrong(code: &str) -> String {
    if code == "000000" { "111111".into() } else { "000000".into() }
}

async fn challenge(h: &impl Harness) -> (Box<dyn TwoFactorFlow>, Challenge) {
    let flow = h.flow(Account::TwoFactor).expect("a two-factor account");
    match flow.start().await.expect("start") {
        Step::Challenge(c) => (flow, c),
        Step::Authenticated(_) => panic!("the two-factor account logged in without a code"),
    }
}

pub async fn happy_path(h: impl Harness) {
    let (flow, c) = challenge(&h).await;
    assert_eq!(c.provider(), flow.provider());
    let session =
        flow.verify(&c, &OneTimeCode::new(h.code()).unwrap()).await.expect("verify").session().expect("a session");
    assert_eq!(session.provider(), flow.provider());
    assert!(!session.is_expired(Duration::ZERO));
    assert_eq!(h.call_api(&session).await, 200);
}

pub async fn no_second_factor(h: impl Harness) {
    let flow = h.flow(Account::NoTwoFactor).expect("a single-factor account");
    let Step::Authenticated(session) = flow.start().await.expect("start") else { panic!("challenged without 2FA") };
    assert_eq!(h.call_api(&session).await, 200);
}

pub async fn wrong_code_then_right_code(h: impl Harness) {
    let (flow, c) = challenge(&h).await;
    let right = h.code();
    let err = flow.verify(&c, &OneTimeCode::new(wrong(&right)).unwrap()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidCode), "{err:?}");
    flow.verify(&c, &OneTimeCode::new(right).unwrap())
        .await
        .expect("the right code after a wrong one")
        .session()
        .expect("a session");
}

pub async fn login_driver_retries_a_wrong_code(h: impl Harness) {
    let flow = h.flow(Account::TwoFactor).unwrap();
    let h = Arc::new(h);
    let source = Arc::clone(&h);
    let codes = code_source::from_fn(move |request| {
        let code = if request.attempt == 1 { wrong(&source.code()) } else { source.code() };
        async move { Ok(code) }
    });
    let session = login(flow.as_ref(), &codes, &LoginOptions::default()).await.expect("login");
    assert_eq!(h.call_api(&session).await, 200);
}

pub async fn expired_challenge(h: impl Harness) {
    let (flow, c) = challenge(&h).await;
    let code = h.code();
    h.expire_challenge();
    let err = flow.verify(&c, &OneTimeCode::new(code).unwrap()).await.unwrap_err();
    assert!(matches!(err, Error::ChallengeExpired | Error::InvalidCode), "{err:?}");
}

pub async fn bad_password(h: impl Harness) {
    let flow = h.flow(Account::WrongPassword).unwrap();
    let err = flow.start().await.unwrap_err();
    assert!(matches!(err, Error::InvalidCredentials), "{err:?}");
}

pub async fn bad_app_key(h: impl Harness) {
    let Some(flow) = h.flow(Account::WrongAppKey) else { return };
    let err = flow.start().await.unwrap_err();
    assert!(matches!(err, Error::InvalidAppKey), "{err:?}");
}

pub async fn rate_limit(h: impl Harness) {
    let Some(allowed) = h.enable_rate_limit() else { return };
    let flow = h.flow(Account::NoTwoFactor).unwrap();
    for _ in 0..allowed {
        flow.start().await.expect("within the limit");
    }
    let err = flow.start().await.unwrap_err();
    assert!(matches!(err, Error::RateLimited { retry_after: Some(_) }), "{err:?}");
    assert!(err.is_retryable());
}

pub async fn logout(h: impl Harness) {
    let flow = h.flow(Account::NoTwoFactor).unwrap();
    let Step::Authenticated(session) = flow.start().await.unwrap() else { panic!() };
    assert_eq!(h.call_api(&session).await, 200);
    if !h.has_logout() {
        assert!(matches!(flow.logout(&session).await, Err(Error::Unsupported { operation: "logout" })));
        return;
    }
    flow.logout(&session).await.expect("logout");
    assert_eq!(h.call_api(&session).await, 401, "the token must be dead after logout");
}

/// A session is refused by a flow for another account (issue 22, item 1): its `resume` and
/// `logout` send nothing of it (the token still works afterwards) and say why with a typed error.
pub async fn foreign_session(h: impl Harness) {
    let flow = h.flow(Account::NoTwoFactor).unwrap();
    let Step::Authenticated(session) = flow.start().await.unwrap() else { panic!() };
    assert_eq!(session.origin(), flow.origin(), "the flow stamps its origin on its sessions");
    let other = h.flow(Account::TwoFactor).unwrap();
    assert_ne!(other.origin(), flow.origin(), "another account is another origin");
    // A provider without a resume call (ETNA) sends nothing either way.
    let resumed = other.resume(&session).await.unwrap_err();
    assert!(resumed.is_foreign_session() || matches!(resumed, Error::Unsupported { .. }), "{resumed:?}");
    if h.has_logout() {
        assert!(other.logout(&session).await.unwrap_err().is_foreign_session());
    }
    assert_eq!(h.call_api(&session).await, 200, "nothing reached the server: the session lives");
}

/// Runs every path and searches every `Debug`/`Display` for the secrets involved.
pub async fn no_secret_in_any_output(h: impl Harness) {
    let mut secrets = h.secrets();
    let mut shown = Vec::new();
    let (flow, c) = challenge(&h).await;
    shown.push(format!("{flow:?} {c:?}"));
    if let Ok(state) = c.portable_state(flow.provider()) {
        secrets.push(state.expose_secret().to_owned());
    }
    let code = h.code();
    secrets.push(code.clone());
    let wrong_code = OneTimeCode::new(wrong(&code)).unwrap();
    let err = flow.verify(&c, &wrong_code).await.unwrap_err();
    shown.push(format!("{err} {err:?} {wrong_code:?}"));
    let code = OneTimeCode::new(code).unwrap();
    let session = flow.verify(&c, &code).await.unwrap().session().unwrap();
    secrets.push(session.access_token().expose_secret().to_owned());
    if let Some(renewal) = session.renewal_token() {
        secrets.push(renewal.expose_secret().to_owned());
    }
    shown.push(format!("{session:?} {code:?} {:?}", session.header_value()));
    for account in [Account::WrongPassword, Account::WrongAppKey, Account::NoTwoFactor] {
        if let Some(flow) = h.flow(account) {
            match flow.start().await {
                Ok(step) => shown.push(format!("{step:?}")),
                Err(e) => shown.push(format!("{e} {e:?}")),
            }
        }
    }
    let all = shown.join("\n");
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        assert!(!all.contains(secret.as_str()), "secret `{secret}` leaked in:\n{all}");
    }
}

/// Every scenario of the suite, each on a fresh harness from `make`: for a suite run once per
/// sandbox variant. Each is named on stderr before it runs, so a failure names its variant.
pub async fn every_scenario<H: Harness, F: std::future::Future<Output = H>>(variant: &str, make: impl Fn() -> F) {
    crate::conformance_scenarios!(conformance_suite; @each variant, make());
}

/// Calls `$crate::$callback!($args; <every scenario>)`: the one list of the suite's scenarios.
#[macro_export]
macro_rules! conformance_scenarios {
    ($callback:ident; $($args:tt)*) => {
        $crate::$callback! {$($args)*;
            happy_path, no_second_factor, wrong_code_then_right_code, login_driver_retries_a_wrong_code,
            expired_challenge, bad_password, bad_app_key, rate_limit, logout, foreign_session, no_secret_in_any_output,
            two_step_login, two_step_login_driver_asks_for_each_factor}
    };
}

/// Expands to one `#[tokio::test]` per scenario, each with a fresh harness from `$make`.
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_scenarios!(conformance_suite; @tests $make);
    };
    (@tests $make:expr; $($scenario:ident),*) => {
        $(
            #[tokio::test]
            async fn $scenario() {
                $crate::conformance::$scenario($make.await).await;
            }
        )*
    };
    (@each $variant:expr, $make:expr; $($scenario:ident),*) => {
        $(
            eprintln!("variant {}: {}", $variant, stringify!($scenario));
            $crate::conformance::$scenario($make.await).await;
        )*
    };
}
