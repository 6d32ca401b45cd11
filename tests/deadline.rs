//! The deadline of a login reaches inside each request: a provider whose every wait is an HTTP
//! request ([`TwoFactorFlow::waits_are_clamped`]) runs its steps without a timer of their own,
//! and a server that never answers is still cut at the login's deadline, not at the (longer)
//! request time limit.
#![cfg(all(feature = "etna", feature = "onlineordering", feature = "oms"))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use twofa::{
    Error, LoginOptions, TransportKind, TwoFactorFlow, code_source, etna::EtnaFlow, http::HttpOptions, login,
    oms::OmsFlow, onlineordering::OnlineOrderingFlow,
};

/// A server that accepts connections and never answers; its base URL.
async fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

fn slow_requests() -> HttpOptions {
    HttpOptions::default().timeout(Duration::from_secs(30))
}

#[tokio::test]
async fn http_flows_say_their_waits_are_clamped_and_the_websocket_does_not() {
    let etna = EtnaFlow::builder().base_url("http://127.0.0.1:1/api").app_key("k").username("u").password("p");
    assert!(etna.build().unwrap().waits_are_clamped());
    let oo = OnlineOrderingFlow::builder()
        .base_url("http://127.0.0.1:1")
        .company_code("C")
        .integrator("i", "s")
        .email("e@example.com")
        .password("p");
    assert!(oo.build().unwrap().waits_are_clamped());
    let oms = |url: &str| OmsFlow::builder().endpoint(url).username("u").password("p").build().unwrap();
    assert!(oms("http://127.0.0.1:1").waits_are_clamped());
    assert!(!oms("ws://127.0.0.1:1/WSGateway").waits_are_clamped());
}

/// Logs in to `flow` under a 300 ms deadline and checks it ends with the deadline's timeout, on time.
async fn assert_cut_at_a_300_ms_login_deadline(flow: &dyn TwoFactorFlow) {
    let options = LoginOptions::default().deadline(Duration::from_millis(300));
    let begin = Instant::now();
    let result = login(flow, &code_source::from_fn(|_| async { Ok("1".into()) }), &options).await;
    let took = begin.elapsed();
    let Err(Error::Transport { kind: TransportKind::Timeout, message, .. }) = result else { panic!("{result:?}") };
    assert!(message.contains("300 ms deadline"), "{message}");
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_is_cut_at_the_login_deadline_not_the_request_limit() {
    let base = silent_server().await;
    let flow = EtnaFlow::builder()
        .base_url(format!("{base}/api"))
        .app_key("k")
        .username("u")
        .password("p")
        .http(slow_requests())
        .build()
        .unwrap();
    assert_cut_at_a_300_ms_login_deadline(&flow).await;
}

#[tokio::test]
async fn outside_a_login_a_request_keeps_its_own_limit() {
    assert_eq!(twofa::deadline::clamp(Duration::from_secs(30)), Duration::from_secs(30));
    let mut budget = twofa::deadline::Budget::new(Duration::from_secs(5));
    let inside = budget.run(async { Ok::<_, Error>(twofa::deadline::clamp(Duration::from_secs(30))) }).await.unwrap();
    assert!(inside <= Duration::from_secs(5) && inside > Duration::from_secs(4), "{inside:?}");
}

/// A server that answers the headers of a small body and then sends it a byte every 50 ms, for
/// ever short of the end; its base URL.
async fn trickling_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                let _ = socket.read(&mut [0; 4096]).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n";
                let _ = socket.write_all(head.as_bytes()).await;
                while socket.write_all(b" ").await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        }
    });
    url
}

#[tokio::test]
async fn a_body_trickled_a_byte_at_a_time_is_cut_at_the_login_deadline() {
    let flow = OnlineOrderingFlow::builder()
        .base_url(trickling_server().await)
        .company_code("C")
        .integrator("i", "s")
        .email("e@example.com")
        .password("p")
        .http(slow_requests())
        .build()
        .unwrap();
    assert_cut_at_a_300_ms_login_deadline(&flow).await;
}

/// Nothing a flow or an `Authenticator` keeps (its HTTP client, a login's timer) is tied to the
/// runtime of its first login: a program that runs each login on a runtime of its own, dropped
/// afterwards, logs in every time.
#[test]
fn an_authenticator_logs_in_from_one_runtime_after_another() {
    use twofa_sandbox::{Sandbox, onlineordering as sandbox};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            tx.send(Sandbox::start().await.unwrap()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    let sandbox = rx.recv().unwrap();
    let flow = OnlineOrderingFlow::builder()
        .base_url(sandbox.onlineordering_base_url())
        .company_code(sandbox::COMPANY_CODE)
        .integrator(sandbox::API_USER, sandbox::API_PASSWORD)
        .email(sandbox::CUSTOMER_NO_2FA)
        .password(sandbox::PASSWORD)
        .build()
        .unwrap();
    let auth = twofa::Authenticator::builder(std::sync::Arc::new(flow)).build();
    for flavour in ["current_thread", "multi_thread", "current_thread"] {
        let runtime = match flavour {
            "current_thread" => tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
            _ => tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap(),
        };
        let session = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(10), auth.login()).await });
        assert!(session.expect("the login hung").is_ok(), "on a {flavour} runtime after another was dropped");
    }
}

/// A server that answers every request with an Online Ordering session; its base URL.
async fn answering_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                let _ = socket.read(&mut [0; 4096]).await;
                let body = r#"{"access_token":"a","refresh_token":"r","expires_in_seconds":1800}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(format!("{head}{body}").as_bytes()).await;
            });
        }
    });
    url
}

/// A zero request limit cuts a request that does not answer at once (within the timer's
/// millisecond); `Duration::MAX` means no limit. Neither panics, inside a login's deadline or
/// outside it.
#[tokio::test]
async fn request_limits_of_zero_and_max_time_out_at_once_or_never() {
    let flow = |base: &str, limit| {
        OnlineOrderingFlow::builder()
            .base_url(base)
            .company_code("C")
            .integrator("i", "s")
            .email("e@example.com")
            .password("p")
            .http(HttpOptions::default().timeout(limit))
            .build()
            .unwrap()
    };
    let codes = code_source::from_fn(|_| async { Ok("1".into()) });
    let options = LoginOptions::default();
    let zero = flow(&silent_server().await, Duration::ZERO);
    let begin = Instant::now();
    assert!(matches!(zero.start().await, Err(Error::Transport { kind: TransportKind::Timeout, .. })));
    let cut = login(&zero, &codes, &options).await;
    assert!(matches!(cut, Err(Error::Transport { kind: TransportKind::Timeout, .. })), "{cut:?}");
    assert!(begin.elapsed() < Duration::from_secs(5), "{:?}", begin.elapsed());
    let unlimited = flow(&answering_server().await, Duration::MAX);
    assert!(unlimited.start().await.unwrap().session().is_some());
    login(&unlimited, &codes, &options.clone().deadline(Duration::MAX)).await.unwrap();
}
