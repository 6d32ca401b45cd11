//! A gateway whose upgrade answer never ends: a header line that goes on for the whole connect
//! timeout, or ten thousand headers. The client refuses the answer once it passes its bound, with
//! a typed error, quickly, and without growing (before the bound it grew from about 16 MiB to
//! 50–66 MiB within the connect timeout, re-parsing the whole answer at every read).

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpListener,
};
use twofa::{Error, TwoFactorFlow, http::HttpOptions, oms::OmsFlow};

use crate::child;

/// How long the gateway keeps writing its answer (the client's connect timeout is longer).
const WRITING: Duration = Duration::from_secs(6);

/// The memory growth allowed to the whole client while the gateway writes.
const BUDGET: u64 = 16 << 20;

/// What the gateway writes after `HTTP/1.1 101 Switching Protocols\r\n`, over and over.
#[derive(Clone, Copy)]
enum Answer {
    /// `X-Long: aaaa…` with no end of line.
    EndlessLine,
    /// `X-N: 1\r\n` ten thousand times, then the end of the head.
    TenThousandHeaders,
}

/// Reads the upgrade request, then writes `answer` for `WRITING` (or until the client leaves).
async fn gateway(answer: Answer) -> String {
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
        if socket.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n").await.is_err() {
            return;
        }
        let end = Instant::now() + WRITING;
        match answer {
            Answer::EndlessLine => {
                let _ = socket.write_all(b"X-Long: ").await;
                let chunk = vec![b'a'; 64 * 1024];
                while Instant::now() < end {
                    if socket.write_all(&chunk).await.is_err() {
                        break;
                    }
                }
            }
            Answer::TenThousandHeaders => {
                for n in 0..10_000 {
                    if socket.write_all(format!("X-N{n}: 1\r\n").as_bytes()).await.is_err() {
                        return;
                    }
                }
                let _ = socket.write_all(b"\r\n").await;
                tokio::time::sleep_until(end.into()).await;
            }
        }
    });
    format!("ws://{addr}/WSGateway")
}

async fn refused(answer: Answer) {
    let url = gateway(answer).await;
    let before = child::proc_status_bytes("VmRSS");
    let http = HttpOptions::default().connect_timeout(WRITING * 2).timeout(WRITING * 2);
    let flow = OmsFlow::builder().endpoint(&url).username("u").password("p").http(http).build().unwrap();
    let started = Instant::now();
    let err = flow.start().await.unwrap_err();
    let took = started.elapsed();
    let peak = child::proc_status_bytes("VmHWM");
    println!(
        "handshake: RSS before {} KiB, peak {} KiB, growth {} KiB, ended after {took:?} with {err:?}",
        before >> 10,
        peak >> 10,
        peak.saturating_sub(before) >> 10,
    );
    assert!(
        matches!(&err, Error::UnexpectedResponse { status: None, detail } if detail.contains("WebSocket handshake answer")),
        "an oversized upgrade answer is a protocol error: {err:?}"
    );
    assert!(took < WRITING, "refused at the bound, not at a timeout: {took:?}");
    assert!(peak.saturating_sub(before) < BUDGET, "the client grew by {} MiB", (peak - before) >> 20);
}

#[tokio::test]
#[ignore = "run by an_upgrade_answer_with_an_endless_header_line_is_refused_at_its_bound, alone in its own process"]
async fn endless_line_child() {
    refused(Answer::EndlessLine).await;
}

#[tokio::test]
#[ignore = "run by an_upgrade_answer_with_ten_thousand_headers_is_refused, alone in its own process"]
async fn many_headers_child() {
    refused(Answer::TenThousandHeaders).await;
}

#[test]
fn an_upgrade_answer_with_an_endless_header_line_is_refused_at_its_bound() {
    let out = child::run("ws_handshake::endless_line_child", &[]);
    assert!(out.status.success(), "{}", child::describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"), "{}", child::describe(&out));
}

#[test]
fn an_upgrade_answer_with_ten_thousand_headers_is_refused() {
    let out = child::run("ws_handshake::many_headers_child", &[]);
    assert!(out.status.success(), "{}", child::describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"), "{}", child::describe(&out));
}
