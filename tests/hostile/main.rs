//! Hostile servers on loopback, against every provider and every step: resets, silence, 5xx, 429,
//! truncated or non-JSON bodies, invalid UTF-8, oversized bodies, wrong content types, and
//! WebSockets that close, send binary or never answer. Each case yields its own `Error`, never a
//! panic, and nothing that submits a code is sent twice.
#![cfg(all(feature = "etna", feature = "oms", feature = "onlineordering"))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod child;
mod hints;
mod local_files;
mod lockout;
mod oms_api_key;
mod oms_reply;
mod oo_guest;
mod proxy;
mod ws_flood;
mod ws_handshake;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpListener,
};
use tokio_tungstenite::tungstenite::Message;
use twofa::{
    AccessToken, Challenge, Error, Method, OneTimeCode, RenewalToken, Secret, Session, TokenPlacement, TransportKind,
    TwoFactorFlow, etna::EtnaFlow, http::HttpOptions, oms::OmsFlow, onlineordering::OnlineOrderingFlow,
};

/// What the raw HTTP server does with every request.
#[derive(Clone)]
enum Script {
    /// Writes these bytes and closes.
    Bytes(Vec<u8>),
    /// Promises a long body, sends a bit of it, and hangs up.
    ResetMidBody,
    /// Reads the request and never answers.
    Silent,
    /// Announces 2 MiB and trickles it.
    HugeDeclared,
    /// Streams chunks forever, no length announced.
    HugeChunked,
    /// Answers the headers of a small body and never sends the body.
    HeadersOnly,
    /// Answers the headers of a small body and trickles it, a byte every 100 ms.
    Trickle,
}

fn response(status: &str, content_type: &str, body: &[u8]) -> Script {
    let mut bytes = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    Script::Bytes(bytes)
}

struct Server {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
}

async fn serve(script: Script) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (script, counter) = (script.clone(), Arc::clone(&counter));
            tokio::spawn(async move {
                let mut buf = vec![0; 64 * 1024];
                if socket.read(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
                counter.fetch_add(1, Ordering::SeqCst);
                match script {
                    Script::Bytes(bytes) => {
                        let _ = socket.write_all(&bytes).await;
                    }
                    Script::ResetMidBody => {
                        let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"State\":\"Succ").await;
                    }
                    Script::Silent => tokio::time::sleep(Duration::from_secs(30)).await,
                    Script::HugeDeclared => {
                        let _ = socket
                            .write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2097152\r\n\r\n",
                            )
                            .await;
                        let _ = socket.write_all(&[b' '; 4096]).await;
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    Script::HugeChunked => {
                        let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n").await;
                        let chunk =
                            [format!("{:x}\r\n", 65536).into_bytes(), vec![b' '; 65536], b"\r\n".to_vec()].concat();
                        while socket.write_all(&chunk).await.is_ok() {}
                    }
                    Script::HeadersOnly | Script::Trickle => {
                        let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4096\r\n\r\n";
                        let _ = socket.write_all(head).await;
                        let pause = if matches!(script, Script::Trickle) { 100 } else { 30_000 };
                        loop {
                            tokio::time::sleep(Duration::from_millis(pause)).await;
                            if socket.write_all(b" ").await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    Server { addr, requests }
}

fn http() -> HttpOptions {
    HttpOptions::default().timeout(Duration::from_millis(500))
}

/// One step of one provider, pointed at `addr`.
#[derive(Debug, Clone, Copy)]
enum Step {
    EtnaStart,
    EtnaVerify,
    OnlineStart,
    OnlineVerify,
    OnlineResume,
    OmsHttpStart,
    OmsHttpVerify,
    OmsHttpKeyStart,
    OmsHttpLogout,
}

const STEPS: [Step; 9] = [
    Step::EtnaStart,
    Step::EtnaVerify,
    Step::OnlineStart,
    Step::OnlineVerify,
    Step::OnlineResume,
    Step::OmsHttpStart,
    Step::OmsHttpVerify,
    Step::OmsHttpKeyStart,
    Step::OmsHttpLogout,
];

impl Step {
    /// Whether the step may be repeated by the library (idempotent): only the OMS logout here
    /// (OMS HTTP resume sends nothing: no document shows a call for it).
    fn retried(self) -> bool {
        matches!(self, Step::OmsHttpLogout)
    }

    async fn run(self, addr: SocketAddr) -> Result<(), Error> {
        let base = format!("http://{addr}");
        let code = OneTimeCode::new("123456").unwrap();
        let now = twofa::time::OffsetDateTime::now_utc();
        let session = |provider: &str, placement| {
            Session::new(provider, AccessToken::new("tok"), placement, now).with_renewal_token(RenewalToken::new("ref"))
        };
        let etna = || {
            EtnaFlow::builder()
                .base_url(format!("{base}/api"))
                .app_key("k")
                .username("u")
                .password("p")
                .http(http())
                .build()
                .unwrap()
        };
        let online = || {
            OnlineOrderingFlow::builder()
                .base_url(&base)
                .company_code("C")
                .integrator("i", "p")
                .email("e@x")
                .password("p")
                .http(http())
                .build()
                .unwrap()
        };
        let oms = || OmsFlow::builder().endpoint(&base).username("u").password("p").http(http()).build().unwrap();
        let portable = |provider: &str| Challenge::portable(provider, Method::Email, now, Secret::new("interim"));
        match self {
            Step::EtnaStart => etna().start().await.map(drop),
            Step::EtnaVerify => etna().verify(&portable("etna"), &code).await.map(drop),
            Step::OnlineStart => online().start().await.map(drop),
            Step::OnlineVerify => online().verify(&portable("onlineordering"), &code).await.map(drop),
            Step::OnlineResume => {
                let flow = online();
                // A session this flow issued (its origin), so the refresh reaches the hostile server.
                let own = session("onlineordering", TokenPlacement::Bearer).with_origin(origin_of(&flow));
                flow.resume(&own).await.map(drop)
            }
            Step::OmsHttpStart => oms().start().await.map(drop),
            Step::OmsHttpVerify => oms().verify(&portable("oms"), &code).await.map(drop),
            Step::OmsHttpKeyStart => {
                let flow = OmsFlow::builder().endpoint(&base).api_key(96, "k", "s").http(http()).build().unwrap();
                flow.start().await.map(drop)
            }
            Step::OmsHttpLogout => {
                let flow = oms();
                let own =
                    session("oms", TokenPlacement::Header { name: "aptoken".into() }).with_origin(origin_of(&flow));
                flow.logout(&own).await.map(drop)
            }
        }
    }
}

/// The origin `flow` stamps on its sessions.
fn origin_of(flow: &dyn TwoFactorFlow) -> twofa::Origin {
    flow.origin().cloned().expect("every provider names its origin")
}

/// Runs every step against `script`, checks the error with `expect` and counts requests.
async fn every_step(script: Script, expect: fn(&Error) -> bool) {
    for step in STEPS {
        let server = serve(script.clone()).await;
        let err = step.run(server.addr).await.expect_err("a hostile answer must not succeed");
        assert!(expect(&err), "{step:?}: {err:?}");
        let sent = server.requests.load(Ordering::SeqCst);
        let retried = step.retried() && err.is_retryable() && !matches!(err, Error::RateLimited { .. });
        assert_eq!(sent, if retried { 3 } else { 1 }, "{step:?} sent {sent} requests");
    }
}

#[tokio::test]
async fn connection_reset_mid_body() {
    every_step(Script::ResetMidBody, |e| matches!(e, Error::Transport { .. })).await;
}

#[tokio::test]
async fn headers_that_never_come_hit_the_request_timeout() {
    every_step(Script::Silent, |e| e.is_timeout()).await;
}

/// The request time limit covers the body too: a server that sends the headers and then nothing,
/// or its body a byte at a time (every byte well within any idle timeout), is cut at the limit.
#[tokio::test]
async fn a_body_that_never_comes_or_trickles_hits_the_request_timeout() {
    every_step(Script::HeadersOnly, |e| matches!(e, Error::Transport { kind: TransportKind::Timeout, .. })).await;
    every_step(Script::Trickle, |e| matches!(e, Error::Transport { kind: TransportKind::Timeout, .. })).await;
}

#[tokio::test]
async fn server_errors_are_retryable_but_only_idempotent_steps_are_retried() {
    for status in ["500 Internal Server Error", "502 Bad Gateway", "503 Service Unavailable", "504 Gateway Timeout"] {
        let code: u16 = status[..3].parse().unwrap();
        let script = response(status, "text/html", b"<html><body>down</body></html>");
        for step in STEPS {
            let server = serve(script.clone()).await;
            let err = step.run(server.addr).await.unwrap_err();
            assert!(matches!(err, Error::UnexpectedResponse { status: Some(s), .. } if s == code), "{step:?}: {err:?}");
            assert!(err.is_retryable());
            let expected = if step.retried() { 3 } else { 1 };
            assert_eq!(server.requests.load(Ordering::SeqCst), expected, "{step:?} with {status}");
        }
    }
}

#[tokio::test]
async fn rate_limits_with_and_without_retry_after() {
    let with = response_with_header("429 Too Many Requests", "retry-after: 30");
    every_step(with, |e| matches!(e, Error::RateLimited { retry_after: Some(d) } if d.as_secs() == 30)).await;
    every_step(response("429 Too Many Requests", "text/plain", b""), |e| {
        matches!(e, Error::RateLimited { retry_after: None })
    })
    .await;
}

fn response_with_header(status: &str, header: &str) -> Script {
    Script::Bytes(
        format!("HTTP/1.1 {status}\r\n{header}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").into_bytes(),
    )
}

#[tokio::test]
async fn truncated_json_html_pages_and_invalid_utf8_are_unexpected() {
    for body in [
        &b"{\"State\":\"Succeeded\",\"Tok"[..],
        b"<!DOCTYPE html><html><body>Error</body></html>",
        b"\xff\xfe\xfd{\"a\":1}",
    ] {
        for content_type in ["application/json", "text/html"] {
            every_step(response("200 OK", content_type, body), |e| {
                matches!(e, Error::UnexpectedResponse { status: Some(200), .. })
            })
            .await;
        }
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused_without_reading_them_all() {
    let too_large = |e: &Error| matches!(e, Error::UnexpectedResponse { detail, .. } if detail.contains("larger than"));
    every_step(Script::HugeDeclared, too_large).await;
    every_step(Script::HugeChunked, too_large).await;
}

#[tokio::test]
async fn a_json_body_labelled_xml_is_unexpected_for_online_ordering() {
    let body = br#"{"access_token":"a","refresh_token":"r","expires_in_seconds":1800.0}"#;
    for step in [Step::OnlineVerify, Step::OnlineResume] {
        let server = serve(response("200 OK", "application/xml", body)).await;
        assert!(matches!(step.run(server.addr).await, Err(Error::UnexpectedResponse { .. })), "{step:?}");
    }
}

/// What the raw WebSocket server does.
#[derive(Clone, Copy)]
enum Socket {
    CloseAtOnce,
    CloseAfterChallenge,
    Binary,
    Silent,
    /// Answers with a logged-in session, under this function name.
    ReplyNamed(&'static str),
}

async fn websocket(behaviour: Socket) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                let Some(Ok(Message::Text(first))) = ws.next().await else { return };
                let frame: serde_json::Value = serde_json::from_str(&first).unwrap();
                match behaviour {
                    Socket::CloseAtOnce => {
                        let _ = ws.close(None).await;
                    }
                    Socket::Binary => {
                        let _ = ws.send(Message::binary(vec![0, 159, 146, 150])).await;
                    }
                    Socket::Silent => tokio::time::sleep(Duration::from_secs(30)).await,
                    Socket::ReplyNamed(name) => {
                        let payload = r#"{"Authenticated":true,"SessionToken":"forged-session","UserId":7}"#;
                        let reply = serde_json::json!({ "m": 1, "i": frame["i"], "n": name, "o": payload });
                        let _ = ws.send(Message::text(reply.to_string())).await;
                    }
                    Socket::CloseAfterChallenge => {
                        let payload = r#"{"Authenticated":true,"Requires2FA":true,"AuthType":"Google"}"#;
                        let reply = serde_json::json!({ "m": 1, "i": frame["i"], "n": frame["n"], "o": payload });
                        let _ = ws.send(Message::text(reply.to_string())).await;
                        let _ = ws.next().await;
                        let _ = ws.close(None).await;
                    }
                }
            });
        }
    });
    format!("ws://{addr}/WSGateway")
}

fn ws_flow(url: &str) -> OmsFlow {
    OmsFlow::builder().endpoint(url).username("u").password("p").http(http()).build().unwrap()
}

#[tokio::test]
async fn a_websocket_that_closes_mid_login() {
    let err = ws_flow(&websocket(Socket::CloseAtOnce).await).start().await.unwrap_err();
    assert!(matches!(err, Error::Transport { kind: TransportKind::Closed, .. }), "{err:?}");
    let flow = ws_flow(&websocket(Socket::CloseAfterChallenge).await);
    let twofa::Step::Challenge(c) = flow.start().await.unwrap() else { panic!() };
    let code = OneTimeCode::new("123456").unwrap();
    assert!(
        matches!(flow.verify(&c, &code).await, Err(Error::ChallengeExpired)),
        "the pending login died with its socket"
    );
    assert!(matches!(flow.verify(&c, &code).await, Err(Error::ChallengeExpired)));
}

#[tokio::test]
async fn a_websocket_that_sends_binary() {
    let err = ws_flow(&websocket(Socket::Binary).await).start().await.unwrap_err();
    assert!(matches!(err, Error::UnexpectedResponse { .. }), "{err:?}");
}

#[tokio::test]
async fn a_websocket_that_never_answers() {
    let err = ws_flow(&websocket(Socket::Silent).await).start().await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
}

mod server_tokens;
mod userinfo;
