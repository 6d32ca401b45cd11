//! Upstreams, flows and a raw client shared by the proxy's tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test binary uses its own subset

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use axum::{Json, Router, extract::State, http::HeaderMap, response::IntoResponse, routing::any};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
};
use twofa_core::{
    AccessToken, Challenge, Error, OneTimeCode, Origin, Session, Step, TokenPlacement, TwoFactorFlow, reqwest::Url,
};

/// An upstream that answers every path with the headers it received, as JSON, but only to the
/// token its flow issued last (else 401).
#[derive(Clone, Default)]
pub struct Echo {
    pub valid: Arc<Mutex<String>>,
    pub hits: Arc<AtomicU32>,
    pub logins: Arc<AtomicU32>,
}

async fn echo_handler(
    State(echo): State<Echo>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    echo.hits.fetch_add(1, Ordering::SeqCst);
    let valid = format!("Bearer {}", echo.valid.lock().unwrap());
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mut seen = serde_json::Map::new();
    for (name, value) in &headers {
        let entry = seen.entry(name.as_str().to_owned()).or_insert_with(|| serde_json::json!([]));
        entry.as_array_mut().unwrap().push(serde_json::json!(value.to_str().unwrap_or("?")));
    }
    seen.insert("_body_len".into(), serde_json::json!(body.len()));
    let status = if auth == valid { 200 } else { 401 };
    (axum::http::StatusCode::from_u16(status).unwrap(), Json(serde_json::Value::Object(seen))).into_response()
}

impl Echo {
    /// Starts the upstream; its base URL ends in `/api/`.
    pub async fn start() -> (Self, String) {
        let echo = Self::default();
        let app = Router::new().fallback(any(echo_handler)).with_state(echo.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (echo, format!("http://{addr}/api/"))
    }

    /// The upstream forgets every token (a server-side logout): the next request gets a 401.
    pub fn revoke(&self) {
        *self.valid.lock().unwrap() = "revoked".into();
    }
}

/// A flow whose every login issues `tok-N` for the [`Echo`] upstream, with an app-key header.
#[derive(Debug)]
pub struct EchoFlow {
    pub origin: Origin,
    valid: Arc<Mutex<String>>,
    logins: Arc<AtomicU32>,
    lifetime: Option<time::Duration>,
    clock: Option<twofa_core::ManualClock>,
}

impl EchoFlow {
    pub fn new(echo: &Echo, base: &str) -> Self {
        Self {
            origin: Origin::new(&Url::parse(base).unwrap(), ["user"]),
            valid: echo.valid.clone(),
            logins: echo.logins.clone(),
            lifetime: None,
            clock: None,
        }
    }

    /// Sessions that expire `lifetime` after their issue on `clock`.
    pub fn expiring(mut self, lifetime: time::Duration, clock: twofa_core::ManualClock) -> Self {
        self.lifetime = Some(lifetime);
        self.clock = Some(clock);
        self
    }
}

impl std::fmt::Debug for Echo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Echo")
    }
}

#[async_trait]
impl TwoFactorFlow for EchoFlow {
    fn provider(&self) -> &'static str {
        "echo"
    }

    async fn start(&self) -> Result<Step, Error> {
        let n = self.logins.fetch_add(1, Ordering::SeqCst) + 1;
        let token = format!("tok-SECRET-{n}");
        *self.valid.lock().unwrap() = token.clone();
        let now = match &self.clock {
            Some(clock) => twofa_core::Clock::now(clock),
            None => time::OffsetDateTime::now_utc(),
        };
        let session = Session::new("echo", AccessToken::new(token), TokenPlacement::Bearer, now)
            .with_header("Et-App-Key", twofa_core::Secret::new("app-key-SECRET"))
            .with_expires_at(self.lifetime.map(|l| now + l))
            .with_origin(self.origin.clone());
        Ok(Step::Authenticated(session))
    }

    async fn verify(&self, _: &Challenge, _: &OneTimeCode) -> Result<Step, Error> {
        Err(Error::Unsupported { operation: "verify" })
    }

    fn origin(&self) -> Option<&Origin> {
        Some(&self.origin)
    }
}

/// Sends `raw` bytes on a fresh connection to `addr` and reads until the peer closes or `wait`
/// passes, whichever is first.
pub async fn raw_exchange(addr: SocketAddr, raw: &[u8], wait: Duration) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// The status code of the first answer in `raw`.
pub fn status_of(raw: &str) -> u16 {
    raw.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// A hostile upstream: for every connection, reads a little and writes `answer`, then trickles
/// `trickle` bytes one per `pause`, then holds the connection open.
pub async fn hostile(answer: Vec<u8>, trickle: usize, pause: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                if stream.write_all(&answer).await.is_err() {
                    return;
                }
                for _ in 0..trickle {
                    tokio::time::sleep(pause).await;
                    if stream.write_all(b"x").await.is_err() {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
        }
    });
    format!("http://{addr}/api/")
}
