//! The console attacked: a web page on another origin, a hostile bot holding the token, a hostile
//! console seen by a bot. Each test is an attack that worked before its defence (docs/security.md).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use common::{Browser, Channel};
use tokio::{
    io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};
use twofa_console::{
    Console, ConsoleCodeSource,
    server::{MAX_LIFETIME, MAX_PENDING, Origin},
    wire::{MAX_HINT_CHARS, MAX_MESSAGE_CHARS, MAX_NAME_CHARS, Outcome, Register},
};
use twofa_core::{Challenge, CodeRequest, CodeSource as _, Method, Secret, time::OffsetDateTime};

fn register(profile: &str) -> Register {
    Register {
        profile: profile.into(),
        provider: "etna".into(),
        method: "sms".into(),
        hint: Some("code sent to +1 ••• ••• 0042".into()),
        expires_at: OffsetDateTime::now_utc().unix_timestamp() + 300,
        attempt: 1,
        max_attempts: 3,
        step: 1,
        setup: None,
    }
}

/// A bot holding the console's token, speaking the wire protocol by hand: the key of whatever
/// profile it registers follows from the token.
struct Bot {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

impl Bot {
    fn new(console: &Console) -> Self {
        Self { http: reqwest::Client::new(), base: console.base_url(), token: console.token().clone() }
    }

    async fn channel(&self, profile: &str) -> Channel {
        let key = twofa_console::channel::bot_key(&self.token, profile);
        Channel::open(&self.http, &self.base, &key, profile).await.unwrap()
    }

    async fn register(&self, body: &Register) -> (u16, String) {
        self.channel(&body.profile).await.call("api/challenges", &serde_json::to_vec(body).unwrap()).await
    }
}

/// A far-future `expires_at` (the year 9999) overflowed the linger arithmetic: every page panicked,
/// and the entry would never have left the registry anyway.
#[tokio::test]
async fn a_far_future_expiry_is_cut_to_the_longest_lifetime_and_pages_still_render() {
    let console = Console::builder().start().await.unwrap();
    let bot = Bot::new(&console);
    let far = Register { expires_at: 253_402_300_799, ..register("alice") };
    assert_eq!(bot.register(&far).await.0, 201);
    let person = Browser::open(&console).await;
    for path in ["/", "/pending", "/enrolment"] {
        assert_eq!(person.get(path).await.status, 200, "{path}");
    }
    let entry = console.registry().for_profile("alice").unwrap();
    let latest = OffsetDateTime::now_utc() + MAX_LIFETIME;
    assert!(entry.expires_at <= latest, "{} > {latest}", entry.expires_at);
}

/// One registration per profile name, and names are free: a bot could fill memory with entries.
#[tokio::test]
async fn pending_entries_are_capped_and_a_waiting_profile_can_still_register_again() {
    let console = Console::builder().start().await.unwrap();
    let bot = Bot::new(&console);
    for i in 0..MAX_PENDING {
        assert_eq!(bot.register(&register(&format!("p{i}"))).await.0, 201, "registration {i}");
    }
    let (status, text) = bot.register(&register("one-too-many")).await;
    assert_eq!(status, 429, "{text}");
    assert!(text.contains("too many"), "{text}");
    assert_eq!(console.registry().entries().len(), MAX_PENDING);
    // A profile already waiting replaces its own entry (a retry), full or not.
    assert_eq!(bot.register(&Register { attempt: 2, ..register("p0") }).await.0, 201);
    assert_eq!(console.registry().entries().len(), MAX_PENDING);
}

/// Every text a bot sends ends up in a page: each has a bound, refused with a 422 beyond it.
#[tokio::test]
async fn oversized_registration_fields_are_refused() {
    let console = Console::builder().start().await.unwrap();
    let bot = Bot::new(&console);
    let long = |n: usize| "x".repeat(n + 1);
    let cases = [
        Register { hint: Some(long(MAX_HINT_CHARS)), ..register("a") },
        Register { provider: long(MAX_NAME_CHARS), ..register("a") },
        Register { method: long(MAX_NAME_CHARS), ..register("a") },
        Register {
            setup: Some(twofa_console::wire::Setup { manual_key: Some(long(MAX_HINT_CHARS)), qr_payload: None }),
            ..register("a")
        },
    ];
    for case in &cases {
        let (status, text) = bot.register(case).await;
        assert_eq!(status, 422, "{text}");
        assert!(text.contains("too long"), "{text}");
    }
    assert!(console.registry().entries().is_empty());
    // At the bound: taken.
    let at = Register { hint: Some("y".repeat(MAX_HINT_CHARS)), provider: "p".repeat(MAX_NAME_CHARS), ..register("a") };
    assert_eq!(bot.register(&at).await.0, 201);
}

/// A bot's outcome message lands in the recent list: cut to a bound.
#[tokio::test]
async fn an_outcome_message_is_cut_to_its_bound() {
    let console = Console::builder().start().await.unwrap();
    let entry = console.registry().register(register("alice"), Origin::Bot);
    let message = "m".repeat(10 * MAX_MESSAGE_CHARS);
    assert!(console.registry().outcome(&entry.id, Outcome { accepted: false, message: Some(message), retry: false }));
    let events = console.registry().events();
    assert!(events[0].text.chars().count() <= MAX_MESSAGE_CHARS + 32, "{}", events[0].text.len());
}

fn with_host(request: reqwest::RequestBuilder, host: &str) -> reqwest::RequestBuilder {
    request.header("host", host)
}

/// DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 talks to the console
/// as `Host: evil.example:PORT`. A loopback console answers only its own loopback names.
#[tokio::test]
async fn a_loopback_console_answers_only_loopback_host_names() {
    let console = Console::builder().start().await.unwrap();
    let port = console.addr().port();
    let person = Browser::open(&console).await;
    let cookie = person.cookie.clone().unwrap();
    let url = format!("{}pending", console.base_url());
    for host in [format!("evil.example:{port}"), format!("127.0.0.1.evil.example:{port}"), "127.0.0.1:1".to_owned()] {
        let answer = with_host(person.http.get(&url), &host).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(answer.status(), 421, "{host}");
        assert!(answer.text().await.unwrap().contains("Wrong host name"));
        // Not even the printed link sets a cookie for a foreign name.
        let link = format!("{}?token={}", console.base_url(), console.token().expose_secret());
        let answer = with_host(person.http.get(&link), &host).send().await.unwrap();
        assert_eq!(answer.status(), 421, "{host}");
        assert!(answer.headers().get("set-cookie").is_none());
    }
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("LocalHost:{port}")] {
        let answer = with_host(person.http.get(&url), &host).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{host}");
    }
}

/// Browsers share a host's cookies among all its ports: a second console's link overwrote the
/// first's cookie (same name), locking the person out of the first.
#[tokio::test]
async fn two_consoles_on_one_host_keep_their_own_cookies() {
    let first = Console::builder().start().await.unwrap();
    let second = Console::builder().start().await.unwrap();
    let (a, b) = (Browser::open(&first).await, Browser::open(&second).await);
    assert_ne!(a.cookie.as_deref().unwrap().split('=').next(), b.cookie.as_deref().unwrap().split('=').next());
    // The browser's jar holds both and sends both to either port.
    let jar = format!("{}; {}", a.cookie.as_deref().unwrap(), b.cookie.as_deref().unwrap());
    for console in [&first, &second] {
        let mut browser = Browser::new(console);
        browser.cookie = Some(jar.clone());
        assert_eq!(browser.get("/").await.status, 200, "{}", console.base_url());
    }
}

/// A hostile or broken console that answers every long poll with `204` at once made the bot
/// send requests in a tight loop until its wait ran out.
#[tokio::test]
async fn a_console_that_answers_at_once_is_not_hammered() {
    use axum::{http::StatusCode, routing::post};
    let polls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&polls);
    let fake = FakeConsole::new("alice");
    let app = axum::Router::new().route("/api/hello", post(FakeConsole::hello)).merge(
        axum::Router::new()
            .route("/api/challenges", post(|| async { (StatusCode::CREATED, r#"{"id":"x"}"#) }))
            .route(
                "/api/challenges/{id}/code",
                post(move || {
                    counted.fetch_add(1, Ordering::Relaxed);
                    async { StatusCode::NO_CONTENT }
                }),
            )
            .layer(axum::middleware::from_fn_with_state(Arc::clone(&fake), FakeConsole::seal)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app.with_state(fake)).await });
    let codes =
        ConsoleCodeSource::new(&format!("http://{addr}/?token=t"), "alice").unwrap().wait_limit(Duration::from_secs(3));
    let challenge = Challenge::portable("etna", Method::Sms, OffsetDateTime::now_utc(), Secret::new("state"));
    let request = CodeRequest::new(&challenge, 1, 3);
    let r = codes.code(&request).await;
    assert!(matches!(&r, Err(twofa_core::Error::CodeSource(m)) if m.contains("nobody typed")), "{r:?}");
    let polls = polls.load(Ordering::Relaxed);
    assert!(polls <= 4, "{polls} polls in 3 s");
}

/// A console of its own (hostile, or broken) that holds the access token `t`: it proves itself to
/// a bot of `profile` and seals whatever its routes answer, without looking at the requests.
struct FakeConsole {
    profile: String,
    sessions: std::sync::Mutex<Vec<(String, twofa_console::channel::SessionKey)>>,
}

impl FakeConsole {
    fn new(profile: &str) -> Arc<Self> {
        Arc::new(Self { profile: profile.into(), sessions: Default::default() })
    }

    async fn hello(
        axum::extract::State(fake): axum::extract::State<Arc<Self>>,
        axum::Json(hello): axum::Json<twofa_console::channel::Hello>,
    ) -> axum::Json<twofa_console::channel::HelloAnswer> {
        use twofa_console::channel::{HelloAnswer, SessionKey, bot_key, new_nonce};
        let key = bot_key(&Secret::new("t"), &fake.profile);
        let (session, nonce) = (new_nonce(), new_nonce());
        let keys = SessionKey::derive(&key, &hello.profile, &hello.nonce, &nonce);
        let proof = keys.proof();
        fake.sessions.lock().unwrap().push((session.clone(), keys));
        axum::Json(HelloAnswer { session, nonce, proof })
    }

    async fn seal(
        axum::extract::State(fake): axum::extract::State<Arc<Self>>,
        request: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> axum::response::Response {
        let headers = request.headers();
        let session = headers[twofa_console::channel::SESSION_HEADER].to_str().unwrap().to_owned();
        let seq: u64 = headers[twofa_console::channel::SEQ_HEADER].to_str().unwrap().parse().unwrap();
        let answer = next.run(request).await;
        let status = answer.status().as_u16();
        let body = axum::body::to_bytes(answer.into_body(), 1 << 20).await.unwrap();
        let sessions = fake.sessions.lock().unwrap();
        let keys = &sessions.iter().find(|(id, _)| *id == session).unwrap().1;
        axum::response::IntoResponse::into_response(keys.seal_answer(&session, seq, status, &body))
    }
}

/// The printed link's redirect kept the path as it came: `//evil.example/?token=…` answered
/// `Location: //evil.example/`, a redirect to another site (scheme-relative).
#[tokio::test]
async fn the_link_redirect_stays_on_the_console() {
    let console = Console::builder().start().await.unwrap();
    let browser = Browser::new(&console);
    let page = browser.get(&format!("//evil.example/?token={}", console.token().expose_secret())).await;
    assert_eq!((page.status, page.location()), (303, "/evil.example/"));
}

/// Forms that are not what a page sends: repeated fields, bytes that are not UTF-8, no fields,
/// another content type. Each is a 4xx page; nothing is handed over.
#[tokio::test]
async fn malformed_forms_are_refused_with_a_page() {
    let console = Console::builder().start().await.unwrap();
    let entry = console.registry().register(register("alice"), Origin::Bot);
    let person = Browser::open(&console).await;
    let csrf = person.get("/pending").await.csrf();
    let action = format!("/pending/{}", entry.id);
    let repeated = person.post_raw(&action, format!("csrf={csrf}&csrf={csrf}&code=123456")).await;
    assert_eq!(repeated.status, 422, "{}", repeated.body);
    assert!(repeated.body.contains("Unreadable form"));
    let codes = person.post_raw(&action, format!("csrf={csrf}&code=1&code=2")).await;
    assert_eq!(codes.status, 422, "{}", codes.body);
    assert!(codes.body.contains("Unreadable form"));
    let not_utf8 = person.post_raw(&action, format!("csrf={csrf}&code=%FF%FE12")).await;
    assert_eq!(not_utf8.status, 422, "{}", not_utf8.body);
    assert!(not_utf8.body.contains("Not sent: the code is not valid UTF-8 text."), "{}", not_utf8.body);
    assert_eq!(person.post_raw(&action, String::new()).await.status, 403, "no CSRF field");
    let json = person
        .http
        .post(format!("{}{action}", person.base))
        .header("cookie", person.cookie.as_deref().unwrap())
        .header("content-type", "application/json")
        .body(format!(r#"{{"csrf":"{csrf}","code":"123456"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 415);
    assert_eq!(entry.phase(), twofa_console::server::Phase::Waiting, "nothing was handed over");
}

/// Reads (and drops) what the console sends until it closes the connection; how long that took,
/// or `None` when it is still open after `bound`.
async fn closed_within(stream: &mut (impl AsyncRead + Unpin), bound: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut sink = [0_u8; 1024];
    tokio::time::timeout(bound, async {
        // EOF or a reset: either way closed.
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await
    .ok()
    .map(|()| start.elapsed())
}

/// Without the token, a local process opened connections and sent half a request, a byte now and
/// then, or nothing, and kept them: hyper had no timer, so they stayed open until the console ran
/// out of file descriptors.
#[tokio::test]
async fn a_stalled_connection_is_closed_after_the_header_timeout() {
    let console = Console::builder().header_timeout(Duration::from_secs(1)).start().await.unwrap();
    let mut half = TcpStream::connect(console.addr()).await.unwrap();
    half.write_all(b"GET /pending HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
    let mut silent = TcpStream::connect(console.addr()).await.unwrap();
    let trickling = TcpStream::connect(console.addr()).await.unwrap();
    let (mut trickle_read, mut trickle_write) = trickling.into_split();
    trickle_write.write_all(b"GET / HTTP/1.1\r\nX-Slow: ").await.unwrap();
    let trickler = tokio::spawn(async move {
        while trickle_write.write_all(b"a").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // Headers whole, the body promised and never sent: without the token the answer is a 401
    // that reads no body, and the connection is closed.
    let mut no_body = TcpStream::connect(console.addr()).await.unwrap();
    no_body
        .write_all(b"POST /api/challenges HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{")
        .await
        .unwrap();
    let bound = Duration::from_secs(15);
    assert!(closed_within(&mut half, bound).await.is_some(), "half a request: open after {bound:?}");
    assert!(closed_within(&mut no_body, bound).await.is_some(), "a body never sent: open after {bound:?}");
    assert!(closed_within(&mut silent, bound).await.is_some(), "nothing sent: open after {bound:?}");
    assert!(closed_within(&mut trickle_read, bound).await.is_some(), "a byte at a time: open after {bound:?}");
    trickler.abort();
}

/// The same over TLS: the handshake had its timeout, but a client through it could stall forever.
#[tokio::test]
async fn a_stalled_tls_connection_is_closed_after_the_header_timeout() {
    use tokio_rustls::{
        TlsConnector,
        rustls::{self, ClientConfig, RootCertStore, pki_types::ServerName},
    };
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let (cert, key) = (certified.cert.pem(), certified.signing_key.serialize_pem());
    let console = Console::builder()
        .tls_pem(cert.as_bytes(), key.as_bytes())
        .unwrap()
        .header_timeout(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(console.addr()).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = TlsConnector::from(Arc::new(config)).connect(name, tcp).await.unwrap();
    tls.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    tls.flush().await.unwrap();
    let bound = Duration::from_secs(15);
    assert!(closed_within(&mut tls, bound).await.is_some(), "open after {bound:?}");
}

/// A request whose headers arrived may wait longer than the header timeout: the long poll.
#[tokio::test]
async fn a_long_poll_outlives_the_header_timeout() {
    let console = Console::builder().header_timeout(Duration::from_secs(1)).start().await.unwrap();
    let entry = console.registry().register(register("alice"), Origin::Bot);
    let bot = Bot::new(&console);
    let channel = bot.channel("alice").await;
    let start = Instant::now();
    let (status, _) = channel.call(&format!("api/challenges/{}/code?wait=2", entry.id), b"").await;
    assert_eq!(status, 204);
    assert!(start.elapsed() >= Duration::from_secs(2), "{:?}", start.elapsed());
    // The kept-alive connection serves the next request.
    assert_eq!(bot.register(&register("bob")).await.0, 201);
}

/// Each connection costs a file descriptor: past the cap, one is closed as soon as it is accepted,
/// and the slots come back when connections end.
#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once() {
    let console = Console::builder().max_connections(2).start().await.unwrap();
    let held = [TcpStream::connect(console.addr()).await.unwrap(), TcpStream::connect(console.addr()).await.unwrap()];
    let mut third = TcpStream::connect(console.addr()).await.unwrap();
    let bound = Duration::from_secs(3);
    assert!(closed_within(&mut third, bound).await.is_some(), "open after {bound:?}, below the header timeout");
    drop(held);
    let bot = Bot::new(&console);
    let start = Instant::now();
    loop {
        let key = twofa_console::channel::bot_key(&bot.token, "alice");
        let polled = match Channel::open(&bot.http, &bot.base, &key, "alice").await {
            Ok(channel) => channel.try_call("api/challenges/x/code?wait=0", b"").await,
            Err(e) => Err(e),
        };
        match polled {
            Ok((status, _)) => {
                assert_eq!(status, 410);
                break;
            }
            Err(e) => assert!(start.elapsed() < Duration::from_secs(5), "no slot came back: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const HINT: &str = "code sent to +1 555 0100 (alice's phone)";

/// A challenge of an authenticator enrolment: its setup holds the TOTP seed, the hint a phone number.
fn enrolment_request() -> CodeRequest {
    let setup = twofa_core::AuthenticatorSetup::new(
        Some(Secret::new(SEED)),
        Some(Secret::new(format!("otpauth://totp/alice?secret={SEED}"))),
        None,
    );
    let challenge = Challenge::portable(
        "oms",
        Method::Authenticator { setup: Some(setup) },
        OffsetDateTime::now_utc(),
        Secret::new("state"),
    )
    .with_hint(HINT);
    CodeRequest::new(&challenge, 1, 3)
}

/// Everything a squatter received: method, address, headers and body of every request.
type Seen = Arc<std::sync::Mutex<Vec<u8>>>;

/// A process squatting on a console's address that answers as a console of the old protocol
/// would (a challenge id, then a code of its choosing) and keeps every byte it receives.
async fn squatter() -> (std::net::SocketAddr, Seen) {
    use axum::{body::Bytes, http::StatusCode, response::IntoResponse};
    let seen = Seen::default();
    let kept = Arc::clone(&seen);
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let kept = Arc::clone(&kept);
        async move {
            let (parts, body) = request.into_parts();
            let body: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
            let mut record = format!("{} {}\n{:?}\n", parts.method, parts.uri, parts.headers).into_bytes();
            record.extend_from_slice(&body);
            kept.lock().unwrap().extend_from_slice(&record);
            let path = parts.uri.path().to_owned();
            if path.ends_with("/hello") {
                (
                    StatusCode::OK,
                    r#"{"session":"s","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","proof":"AAAA"}"#,
                )
                    .into_response()
            } else if path == "/api/challenges" {
                (StatusCode::CREATED, r#"{"id":"squatted"}"#).into_response()
            } else if path.ends_with("/code") {
                (StatusCode::OK, r#"{"code":"000000"}"#).into_response()
            } else {
                StatusCode::NO_CONTENT.into_response()
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

/// The console restarted on another port and a local user bound the old one: the bot sent it the
/// console token, the challenge and the enrolment's TOTP seed, and took the code it answered.
#[tokio::test]
async fn a_squatter_on_the_consoles_address_gets_no_token_challenge_or_seed_and_its_code_is_refused() {
    let console = Console::builder().start().await.unwrap();
    let token = console.token().expose_secret().to_owned();
    let (addr, seen) = squatter().await;
    let link = format!("http://{addr}/?token={token}");
    let codes = ConsoleCodeSource::new(&link, "alice").unwrap().wait_limit(Duration::from_secs(3));
    let r = codes.code(&enrolment_request()).await;
    assert!(
        matches!(&r, Err(twofa_core::Error::Config(m)) if m.contains("did not prove")),
        "the squatter's code was taken: {:?}",
        r.map(|c| c.expose_secret().to_owned())
    );
    let seen = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    for (what, secret) in
        [("the token", token.as_str()), ("the seed", SEED), ("the hint", HINT), ("the provider", "oms")]
    {
        assert!(!seen.contains(secret), "the squatter received {what}:\n{seen}");
    }
}

/// Copies bytes both ways between a client and `to`, keeping a copy of everything.
async fn relay(to: std::net::SocketAddr) -> (std::net::SocketAddr, Seen) {
    let seen = Seen::default();
    let kept = Arc::clone(&seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(to).await else { continue };
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            // Requests name the relay's port as their `Host`: rewritten to the console's, as an
            // HTTP-aware relay would.
            let rewrite =
                (format!("127.0.0.1:{}", addr.port()).into_bytes(), format!("127.0.0.1:{}", to.port()).into_bytes());
            for (mut from, mut into, rewrite) in [
                (
                    Box::new(client_read) as Box<dyn AsyncRead + Send + Unpin>,
                    Box::new(server_write) as Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
                    Some(rewrite.clone()),
                ),
                (Box::new(server_read), Box::new(client_write), None),
            ] {
                let kept = Arc::clone(&kept);
                tokio::spawn(async move {
                    let mut buf = [0_u8; 65536];
                    while let Ok(n) = from.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        let mut chunk = buf[..n].to_vec();
                        if let Some((relay, console)) = &rewrite
                            && let Some(at) = chunk.windows(relay.len()).position(|w| w == relay.as_slice())
                        {
                            chunk.splice(at..at + relay.len(), console.iter().copied());
                        }
                        kept.lock().unwrap().extend_from_slice(&chunk);
                        if into.write_all(&chunk).await.is_err() {
                            break;
                        }
                    }
                });
            }
        }
    });
    (addr, seen)
}

/// A squatter that passes every byte on to the real console (which any local user can find by
/// scanning loopback ports) reads what a proof of the console alone does not hide: the challenge,
/// the seed and the code the person typed.
#[tokio::test]
async fn a_relay_on_the_consoles_address_reads_no_challenge_seed_or_code() {
    let console = Console::builder().start().await.unwrap();
    let token = console.token().expose_secret().to_owned();
    let (addr, seen) = relay(console.addr()).await;
    let codes = ConsoleCodeSource::new(&format!("http://{addr}/?token={token}"), "alice").unwrap();
    let bot = tokio::spawn(async move { codes.code(&enrolment_request()).await.map(|c| c.expose_secret().to_owned()) });
    let person = Browser::open(&console).await;
    let mut typed = false;
    for _ in 0..200 {
        let page = person.get("/pending").await;
        if page.body.contains("id=\"pending-alice\"") && page.body.contains("action=\"/pending/") {
            let answer = person.post(&page.code_action("alice"), &[("csrf", &page.csrf()), ("code", "482913")]).await;
            assert_eq!(answer.status, 303, "{}", answer.body);
            typed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(typed, "the challenge never showed");
    assert_eq!(bot.await.unwrap().unwrap(), "482913", "the bot got the code through the relay");
    let seen = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    for (what, secret) in
        [("the token", token.as_str()), ("the seed", SEED), ("the hint", HINT), ("the code", "482913")]
    {
        assert!(!seen.contains(secret), "the relay read {what}");
    }
}

/// 256 connections that each held a half-sent request head of hyper's default buffer (~400 KiB)
/// grew the console by 60–106 MiB before any token was looked at. A head over 16 KiB is refused.
#[tokio::test]
async fn a_request_head_over_the_cap_is_refused() {
    let console = Console::builder().start().await.unwrap();
    let mut big = TcpStream::connect(console.addr()).await.unwrap();
    let head = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Pad: {}\r\n\r\n",
        console.addr().port(),
        "a".repeat(64 * 1024)
    );
    // The console may close before all of it is written: that is a refusal too.
    let _ = big.write_all(head.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), big.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 431"), "a 64 KiB head was read: {answer}");
    // A head within the cap is read (and answered: no token, 401).
    let mut small = TcpStream::connect(console.addr()).await.unwrap();
    let head = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
        console.addr().port(),
        "a".repeat(8 * 1024)
    );
    small.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    small.read_to_end(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 401"), "{}", String::from_utf8_lossy(&answer));
}

/// Issue 22 item 2: a bot's key is scoped to its profile. Alice's key registers and answers
/// alice's logins only: a registration for bob is refused, bob's challenge is gone to her, and a
/// hello for bob signed with her key gets a proof she cannot match.
#[tokio::test]
async fn a_bot_key_serves_its_own_profile_only() {
    let console = Console::builder().start().await.unwrap();
    let bot = Bot::new(&console);
    let alice = bot.channel("alice").await;
    let (status, body) = alice.call("api/challenges", &serde_json::to_vec(&register("bob")).unwrap()).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = bot.register(&register("bob")).await;
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"].as_str().unwrap().to_owned();
    let (status, _) = alice.call(&format!("api/challenges/{id}/code?wait=0"), b"").await;
    assert_eq!(status, 410, "bob's challenge is not alice's to answer");
    // Alice's key (all her bot holds) cannot speak for bob: the console's proof is made with bob's.
    let alice_key = console.bot_key("alice").unwrap();
    let nonce = twofa_console::channel::new_nonce();
    let hello = serde_json::json!({"profile": "bob", "nonce": nonce});
    let answer = bot.http.post(format!("{}api/hello", bot.base)).body(hello.to_string());
    let answer = answer.header("content-type", "application/json").send().await.unwrap();
    let answer: twofa_console::channel::HelloAnswer = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    let keys = twofa_console::channel::SessionKey::derive(&alice_key, "bob", &nonce, &answer.nonce);
    assert!(!keys.proof_matches(&answer.proof));
    let sealed = keys.seal_request(&answer.session, 1, "POST", "api/challenges", b"{}");
    let forged = bot
        .http
        .post(format!("{}api/challenges", bot.base))
        .header(twofa_console::channel::SESSION_HEADER, &answer.session)
        .header(twofa_console::channel::SEQ_HEADER, "1")
        .body(sealed)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401, "a call sealed with another profile's key is not opened");
}

/// A sealed call replayed, or sent with an old sequence number or to another path, is not opened
/// (401, plain: nothing is sealed for it), and the session goes on.
#[tokio::test]
async fn a_replayed_or_moved_sealed_call_is_refused() {
    let console = Console::builder().start().await.unwrap();
    let bot = Bot::new(&console);
    let alice = bot.channel("alice").await;
    let body = serde_json::to_vec(&register("alice")).unwrap();
    let (status, _) = alice.call("api/challenges", &body).await;
    assert_eq!(status, 201);
    let (session, next) = alice.session();
    let send = |seq: u64, path: &'static str, sealed: Vec<u8>| {
        let (http, base, session) = (bot.http.clone(), bot.base.clone(), session.to_owned());
        async move {
            http.post(format!("{base}{path}"))
                .header(twofa_console::channel::SESSION_HEADER, session)
                .header(twofa_console::channel::SEQ_HEADER, seq.to_string())
                .body(sealed)
                .send()
                .await
                .unwrap()
        }
    };
    let replay = alice.keys().seal_request(session, next - 1, "POST", "api/challenges", &body);
    let answer = send(next - 1, "api/challenges", replay).await;
    assert_eq!(answer.status(), 401, "a replay of call {} was opened", next - 1);
    let moved = alice.keys().seal_request(session, next, "POST", "api/challenges", &body);
    let answer = send(next, "api/challenges/x/code", moved).await;
    assert_eq!(answer.status(), 401, "a call sealed for one path was opened at another");
    let (status, _) = alice.call("api/challenges", &body).await;
    assert_eq!(status, 201, "the session still serves the next genuine call");
}

/// Anyone may say hello, so the sessions of bots that never proved their key are capped apart
/// and never push out a proven bot's session.
#[tokio::test]
async fn unproven_hellos_are_capped_and_never_push_out_a_proven_bot() {
    let console = Console::builder().start().await.unwrap();
    let bot = Bot::new(&console);
    let alice = bot.channel("alice").await;
    let (status, _) = alice.call("api/challenges", &serde_json::to_vec(&register("alice")).unwrap()).await;
    assert_eq!(status, 201);
    for _ in 0..(twofa_console::server::MAX_UNPROVEN * 2) {
        let hello = serde_json::json!({"profile": "mallory", "nonce": twofa_console::channel::new_nonce()});
        let answer = bot.http.post(format!("{}api/hello", bot.base)).body(hello.to_string());
        let answer = answer.header("content-type", "application/json").send().await.unwrap();
        assert_eq!(answer.status(), 200);
    }
    assert_eq!(console.bot_sessions(), twofa_console::server::MAX_UNPROVEN + 1, "the unproven are capped");
    let (status, _) = alice.call("api/challenges", &serde_json::to_vec(&register("alice")).unwrap()).await;
    assert_eq!(status, 201, "the proven bot's session survived the flood");
}

/// A console that proves itself (it holds the token) but answers a challenge id that would name
/// another path: the bot refuses it before building any URL from it.
#[tokio::test]
async fn a_hostile_challenge_id_is_refused_before_it_reaches_a_url() {
    use axum::{body::Bytes, http::StatusCode, response::IntoResponse};
    use twofa_console::channel::{HelloAnswer, SessionKey, new_nonce};
    for hostile in ["../../api/other", "a%2Fb", "x".repeat(65).as_str(), "é", ""] {
        let token = Secret::new("t".repeat(43));
        let paths = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let keys: Arc<std::sync::Mutex<Option<(String, SessionKey)>>> = Arc::default();
        let (seen, held, id, key_token) = (Arc::clone(&paths), Arc::clone(&keys), hostile.to_owned(), token.clone());
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (seen, held, id, token) = (Arc::clone(&seen), Arc::clone(&held), id.clone(), key_token.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
                seen.lock().unwrap().push(parts.uri.to_string());
                if parts.uri.path() == "/api/hello" {
                    let hello: twofa_console::channel::Hello = serde_json::from_slice(&body).unwrap();
                    let nonce = new_nonce();
                    let key = twofa_console::channel::bot_key(&token, &hello.profile);
                    let derived = SessionKey::derive(&key, &hello.profile, &hello.nonce, &nonce);
                    let answer = HelloAnswer { session: "s".repeat(43), nonce, proof: derived.proof() };
                    *held.lock().unwrap() = Some(("s".repeat(43), derived));
                    return axum::Json(answer).into_response();
                }
                let seq: u64 = parts.headers[twofa_console::channel::SEQ_HEADER].to_str().unwrap().parse().unwrap();
                let guard = held.lock().unwrap();
                let (session, keys) = guard.as_ref().unwrap();
                let registered = serde_json::json!({ "id": id }).to_string();
                (StatusCode::OK, keys.seal_answer(session, seq, 201, registered.as_bytes())).into_response()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let codes = ConsoleCodeSource::with_token(&format!("http://{addr}/"), token, "alice").unwrap();
        let err = codes.code(&enrolment_request()).await.unwrap_err();
        assert!(err.to_string().contains("challenge id"), "{hostile:?}: {err}");
        let seen = paths.lock().unwrap().clone();
        assert_eq!(seen, ["/api/hello", "/api/challenges"], "{hostile:?}: a URL was built from the id");
    }
}
