//! The proxy against the sandbox and against upstreams that record or attack.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use common::{Echo, EchoFlow, hostile, raw_exchange, status_of};
use twofa_core::{Authenticator, ManualClock, TwoFactorFlow, store::FileStore};
use twofa_etna::EtnaFlow;
use twofa_ops::metrics::scrape::Scrape;
use twofa_proxy::{Proxy, RunningProxy};
use twofa_sandbox::{Sandbox, etna};

/// The value of the sample `name` with `labels` in `text`.
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    Scrape::parse(text).unwrap().value(name, labels)
}

const LOOPBACK: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

fn etna_flow(sandbox: &Sandbox) -> Arc<EtnaFlow> {
    Arc::new(
        EtnaFlow::builder()
            .base_url(sandbox.etna_base_url())
            .app_key(etna::APP_KEY)
            .username(etna::USER_NO_2FA)
            .password(etna::PASSWORD)
            .build()
            .unwrap(),
    )
}

async fn etna_proxy(sandbox: &Sandbox) -> (RunningProxy, Arc<EtnaFlow>) {
    let flow = etna_flow(sandbox);
    let auth = Arc::new(Authenticator::builder(flow.clone()).build());
    (Proxy::builder(auth, sandbox.etna_base_url()).listen_tcp(LOOPBACK).await.unwrap(), flow)
}

async fn echo_proxy() -> (Echo, RunningProxy) {
    let (echo, base) = Echo::start().await;
    let auth = Arc::new(Authenticator::builder(Arc::new(EchoFlow::new(&echo, &base))).build());
    (echo, Proxy::builder(auth, base).listen_tcp(LOOPBACK).await.unwrap())
}

fn base(proxy: &RunningProxy) -> String {
    proxy.base_url().expose_secret().to_owned()
}

/// The access token in the proxy's base URL.
fn token(proxy: &RunningProxy) -> String {
    base(proxy).trim_end_matches('/').rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn an_etna_get_through_the_proxy_carries_the_sessions_headers() {
    let sandbox = Sandbox::start().await.unwrap();
    let (proxy, _) = etna_proxy(&sandbox).await;
    let me = reqwest::get(format!("{}v1.0/users/me", base(&proxy))).await.unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<serde_json::Value>().await.unwrap()["Username"], etna::USER_NO_2FA);
    assert_eq!(sandbox.stats().requests("etna.token"), 1);
    proxy.shutdown().await;
}

#[tokio::test]
async fn the_clients_own_credentials_never_reach_the_api() {
    let sandbox = Sandbox::start().await.unwrap();
    let (proxy, _) = etna_proxy(&sandbox).await;
    let me = reqwest::Client::new()
        .get(format!("{}v1.0/users/me", base(&proxy)))
        .header("Authorization", "Bearer client-own-token")
        .header("Et-App-Key", "client-own-key")
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "the sandbox saw the session's token and key, not the client's");

    let (echo, proxy) = echo_proxy().await;
    let seen: serde_json::Value = reqwest::Client::new()
        .get(format!("{}orders?x=1", base(&proxy)))
        .header("Authorization", "Bearer client-own-token")
        .header("Cookie", "sid=client")
        .header("aptoken", "client-aptoken")
        .header("X-Api-CompanyCode", "client-company")
        .header("Connection", "X-Hop")
        .header("X-Hop", "hop")
        .header("X-Kept", "kept")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["authorization"], serde_json::json!(["Bearer tok-SECRET-1"]));
    assert_eq!(seen["et-app-key"], serde_json::json!(["app-key-SECRET"]));
    assert_eq!(seen["x-kept"], serde_json::json!(["kept"]));
    for gone in ["cookie", "aptoken", "x-api-companycode", "x-hop"] {
        assert!(seen.get(gone).is_none(), "{gone} reached the API: {seen}");
    }
    assert_eq!(echo.hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn it_is_never_an_open_proxy() {
    let (echo, proxy) = echo_proxy().await;
    let addr = proxy.local_addr().unwrap();
    let t = token(&proxy);
    let connect = raw_exchange(
        addr,
        b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(status_of(&connect), 405, "{connect}");
    let absolute = format!("GET http://evil.example/{t}/x HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
    let absolute = raw_exchange(addr, absolute.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(status_of(&absolute), 400, "{absolute}");
    let rebound = format!("GET /{t}/x HTTP/1.1\r\nHost: evil.example:{}\r\nConnection: close\r\n\r\n", addr.port());
    let rebound = raw_exchange(addr, rebound.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(status_of(&rebound), 421, "a rebound DNS name is refused: {rebound}");
    assert_eq!(echo.hits.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing reached any upstream");
}

#[tokio::test]
async fn a_wrong_or_missing_access_token_gets_a_bare_404() {
    let (echo, proxy) = echo_proxy().await;
    let addr = proxy.local_addr().unwrap();
    let t = token(&proxy);
    let mut near = t.clone().into_bytes();
    near[0] = if near[0] == b'a' { b'b' } else { b'a' };
    let near = String::from_utf8(near).unwrap();
    for path in [format!("/{near}/orders"), "/orders".into(), format!("/{}/orders", &t[..20]), "/".into()] {
        let answer = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
        assert_eq!(answer.status(), 404, "{path}");
        let body = answer.text().await.unwrap();
        assert!(!body.contains(&t) && !body.contains("token") && !body.contains("echo"), "{body}");
    }
    assert_eq!(echo.hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    let health = reqwest::get(format!("http://{addr}/_twofa/healthz")).await.unwrap();
    assert_eq!(health.status(), 200, "the health probe needs no token");
    let metrics = reqwest::get(format!("http://{addr}/_twofa/metrics")).await.unwrap();
    assert_eq!(metrics.status(), 404, "the metrics need the token");
}

#[tokio::test]
async fn smuggling_attempts_are_refused_or_defused() {
    let (echo, proxy) = echo_proxy().await;
    let addr = proxy.local_addr().unwrap();
    let t = token(&proxy);
    let host = format!("127.0.0.1:{}", addr.port());
    // Two different lengths: hyper refuses the head.
    let two = format!("POST /{t}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhello");
    let two = raw_exchange(addr, two.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(status_of(&two), 400, "{two}");
    // A length that is not a number.
    let bad = format!("POST /{t}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: +5\r\n\r\nhello");
    assert_eq!(status_of(&raw_exchange(addr, bad.as_bytes(), Duration::from_secs(5)).await), 400);
    // A transfer coding other than chunked last.
    let te = format!("POST /{t}/a HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: gzip\r\n\r\nhello");
    assert_eq!(status_of(&raw_exchange(addr, te.as_bytes(), Duration::from_secs(5)).await), 400);
    assert_eq!(echo.hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    // Both Content-Length and Transfer-Encoding, with a second request hidden where the length
    // ends: read as chunked (the length dropped), the connection closed after the answer, so the
    // hidden request never reaches the API.
    let hidden = format!("GET /{t}/smuggled HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let cl_te = format!(
        "POST /{t}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{hidden}"
    );
    let answer = raw_exchange(addr, cl_te.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "one answer, the connection closed: {answer}");
    assert_eq!(echo.hits.load(std::sync::atomic::Ordering::SeqCst), 1, "only the first request went upstream");
}

#[tokio::test]
async fn a_401_renews_once_and_retries_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let (proxy, flow) = etna_proxy(&sandbox).await;
    let url = format!("{}v1.0/users/me", base(&proxy));
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    // The server forgets the token; the proxy's cache does not know.
    flow.logout(&proxy.session().await.unwrap()).await.unwrap();
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    assert_eq!(sandbox.stats().requests("etna.token"), 2, "one renewal");
    assert_eq!(sandbox.stats().requests("etna.me"), 3, "one retry");
    assert_eq!(
        metric(&proxy.metrics(), "twofa_proxy_401_retries_total", &[("profile", "etna")]),
        Some(1.0),
        "{}",
        proxy.metrics()
    );
}

#[tokio::test]
async fn a_401_that_persists_is_handed_on_and_a_streamed_body_is_not_retried() {
    let (echo, base_url) = Echo::start().await;
    let auth = Arc::new(Authenticator::builder(Arc::new(EchoFlow::new(&echo, &base_url))).build());
    let proxy = Proxy::builder(auth, base_url)
        .retry_body_limit(16)
        .upstream_timeout(Duration::from_secs(2))
        .listen_tcp(LOOPBACK)
        .await
        .unwrap();
    let client = reqwest::Client::new();
    assert_eq!(client.get(format!("{}x", base(&proxy))).send().await.unwrap().status(), 200);
    echo.revoke();
    let big = client.post(format!("{}x", base(&proxy))).body(vec![b'a'; 1000]).send().await.unwrap();
    assert_eq!(big.status(), 401, "a body over the limit streamed once, so its 401 goes back");
    assert_eq!(echo.logins.load(std::sync::atomic::Ordering::SeqCst), 1, "no renewal for it");
    let small = client.post(format!("{}x", base(&proxy))).body("small").send().await.unwrap();
    assert_eq!(small.status(), 200);
    let seen: serde_json::Value = small.json().await.unwrap();
    assert_eq!(seen["_body_len"], 5, "the kept body went again whole");
    assert_eq!(echo.logins.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_hundred_concurrent_requests_at_expiry_make_one_renewal() {
    let (echo, base_url) = Echo::start().await;
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let flow = EchoFlow::new(&echo, &base_url).expiring(time::Duration::minutes(30), clock.clone());
    let auth = Arc::new(Authenticator::builder(Arc::new(flow)).clock(Arc::new(clock.clone())).build());
    let proxy = Proxy::builder(auth, base_url).listen_tcp(LOOPBACK).await.unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}orders", base(&proxy));
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    clock.advance(Duration::from_secs(30 * 60));
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move { client.get(&url).send().await.unwrap().status() })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    assert_eq!(echo.logins.load(std::sync::atomic::Ordering::SeqCst), 2, "exactly one renewal");
}

#[tokio::test]
async fn two_proxies_sharing_a_file_store_renew_once() {
    let (echo, base_url) = Echo::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut proxies = Vec::new();
    for _ in 0..2 {
        let auth = Authenticator::builder(Arc::new(EchoFlow::new(&echo, &base_url)))
            .store(Arc::new(FileStore::new(dir.path())))
            .profile("desk")
            .build();
        proxies.push(Proxy::builder(Arc::new(auth), base_url.clone()).listen_tcp(LOOPBACK).await.unwrap());
    }
    let client = reqwest::Client::new();
    for proxy in &proxies {
        assert_eq!(client.get(format!("{}a", base(proxy))).send().await.unwrap().status(), 200);
    }
    assert_eq!(echo.logins.load(std::sync::atomic::Ordering::SeqCst), 1, "the second proxy took the stored session");
    echo.revoke();
    let (a, b) = tokio::join!(
        client.get(format!("{}a", base(&proxies[0]))).send(),
        client.get(format!("{}a", base(&proxies[1]))).send()
    );
    assert_eq!(a.unwrap().status(), 200);
    assert_eq!(b.unwrap().status(), 200);
    assert_eq!(echo.logins.load(std::sync::atomic::Ordering::SeqCst), 2, "one renewal for both proxies");
}

#[tokio::test]
async fn a_renewal_that_needs_a_person_waits_then_says_where_to_give_the_code() {
    let sandbox = Sandbox::start().await.unwrap();
    let flow = Arc::new(
        EtnaFlow::builder()
            .base_url(sandbox.etna_base_url())
            .app_key(etna::APP_KEY)
            .username(etna::USER_2FA)
            .password(etna::PASSWORD)
            .build()
            .unwrap(),
    );
    // A person who never answers.
    let never = twofa_core::code_source::from_fn(|_| std::future::pending());
    let auth = Arc::new(Authenticator::builder(flow).code_source(Arc::new(never)).build());
    let proxy = Proxy::builder(auth, sandbox.etna_base_url())
        .code_wait(Duration::from_millis(300))
        .code_where("http://127.0.0.1:8700/")
        .listen_tcp(LOOPBACK)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let answer = reqwest::get(format!("{}v1.0/users/me", base(&proxy))).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(answer.status(), 503);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "code_needed");
    assert_eq!(body["where"], "http://127.0.0.1:8700/");
    assert_eq!(metric(&proxy.metrics(), "twofa_proxy_person_waits_total", &[]), Some(1.0));
    assert_eq!(sandbox.stats().requests("etna.me"), 0);
}

#[tokio::test]
async fn a_hostile_upstream_is_bounded_in_memory_and_time() {
    // A head that never ends.
    let mut huge = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 4 << 20));
    let huge_head = hostile(huge, 0, Duration::ZERO).await;
    // A body promised and trickled, one byte a second.
    let slow = hostile(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec(), 100, Duration::from_secs(1)).await;
    // An answer that never comes.
    let silent = hostile(Vec::new(), 0, Duration::ZERO).await;
    for (url, expect) in [(huge_head, 502u16), (silent, 504)] {
        let (echo, _) = Echo::start().await;
        let auth = Arc::new(Authenticator::builder(Arc::new(EchoFlow::new(&echo, &url))).build());
        let proxy =
            Proxy::builder(auth, url).upstream_timeout(Duration::from_millis(500)).listen_tcp(LOOPBACK).await.unwrap();
        let started = std::time::Instant::now();
        let answer = reqwest::get(format!("{}x", base(&proxy))).await.unwrap();
        assert_eq!(answer.status(), expect);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    let (echo, _) = Echo::start().await;
    let auth = Arc::new(Authenticator::builder(Arc::new(EchoFlow::new(&echo, &slow))).build());
    let proxy = Proxy::builder(auth, slow).idle_timeout(Duration::from_millis(300)).listen_tcp(LOOPBACK).await.unwrap();
    let started = std::time::Instant::now();
    let answer = reqwest::get(format!("{}x", base(&proxy))).await.unwrap();
    assert_eq!(answer.status(), 200, "the head came");
    assert!(answer.bytes().await.is_err(), "the trickled body was cut");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_slow_client_head_is_cut() {
    let (echo, base_url) = Echo::start().await;
    let auth = Arc::new(Authenticator::builder(Arc::new(EchoFlow::new(&echo, &base_url))).build());
    let proxy = Proxy::builder(auth, base_url).head_timeout(Duration::from_secs(1)).listen_tcp(LOOPBACK).await.unwrap();
    let addr = proxy.local_addr().unwrap();
    let started = std::time::Instant::now();
    // Starts a head and never ends it.
    let answer = raw_exchange(addr, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", Duration::from_secs(30)).await;
    assert!(started.elapsed() < Duration::from_secs(5), "cut by the head timeout: {answer}");
    // A head larger than the limit.
    let mut big = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 200 * 1024));
    let answer = raw_exchange(addr, &big, Duration::from_secs(5)).await;
    assert_eq!(status_of(&answer), 431, "{answer}");
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let (_echo, proxy) = echo_proxy().await;
    let b = base(&proxy);
    let ready = reqwest::get(format!("{b}_twofa/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503, "no session yet");
    assert_eq!(reqwest::get(format!("{b}x")).await.unwrap().status(), 200);
    assert_eq!(reqwest::get(format!("{b}_twofa/readyz")).await.unwrap().status(), 200);
    let answer = reqwest::get(format!("{b}_twofa/metrics")).await.unwrap();
    assert_eq!(answer.headers()["content-type"], twofa_ops::metrics::CONTENT_TYPE);
    let metrics = answer.text().await.unwrap();
    let scrape = Scrape::parse(&metrics).unwrap();
    let profile = ("profile", "echo");
    assert_eq!(scrape.value("twofa_proxy_requests_total", &[profile, ("status", "200")]), Some(2.0), "{metrics}");
    assert_eq!(scrape.value("twofa_proxy_renewals_total", &[profile]), Some(1.0), "{metrics}");
    assert_eq!(scrape.histogram_count("twofa_proxy_upstream_latency_seconds", &[profile]), Some(1.0), "{metrics}");
}

#[tokio::test]
async fn proxies_share_one_registry_and_audit_each_session_they_take_into_use() {
    let (echo, base_url) = Echo::start().await;
    let shared = Arc::new(twofa_ops::metrics::Metrics::new());
    let dir = tempfile::tempdir().unwrap();
    let audit = Arc::new(twofa_ops::audit::AuditLog::open(dir.path().join("audit.log")).unwrap());
    let start = |profile: &str| {
        let flow = Arc::new(EchoFlow::new(&echo, &base_url));
        let auth = Arc::new(Authenticator::builder(flow).profile(profile).build());
        let builder = Proxy::builder(auth, base_url.clone()).metrics(Arc::clone(&shared)).audit(Arc::clone(&audit));
        builder.listen_tcp(LOOPBACK)
    };
    let (a, b) = (start("desk-a").await.unwrap(), start("desk-b").await.unwrap());
    for proxy in [&a, &a, &b] {
        assert_eq!(reqwest::get(format!("{}x", base(proxy))).await.unwrap().status(), 200);
    }
    let text = shared.encode();
    assert_eq!(text, a.metrics(), "both serve the one registry");
    assert_eq!(text.matches("# TYPE twofa_proxy_requests_total counter").count(), 1);
    let scrape = Scrape::parse(&text).unwrap();
    assert_eq!(scrape.value("twofa_proxy_requests_total", &[("profile", "desk-a")]), Some(2.0));
    assert_eq!(scrape.value("twofa_proxy_requests_total", &[("profile", "desk-b")]), Some(1.0));
    let read = twofa_ops::audit::read(audit.path(), &twofa_ops::audit::Filter::default()).unwrap();
    let lines: Vec<_> = read.records.iter().map(|r| (r.profile.as_str(), r.actor.as_str())).collect();
    assert_eq!(lines, [("desk-a", "proxy"), ("desk-b", "proxy")], "one line per session taken into use");
    let session = a.session().await.unwrap();
    assert_eq!(read.records[0].token.as_deref(), Some(&*audit.fingerprint(session.access_token().expose_secret())));
    let file = std::fs::read_to_string(audit.path()).unwrap();
    assert!(!file.contains(session.access_token().expose_secret()), "a fingerprint, never the token");
}

#[cfg(unix)]
#[tokio::test]
async fn a_unix_socket_is_private_and_needs_no_token() {
    use std::os::unix::fs::PermissionsExt as _;
    let (echo, base_url) = Echo::start().await;
    let auth = Arc::new(Authenticator::builder(Arc::new(EchoFlow::new(&echo, &base_url))).build());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proxy.sock");
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    let refused = Proxy::builder(auth.clone(), base_url.clone()).listen_unix(dir.path().join("file")).await;
    assert!(refused.is_err(), "a regular file is never replaced");
    let proxy = Proxy::builder(auth, base_url).listen_unix(&path).await.unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut stream = tokio::net::UnixStream::connect(&path).await.unwrap();
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    stream.write_all(b"GET /orders HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    assert_eq!(status_of(&out), 200, "{out}");
    assert!(out.contains("tok-SECRET-1"), "the echo saw the session's token");
    proxy.shutdown().await;
    assert!(!path.exists());
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_flight() {
    // The answer's head comes at once, its body slowly: shutdown waits for it.
    let slow = hostile(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n".to_vec(), 3, Duration::from_millis(200)).await;
    let (echo, _) = Echo::start().await;
    let auth = Arc::new(Authenticator::builder(Arc::new(EchoFlow::new(&echo, &slow))).build());
    let proxy = Proxy::builder(auth, slow).listen_tcp(LOOPBACK).await.unwrap();
    let answer = reqwest::get(format!("{}x", base(&proxy))).await.unwrap();
    let addr = proxy.local_addr().unwrap();
    let stopping = tokio::spawn(proxy.shutdown());
    assert_eq!(answer.bytes().await.unwrap().as_ref(), b"xxx", "the request in flight finished");
    stopping.await.unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "no new connection is accepted");
}

#[tokio::test]
async fn a_websocket_upgrade_without_a_gateway_is_refused_not_forwarded() {
    let (echo, proxy) = echo_proxy().await;
    let addr = proxy.local_addr().unwrap();
    let upgrade = format!(
        "GET /{}/WSGateway HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        token(&proxy),
        addr.port()
    );
    let answer = raw_exchange(addr, upgrade.as_bytes(), Duration::from_secs(2)).await;
    assert_eq!(status_of(&answer), 404, "{answer}");
    assert!(answer.contains("no_websocket"), "{answer}");
    assert_eq!(echo.hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_oms_http_gateway_gets_the_aptoken_and_never_the_clients() {
    use twofa_sandbox::oms as demo;
    let sandbox = Sandbox::start().await.unwrap();
    let flow = twofa_oms::OmsFlow::builder()
        .endpoint(sandbox.oms_http_url())
        .username(demo::USER_NO_2FA)
        .password(demo::PASSWORD)
        .build()
        .unwrap();
    let auth = Arc::new(Authenticator::builder(Arc::new(flow)).build());
    let proxy = Proxy::builder(auth, sandbox.oms_http_url()).listen_tcp(LOOPBACK).await.unwrap();
    let info: serde_json::Value = reqwest::Client::new()
        .post(format!("{}AP/GetUserInfo", base(&proxy)))
        .header("aptoken", "client-own-aptoken")
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["UserName"], demo::USER_NO_2FA, "{info}");
    assert_eq!(sandbox.stats().requests("oms.http.userinfo"), 1);
}

#[tokio::test]
async fn only_the_owner_token_takes_the_session_itself() {
    let sandbox = Sandbox::start().await.unwrap();
    let auth = Arc::new(Authenticator::builder(etna_flow(&sandbox)).build());
    let owner = "owner-token-of-the-test-0123456789";
    let proxy = Proxy::builder(Arc::clone(&auth), sandbox.etna_base_url())
        .owner_token(twofa_core::Secret::new(owner))
        .listen_tcp(LOOPBACK)
        .await
        .unwrap();
    let url = format!("{}_twofa/session", base(&proxy));
    let http = reqwest::Client::new();
    // A client with the base URL only, or a wrong owner token: nothing is there.
    assert_eq!(http.get(&url).send().await.unwrap().status(), 404);
    let secret = twofa_core::Secret::new(owner);
    let digest = twofa_proxy::owner::request_value(&secret);
    let wrong = http
        .get(&url)
        .header(twofa_proxy::OWNER_HEADER, twofa_proxy::owner::request_value(&twofa_core::Secret::new("not-it")));
    assert_eq!(wrong.send().await.unwrap().status(), 404);
    // The owner token itself is not what is asked for: only its digest opens the path.
    assert_eq!(http.get(&url).header(twofa_proxy::OWNER_HEADER, owner).send().await.unwrap().status(), 404);
    assert_eq!(sandbox.stats().requests("etna.token"), 0, "no login for a refused caller");
    let taken = http.get(&url).header(twofa_proxy::OWNER_HEADER, &digest).send().await.unwrap();
    assert_eq!(taken.status(), 200);
    assert_eq!(taken.headers()["cache-control"], "no-store");
    let proof = taken.headers()[twofa_proxy::owner::PROOF_HEADER].to_str().unwrap().to_owned();
    let body = taken.text().await.unwrap();
    assert!(twofa_proxy::owner::verify(&secret, body.as_bytes(), &proof), "the proxy proves it holds the owner token");
    let session: twofa_core::Session = serde_json::from_str(&body).unwrap();
    assert_eq!(session.access_token().expose_secret(), auth.peek().unwrap().access_token().expose_secret());
    // Fresh: asked again, no round trip to the API.
    let again = http.get(&url).header(twofa_proxy::OWNER_HEADER, &digest).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(sandbox.stats().requests("etna.token"), 1);
    proxy.shutdown().await;

    // Without an owner token configured, the path does not exist whatever the header says.
    let (plain, _) = etna_proxy(&sandbox).await;
    let url = format!("{}_twofa/session", base(&plain));
    assert_eq!(http.get(&url).header(twofa_proxy::OWNER_HEADER, &digest).send().await.unwrap().status(), 404);
    plain.shutdown().await;
}
