//! The console over plain HTTP: access, CSRF, bad input, and codes handed to logins.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::{sync::Arc, time::Duration};

use common::{Browser, env, state_of, type_code};
use twofa_console::{ConsoleCodeSource, server::SessionState, wire::Register};
use twofa_core::{Authenticator, store::SessionStore as _, time::OffsetDateTime};
use twofa_sandbox::etna;

const HEADERS: [(&str, &str); 5] = [
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
    ("cache-control", "no-store"),
    (
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    ),
];

#[tokio::test]
async fn every_request_needs_the_token_and_gets_strict_headers() {
    let e = env().await;
    let stranger = Browser::new(&e.console);
    for path in ["/", "/pending", "/enrolment", "/static/console.css", "/nowhere"] {
        let page = stranger.get(path).await;
        assert_eq!(page.status, 401, "{path}");
        assert!(page.body.contains("Access token needed"), "{}", page.body);
        for (name, value) in HEADERS {
            assert_eq!(page.headers.get(name).unwrap(), value, "{name} on {path}");
        }
    }
    assert_eq!(stranger.get("/?token=not-the-token").await.status, 403);
    let mut forged = Browser::new(&e.console);
    forged.cookie = Some(format!("{}=not-the-token", e.console.cookie_name()));
    let page = forged.get("/").await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("Wrong access token"));
    // The API takes the Bearer header only: the browser's cookie is no credential there.
    let person = Browser::open(&e.console).await;
    assert_eq!(person.post("/api/challenges", &[]).await.status, 401);
    let page = person.get("/").await;
    assert_eq!(page.status, 200);
    for (name, value) in HEADERS {
        assert_eq!(page.headers.get(name).unwrap(), value, "{name}");
    }
    assert!(!page.body.contains("<script"), "no script at all");
    assert!(!page.body.contains(e.console.token().expose_secret()), "the page never shows the token");
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused_and_does_nothing() {
    let e = env().await;
    let person = Browser::open(&e.console).await;
    let page = person.post("/sessions/alice/login", &[]).await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("CSRF"), "{}", page.body);
    assert_eq!(person.post("/sessions/alice/login", &[("csrf", "forged")]).await.status, 403);
    assert_eq!(e.console.registry().registrations(), 0, "no login started");
    assert_eq!(e.sandbox.stats().requests("etna.token"), 0);
}

/// Logs `alice` in from the console: the code is typed wrong once, then right.
#[tokio::test]
async fn a_console_login_takes_the_typed_code_and_a_wrong_one_can_be_retyped() {
    let e = env().await;
    let person = Browser::open(&e.console).await;
    let csrf = person.get("/").await.csrf();
    let started = person.post("/sessions/alice/login", &[("csrf", &csrf)]).await;
    assert_eq!((started.status, started.location()), (303, "/pending"));
    let pending = person.get("/pending").await;
    assert!(pending.body.contains("e-mail or SMS"), "{}", pending.body);
    let action = pending.code_action("alice");
    let wrong = person.post(&action, &[("csrf", &csrf), ("code", "000000")]).await;
    assert_eq!(wrong.status, 422, "{} {:?}", wrong.body, wrong.headers);
    assert!(wrong.body.contains("The verification code was rejected. Type the new code."), "{}", wrong.body);
    assert!(!wrong.body.contains("000000"), "the typed code is not echoed");
    let code = e.sandbox.outbox().latest_code(etna::USER_2FA).unwrap();
    let again = person.post(&wrong.code_action("alice"), &[("csrf", &csrf), ("code", &code)]).await;
    assert_eq!((again.status, again.location()), (303, "/pending"), "{}", again.body);
    let sessions = wait_for(&person, |p| state_of(p, "alice") == SessionState::Valid).await;
    assert!(sessions.body.contains("the code was accepted by etna"), "{}", sessions.body);
    assert!(!sessions.body.contains(&code), "no code in a page");
    let stored = e.accounts.store().load("alice").await.unwrap().unwrap();
    assert!(!sessions.body.contains(stored.access_token().expose_secret()), "no token in a page");
    // Log out: the session leaves the store, the profile stays.
    let out = person.post("/sessions/alice/logout", &[("csrf", &csrf)]).await;
    assert_eq!((out.status, out.location()), (303, "/"));
    assert_eq!(state_of(&person.get("/").await, "alice"), SessionState::None);
    assert!(e.accounts.store().load("alice").await.unwrap().is_none());
}

async fn wait_for(person: &Browser, done: impl Fn(&common::Page) -> bool) -> common::Page {
    for _ in 0..100 {
        let page = person.get("/").await;
        if done(&page) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the Sessions page never showed the expected state");
}

#[tokio::test]
async fn bad_input_gets_a_clear_page_and_a_4xx_and_keeps_the_stored_session() {
    let e = env().await;
    // bob logs in without a code: a stored session that bad input must not touch.
    let person = Browser::open(&e.console).await;
    let csrf = person.get("/").await.csrf();
    person.post("/sessions/bob/login", &[("csrf", &csrf)]).await;
    let page = wait_for(&person, |p| state_of(p, "bob") == SessionState::Valid).await;
    let before = e.accounts.store().load("bob").await.unwrap().unwrap();

    // A challenge that expired: its form is refused with 410.
    let registry = e.console.registry();
    let mut expired = register("alice");
    expired.expires_at = OffsetDateTime::now_utc().unix_timestamp() - 1;
    let entry = registry.register(expired, twofa_console::server::Origin::Bot);
    let gone = person.post(&format!("/pending/{}", entry.id), &[("csrf", &csrf), ("code", "123456")]).await;
    assert_eq!(gone.status, 410);
    assert!(gone.body.contains("Challenge no longer waiting"), "{}", gone.body);
    assert!(person.get("/pending").await.body.contains("This challenge expired."));
    // An unknown challenge, the same.
    assert_eq!(person.post("/pending/nope", &[("csrf", &csrf), ("code", "123456")]).await.status, 410);
    // A code no provider takes (control characters): 422 on the page, nothing handed over.
    let live = registry.register(register("erin"), twofa_console::server::Origin::Bot);
    let bad = person.post(&format!("/pending/{}", live.id), &[("csrf", &csrf), ("code", "12\u{7}34")]).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("Not sent: the verification code contains control characters."), "{}", bad.body);
    assert_eq!(live.phase(), twofa_console::server::Phase::Waiting);
    // An oversized form: 413, a page that says so.
    let huge = format!("csrf={csrf}&code={}", "1".repeat(twofa_console::server::MAX_BODY_BYTES));
    let page_too_large = person.post_raw(&format!("/pending/{}", live.id), huge).await;
    assert_eq!(page_too_large.status, 413);
    assert!(page_too_large.body.contains("Form too large"), "{}", page_too_large.body);
    // Unknown profiles, wrong methods, bad paths.
    assert_eq!(person.post("/sessions/..%2Fetc/logout", &[("csrf", &csrf)]).await.status, 404);
    assert_eq!(person.post("/sessions/nobody/login", &[("csrf", &csrf)]).await.status, 404);
    assert_eq!(person.get("/sessions/bob/logout").await.status, 405);
    // A bot's malformed registration.
    let key = e.console.bot_key("x").unwrap();
    let bot = common::Channel::open(&reqwest::Client::new(), &e.console.base_url(), &key, "x").await.unwrap();
    assert_eq!(bot.call("api/challenges", b"{").await.0, 400);
    let bad_name = serde_json::to_vec(&Register { profile: "../x".into(), ..register("x") }).unwrap();
    assert_eq!(bot.call("api/challenges", &bad_name).await.0, 422);

    let after = e.accounts.store().load("bob").await.unwrap().unwrap();
    assert_eq!(after.access_token().expose_secret(), before.access_token().expose_secret(), "the session survived");
    assert_eq!(state_of(&person.get("/").await, "bob"), SessionState::Valid);
    drop(page);
}

#[tokio::test]
async fn a_password_asked_on_the_page_is_needed_and_never_shown() {
    let e = env().await;
    let person = Browser::open(&e.console).await;
    let page = person.get("/").await;
    assert!(page.body.contains("type=\"password\""));
    let csrf = page.csrf();
    let missing = person.post("/sessions/alice-pw/login", &[("csrf", &csrf)]).await;
    assert_eq!(missing.status, 422);
    assert!(missing.body.contains("Type the password to log in."));
    let wrong = person.post("/sessions/alice-pw/login", &[("csrf", &csrf), ("password", "typed-wrong-password")]).await;
    assert_eq!(wrong.status, 303);
    let page = wait_for(&person, |p| p.body.contains("the login failed")).await;
    assert!(page.body.contains("the username or password was rejected"), "{}", page.body);
    assert!(!page.body.contains("typed-wrong-password"));
}

fn register(profile: &str) -> Register {
    Register {
        profile: profile.into(),
        provider: "etna".into(),
        method: "sms".into(),
        hint: Some("code sent to +1 ••• ••• 0042 <b>".into()),
        expires_at: OffsetDateTime::now_utc().unix_timestamp() + 300,
        attempt: 1,
        max_attempts: 3,
        step: 1,
        setup: None,
    }
}

#[tokio::test]
async fn hints_are_escaped() {
    let e = env().await;
    e.console.registry().register(register("alice"), twofa_console::server::Origin::Bot);
    let page = Browser::open(&e.console).await.get("/pending").await;
    assert!(page.body.contains("code sent to +1 ••• ••• 0042 &lt;b&gt;"), "{}", page.body);
    assert!(page.body.contains("SMS"));
}

#[tokio::test]
async fn many_callers_of_a_bot_make_one_pending_entry() {
    let e = env().await;
    let codes = ConsoleCodeSource::new(e.console.access_url().expose_secret(), "alice").unwrap();
    let auth = Authenticator::builder(e.accounts.flow(etna::USER_2FA, etna::PASSWORD))
        .profile("alice")
        .store(Arc::new(e.accounts.store()))
        .code_source(Arc::new(codes))
        .build();
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move { auth.token().await.map(|t| t.expose_secret().to_owned()) })
        })
        .collect();
    let person = Browser::open(&e.console).await;
    let outbox = e.sandbox.outbox();
    type_code(&person, "alice", || outbox.latest_code(etna::USER_2FA).unwrap()).await;
    let mut tokens = Vec::new();
    for caller in callers {
        tokens.push(caller.await.unwrap().unwrap());
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "one session for all");
    assert_eq!(e.console.registry().registrations(), 1, "one pending entry");
    assert_eq!(state_of(&person.get("/").await, "alice"), SessionState::Valid, "the bot's session shows");
}

/// Two processes' authenticators on one file store: the store's renewal lease lets one log in,
/// the other adopts its session; one pending entry.
#[tokio::test]
async fn bots_sharing_a_file_store_make_one_pending_entry() {
    let e = env().await;
    let bot = || {
        let codes = ConsoleCodeSource::new(e.console.access_url().expose_secret(), "alice").unwrap();
        Authenticator::builder(e.accounts.flow(etna::USER_2FA, etna::PASSWORD))
            .profile("alice")
            .store(Arc::new(e.accounts.store()))
            .code_source(Arc::new(codes))
            .build()
    };
    let (one, two) = (bot(), bot());
    let first = tokio::spawn(async move { one.token().await.map(|t| t.expose_secret().to_owned()) });
    let second = tokio::spawn(async move { two.token().await.map(|t| t.expose_secret().to_owned()) });
    let person = Browser::open(&e.console).await;
    let outbox = e.sandbox.outbox();
    type_code(&person, "alice", || outbox.latest_code(etna::USER_2FA).unwrap()).await;
    assert_eq!(first.await.unwrap().unwrap(), second.await.unwrap().unwrap());
    assert_eq!(e.console.registry().registrations(), 1);
    assert_eq!(e.sandbox.stats().requests("etna.token"), 2, "one login: credentials, then the code");
}

#[tokio::test]
async fn a_bot_gives_up_when_nobody_types_and_when_the_token_is_wrong() {
    let e = env().await;
    let codes = ConsoleCodeSource::new(e.console.access_url().expose_secret(), "alice")
        .unwrap()
        .wait_limit(Duration::from_secs(1));
    let auth =
        Authenticator::builder(e.accounts.flow(etna::USER_2FA, etna::PASSWORD)).code_source(Arc::new(codes)).build();
    let r = auth.token().await;
    assert!(matches!(&r, Err(twofa_core::Error::CodeSource(m)) if m.contains("nobody typed")), "{r:?}");
    let wrong = format!("{}?token=wrong", e.console.base_url());
    let codes = ConsoleCodeSource::new(&wrong, "alice").unwrap();
    let auth =
        Authenticator::builder(e.accounts.flow(etna::USER_2FA, etna::PASSWORD)).code_source(Arc::new(codes)).build();
    // A wrong token makes a wrong key: the console's proof does not match, and nothing is sent.
    assert!(matches!(auth.token().await, Err(twofa_core::Error::Config(m)) if m.contains("did not prove")));
    // Plain HTTP to another host, a URL without its token: refused before anything is sent.
    assert!(matches!(
        ConsoleCodeSource::new("http://console.example/?token=x", "a"),
        Err(twofa_core::Error::Config(_))
    ));
    assert!(
        matches!(ConsoleCodeSource::new(&e.console.base_url(), "a"), Err(twofa_core::Error::Config(m)) if m.contains("token"))
    );
}

#[tokio::test]
async fn a_pin_after_the_code_is_asked_on_the_page_too() {
    let e = env().await;
    let person = Browser::open(&e.console).await;
    let csrf = person.get("/").await.csrf();
    person.post("/sessions/erin/login", &[("csrf", &csrf)]).await;
    let outbox = e.sandbox.outbox();
    type_code(&person, "erin", || outbox.latest_code(etna::USER_CODE_THEN_PIN).unwrap()).await;
    let page = person.get("/pending").await;
    assert!(page.body.contains("Security PIN") && page.body.contains("type=\"password\""), "{}", page.body);
    type_code(&person, "erin", || etna::PIN.to_owned()).await;
    wait_for(&person, |p| state_of(p, "erin") == SessionState::Valid).await;
}

/// Dropping the console stops it: no new connection is taken, and the request in flight (a long
/// poll) still gets its answer.
#[tokio::test]
async fn a_dropped_console_answers_the_request_in_flight_and_takes_no_more() {
    let console = twofa_console::Console::builder().start().await.unwrap();
    let entry = console.registry().register(register("alice"), twofa_console::server::Origin::Bot);
    let addr = console.addr();
    let key = console.bot_key("alice").unwrap();
    let bot = common::Channel::open(&reqwest::Client::new(), &console.base_url(), &key, "alice").await.unwrap();
    let path = format!("api/challenges/{}/code?wait=1", entry.id);
    let poll = tokio::spawn(async move { bot.try_call(&path, b"").await.map(|(status, _)| status) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(console);
    assert_eq!(poll.await.unwrap().unwrap(), 204);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still accepting");
}

#[tokio::test]
async fn over_tls_the_cookie_is_secure_and_a_bot_trusts_the_given_root() {
    let e = env().await;
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let (cert, key) = (certified.cert.pem(), certified.signing_key.serialize_pem());
    let console = twofa_console::Console::builder()
        .tls_pem(cert.as_bytes(), key.as_bytes())
        .unwrap()
        .accounts(e.accounts.clone())
        .start()
        .await
        .unwrap();
    assert!(console.base_url().starts_with("https://127.0.0.1:"));
    let tls = twofa_core::http::HttpOptions::default().add_root_certificate(cert.as_bytes());
    // A bot without the root refuses the certificate; with it, hands its challenge over.
    let untrusting = ConsoleCodeSource::new(console.access_url().expose_secret(), "alice").unwrap();
    let auth = Authenticator::builder(e.accounts.flow(etna::USER_2FA, etna::PASSWORD))
        .code_source(Arc::new(untrusting))
        .build();
    assert!(matches!(auth.token().await, Err(twofa_core::Error::Transport { .. })));
    let codes = ConsoleCodeSource::new(console.access_url().expose_secret(), "bob").unwrap().http(tls).unwrap();
    let auth =
        Authenticator::builder(e.accounts.flow(etna::USER_2FA, etna::PASSWORD)).code_source(Arc::new(codes)).build();
    let bot = tokio::spawn(async move { auth.token().await.map(drop) });
    let root = twofa_core::reqwest::Certificate::from_pem(cert.as_bytes()).unwrap();
    let http =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).tls_certs_merge([root]).build().unwrap();
    let opened = http.get(console.access_url().expose_secret()).send().await.unwrap();
    let cookie = opened.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.ends_with("; HttpOnly; SameSite=Strict; Secure"), "{cookie}");
    let person = common::Browser {
        http,
        base: console.base_url().trim_end_matches('/').to_owned(),
        cookie: Some(cookie.split(';').next().unwrap().to_owned()),
    };
    let outbox = e.sandbox.outbox();
    type_code(&person, "bob", || outbox.latest_code(etna::USER_2FA).unwrap()).await;
    bot.await.unwrap().unwrap();
    // Plain HTTP beyond loopback only when asked for.
    let open = twofa_console::Console::builder().listen("0.0.0.0:0".parse().unwrap()).start().await;
    assert!(matches!(open, Err(twofa_core::Error::Config(m)) if m.contains("not a loopback address")));
}

/// Two processes' authenticators on one Redis fleet store: its renewal lease lets one log in, the
/// other adopts the session; one pending entry. Runs where `TWOFA_TEST_REDIS` names a server.
#[tokio::test]
async fn bots_sharing_a_redis_store_make_one_pending_entry() {
    let url = match std::env::var("TWOFA_TEST_REDIS") {
        Ok(url) => url,
        Err(_) => {
            assert!(
                std::env::var_os("TWOFA_REQUIRE_REDIS").is_none(),
                "TWOFA_REQUIRE_REDIS is set but TWOFA_TEST_REDIS is not"
            );
            eprintln!("skipped: no Redis (set TWOFA_TEST_REDIS=redis://127.0.0.1:PORT, as bash .ci/run does)");
            return;
        }
    };
    let e = env().await;
    let prefix = format!("twofa-test:{}:console", std::process::id());
    let mut bots = Vec::new();
    for _ in 0..2 {
        let store = twofa_redis::RedisStore::connect(&url).await.unwrap().with_prefix(&prefix);
        let codes = ConsoleCodeSource::new(e.console.access_url().expose_secret(), "alice").unwrap();
        let auth = Authenticator::builder(e.accounts.flow(etna::USER_2FA, etna::PASSWORD))
            .profile("alice")
            .store(Arc::new(store))
            .code_source(Arc::new(codes))
            .build();
        bots.push(tokio::spawn(async move { auth.token().await.map(|t| t.expose_secret().to_owned()) }));
    }
    let person = Browser::open(&e.console).await;
    let outbox = e.sandbox.outbox();
    type_code(&person, "alice", || outbox.latest_code(etna::USER_2FA).unwrap()).await;
    let second = bots.pop().unwrap().await.unwrap().unwrap();
    assert_eq!(bots.pop().unwrap().await.unwrap().unwrap(), second);
    assert_eq!(e.console.registry().registrations(), 1);
    assert_eq!(e.sandbox.stats().requests("etna.token"), 2, "one login: credentials, then the code");
}
