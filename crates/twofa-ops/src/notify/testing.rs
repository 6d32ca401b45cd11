//! A local webhook receiver (feature `test-util`): an axum server on `127.0.0.1:0` that records
//! every request a sink sends, for tests of what notifications say.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
};

use axum::{
    Router,
    body::Bytes,
    http::{HeaderMap, StatusCode, Uri},
};
use serde_json::Value;

use super::Backoff;

/// Retries for tests: a few tries, milliseconds apart.
pub fn quick_retries() -> Backoff {
    let mut backoff = Backoff::default();
    backoff.attempts = 4;
    backoff.base = std::time::Duration::from_millis(1);
    backoff.max = std::time::Duration::from_millis(5);
    backoff
}

/// One request the receiver got.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Received {
    /// Path and query.
    pub uri: String,
    /// The `Authorization` header, if any.
    pub auth: Option<String>,
    /// The JSON body (`Null` if it was not JSON).
    pub body: Value,
}

#[derive(Debug, Default)]
struct State {
    got: Vec<Received>,
    fail_first: u32,
    seen: u32,
}

/// The receiver; it serves until dropped with the runtime.
#[derive(Debug, Clone)]
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    /// Starts a receiver on a free loopback port.
    ///
    /// # Errors
    ///
    /// When no loopback port can be bound.
    pub async fn start() -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = Arc::clone(&shared);
            async move {
                let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                state.seen += 1;
                if state.fail_first > 0 {
                    state.fail_first -= 1;
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                state.got.push(Received { uri: uri.to_string(), auth, body });
                StatusCode::OK
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { addr, state })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers the next `n` requests `503` (not recorded), to test retries.
    pub fn fail_first(&self, n: u32) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).fail_first = n;
    }

    /// The requests recorded so far, in order.
    pub fn got(&self) -> Vec<Received> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).got.clone()
    }

    /// How many requests arrived, the refused ones included.
    pub fn seen(&self) -> u32 {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).seen
    }

    /// `(profile, event)` of each webhook body recorded, in order.
    pub fn events(&self) -> Vec<(String, String)> {
        let field = |r: &Received, f: &str| r.body[f].as_str().unwrap_or_default().to_owned();
        self.got().iter().map(|r| (field(r, "profile"), field(r, "event"))).collect()
    }
}
