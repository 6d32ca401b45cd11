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
    let options = LoginOptions::default().deadline(Duration::from_millis(300));
    let begin = Instant::now();
    let result = login(&flow, &code_source::from_fn(|_| async { Ok("1".into()) }), &options).await;
    let took = begin.elapsed();
    let Err(Error::Transport { kind: TransportKind::Timeout, message, .. }) = result else { panic!("{result:?}") };
    assert!(message.contains("300 ms deadline"), "{message}");
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn outside_a_login_a_request_keeps_its_own_limit() {
    assert_eq!(twofa::deadline::clamp(Duration::from_secs(30)), Duration::from_secs(30));
    let mut budget = twofa::deadline::Budget::new(Duration::from_secs(5));
    let inside = budget.run(async { Ok::<_, Error>(twofa::deadline::clamp(Duration::from_secs(30))) }).await.unwrap();
    assert!(inside <= Duration::from_secs(5) && inside > Duration::from_secs(4), "{inside:?}");
}
