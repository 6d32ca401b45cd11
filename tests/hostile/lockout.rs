//! No lockout by retry: a wrong password, a wrong code or a locked account reaches the provider
//! once, however many callers ask for a token and however late they arrive, until the cool-down
//! is over. Providers lock an account after a few failed logins; a service with a wrong password
//! in its configuration must not be the one that locks it.

use std::{sync::Arc, time::Duration};

use twofa::{Authenticator, Error, ManualClock, TwoFactorFlow, code_source};
use twofa_sandbox::{Sandbox, etna, onlineordering};

#[path = "../sandbox_flows/mod.rs"]
mod sandbox_flows;
use sandbox_flows::{etna_flow, online_flow};

/// `n` callers released together on a multi-threaded runtime; every result.
async fn callers(auth: &Authenticator, n: usize) -> Vec<Result<twofa::AccessToken, Error>> {
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let calls: Vec<_> = (0..n)
        .map(|_| {
            let (auth, start) = (auth.clone(), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                auth.token().await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for call in calls {
        results.push(call.await.unwrap());
    }
    results
}

fn clock() -> ManualClock {
    ManualClock::new(twofa::time::OffsetDateTime::now_utc())
}

/// 100 callers at once, then 100 more that arrive after the first failure was returned — the
/// late ones are how 28 logins came out of 100 callers when failures were not remembered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_password_reaches_the_provider_once_for_two_hundred_callers() {
    let sandbox = Sandbox::start().await.unwrap();
    let flow = etna_flow(&sandbox, etna::USER_NO_2FA, "wrong-password");
    let clock = clock();
    let auth = Authenticator::builder(flow).clock(Arc::new(clock.clone())).build();
    for wave in 0..2 {
        for result in callers(&auth, 100).await {
            assert!(matches!(result, Err(Error::InvalidCredentials)), "wave {wave}: {result:?}");
        }
    }
    assert_eq!(sandbox.stats().requests("etna.token"), 1, "one login request for 200 callers");

    clock.advance(Duration::from_secs(29));
    assert!(matches!(auth.token().await, Err(Error::InvalidCredentials)));
    assert_eq!(sandbox.stats().requests("etna.token"), 1, "29 s later the failure is still answered from memory");
    clock.advance(Duration::from_secs(1));
    assert!(matches!(auth.token().await, Err(Error::InvalidCredentials)));
    assert_eq!(sandbox.stats().requests("etna.token"), 2, "after the 30 s cool-down, one new attempt");
}

/// A wrong code burns the attempts of one login, never those of a second one started behind the
/// person's back: the next callers get the failure, not a new code by e-mail.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_code_is_not_retried_by_later_callers() {
    let sandbox = Sandbox::start().await.unwrap();
    let clock = clock();
    let flow: Arc<dyn TwoFactorFlow> = Arc::new(online_flow(&sandbox, onlineordering::CUSTOMER_EMAIL_2FA, &clock));
    let wrong = Arc::new(code_source::from_fn(|_| async { Ok("000000".to_owned()) }));
    let auth = Authenticator::builder(flow).code_source(wrong).clock(Arc::new(clock.clone())).build();
    for _ in 0..2 {
        for result in callers(&auth, 100).await {
            assert!(matches!(result, Err(Error::InvalidCode)), "{result:?}");
        }
    }
    assert_eq!(sandbox.stats().requests("onlineordering.login"), 1, "one login, one code sent");
    assert_eq!(sandbox.stats().requests("onlineordering.verify"), 3, "the 3 attempts of that one login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_locked_account_is_asked_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let clock = clock();
    let flow: Arc<dyn TwoFactorFlow> = Arc::new(online_flow(&sandbox, onlineordering::CUSTOMER_LOCKED, &clock));
    let auth = Authenticator::builder(flow).clock(Arc::new(clock.clone())).build();
    for _ in 0..2 {
        for result in callers(&auth, 100).await {
            assert!(matches!(result, Err(Error::AccountLocked)), "{result:?}");
        }
    }
    assert_eq!(sandbox.stats().requests("onlineordering.login"), 1);
}
