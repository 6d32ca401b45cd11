//! Nothing secret reaches a log at trace level: not the session's token or app key, not the
//! client's own credentials, not the access token of the base URL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::{
    io::Write,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use common::{Echo, EchoFlow};
use twofa_core::Authenticator;
use twofa_proxy::Proxy;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_in_any_log_at_trace_level() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let (echo, base_url) = Echo::start().await;
    let auth = Arc::new(Authenticator::builder(Arc::new(EchoFlow::new(&echo, &base_url))).build());
    let proxy = Proxy::builder(auth, base_url).listen_tcp(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let base = proxy.base_url().expose_secret().to_owned();
    let client = reqwest::Client::new();
    let ok = client.get(format!("{base}x")).header("Authorization", "Bearer CLIENT-SECRET").send().await.unwrap();
    assert_eq!(ok.status(), 200);
    echo.revoke(); // a 401, a renewal and a retry are logged too
    let retried = client.get(format!("{base}x")).send().await.unwrap();
    assert_eq!(retried.status(), 200);
    assert!(format!("{proxy:?}").len() > 10);
    let debug = format!("{proxy:?}");
    let token = base.trim_end_matches('/').rsplit('/').next().unwrap().to_owned();
    proxy.shutdown().await;
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("renewing and retrying once"), "the capture works: {logs}");
    for secret in ["tok-SECRET", "app-key-SECRET", "CLIENT-SECRET", token.as_str()] {
        assert!(!logs.contains(secret), "{secret} in the logs");
        assert!(!debug.contains(secret), "{secret} in Debug");
    }
}

#[tokio::test]
async fn no_secret_of_a_websocket_relay_in_any_log_at_trace_level() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use twofa_sandbox::{Sandbox, oms as demo};
    let capture = Capture::default();
    let writer = capture.clone();
    // The sandbox stands in for the remote gateway: its own WebSocket library's logs are not the proxy's.
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("trace,tungstenite=off,tokio_tungstenite=off,axum=off,twofa_sandbox=off")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let sandbox = Sandbox::start().await.unwrap();
    let flow = Arc::new(
        twofa_oms::OmsFlow::builder()
            .endpoint(sandbox.oms_ws_url())
            .username(demo::USER_NO_2FA)
            .password(demo::PASSWORD)
            .build()
            .unwrap(),
    );
    let auth = Arc::new(Authenticator::builder(flow.clone()).build());
    let proxy = Proxy::builder(auth, sandbox.oms_http_url())
        .oms_gateway(flow)
        .listen_tcp(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = proxy.base_url().expose_secret().to_owned();
    let uri = format!("{}WSGateway", base.replace("http://", "ws://"));
    let (mut client, _) = tokio_websockets::ClientBuilder::new().uri(&uri).unwrap().connect().await.unwrap();
    let frames = [
        r#"{"m":0,"i":0,"n":"AuthenticateUser","o":"{\"UserName\":\"x\",\"Password\":\"CLIENT-PASSWORD\"}"}"#,
        r#"{"m":0,"i":2,"n":"GetUserInfo","o":"{\"SessionToken\":\"CLIENT-TOKEN\"}"}"#,
        r#"{"m":0,"i":4,"n":"GetUserInfo","o":"{}"}"#,
    ];
    for frame in frames {
        client.send(tokio_websockets::Message::text(frame)).await.unwrap();
    }
    let mut replies = 0;
    while replies < 3 {
        let message = client.next().await.unwrap().unwrap();
        replies += usize::from(message.is_text());
    }
    let session_token = proxy.session().await.unwrap().access_token().expose_secret().to_owned();
    client.close().await.unwrap();
    let token = base.trim_end_matches('/').rsplit('/').next().unwrap().to_owned();
    proxy.shutdown().await;
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("a WebSocket relay to the OMS gateway opened"), "the capture works: {logs}");
    for secret in [session_token.as_str(), demo::PASSWORD, "CLIENT-PASSWORD", "CLIENT-TOKEN", token.as_str()] {
        assert!(!logs.contains(secret), "{secret} in the logs");
    }
}
