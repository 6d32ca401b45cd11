//! The session manager against the sandbox: caching, single-flight renewal, resume and fallback,
//! 401 handling, idle timeouts and persistence.
#![cfg(all(feature = "etna", feature = "onlineordering"))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use twofa::{
    Authenticator, Challenge, CodeSource, Error, ManualClock, OneTimeCode, Session, Step, TwoFactorFlow, code_source,
    etna::EtnaFlow,
    onlineordering::OnlineOrderingFlow,
    store::{FileStore, MemoryStore, SessionStore},
};
use twofa_sandbox::{Outbox, Sandbox, etna, onlineordering};

mod sandbox_flows;
use sandbox_flows::{etna_flow, online_flow};

fn clock() -> ManualClock {
    ManualClock::new(twofa::time::OffsetDateTime::now_utc())
}

/// A code source that reads the outbox and counts how often it was asked.
fn counted_mailbox(outbox: Outbox, user: &'static str, asked: Arc<AtomicU32>) -> Arc<dyn CodeSource> {
    Arc::new(code_source::from_fn(move |_| {
        asked.fetch_add(1, Ordering::SeqCst);
        let code = outbox.latest_code(user);
        async move { code.ok_or_else(|| Error::CodeSource("no mail".into())) }
    }))
}

/// The session manager over the shared sandbox flows (`sandbox_flows`) against every reading the
/// sandbox offers where the documents are silent (`Variants::each`): an ETNA 2FA login asks for one
/// code and is then served from memory; an Online Ordering session renews through its refresh token.
#[tokio::test]
async fn the_session_manager_passes_against_every_sandbox_variant() {
    for (variant, variants) in twofa_sandbox::Variants::each() {
        let sandbox = Sandbox::builder().variants(variants).start().await.unwrap();
        let asked = Arc::new(AtomicU32::new(0));
        let codes = counted_mailbox(sandbox.outbox(), etna::USER_2FA, asked.clone());
        let auth =
            Authenticator::builder(etna_flow(&sandbox, etna::USER_2FA, etna::PASSWORD)).code_source(codes).build();
        let first = auth.token().await.unwrap_or_else(|e| panic!("{variant}: {e:?}"));
        assert_eq!(auth.token().await.unwrap().expose_secret(), first.expose_secret(), "{variant}");
        assert_eq!(asked.load(Ordering::SeqCst), 1, "{variant}");

        let clock = clock();
        let flow = Arc::new(online_flow(&sandbox, onlineordering::CUSTOMER_NO_2FA, &clock));
        let online = Authenticator::builder(flow).clock(Arc::new(clock.clone())).build();
        online.token().await.unwrap_or_else(|e| panic!("{variant}: {e:?}"));
        clock.advance(Duration::from_secs(onlineordering::TOKEN_LIFETIME_SECS));
        online.token().await.unwrap_or_else(|e| panic!("{variant}: {e:?}"));
        assert_eq!(sandbox.stats().requests("onlineordering.refresh"), 1, "{variant}");
    }
}

#[tokio::test]
async fn a_fresh_session_is_served_from_memory() {
    let sandbox = Sandbox::start().await.unwrap();
    let auth = Authenticator::builder(etna_flow(&sandbox, etna::USER_NO_2FA, etna::PASSWORD)).build();
    let first = auth.token().await.unwrap();
    for _ in 0..100 {
        assert_eq!(auth.token().await.unwrap().expose_secret(), first.expose_secret());
    }
    assert_eq!(sandbox.stats().requests("etna.token"), 1);
}

#[tokio::test]
async fn a_thousand_concurrent_calls_at_expiry_make_exactly_one_refresh() {
    let sandbox = Sandbox::start().await.unwrap();
    let clock = clock();
    let flow = Arc::new(online_flow(&sandbox, onlineordering::CUSTOMER_NO_2FA, &clock));
    let auth = Authenticator::builder(flow).clock(Arc::new(clock.clone())).build();
    auth.token().await.unwrap();
    clock.advance(Duration::from_secs(onlineordering::TOKEN_LIFETIME_SECS));
    let calls: Vec<_> = (0..1000)
        .map(|_| {
            tokio::spawn({
                let auth = auth.clone();
                async move { auth.token().await }
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(sandbox.stats().requests("onlineordering.refresh"), 1, "exactly one renewal");
    assert_eq!(sandbox.stats().requests("onlineordering.login"), 1);
}

#[tokio::test]
async fn a_thousand_concurrent_calls_at_expiry_make_exactly_one_relogin_without_refresh() {
    let sandbox = Sandbox::start().await.unwrap();
    let clock = clock();
    let flow: Arc<dyn TwoFactorFlow> = Arc::new(
        EtnaFlow::builder()
            .base_url(sandbox.etna_base_url())
            .app_key(etna::APP_KEY)
            .username(etna::USER_2FA)
            .password(etna::PASSWORD)
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap(),
    );
    let asked = Arc::new(AtomicU32::new(0));
    let codes = counted_mailbox(sandbox.outbox(), etna::USER_2FA, asked.clone());
    let auth = Authenticator::builder(flow).code_source(codes).clock(Arc::new(clock.clone())).build();
    auth.token().await.unwrap();
    clock.advance(Duration::from_secs(24 * 3600));
    let calls: Vec<_> = (0..1000)
        .map(|_| {
            tokio::spawn({
                let auth = auth.clone();
                async move { auth.token().await }
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(sandbox.stats().requests("etna.token"), 4, "two logins of two requests each");
    assert_eq!(asked.load(Ordering::SeqCst), 2, "one prompt per login, never one per caller");
}

#[tokio::test]
async fn renewal_happens_within_the_margin_and_not_before() {
    let sandbox = Sandbox::start().await.unwrap();
    let clock = clock();
    let flow = Arc::new(online_flow(&sandbox, onlineordering::CUSTOMER_NO_2FA, &clock));
    let auth =
        Authenticator::builder(flow).clock(Arc::new(clock.clone())).refresh_margin(Duration::from_secs(60)).build();
    auth.token().await.unwrap();
    clock.advance(Duration::from_secs(onlineordering::TOKEN_LIFETIME_SECS - 61));
    auth.token().await.unwrap();
    assert_eq!(sandbox.stats().requests("onlineordering.refresh"), 0, "61 s before expiry is still fresh");
    clock.advance(Duration::from_secs(2));
    auth.token().await.unwrap();
    assert_eq!(sandbox.stats().requests("onlineordering.refresh"), 1, "59 s before expiry is within the margin");
}

#[tokio::test]
async fn a_dead_refresh_token_falls_back_to_a_full_login() {
    let sandbox = Sandbox::start().await.unwrap();
    let clock = clock();
    let flow = Arc::new(online_flow(&sandbox, onlineordering::CUSTOMER_EMAIL_2FA, &clock));
    let asked = Arc::new(AtomicU32::new(0));
    let codes = counted_mailbox(sandbox.outbox(), onlineordering::CUSTOMER_EMAIL_2FA, asked.clone());
    let auth = Authenticator::builder(flow.clone()).code_source(codes).clock(Arc::new(clock.clone())).build();
    let first = auth.session().await.unwrap();
    flow.resume(&first).await.unwrap(); // someone else used the refresh token: rotation kills ours
    clock.advance(Duration::from_secs(onlineordering::TOKEN_LIFETIME_SECS));
    auth.token().await.unwrap();
    assert_eq!(sandbox.stats().requests("onlineordering.refresh"), 2, "ours was tried, and refused");
    assert_eq!(sandbox.stats().requests("onlineordering.login"), 2, "then a full login");
    assert_eq!(asked.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_failed_renewal_reaches_every_waiter_and_cools_down() {
    let sandbox = Sandbox::start().await.unwrap();
    let clock = clock();
    let auth = Authenticator::builder(etna_flow(&sandbox, etna::USER_NO_2FA, "wrong-password"))
        .clock(Arc::new(clock.clone()))
        .build();
    let calls: Vec<_> = (0..200)
        .map(|_| {
            tokio::spawn({
                let auth = auth.clone();
                async move { auth.token().await }
            })
        })
        .collect();
    for call in calls {
        assert!(matches!(call.await.unwrap(), Err(Error::InvalidCredentials)));
    }
    assert_eq!(sandbox.stats().requests("etna.token"), 1, "one attempt shared by all 200 callers");
    assert!(matches!(auth.token().await, Err(Error::InvalidCredentials)));
    assert_eq!(sandbox.stats().requests("etna.token"), 1, "within the cool-down, the failure is answered from memory");
    clock.advance(Duration::from_secs(30));
    assert!(matches!(auth.token().await, Err(Error::InvalidCredentials)));
    assert_eq!(sandbox.stats().requests("etna.token"), 2, "after the cool-down the next call tries again");
}

#[tokio::test]
async fn a_failing_code_source_is_asked_once_for_all_waiters() {
    let sandbox = Sandbox::start().await.unwrap();
    let asked = Arc::new(AtomicU32::new(0));
    let counter = asked.clone();
    let codes: Arc<dyn CodeSource> = Arc::new(code_source::from_fn(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Err(Error::CodeSource("nobody at the keyboard".into())) }
    }));
    let auth = Authenticator::builder(etna_flow(&sandbox, etna::USER_2FA, etna::PASSWORD)).code_source(codes).build();
    let calls: Vec<_> = (0..50)
        .map(|_| {
            tokio::spawn({
                let auth = auth.clone();
                async move { auth.token().await }
            })
        })
        .collect();
    for call in calls {
        assert!(matches!(call.await.unwrap(), Err(Error::CodeSource(_))));
    }
    assert_eq!(asked.load(Ordering::SeqCst), 1, "one prompt, not fifty");
}

#[tokio::test]
async fn without_a_code_source_nobody_is_prompted() {
    let sandbox = Sandbox::start().await.unwrap();
    let auth = Authenticator::builder(etna_flow(&sandbox, etna::USER_2FA, etna::PASSWORD)).build();
    assert!(matches!(auth.token().await, Err(Error::CodeSource(_))));
}

#[tokio::test]
async fn a_401_renews_and_retries_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let flow = etna_flow(&sandbox, etna::USER_NO_2FA, etna::PASSWORD);
    let auth = Authenticator::builder(flow.clone()).build();
    let session = auth.session().await.unwrap();
    flow.logout(&session).await.unwrap(); // the server forgets the token; the cache does not know
    let url = format!("{}/v1.0/users/me", sandbox.etna_base_url());
    let client = reqwest::Client::new();
    let response = auth.send_with_retry_on_401(|| client.get(&url)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(sandbox.stats().requests("etna.me"), 2);
    assert_eq!(sandbox.stats().requests("etna.token"), 2, "one re-login");
}

#[tokio::test]
async fn a_401_that_persists_is_returned_after_one_retry_not_looped() {
    // The API and the login on one host, as an ETNA Trader API is: the session serves only there.
    let mut api = mockito::Server::new_async().await;
    let token = api
        .mock("POST", "/api/token")
        .with_body(r#"{"State":"Succeeded","Token":"tok-0123456789"}"#)
        .expect(2)
        .create_async()
        .await;
    let flow = EtnaFlow::builder()
        .base_url(format!("{}/api/", api.url()))
        .app_key(etna::APP_KEY)
        .username(etna::USER_NO_2FA)
        .password(etna::PASSWORD)
        .build()
        .unwrap();
    let auth = Authenticator::builder(Arc::new(flow)).build();
    let always_401 = api.mock("GET", "/orders").with_status(401).expect(2).create_async().await;
    let client = reqwest::Client::new();
    let url = format!("{}/orders", api.url());
    let response = auth.send_with_retry_on_401(|| client.get(&url)).await.unwrap();
    assert_eq!(response.status(), 401);
    always_401.assert_async().await;
    token.assert_async().await; // one renewal for the one retry
}

#[tokio::test]
async fn a_session_is_never_sent_to_another_host() {
    let sandbox = Sandbox::start().await.unwrap();
    let auth = Authenticator::builder(etna_flow(&sandbox, etna::USER_NO_2FA, etna::PASSWORD)).build();
    let mut elsewhere = mockito::Server::new_async().await;
    let stolen = elsewhere.mock("GET", "/orders").expect(0).create_async().await;
    let client = reqwest::Client::new();
    let url = format!("{}/orders", elsewhere.url());
    let refused = auth.send_with_retry_on_401(|| client.get(&url)).await.unwrap_err();
    assert!(refused.is_foreign_session(), "{refused:?}");
    assert!(matches!(auth.authorize(client.get(&url)).await, Err(Error::ForeignSession)));
    stolen.assert_async().await;
    // The same host still gets it.
    let me = format!("{}/v1.0/users/me", sandbox.etna_base_url());
    assert_eq!(auth.send_with_retry_on_401(|| client.get(&me)).await.unwrap().status(), 200);
}

/// Online Ordering with an idle timeout added, to exercise idle-aware renewal (the OMS has one).
#[derive(Debug)]
struct Idle(OnlineOrderingFlow);

#[async_trait]
impl TwoFactorFlow for Idle {
    fn provider(&self) -> &'static str {
        self.0.provider()
    }
    async fn start(&self) -> Result<Step, Error> {
        Ok(match self.0.start().await? {
            Step::Authenticated(s) => Step::Authenticated(s.with_idle_timeout(Duration::from_secs(600))),
            challenge => challenge,
        })
    }
    async fn verify(&self, c: &Challenge, code: &OneTimeCode) -> Result<Step, Error> {
        Ok(match self.0.verify(c, code).await? {
            Step::Authenticated(s) => Step::Authenticated(s.with_idle_timeout(Duration::from_secs(600))),
            next => next,
        })
    }
    async fn resume(&self, s: &Session) -> Result<Session, Error> {
        Ok(self.0.resume(s).await?.with_idle_timeout(Duration::from_secs(600)))
    }
}

#[tokio::test]
async fn an_idle_session_is_renewed_and_touch_keeps_it_alive() {
    let sandbox = Sandbox::start().await.unwrap();
    let clock = clock();
    let flow = Arc::new(Idle(online_flow(&sandbox, onlineordering::CUSTOMER_NO_2FA, &clock)));
    let auth = Authenticator::builder(flow).clock(Arc::new(clock.clone())).build();
    auth.token().await.unwrap();
    clock.advance(Duration::from_secs(300));
    auth.touch();
    clock.advance(Duration::from_secs(480)); // 8 min since the touch, 13 since login
    auth.token().await.unwrap();
    assert_eq!(sandbox.stats().requests("onlineordering.refresh"), 0, "touched 8 min ago: fresh");
    clock.advance(Duration::from_secs(90)); // 9.5 min idle: within the 60 s margin of 10 min
    auth.token().await.unwrap();
    assert_eq!(sandbox.stats().requests("onlineordering.refresh"), 1, "idle too long: resumed");
}

#[tokio::test]
async fn a_restart_reuses_the_stored_session_without_a_code() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let asked = Arc::new(AtomicU32::new(0));
    let make = |asked: Arc<AtomicU32>| {
        Authenticator::builder(etna_flow(&sandbox, etna::USER_2FA, etna::PASSWORD))
            .code_source(counted_mailbox(sandbox.outbox(), etna::USER_2FA, asked))
            .store(Arc::new(FileStore::new(dir.path())))
            .profile("desk")
            .build()
    };
    let first = make(asked.clone()).token().await.unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    let restarted = make(asked.clone());
    assert_eq!(restarted.token().await.unwrap().expose_secret(), first.expose_secret());
    assert_eq!(asked.load(Ordering::SeqCst), 1, "zero prompts after the restart");
    assert_eq!(sandbox.stats().requests("etna.token"), 2);
}

#[tokio::test]
async fn a_corrupt_store_file_is_reported_and_replaced_after_login() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::new(dir.path()));
    std::fs::write(store.path("bot").unwrap(), "{ not json").unwrap();
    assert!(matches!(store.load("bot").await, Err(Error::Store { path: Some(_), .. })));
    let auth = Authenticator::builder(etna_flow(&sandbox, etna::USER_NO_2FA, etna::PASSWORD))
        .store(store.clone())
        .profile("bot")
        .build();
    auth.token().await.unwrap();
    assert!(store.load("bot").await.unwrap().is_some(), "replaced by the new session");
}

#[tokio::test]
async fn logout_ends_the_session_at_the_provider_and_in_the_store() {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(MemoryStore::new());
    let auth =
        Authenticator::builder(etna_flow(&sandbox, etna::USER_NO_2FA, etna::PASSWORD)).store(store.clone()).build();
    let session = auth.session().await.unwrap();
    assert_eq!(store.profiles().await.unwrap(), ["etna"]);
    auth.logout().await.unwrap();
    assert!(store.profiles().await.unwrap().is_empty());
    assert!(auth.peek().is_none());
    let client = reqwest::Client::new();
    let dead = session.authorize(client.get(format!("{}/v1.0/users/me", sandbox.etna_base_url()))).unwrap();
    assert_eq!(dead.send().await.unwrap().status(), 401);
}

#[cfg(feature = "reqwest-middleware")]
#[tokio::test]
async fn the_middleware_authorizes_and_retries_a_401_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let flow = etna_flow(&sandbox, etna::USER_NO_2FA, etna::PASSWORD);
    let auth = Authenticator::builder(flow.clone()).build();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(twofa::middleware::AuthMiddleware::new(auth.clone()))
        .build();
    let url = format!("{}/v1.0/users/me", sandbox.etna_base_url());
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    flow.logout(&auth.session().await.unwrap()).await.unwrap();
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200, "renewed after the 401");
    assert_eq!(sandbox.stats().requests("etna.me"), 3);
    assert_eq!(sandbox.stats().requests("etna.token"), 2);
}

/// Answers ETNA's two steps from the sandbox: the mailed code, then `pin` (shared, so a test can
/// change it between logins).
fn code_then_pin(outbox: Outbox, pin: Arc<std::sync::Mutex<&'static str>>) -> Arc<dyn CodeSource> {
    Arc::new(code_source::from_fn(move |request| {
        let answer = if request.wants_pin() {
            Some((*pin.lock().unwrap()).to_owned())
        } else {
            outbox.latest_code(etna::USER_CODE_THEN_PIN)
        };
        async move { answer.ok_or_else(|| Error::CodeSource("no mail".into())) }
    }))
}

#[tokio::test]
async fn etna_1_4_a_failed_second_step_never_replaces_the_stored_good_session() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::new(dir.path()));
    let pin = Arc::new(std::sync::Mutex::new(etna::PIN));
    let auth = Authenticator::builder(etna_flow(&sandbox, etna::USER_CODE_THEN_PIN, etna::PASSWORD))
        .code_source(code_then_pin(sandbox.outbox(), Arc::clone(&pin)))
        .store(store.clone())
        .profile("pin")
        // No cool-down, so the last login below runs at once instead of repeating the failure.
        .cooldown(twofa::Cooldown::none())
        .build();
    let good = auth.session().await.unwrap();
    let good_token = good.access_token().expose_secret().to_owned();
    // A forced renewal whose code is right but whose PIN is wrong on every attempt.
    *pin.lock().unwrap() = "9999";
    auth.invalidate(&good);
    let err = auth.session().await.unwrap_err();
    assert!(matches!(err, Error::InvalidPin), "{err:?}");
    let stored = store.load("pin").await.unwrap().expect("the good session is still stored");
    assert_eq!(stored.access_token().expose_secret(), good_token);
    assert_eq!(auth.peek().unwrap().access_token().expose_secret(), good_token, "and still the one in memory");
    // The right PIN again: a new login replaces it, as a success should.
    *pin.lock().unwrap() = etna::PIN;
    let renewed = auth.session().await.unwrap();
    assert_ne!(renewed.access_token().expose_secret(), good_token);
    assert_eq!(
        store.load("pin").await.unwrap().unwrap().access_token().expose_secret(),
        renewed.access_token().expose_secret()
    );
}

#[tokio::test]
async fn a_stored_session_from_another_endpoint_is_treated_as_absent() {
    let (issuer, other) = (Sandbox::start().await.unwrap(), Sandbox::start().await.unwrap());
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let first = Authenticator::builder(etna_flow(&issuer, etna::USER_NO_2FA, etna::PASSWORD))
        .store(Arc::clone(&store))
        .profile("desk")
        .build();
    let issued = first.session().await.unwrap();
    // The same profile, pointed at another endpoint: the stored session is not its to use.
    let second = Authenticator::builder(etna_flow(&other, etna::USER_NO_2FA, etna::PASSWORD))
        .store(Arc::clone(&store))
        .profile("desk")
        .build();
    let fresh = second.session().await.unwrap();
    assert_ne!(fresh.access_token().expose_secret(), issued.access_token().expose_secret());
    assert_eq!(other.stats().requests("etna.token"), 1, "a login of its own");
    // A logout with the foreign session stored sends it nowhere.
    store.save("desk", &issued).await.unwrap();
    let third = Authenticator::builder(etna_flow(&other, etna::USER_NO_2FA, etna::PASSWORD))
        .store(Arc::clone(&store))
        .profile("desk")
        .build();
    third.logout().await.unwrap();
    assert_eq!(other.stats().requests("etna.logout"), 0, "the other endpoint never saw the session");
    assert_eq!(issuer.stats().requests("etna.logout"), 0);
    assert!(store.load("desk").await.unwrap().is_none(), "the profile's stored session is forgotten");
}
