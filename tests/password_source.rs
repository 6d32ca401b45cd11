//! Credentials are lazy: a flow asks its password source when a fresh login starts — once per
//! login, however many steps it has — and never to resume a session.
#![cfg(all(feature = "etna", feature = "onlineordering"))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use twofa::{
    Authenticator, Error, ManualClock, Password, PasswordFn, PasswordSource, code_source, etna::EtnaFlow,
    onlineordering::OnlineOrderingFlow,
};
use twofa_sandbox::{Sandbox, etna, onlineordering};

/// A password source that counts its calls.
fn counted(password: &'static str) -> (Arc<dyn PasswordSource>, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let source = PasswordFn::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async move { Ok(Password::new(password)) }
    });
    (Arc::new(source), calls)
}

#[tokio::test]
async fn the_source_is_asked_once_per_fresh_login_and_never_to_resume() {
    let sandbox = Sandbox::start().await.unwrap();
    let clock = ManualClock::new(twofa::time::OffsetDateTime::now_utc());
    let (source, calls) = counted(onlineordering::PASSWORD);
    let flow = OnlineOrderingFlow::builder()
        .base_url(sandbox.base_url())
        .company_code(onlineordering::COMPANY_CODE)
        .integrator(onlineordering::API_USER, onlineordering::API_PASSWORD)
        .email(onlineordering::CUSTOMER_NO_2FA)
        .password_source(source)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 0, "building asks nothing");
    let auth = Authenticator::builder(Arc::new(flow)).clock(Arc::new(clock.clone())).build();
    auth.token().await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a fresh login asks once");
    clock.advance(Duration::from_secs(onlineordering::TOKEN_LIFETIME_SECS));
    auth.token().await.unwrap();
    assert_eq!(sandbox.stats().requests("onlineordering.refresh"), 1, "renewed by a resume");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a resume asks nothing");
    auth.login().await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "a forced login asks again");
}

#[tokio::test]
async fn a_login_of_two_steps_asks_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let (source, calls) = counted(etna::PASSWORD);
    let flow = EtnaFlow::builder()
        .base_url(sandbox.etna_base_url())
        .app_key(etna::APP_KEY)
        .username(etna::USER_2FA)
        .password_source(source)
        .build()
        .unwrap();
    let outbox = sandbox.outbox();
    let codes = code_source::from_fn(move |_| {
        let code = outbox.latest_code(etna::USER_2FA);
        async move { code.ok_or_else(|| Error::CodeSource("no mail".into())) }
    });
    let auth = Authenticator::builder(Arc::new(flow)).code_source(Arc::new(codes)).build();
    auth.token().await.unwrap();
    // ETNA sends the password with the code too: the answer of this login's start.
    assert_eq!(sandbox.stats().requests("etna.token"), 2);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_empty_password_from_a_source_is_refused_before_anything_is_sent() {
    let sandbox = Sandbox::start().await.unwrap();
    let flow = EtnaFlow::builder()
        .base_url(sandbox.etna_base_url())
        .app_key(etna::APP_KEY)
        .username(etna::USER_NO_2FA)
        .password_source(Arc::new(PasswordFn::new(|| async { Ok(Password::new("")) })))
        .build()
        .unwrap();
    let auth = Authenticator::builder(Arc::new(flow)).build();
    assert!(
        matches!(auth.token().await, Err(Error::Config(m)) if m == "ETNA needs a username and a password, both non-empty")
    );
    assert_eq!(sandbox.stats().requests("etna.token"), 0);
}
