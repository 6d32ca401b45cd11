//! The OMS WebSocket relay against the sandbox's gateway and against a scripted hostile one.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
};
use tokio_websockets::{ClientBuilder, CloseCode, MaybeTlsStream, Message, WebSocketStream};
use twofa_core::Authenticator;
use twofa_oms::OmsFlow;
use twofa_proxy::{PLACEHOLDER_SESSION_TOKEN, Proxy, RunningProxy};
use twofa_sandbox::{Sandbox, oms as demo, oms_api_key};

const LOOPBACK: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A proxy relaying to `flow`'s gateway, with the authenticator logging in with `flow`.
async fn relay_proxy(
    flow: OmsFlow,
    tune: impl FnOnce(twofa_proxy::ProxyBuilder) -> twofa_proxy::ProxyBuilder,
) -> RunningProxy {
    let flow = Arc::new(flow);
    let auth = Arc::new(Authenticator::builder(flow.clone()).build());
    let origin = flow.gateway_url().to_string().replace("ws://", "http://");
    tune(Proxy::builder(auth, origin).oms_gateway(flow)).listen_tcp(LOOPBACK).await.unwrap()
}

fn password_flow(gateway: &str, username: &str) -> OmsFlow {
    OmsFlow::builder().endpoint(gateway).username(username).password(demo::PASSWORD).build().unwrap()
}

/// The client's URL of the gateway through the proxy: only the base URL changed.
fn ws_url(proxy: &RunningProxy) -> String {
    format!("{}WSGateway/", proxy.base_url().expose_secret().replace("http://", "ws://"))
}

async fn connect(proxy: &RunningProxy) -> Client {
    let uri = ws_url(proxy);
    ClientBuilder::new().uri(&uri).unwrap().connect().await.unwrap().0
}

/// Sends `{m:0, i, n, o}` and returns the first frame numbered `i`.
async fn call(client: &mut Client, i: u64, n: &str, o: Value) -> Value {
    let frame = json!({ "m": 0, "i": i, "n": n, "o": o.to_string() });
    client.send(Message::text(frame.to_string())).await.unwrap();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), client.next()).await.unwrap().unwrap().unwrap();
        let Some(text) = message.as_text() else { panic!("not a text frame: close {:?}", message.as_close()) };
        let frame: Value = serde_json::from_str(text).unwrap();
        if frame["i"] == json!(i) {
            return frame;
        }
    }
}

fn payload(frame: &Value) -> Value {
    serde_json::from_str(frame["o"].as_str().unwrap()).unwrap()
}

/// The next Close the client gets (its code and reason), within 10 s.
async fn close_of(client: &mut Client) -> (u16, String) {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), client.next()).await.unwrap() {
            Some(Ok(message)) if message.is_close() => {
                let (code, reason) = message.as_close().unwrap();
                return (code.into(), reason.to_owned());
            }
            Some(Ok(_)) => {}
            other => panic!("no Close frame: {:?}", other.map(|r| r.map(|m| m.is_close()))),
        }
    }
}

#[tokio::test]
async fn a_client_with_no_credentials_gets_get_user_info_through_the_relay() {
    let sandbox = Sandbox::start().await.unwrap();
    let proxy = relay_proxy(password_flow(&sandbox.oms_ws_url(), demo::USER_NO_2FA), |b| b).await;
    let mut client = connect(&proxy).await;
    let info = call(&mut client, 2, "GetUserInfo", json!({})).await;
    assert_eq!((info["m"].clone(), info["n"].clone()), (json!(1), json!("GetUserInfo")), "i and n kept: {info}");
    assert_eq!(payload(&info)["UserName"], demo::USER_NO_2FA);
    let pong = call(&mut client, 4, "Ping", json!({})).await;
    assert_eq!(payload(&pong)["msg"], "PONG");
    assert_eq!(sandbox.stats().requests("oms.ws.GetUserInfo"), 1);
    // One login by the authenticator, one session-token login of the relay's own socket.
    assert_eq!(sandbox.stats().requests("oms.ws.WebAuthenticateUser"), 2);
    client.close().await.unwrap();
    proxy.shutdown().await;
}

#[tokio::test]
async fn the_clients_login_frames_are_answered_here_and_never_reach_the_gateway() {
    let sandbox = Sandbox::start().await.unwrap();
    let proxy = relay_proxy(password_flow(&sandbox.oms_ws_url(), demo::USER_NO_2FA), |b| b).await;
    let mut client = connect(&proxy).await;
    let logins_before = sandbox.stats().requests("oms.ws.WebAuthenticateUser");
    // As AlphaPoint's npm client numbers them: from 0, by 2.
    for (i, name) in [(0, "AuthenticateUser"), (2, "WebAuthenticateUser")] {
        let reply = call(&mut client, i, name, json!({ "UserName": "someone", "Password": "CLIENT-PASSWORD" })).await;
        assert_eq!(reply["m"], 1, "{reply}");
        let body = payload(&reply);
        assert_eq!((body["Authenticated"].clone(), body["Requires2FA"].clone()), (json!(true), json!(false)));
        assert_eq!(body["SessionToken"], PLACEHOLDER_SESSION_TOKEN);
    }
    let resumed =
        call(&mut client, 4, "WebAuthenticateUser", json!({ "SessionToken": PLACEHOLDER_SESSION_TOKEN })).await;
    assert_eq!(payload(&resumed)["Authenticated"], true);
    let code = call(&mut client, 6, "Authenticate2FA", json!({ "Code": "123456" })).await;
    assert_eq!(code["m"], 5, "a code is refused with an error frame: {code}");
    assert!(payload(&code)["errormsg"].as_str().unwrap().contains("twofa proxy"));
    let out = call(&mut client, 8, "LogOut", json!({})).await;
    assert_eq!(payload(&out)["result"], true);
    let info = call(&mut client, 10, "GetUserInfo", json!({})).await;
    assert_eq!(payload(&info)["UserName"], demo::USER_NO_2FA, "the session outlived the client's LogOut");
    for function in ["AuthenticateUser", "Authenticate2FA", "LogOut"] {
        assert_eq!(sandbox.stats().requests(&format!("oms.ws.{function}")), 0, "{function} reached the gateway");
    }
    assert_eq!(sandbox.stats().requests("oms.ws.WebAuthenticateUser"), logins_before);
    assert_eq!(sandbox.stats().requests("oms.ws.GetUserInfo"), 1);
    proxy.shutdown().await;
}

#[tokio::test]
async fn an_api_key_profile_logs_the_relay_in_with_a_fresh_signature() {
    let sandbox = Sandbox::start().await.unwrap();
    let flow = OmsFlow::builder()
        .endpoint(sandbox.oms_http_url())
        .api_key(oms_api_key::API_USER_ID, oms_api_key::API_KEY, oms_api_key::API_SECRET)
        .build()
        .unwrap();
    assert_eq!(flow.gateway_url().as_str(), sandbox.oms_ws_url(), "the WebSocket gateway beside /AP/");
    let proxy = relay_proxy(flow, |b| b).await;
    let mut client = connect(&proxy).await;
    let info = call(&mut client, 2, "GetUserInfo", json!({})).await;
    assert_eq!(payload(&info)["UserId"], json!(oms_api_key::API_USER_ID), "{info}");
    assert_eq!(sandbox.stats().requests("oms.ws.AuthenticateUser"), 1, "the relay's own signed login");
    assert_eq!(sandbox.stats().requests("oms.ws.WebAuthenticateUser"), 0);
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_profile_without_a_gateway_refuses_upgrades() {
    let sandbox = Sandbox::start().await.unwrap();
    let flow = Arc::new(password_flow(&sandbox.oms_ws_url(), demo::USER_NO_2FA));
    let auth = Arc::new(Authenticator::builder(flow).build());
    let proxy = Proxy::builder(auth, sandbox.oms_http_url()).listen_tcp(LOOPBACK).await.unwrap();
    let refused = ClientBuilder::new().uri(&ws_url(&proxy)).unwrap().connect().await.err().unwrap();
    assert!(
        matches!(
            refused,
            tokio_websockets::Error::Upgrade(tokio_websockets::upgrade::Error::DidNotSwitchProtocols(404))
        ),
        "{refused:?}"
    );
    assert_eq!(sandbox.stats().requests("oms.ws.connect"), 0);
}

#[tokio::test]
async fn shutdown_closes_relays_with_going_away() {
    let sandbox = Sandbox::start().await.unwrap();
    let proxy = relay_proxy(password_flow(&sandbox.oms_ws_url(), demo::USER_NO_2FA), |b| b).await;
    let mut client = connect(&proxy).await;
    assert_eq!(payload(&call(&mut client, 2, "Ping", json!({})).await)["msg"], "PONG");
    let (stopped, closed) = tokio::join!(proxy.shutdown(), close_of(&mut client));
    let () = stopped;
    assert_eq!(closed, (1001, "the proxy is shutting down".to_owned()));
}

/// What the scripted gateway does on one connection after the upgrade and the login reply.
#[derive(Clone, Copy)]
enum Script {
    /// Answers the login, then reads until the peer goes.
    Login,
    /// Never answers the upgrade.
    Silent,
    /// Answers the login, then sends small frames as fast as it can.
    Endless,
    /// Answers the login, then announces a 1 TiB frame and streams it.
    Huge,
    /// Answers the login, then sends Close 4000 "bye".
    Closes,
}

/// A scripted gateway on 127.0.0.1:0: connection `k` follows `scripts[k]` (the last one after
/// that). Counts the bytes it wrote after the login, and the connections whose writes failed.
struct Scripted {
    url: String,
    written: Arc<AtomicU64>,
    cut: Arc<AtomicUsize>,
}

async fn scripted(scripts: Vec<Script>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/WSGateway", listener.local_addr().unwrap());
    let (written, cut) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicUsize::new(0)));
    let (w, c) = (written.clone(), cut.clone());
    tokio::spawn(async move {
        for k in 0.. {
            let Ok((stream, _)) = listener.accept().await else { return };
            let script = scripts[k.min(scripts.len() - 1)];
            tokio::spawn(play(stream, script, w.clone(), c.clone()));
        }
    });
    Scripted { url, written, cut }
}

async fn play(mut stream: TcpStream, script: Script, written: Arc<AtomicU64>, cut: Arc<AtomicUsize>) {
    use base64::Engine as _;
    use sha1::Digest as _;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read_exact(&mut byte).await.is_ok() {
        head.push(byte[0]);
    }
    if matches!(script, Script::Silent) {
        tokio::time::sleep(Duration::from_secs(60)).await;
        return;
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let key =
        head.lines().find_map(|l| l.strip_prefix("sec-websocket-key: ").or(l.strip_prefix("Sec-WebSocket-Key: ")));
    let mut sha = sha1::Sha1::new();
    sha.update(key.unwrap_or_default().trim().as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let accept = base64::engine::general_purpose::STANDARD.encode(sha.finalize());
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    let login = json!({ "m": 1, "i": 2, "n": "WebAuthenticateUser",
        "o": json!({ "Authenticated": true, "SessionToken": "scripted-session", "UserId": 1 }).to_string() });
    let mut out = answer.into_bytes();
    out.extend(text_frame(login.to_string().as_bytes()));
    if stream.write_all(&out).await.is_err() {
        return;
    }
    let outcome = match script {
        Script::Login | Script::Silent => {
            let mut sink = [0u8; 4096];
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            return;
        }
        Script::Endless => {
            let frame =
                text_frame(br#"{"m":3,"i":0,"n":"LevelOneUpdateEvent","o":"{\"LastTradedPx\":1.0}"}"#).repeat(256);
            loop {
                if let Err(e) = stream.write_all(&frame).await {
                    break e;
                }
                written.fetch_add(frame.len() as u64, Ordering::SeqCst);
            }
        }
        Script::Huge => {
            let mut header = vec![0x81, 127];
            header.extend((1u64 << 40).to_be_bytes());
            let _ = stream.write_all(&header).await;
            let chunk = vec![b'a'; 64 * 1024];
            loop {
                if let Err(e) = stream.write_all(&chunk).await {
                    break e;
                }
                written.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            }
        }
        Script::Closes => {
            let mut close = vec![0x88, 5];
            close.extend(4000u16.to_be_bytes());
            close.extend(b"bye");
            let _ = stream.write_all(&close).await;
            let mut sink = [0u8; 4096];
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            return;
        }
    };
    drop(outcome);
    cut.fetch_add(1, Ordering::SeqCst);
}

/// An unmasked (server) text frame.
fn text_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x81];
    match payload.len() {
        n if n < 126 => frame.push(n as u8),
        n if n <= 0xFFFF => {
            frame.push(126);
            frame.extend((n as u16).to_be_bytes());
        }
        n => {
            frame.push(127);
            frame.extend((n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

/// Waits (up to 20 s) until the scripted gateway saw `n` connections cut by the proxy.
async fn wait_cut(gateway: &Scripted, n: usize) {
    let waited = tokio::time::timeout(Duration::from_secs(20), async {
        while gateway.cut.load(Ordering::SeqCst) < n {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "the proxy never cut the hostile gateway");
}

#[tokio::test]
async fn endless_frames_to_a_client_that_does_not_read_stay_bounded_and_end() {
    let gateway = scripted(vec![Script::Login, Script::Endless]).await;
    let proxy = relay_proxy(password_flow(&gateway.url, "u"), |b| {
        b.websocket_limits(64 * 1024, 4).websocket_timeouts(Duration::from_secs(60), Duration::from_millis(300))
    })
    .await;
    let client = connect(&proxy).await; // and never read
    wait_cut(&gateway, 1).await;
    let written = gateway.written.load(Ordering::SeqCst);
    // The kernel's socket buffers on both legs, four queued messages and one held: a few MiB.
    eprintln!("the hostile gateway wrote {written} bytes before the relay cut it");
    assert!(written < 64 << 20, "the relay took {written} bytes from a gateway nobody read");
    drop(client);
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_huge_frame_ends_the_relay_before_it_is_read() {
    let gateway = scripted(vec![Script::Login, Script::Huge]).await;
    let proxy = relay_proxy(password_flow(&gateway.url, "u"), |b| b.websocket_limits(64 * 1024, 4)).await;
    let mut client = connect(&proxy).await;
    let (code, _) = close_of(&mut client).await;
    assert_eq!(code, u16::from(CloseCode::BAD_GATEWAY), "the client is told the gateway failed");
    wait_cut(&gateway, 1).await;
    assert!(gateway.written.load(Ordering::SeqCst) < 64 << 20);
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_gateway_that_never_answers_the_upgrade_gets_the_client_a_504() {
    let gateway = scripted(vec![Script::Login, Script::Silent]).await;
    let proxy = relay_proxy(password_flow(&gateway.url, "u"), |b| b.upstream_timeout(Duration::from_millis(500))).await;
    let refused = ClientBuilder::new().uri(&ws_url(&proxy)).unwrap().connect().await.err().unwrap();
    assert!(
        matches!(
            refused,
            tokio_websockets::Error::Upgrade(tokio_websockets::upgrade::Error::DidNotSwitchProtocols(504))
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_close_is_passed_on_both_ways() {
    let gateway = scripted(vec![Script::Login, Script::Closes]).await;
    let proxy = relay_proxy(password_flow(&gateway.url, "u"), |b| b).await;
    let mut client = connect(&proxy).await;
    assert_eq!(close_of(&mut client).await, (4000, "bye".to_owned()));
    // The other way: the client's Close reaches the sandbox's gateway, which answers it.
    let sandbox = Sandbox::start().await.unwrap();
    let proxy = relay_proxy(password_flow(&sandbox.oms_ws_url(), demo::USER_NO_2FA), |b| b).await;
    let mut client = connect(&proxy).await;
    assert_eq!(payload(&call(&mut client, 2, "Ping", json!({})).await)["msg"], "PONG");
    client.send(Message::close(Some(CloseCode::NORMAL_CLOSURE), "done")).await.unwrap();
    assert_eq!(close_of(&mut client).await.0, 1000);
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_session_the_gateway_ended_is_renewed_for_the_next_client_connection() {
    let sandbox = Sandbox::start().await.unwrap();
    let proxy = relay_proxy(password_flow(&sandbox.oms_ws_url(), demo::USER_NO_2FA), |b| b).await;
    let mut first = connect(&proxy).await;
    assert_eq!(payload(&call(&mut first, 2, "GetUserInfo", json!({})).await)["UserName"], demo::USER_NO_2FA);
    let before = proxy.session().await.unwrap();
    // The gateway forgets the session (two idle hours on its clock); the proxy does not know yet.
    sandbox.clock().advance(Duration::from_secs(7200));
    let stale = call(&mut first, 4, "GetUserInfo", json!({})).await;
    assert_eq!(payload(&stale)["errorcode"], 20, "the open relay keeps its session and says what the gateway says");
    let mut second = connect(&proxy).await;
    let info = call(&mut second, 2, "GetUserInfo", json!({})).await;
    assert_eq!(payload(&info)["UserName"], demo::USER_NO_2FA, "the next connection got a renewed session: {info}");
    let after = proxy.session().await.unwrap();
    assert_ne!(before.access_token().expose_secret(), after.access_token().expose_secret());
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_client_that_sends_no_apex_frame_is_closed_and_nothing_reaches_the_gateway() {
    let sandbox = Sandbox::start().await.unwrap();
    let proxy =
        relay_proxy(password_flow(&sandbox.oms_ws_url(), demo::USER_NO_2FA), |b| b.websocket_limits(4096, 4)).await;
    let cases: [(Message, u16); 4] = [
        (Message::text("not a frame"), 1008),
        (Message::text(r#"{"m":0,"i":2,"n":"Ping","n":"LogOut","o":"{}"}"#), 1008),
        (Message::binary(&b"\x00\x01"[..]), 1003),
        (Message::text(format!(r#"{{"m":0,"i":2,"n":"Ping","o":"{}"}}"#, "x".repeat(8192))), 1009),
    ];
    for (message, code) in cases {
        let mut client = connect(&proxy).await;
        client.send(message).await.unwrap();
        assert_eq!(close_of(&mut client).await.0, code);
    }
    let stats = sandbox.stats();
    // The gateway saw only the logins: the authenticator's, and each relay socket's own.
    assert_eq!(
        stats.requests("oms.ws.request"),
        stats.requests("oms.ws.WebAuthenticateUser"),
        "a client frame was forwarded"
    );
    assert_eq!(stats.requests("oms.ws.WebAuthenticateUser"), 5);
    proxy.shutdown().await;
}

#[tokio::test]
async fn events_and_other_replies_reach_the_client_as_the_gateway_sent_them() {
    let sandbox = Sandbox::start().await.unwrap();
    let proxy = relay_proxy(password_flow(&sandbox.oms_ws_url(), demo::USER_NO_2FA), |b| b).await;
    let mut client = connect(&proxy).await;
    assert_eq!(payload(&call(&mut client, 2, "Ping", json!({})).await)["msg"], "PONG");
    sandbox.set_oms_event_burst(4); // before each reply: events under its number, replies under others
    let request = json!({ "m": 0, "i": 6, "n": "GetUserInfo", "o": "{}" });
    client.send(Message::text(request.to_string())).await.unwrap();
    let mut seen = Vec::new();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), client.next()).await.unwrap().unwrap().unwrap();
        let frame: Value = serde_json::from_str(message.as_text().unwrap()).unwrap();
        seen.push((
            frame["m"].as_u64().unwrap(),
            frame["i"].as_u64().unwrap(),
            frame["n"].as_str().unwrap().to_owned(),
        ));
        if frame["m"] == 1 && frame["i"] == 6 {
            break;
        }
    }
    let event = (3, 6, "LevelOneUpdateEvent".to_owned());
    assert_eq!(seen.iter().filter(|f| **f == event).count(), 2, "{seen:?}");
    assert_eq!(seen.iter().filter(|f| f.0 == 1 && f.2 == "GetInstruments").count(), 2, "{seen:?}");
    assert_eq!(seen.last(), Some(&(1, 6, "GetUserInfo".to_owned())));
    proxy.shutdown().await;
}
