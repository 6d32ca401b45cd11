//! `/metrics`, `/healthz` and `/readyz` behind the access token or on their own loopback address;
//! the metrics move by what a bot's login did; a person is notified and followed up.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::{sync::Arc, time::Duration};

use common::{Browser, Env, env_with, type_code};
use twofa_console::{Console, ConsoleCodeSource};
use twofa_core::Authenticator;
use twofa_ops::{
    metrics::{Metrics, scrape::Scrape},
    notify::{
        Notifier, Sink, SinkKind,
        testing::{Receiver, quick_retries},
    },
};
use twofa_sandbox::etna;

async fn watched() -> (Env, Arc<Metrics>, Arc<Notifier>, Receiver) {
    let receiver = Receiver::start().await.unwrap();
    let sink = Sink::new(SinkKind::Webhook, &format!("http://{}/hook", receiver.addr())).unwrap();
    let notifier = Notifier::builder().sink(sink).retry(quick_retries()).min_interval(Duration::ZERO).build().unwrap();
    let (metrics, notifier) = (Arc::new(Metrics::new()), Arc::new(notifier));
    let (m, n) = (Arc::clone(&metrics), Arc::clone(&notifier));
    let e = env_with(move |b| b.metrics(m).notifier(n).ops_listen("127.0.0.1:0".parse().unwrap())).await;
    (e, metrics, notifier, receiver)
}

async fn scrape(person: &Browser) -> (Scrape, String) {
    let page = person.get("/metrics").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers.get("content-type").unwrap(), twofa_ops::metrics::CONTENT_TYPE);
    (Scrape::parse(&page.body).unwrap(), page.body)
}

fn alice_bot(e: &Env, wait: Duration) -> Authenticator {
    let codes = ConsoleCodeSource::new(e.console.access_url().expose_secret(), "alice").unwrap().wait_limit(wait);
    Authenticator::builder(e.accounts.flow(etna::USER_2FA, etna::PASSWORD))
        .profile("alice")
        .store(Arc::new(e.accounts.store()))
        .code_source(Arc::new(codes))
        .build()
}

#[tokio::test]
async fn ops_routes_need_the_token_on_the_console_and_none_on_the_ops_address() {
    let (e, _, _, _) = watched().await;
    let stranger = Browser::new(&e.console);
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert_eq!(stranger.get(path).await.status, 401, "{path}");
    }
    let bearer = reqwest::Client::new()
        .get(format!("{}metrics", e.console.base_url()))
        .bearer_auth(e.console.token().expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200, "Prometheus sends the token as a Bearer credential");
    let ops = format!("http://{}", e.console.ops_addr().unwrap());
    let get = |path: &str| {
        let url = format!("{ops}{path}");
        async move {
            let answer = reqwest::get(url).await.unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        }
    };
    assert_eq!(get("/healthz").await, (200, "ok\n".to_owned()));
    assert_eq!(get("/readyz").await, (200, "ready\n".to_owned()));
    let (status, text) = get("/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(Scrape::parse(&text).unwrap().value("twofa_pending_codes", &[]), Some(0.0));
    for path in ["/", "/pending", "/sessions/alice/login", "/api/hello"] {
        assert_eq!(get(path).await.0, 404, "the ops address serves nothing of the console: {path}");
    }
    let rebound = reqwest::Client::new()
        .get(format!("{ops}/metrics"))
        .header("host", format!("evil.example:{}", e.console.ops_addr().unwrap().port()))
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 421, "a page rebound to loopback sends its own name");
    let remote = Console::builder().ops_listen("0.0.0.0:0".parse().unwrap()).start().await;
    assert!(matches!(remote, Err(twofa_core::Error::Config(m)) if m.contains("loopback")));
}

#[tokio::test]
async fn a_bot_login_moves_the_metrics_and_notifies_waiting_then_answered() {
    let (e, _, notifier, receiver) = watched().await;
    let person = Browser::open(&e.console).await;
    let (before, _) = scrape(&person).await;
    let etna = [("provider", "etna")];
    assert_eq!(before.value("twofa_codes_waited_total", &etna), None);
    let auth = alice_bot(&e, Duration::from_secs(600));
    let login = tokio::spawn(async move { auth.token().await.map(|t| t.expose_secret().to_owned()) });
    while e.console.registry().for_profile("alice").is_none() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (waiting, _) = scrape(&person).await;
    assert_eq!(waiting.value("twofa_pending_codes", &[]), Some(1.0));
    assert_eq!(waiting.value("twofa_codes_waited_total", &etna), Some(1.0));
    let outbox = e.sandbox.outbox();
    let code = std::sync::Mutex::new(String::new());
    type_code(&person, "alice", || {
        let latest = outbox.latest_code(etna::USER_2FA).unwrap();
        *code.lock().unwrap() = latest.clone();
        latest
    })
    .await;
    let token = login.await.unwrap().unwrap();
    let (after, text) = scrape(&person).await;
    assert_eq!(after.value("twofa_pending_codes", &[]), Some(0.0));
    assert_eq!(after.value("twofa_codes_waited_total", &etna), Some(1.0));
    assert_eq!(after.histogram_count("twofa_code_wait_seconds", &etna), Some(1.0));
    let left = after.value("twofa_session_seconds_left", &[("profile", "alice")]).unwrap();
    assert!(left > 0.0, "{left}");
    notifier.flush().await;
    assert_eq!(
        receiver.events(),
        [("alice".to_owned(), "waiting".to_owned()), ("alice".to_owned(), "answered".to_owned())]
    );
    let pending = format!("{}pending", e.console.base_url());
    assert_eq!(receiver.got()[0].body["pending_url"], pending.as_str(), "the console links its Pending page");
    let code = code.lock().unwrap().clone();
    let bot_key = e.console.bot_key("alice").unwrap();
    let secrets = [code.as_str(), etna::PASSWORD, &token, e.console.token().expose_secret(), bot_key.expose_secret()];
    let bodies: Vec<String> = receiver.got().iter().map(|r| r.body.to_string()).collect();
    for secret in secrets {
        assert!(!text.contains(secret), "a secret in /metrics");
        assert!(!after.label_values().iter().any(|l| l.contains(secret)), "a secret in a label");
        assert!(!bodies.iter().any(|b| b.contains(secret)), "a secret in a notification: {bodies:?}");
    }
}

#[tokio::test]
async fn a_code_nobody_types_is_followed_up_as_expired() {
    let (e, _, notifier, receiver) = watched().await;
    let auth = alice_bot(&e, Duration::from_secs(1));
    assert!(matches!(auth.token().await, Err(twofa_core::Error::CodeSource(_))));
    // The bot gave up; the console tells the person once its entry has expired.
    while receiver.events().len() < 2 {
        let _ = e.console.registry().entries();
        notifier.flush().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        receiver.events(),
        [("alice".to_owned(), "waiting".to_owned()), ("alice".to_owned(), "expired".to_owned())]
    );
}

#[tokio::test]
async fn a_wrong_code_typed_is_followed_up_as_refused_then_answered() {
    let (e, _, notifier, receiver) = watched().await;
    let person = Browser::open(&e.console).await;
    let auth = alice_bot(&e, Duration::from_secs(600));
    let login = tokio::spawn(async move { auth.token().await.map(drop) });
    while e.console.registry().for_profile("alice").is_none() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let page = person.get("/pending").await;
    let wrong = person.post(&page.code_action("alice"), &[("csrf", &page.csrf()), ("code", "000000")]).await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    let outbox = e.sandbox.outbox();
    type_code(&person, "alice", || outbox.latest_code(etna::USER_2FA).unwrap()).await;
    login.await.unwrap().unwrap();
    notifier.flush().await;
    let events: Vec<_> = receiver.events().into_iter().map(|(_, event)| event).collect();
    assert_eq!(events, ["waiting", "refused", "answered"], "one waiting notice for both codes");
    assert_eq!(receiver.got()[1].body["retry"], true);
}
