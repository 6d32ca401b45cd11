//! A local webhook receiver gets exactly the documented body of each sink, for the waiting notice
//! and the answered, refused and expired follow-ups; a storm of waiting logins sends one message
//! per profile; no message holds a secret the test used.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use twofa_core::{Challenge, CodeRequest, CodeSource, Error, Method, OneTimeCode, Secret};
use twofa_ops::notify::{
    Event, Notice, Notifier, Notifying, Sink, SinkKind,
    testing::{Received as Got, Receiver, quick_retries},
};

fn notifier(sink: Sink) -> Arc<Notifier> {
    let built = Notifier::builder().sink(sink).retry(quick_retries()).min_interval(Duration::ZERO);
    Arc::new(built.pending_url("http://127.0.0.1:8700/pending").build().unwrap_or_else(|e| panic!("{e}")))
}

/// The secrets every test uses: none may appear in anything a receiver gets.
const CODE: &str = "914276";
const HINT_SECRET: &str = "+1 555 0199";
const TOKEN: &str = "tk_notifytoken0123456789";
const BOT_TOKEN: &str = "123456:AAbotTOKENsecret";
const INTERIM: &str = "interim-state-secret";

fn assert_no_secret(got: &[Got]) {
    for g in got {
        let text = g.body.to_string();
        for secret in [CODE, HINT_SECRET, TOKEN, BOT_TOKEN, INTERIM] {
            assert!(!text.contains(secret), "{secret} in {text}");
            assert!(!g.uri.contains(secret) || secret == BOT_TOKEN, "{secret} in {}", g.uri);
        }
    }
}

/// The four notices of the documented examples: a wait with 4 min 32 s left, then each follow-up.
fn examples() -> Vec<Notice> {
    let now = OffsetDateTime::from_unix_timestamp(1_796_688_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let at = now + time::Duration::seconds(272);
    vec![
        Notice::waiting("etna-bot", "etna", "email_or_sms", Some(at), Some("http://127.0.0.1:8700/pending"), now),
        Notice::follow_up(Event::Refused, "etna-bot", "etna", "email_or_sms", true),
        Notice::follow_up(Event::Answered, "etna-bot", "etna", "email_or_sms", false),
        Notice::follow_up(Event::Expired, "etna-bot", "etna", "email_or_sms", false),
    ]
}

const WAITING: &str = "twofa: etna-bot (etna) waits for a code (code sent by email or SMS), 4 min 32 s left. Type it at http://127.0.0.1:8700/pending";
const REFUSED: &str = "twofa: etna-bot (etna): the code was refused; another one is asked for.";
const ANSWERED: &str = "twofa: etna-bot (etna) is logged in: the code was accepted.";
const EXPIRED: &str = "twofa: etna-bot (etna): nobody typed the code in time; the login gave up.";

async fn bodies(kind: SinkKind, url: impl Fn(SocketAddr) -> String) -> Vec<Got> {
    let receiver = Receiver::start().await.unwrap_or_else(|e| panic!("{e}"));
    let addr = receiver.addr();
    let notifier = notifier(Sink::new(kind, &url(addr)).unwrap_or_else(|e| panic!("{e}")));
    for notice in examples() {
        assert!(notifier.send(notice));
    }
    notifier.flush().await;
    let got = receiver.got();
    assert_no_secret(&got);
    got
}

#[tokio::test]
async fn the_generic_webhook_gets_the_documented_schema() {
    let got = bodies(SinkKind::Webhook, |a| format!("http://:{TOKEN}@{a}/hooks/twofa")).await;
    assert!(got.iter().all(|g| g.uri == "/hooks/twofa" && g.auth.as_deref() == Some(&*format!("Bearer {TOKEN}"))));
    let bodies: Vec<_> = got.into_iter().map(|g| g.body).collect();
    assert_eq!(
        bodies,
        [
            json!({"schema": "twofa.notify/1", "event": "waiting", "profile": "etna-bot", "provider": "etna",
                   "method": "email_or_sms", "expires_at": "2026-12-08T00:04:32Z", "seconds_left": 272,
                   "pending_url": "http://127.0.0.1:8700/pending", "text": WAITING}),
            json!({"schema": "twofa.notify/1", "event": "refused", "profile": "etna-bot", "provider": "etna",
                   "method": "email_or_sms", "retry": true, "text": REFUSED}),
            json!({"schema": "twofa.notify/1", "event": "answered", "profile": "etna-bot", "provider": "etna",
                   "method": "email_or_sms", "text": ANSWERED}),
            json!({"schema": "twofa.notify/1", "event": "expired", "profile": "etna-bot", "provider": "etna",
                   "method": "email_or_sms", "text": EXPIRED}),
        ]
    );
}

#[tokio::test]
async fn ntfy_gets_its_json_publishing_body_at_the_root() {
    let got = bodies(SinkKind::Ntfy, |a| format!("http://:{TOKEN}@{a}/twofa-alerts")).await;
    assert!(got.iter().all(|g| g.uri == "/" && g.auth.as_deref() == Some(&*format!("Bearer {TOKEN}"))));
    let bodies: Vec<_> = got.into_iter().map(|g| g.body).collect();
    assert_eq!(
        bodies,
        [
            json!({"topic": "twofa-alerts", "title": "twofa: etna-bot waits for a code", "message": WAITING,
                   "priority": 4, "tags": ["key"], "click": "http://127.0.0.1:8700/pending"}),
            json!({"topic": "twofa-alerts", "title": "twofa: etna-bot code refused", "message": REFUSED,
                   "priority": 3, "tags": ["x"]}),
            json!({"topic": "twofa-alerts", "title": "twofa: etna-bot logged in", "message": ANSWERED,
                   "priority": 3, "tags": ["white_check_mark"]}),
            json!({"topic": "twofa-alerts", "title": "twofa: etna-bot code not typed in time", "message": EXPIRED,
                   "priority": 3, "tags": ["hourglass"]}),
        ]
    );
}

#[tokio::test]
async fn slack_and_discord_get_their_incoming_webhook_bodies() {
    let texts = [WAITING, REFUSED, ANSWERED, EXPIRED];
    let slack = bodies(SinkKind::Slack, |a| format!("http://{a}/services/T0/B0/x")).await;
    assert!(slack.iter().all(|g| g.uri == "/services/T0/B0/x" && g.auth.is_none()));
    assert_eq!(slack.into_iter().map(|g| g.body).collect::<Vec<_>>(), texts.map(|t| json!({"text": t})));
    let discord = bodies(SinkKind::Discord, |a| format!("http://{a}/api/webhooks/1/x")).await;
    assert_eq!(
        discord.into_iter().map(|g| g.body).collect::<Vec<_>>(),
        texts.map(|t| json!({"content": t, "allowed_mentions": {"parse": []}}))
    );
}

#[tokio::test]
async fn telegram_gets_send_message_with_the_chat_id() {
    let got = bodies(SinkKind::Telegram, |a| format!("http://{a}/bot{BOT_TOKEN}/sendMessage?chat_id=-1001234")).await;
    assert!(got.iter().all(|g| g.uri == format!("/bot{BOT_TOKEN}/sendMessage") && g.auth.is_none()), "{got:?}");
    assert_eq!(
        got.into_iter().map(|g| g.body).collect::<Vec<_>>(),
        [WAITING, REFUSED, ANSWERED, EXPIRED]
            .map(|t| json!({"chat_id": "-1001234", "text": t, "disable_web_page_preview": true}))
    );
}

#[tokio::test]
async fn a_failed_delivery_is_retried_until_it_goes_through() {
    let receiver = Receiver::start().await.unwrap_or_else(|e| panic!("{e}"));
    let addr = receiver.addr();
    receiver.fail_first(2);
    let notifier = notifier(Sink::new(SinkKind::Slack, &format!("http://{addr}/x")).unwrap_or_else(|e| panic!("{e}")));
    notifier.send(examples().remove(0));
    notifier.flush().await;
    assert_eq!(receiver.seen(), 3, "two 503s, then delivered");
    assert_eq!(receiver.got().len(), 1);
}

/// A code source a test releases: each call waits for a permit, then answers `CODE`, or fails.
#[derive(Debug)]
struct Gate {
    permits: Arc<Semaphore>,
    fail: bool,
    entered: Arc<AtomicUsize>,
}

#[async_trait]
impl CodeSource for Gate {
    async fn code(&self, _: &CodeRequest) -> Result<OneTimeCode, Error> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let _permit = self.permits.acquire().await.map_err(|_| Error::CodeSource("closed".into()))?;
        if self.fail {
            return Err(Error::CodeSource("nobody typed the code in the console within 600 s".into()));
        }
        OneTimeCode::new(CODE)
    }
}

fn request(attempt: u32) -> CodeRequest {
    let challenge = Challenge::portable("etna", Method::Sms, OffsetDateTime::now_utc(), Secret::new(INTERIM))
        .with_hint(format!("We sent a code to {HINT_SECRET}"));
    CodeRequest::new(&challenge, attempt, 3)
}

async fn webhook() -> (Arc<Notifier>, Receiver) {
    let receiver = Receiver::start().await.unwrap_or_else(|e| panic!("{e}"));
    let addr = receiver.addr();
    (notifier(Sink::new(SinkKind::Webhook, &format!("http://{addr}/")).unwrap_or_else(|e| panic!("{e}"))), receiver)
}

#[tokio::test]
async fn a_wrapped_source_announces_and_follows_up_each_outcome() {
    let (notifier, receiver) = webhook().await;
    let permits = Arc::new(Semaphore::new(100));
    let ok = Notifying::new(
        Arc::new(Gate { permits: Arc::clone(&permits), fail: false, entered: Arc::default() }),
        Arc::clone(&notifier),
        "ok",
    );
    let code = ok.code(&request(1)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code.expose_secret(), CODE);
    ok.answered(&request(1), Err(&Error::InvalidCode)).await;
    let _ = ok.code(&request(2)).await;
    ok.answered(&request(2), Ok(())).await;
    let failing = Notifying::new(
        Arc::new(Gate { permits: Arc::clone(&permits), fail: true, entered: Arc::default() }),
        Arc::clone(&notifier),
        "late",
    );
    assert!(failing.code(&request(1)).await.is_err());
    // A login cancelled while it waits: the dropped future sends "expired".
    let blocked = Notifying::new(
        Arc::new(Gate { permits: Arc::new(Semaphore::new(0)), fail: false, entered: Arc::default() }),
        Arc::clone(&notifier),
        "gone",
    );
    let asked = request(1);
    assert!(tokio::time::timeout(Duration::from_millis(20), blocked.code(&asked)).await.is_err());
    notifier.flush().await;
    let got = receiver.got();
    assert_no_secret(&got);
    let pairs = |v: &[(&str, &str)]| v.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect::<Vec<_>>();
    assert_eq!(
        receiver.events(),
        pairs(&[
            ("ok", "waiting"),
            ("ok", "refused"),
            ("ok", "answered"),
            ("late", "waiting"),
            ("late", "expired"),
            ("gone", "waiting"),
            ("gone", "expired")
        ])
    );
    assert_eq!(
        got[0].body,
        json!({"schema": "twofa.notify/1", "event": "waiting", "profile": "ok", "provider": "etna",
        "method": "sms", "pending_url": "http://127.0.0.1:8700/pending",
        "text": "twofa: ok (etna) waits for a code (code sent by SMS). Type it at http://127.0.0.1:8700/pending"})
    );
    assert_eq!(got[1].body["retry"], json!(true), "a wrong code on attempt 1 of 3: another is asked for");
}

#[tokio::test]
async fn a_hundred_logins_waiting_at_once_send_one_message_per_profile() {
    let (notifier, receiver) = webhook().await;
    let permits = Arc::new(Semaphore::new(0));
    let profiles = ["alpha", "bravo", "charlie", "delta"];
    let entered = Arc::new(AtomicUsize::new(0));
    let mut logins = tokio::task::JoinSet::new();
    for n in 0..100 {
        let codes = Notifying::new(
            Arc::new(Gate { permits: Arc::clone(&permits), fail: false, entered: Arc::clone(&entered) }),
            Arc::clone(&notifier),
            profiles[n % profiles.len()],
        );
        logins.spawn(async move {
            let code = codes.code(&request(1)).await;
            codes.answered(&request(1), code.as_ref().map(|_| ())).await;
            code.is_ok()
        });
    }
    // Every login waits (its waiting notice queued first) before any is answered.
    while entered.load(Ordering::SeqCst) < 100 {
        tokio::task::yield_now().await;
    }
    notifier.flush().await;
    let waiting = receiver.got();
    assert_eq!(waiting.len(), profiles.len(), "{:?}", receiver.events());
    let mut announced: Vec<_> = receiver
        .events()
        .into_iter()
        .map(|(p, e)| {
            assert_eq!(e, "waiting");
            p
        })
        .collect();
    announced.sort();
    assert_eq!(announced, profiles);
    permits.add_permits(100);
    while let Some(done) = logins.join_next().await {
        assert!(matches!(done, Ok(true)));
    }
    notifier.flush().await;
    let got = receiver.got();
    assert_no_secret(&got);
    assert_eq!(got.len(), 2 * profiles.len(), "one answered follow-up per profile: {:?}", receiver.events());
    assert!(receiver.events()[profiles.len()..].iter().all(|(_, e)| e == "answered"));
}
