//! A WebSocket server that floods Ping frames and never reads our Pongs: the client's queued
//! bytes stay bounded and the login ends with a typed error, not a hang or a memory blow-up.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpListener,
};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use twofa::{Error, TwoFactorFlow, http::HttpOptions, oms::OmsFlow};

use crate::child;

/// How long the server floods (a scaled-down version of the 60 s that grew a client to 3 GB).
const FLOOD: Duration = Duration::from_secs(8);

/// The memory growth allowed to the whole client while it is flooded.
const BUDGET: u64 = 64 << 20;

/// Accepts one WebSocket, then writes Ping frames as fast as it can for `FLOOD` and never reads.
async fn ping_flood() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else { return };
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let request = String::from_utf8_lossy(&request).into_owned();
        let key = request
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-key"))
            .map(|(_, value)| value.trim().to_owned())
            .unwrap();
        let accept = derive_accept_key(key.as_bytes());
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        socket.write_all(answer.as_bytes()).await.unwrap();
        let ping = [&[0x89u8, 125][..], &[b'p'; 125]].concat();
        let burst = ping.repeat(1024);
        let end = Instant::now() + FLOOD;
        while Instant::now() < end {
            if socket.write_all(&burst).await.is_err() {
                break;
            }
        }
    });
    format!("ws://{addr}/WSGateway")
}

#[tokio::test]
#[ignore = "run by a_ping_flood_ends_with_a_typed_error_and_bounded_memory, alone in its own process"]
async fn ping_flood_child() {
    let url = ping_flood().await;
    let before = child::proc_status_bytes("VmRSS");
    let http = HttpOptions::default().timeout(FLOOD * 2);
    let flow = OmsFlow::builder().endpoint(&url).username("u").password("p").http(http).build().unwrap();
    let started = Instant::now();
    let err = flow.start().await.unwrap_err();
    let peak = child::proc_status_bytes("VmHWM");
    println!(
        "flood: RSS before {} KiB, peak {} KiB, growth {} KiB, ended after {:?} with {err:?}",
        before >> 10,
        peak >> 10,
        peak.saturating_sub(before) >> 10,
        started.elapsed()
    );
    assert!(peak.saturating_sub(before) < BUDGET, "the client grew by {} MiB", (peak - before) >> 20);
    assert!(
        matches!(&err, Error::UnexpectedResponse { status: None, detail } if detail.contains("Ping")),
        "a flood is a protocol error: {err:?}"
    );
}

#[test]
fn a_ping_flood_ends_with_a_typed_error_and_bounded_memory() {
    let out = child::run("ws_flood::ping_flood_child", &[]);
    assert!(out.status.success(), "{}", child::describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"), "{}", child::describe(&out));
}
