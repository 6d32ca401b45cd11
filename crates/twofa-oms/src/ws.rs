//! One WebSocket connection to an APEX gateway: numbered requests, replies matched by number.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async_with_config,
    tungstenite::{self, Message, protocol::WebSocketConfig},
};
use twofa_core::{Error, TransportKind, http::MAX_BODY_BYTES};

use crate::frame::{ERROR, REPLY, decode, encode};

/// A connection and its next sequence number (even, from 2, as APEX recommends).
pub(crate) struct Connection {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next: u64,
    timeout: Duration,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("next", &self.next).finish_non_exhaustive()
    }
}

impl Connection {
    /// Opens a connection within `connect_timeout`; calls then time out after `timeout` each.
    pub(crate) async fn open(url: &str, connect_timeout: Duration, timeout: Duration) -> Result<Self, Error> {
        let config =
            WebSocketConfig::default().max_message_size(Some(MAX_BODY_BYTES)).max_frame_size(Some(MAX_BODY_BYTES));
        let connect = connect_async_with_config(url, Some(config), true);
        let (stream, _) = tokio::time::timeout(connect_timeout, connect)
            .await
            .map_err(|_| Error::transport(TransportKind::Timeout, "the WebSocket connection timed out"))?
            .map_err(ws_error)?;
        Ok(Self { stream, next: 2, timeout })
    }

    /// Calls `function` with `payload` and returns the reply's payload text.
    ///
    /// Events (`m:3`) and replies to other requests that arrive first are skipped; an error frame
    /// (`m:5`) for this request is an error.
    pub(crate) async fn call(&mut self, function: &str, payload: &Value) -> Result<String, Error> {
        let i = self.next;
        self.next += 2;
        let text = zeroize::Zeroizing::new(encode(i, function, payload));
        self.stream.send(Message::text(text.as_str())).await.map_err(ws_error)?;
        tokio::time::timeout(self.timeout, self.reply_to(i))
            .await
            .map_err(|_| Error::transport(TransportKind::Timeout, format!("no answer to {function} in time")))?
    }

    async fn reply_to(&mut self, i: u64) -> Result<String, Error> {
        loop {
            let message = self.stream.next().await.ok_or_else(closed)?.map_err(ws_error)?;
            let text = match message {
                Message::Text(text) => text,
                Message::Binary(_) => return Err(Error::unexpected(None, "a binary WebSocket frame")),
                Message::Close(_) => return Err(closed()),
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            };
            let frame = decode(&text)?;
            match (frame.i == i, frame.m) {
                (true, REPLY) => return Ok(frame.o),
                (true, ERROR) => return Err(error_frame(&frame.o)),
                _ => continue,
            }
        }
    }

    /// Closes politely; a failure to do so changes nothing for the caller.
    pub(crate) async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

fn closed() -> Error {
    Error::transport(TransportKind::Closed, "the WebSocket connection was closed")
}

/// An `m:5` frame: its payload is a generic error response when the gateway sends one.
fn error_frame(payload: &str) -> Error {
    #[derive(serde::Deserialize)]
    struct Generic {
        errorcode: Option<i64>,
        errormsg: Option<String>,
    }
    match twofa_core::json::from_slice_ci::<Generic>(payload.as_bytes()) {
        Ok(Generic { errorcode: Some(code), errormsg }) => {
            Error::Provider { code, message: errormsg.unwrap_or_default().chars().take(200).collect() }
        }
        _ => Error::unexpected(None, "an APEX error frame"),
    }
}

fn ws_error(e: tungstenite::Error) -> Error {
    use tungstenite::Error as E;
    match e {
        E::ConnectionClosed | E::AlreadyClosed => closed(),
        E::Io(io) => Error::Transport {
            kind: if io.kind() == std::io::ErrorKind::ConnectionRefused {
                TransportKind::Connect
            } else {
                TransportKind::Body
            },
            message: format!("WebSocket I/O error: {io}"),
            source: Some(std::sync::Arc::new(io)),
        },
        E::Capacity(_) => Error::unexpected(None, format!("a WebSocket message larger than {MAX_BODY_BYTES} bytes")),
        E::Http(response) => Error::unexpected(Some(response.status().as_u16()), "the WebSocket handshake was refused"),
        E::Tls(tls) => Error::transport(TransportKind::Other, format!("TLS error: {tls}")),
        other => Error::transport(TransportKind::Other, format!("WebSocket error: {other}")),
    }
}
