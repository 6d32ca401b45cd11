//! One WebSocket connection to an APEX gateway: numbered requests, replies matched by number and
//! function name.
//!
//! The WebSocket layer is `tokio-websockets`, which logs nothing: no log level of any target can
//! show a frame, and so the password and the code. TLS is the [`rustls::ClientConfig`] HTTPS uses
//! (see `twofa_core::http`), so both transports trust the same roots. The gateway is reached
//! directly, never through a proxy.
//!
//! [`rustls::ClientConfig`]: tokio_rustls::rustls::ClientConfig

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures_util::{SinkExt as _, StreamExt as _};
use reqwest::Url;
use serde_json::Value;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};
use tokio_rustls::{
    TlsConnector,
    rustls::{ClientConfig, pki_types::ServerName},
};
use tokio_websockets::{ClientBuilder, Limits, MaybeTlsStream, Message, WebSocketStream};
use twofa_core::{Error, TransportKind, http::MAX_BODY_BYTES};
use url::Host;

use crate::frame::{ERROR, REPLY, decode, encode};

/// The most Pong bytes allowed to wait for a server that does not read them. The library answers
/// every Ping with a Pong; a server that floods Pings and never reads would otherwise grow our
/// write queue without bound (the kernel's socket buffers come before this, so a healthy but slow
/// connection never gets near it).
pub const MAX_UNSENT_PONG_BYTES: usize = 256 * 1024;

/// The most bytes read before the gateway's upgrade answer is complete. An answer is a status line
/// and a handful of headers (a few hundred bytes); `tokio-websockets` has no bound of its own on its
/// size and re-parses the whole buffer at every read, so a header line that never ends would grow
/// the client and its CPU time until the connect timeout. (The number of headers is bounded by the
/// library: more than 25 is a parse error.)
pub const MAX_HANDSHAKE_BYTES: usize = 16 * 1024;

/// The transport under the gateway's WebSocket: TCP or TLS, read through a byte budget during
/// the upgrade.
pub type Transport = HandshakeBudget<MaybeTlsStream<TcpStream>>;

/// A WebSocket whose Pings cannot pile up Pongs: the library answers every Ping with a Pong, and
/// a peer that floods Pings and never reads would otherwise grow the write queue without bound.
/// [`BoundedWebSocket::next_message`] drops the connection past [`MAX_UNSENT_PONG_BYTES`].
pub struct BoundedWebSocket<S> {
    stream: WebSocketStream<S>,
    /// Pong bytes queued since the write queue was last seen empty (an upper bound).
    unsent_pongs: usize,
}

impl<S> std::fmt::Debug for BoundedWebSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedWebSocket").field("unsent_pongs", &self.unsent_pongs).finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> BoundedWebSocket<S> {
    /// Wraps an open WebSocket.
    pub fn new(stream: WebSocketStream<S>) -> Self {
        Self { stream, unsent_pongs: 0 }
    }

    /// The next message that is not a Ping (Pings are answered by the library, within the
    /// Pong budget); `None` once the connection is closed. A Close is returned, and answered.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] for an I/O failure, [`Error::UnexpectedResponse`] for a protocol
    /// violation, a message over the size limit, or a Ping flood.
    pub async fn next_message(&mut self) -> Option<Result<Message, Error>> {
        loop {
            let message = match self.stream.next().await? {
                Ok(message) => message,
                Err(e) => return Some(Err(ws_error(e))),
            };
            if !message.is_ping() {
                return Some(Ok(message));
            }
            if let Err(e) = self.pong_queued(message.as_payload().len()).await {
                return Some(Err(e));
            }
        }
    }

    /// Sends `message` and flushes it.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] when the connection fails or is closed.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.stream.send(message).await.map_err(ws_error)?;
        self.unsent_pongs = 0;
        Ok(())
    }

    /// After a failed read: sends the Close the library queued for the failure (1009 for a
    /// message too large, 1002 for a protocol violation), ends our writing, then reads and drops
    /// what the peer still sends, up to `limit` bytes and `wait` — so that the peer reads the
    /// Close instead of a reset for the bytes left unread.
    pub async fn close_after_error(&mut self, wait: Duration, limit: usize) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let _ = tokio::time::timeout(wait, async {
            if self.stream.flush().await.is_err() {
                return;
            }
            let io = self.stream.get_mut();
            let _ = io.shutdown().await;
            let mut buf = [0u8; 4096];
            let mut left = limit;
            while left > 0 {
                match io.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => left = left.saturating_sub(n),
                }
            }
        })
        .await;
    }

    /// Accounts for the Pong the library queued for a Ping of `len` bytes: if the queue cannot be
    /// written out now, the bytes add up, and past [`MAX_UNSENT_PONG_BYTES`] the peer is
    /// flooding us without reading.
    async fn pong_queued(&mut self, len: usize) -> Result<(), Error> {
        let stream = &mut self.stream;
        match std::future::poll_fn(|cx| Poll::Ready(stream.poll_flush_unpin(cx))).await {
            Poll::Ready(Ok(())) => self.unsent_pongs = 0,
            Poll::Ready(Err(e)) => return Err(ws_error(e)),
            // A client frame of at most 125 bytes: 2 header bytes and a 4-byte mask.
            Poll::Pending => self.unsent_pongs += len + 6,
        }
        if self.unsent_pongs > MAX_UNSENT_PONG_BYTES {
            return Err(Error::unexpected(
                None,
                format!(
                    "the peer sent Pings faster than it read our Pongs (over {MAX_UNSENT_PONG_BYTES} bytes unsent); \
                     the connection was dropped"
                ),
            ));
        }
        Ok(())
    }
}

/// A connection and its next sequence number (even, from 2, as APEX recommends).
pub(crate) struct Connection {
    socket: BoundedWebSocket<Transport>,
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
    pub(crate) async fn open(
        url: &Url,
        tls: Arc<ClientConfig>,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let stream = tokio::time::timeout(connect_timeout, connect(url, tls))
            .await
            .map_err(|_| Error::transport(TransportKind::Timeout, "the WebSocket connection timed out"))??;
        Ok(Self { socket: BoundedWebSocket::new(stream), next: 2, timeout })
    }

    /// The WebSocket, for a relay to carry on (the sequence numbers become the relay's business).
    pub(crate) fn into_socket(self) -> BoundedWebSocket<Transport> {
        self.socket
    }

    /// Calls `function` with `payload` and returns the reply's payload text.
    ///
    /// Events (`m:3`) and replies to other requests that arrive first are skipped; an error frame
    /// (`m:5`) for this request is an error. A reply or error frame with this request's number
    /// but another function's name is a protocol error ([`Error::UnexpectedResponse`]).
    pub(crate) async fn call(&mut self, function: &str, payload: &Value) -> Result<String, Error> {
        let i = self.next;
        self.next += 2;
        let text = zeroize::Zeroizing::new(encode(i, function, payload));
        let limit = self.timeout;
        let exchange = async {
            self.socket.send(Message::text(text.as_str().to_owned())).await?;
            self.reply_to(i, function).await
        };
        tokio::time::timeout(limit, exchange)
            .await
            .map_err(|_| Error::transport(TransportKind::Timeout, format!("no answer to {function} in time")))?
    }

    async fn reply_to(&mut self, i: u64, function: &str) -> Result<String, Error> {
        loop {
            let message = self.socket.next_message().await.ok_or_else(closed)??;
            if message.is_close() {
                return Err(closed());
            }
            if message.is_binary() {
                return Err(Error::unexpected(None, "a binary WebSocket frame"));
            }
            let Some(text) = message.as_text() else { continue };
            let frame = decode(text)?;
            if frame.i != i || !matches!(frame.m, REPLY | ERROR) {
                continue;
            }
            // The gateway echoes the function name; a reply under our number for another function
            // is not our answer, and taking it would let a confused or hostile gateway answer a
            // login with whatever another call returned.
            if !frame.n.eq_ignore_ascii_case(function) {
                return Err(Error::unexpected(
                    None,
                    format!("an APEX frame numbered as the answer to {function} names another function"),
                ));
            }
            return if frame.m == REPLY { Ok(frame.o) } else { Err(error_frame(&frame.o)) };
        }
    }

    /// Says goodbye with a Close frame and drops the connection without waiting for the answer (a
    /// gateway that never answers must not hold the caller); a failure changes nothing for the caller.
    pub(crate) async fn close(mut self) {
        let goodbye = self.socket.send(Message::close(None, ""));
        let _ = tokio::time::timeout(self.timeout.min(Duration::from_secs(2)), goodbye).await;
    }
}

/// TCP, then TLS for `wss://`, then the upgrade, with the message size bounded.
async fn connect(url: &Url, tls: Arc<ClientConfig>) -> Result<WebSocketStream<Transport>, Error> {
    let host = match url.host() {
        Some(Host::Domain(d)) => d.to_owned(),
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(Error::Config("the OMS endpoint has no host".into())),
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let tcp = TcpStream::connect((host.as_str(), port)).await.map_err(|e| io_error(e, "connect"))?;
    let _ = tcp.set_nodelay(true);
    let stream = if url.scheme() == "wss" {
        let name = ServerName::try_from(host)
            .map_err(|_| Error::Config("the OMS endpoint's host is not a valid TLS server name".into()))?;
        let tls = TlsConnector::from(tls).connect(name, tcp).await.map_err(|e| io_error(e, "TLS"))?;
        MaybeTlsStream::Rustls(tls)
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    let (mut stream, _) = ClientBuilder::new()
        .uri(url.as_str())
        .map_err(|_| Error::Config("the OMS endpoint is not a valid URI".into()))?
        .limits(Limits::default().max_payload_len(Some(MAX_BODY_BYTES)))
        .connect_on(HandshakeBudget { inner: stream, left: Some(MAX_HANDSHAKE_BYTES) })
        .await
        .map_err(ws_error)?;
    // From here on, frames are bounded by the message limit instead.
    stream.get_mut().left = None;
    Ok(stream)
}

/// The transport under the gateway's WebSocket: while the upgrade answer is read, at most
/// [`MAX_HANDSHAKE_BYTES`] are let through, each read cut to what is left (so the upgrade codec
/// never holds more), then every read fails; once the socket is open, reads are unbounded (the
/// messages are bounded instead).
pub struct HandshakeBudget<S> {
    inner: S,
    left: Option<usize>,
}

/// The error a read past the handshake budget fails with, told apart from an I/O error in
/// [`ws_error`].
#[derive(Debug, thiserror::Error)]
#[error("the WebSocket handshake answer is longer than {MAX_HANDSHAKE_BYTES} bytes")]
struct HandshakeTooLong;

impl<S: AsyncRead + Unpin> AsyncRead for HandshakeBudget<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let Some(left) = self.left else { return Pin::new(&mut self.inner).poll_read(cx, buf) };
        if left == 0 {
            return Poll::Ready(Err(std::io::Error::other(HandshakeTooLong)));
        }
        // Initialised (zeroed) first, so that no unsafe code is needed to count them filled; only
        // the few reads of the handshake pay for it.
        let room = buf.remaining().min(left);
        let mut part = ReadBuf::new(buf.initialize_unfilled_to(room));
        let result = Pin::new(&mut self.inner).poll_read(cx, &mut part);
        let n = part.filled().len();
        buf.advance(n);
        self.left = Some(left - n);
        result
    }
}

fn closed() -> Error {
    Error::transport(TransportKind::Closed, "the WebSocket connection was closed")
}

/// An I/O error while connecting (`connect`), in the TLS handshake (`TLS`: a refused certificate
/// too) or on the open connection.
fn io_error(io: std::io::Error, during: &str) -> Error {
    use std::io::ErrorKind as K;
    let kind = match (during, io.kind()) {
        ("connect", _) => TransportKind::Connect,
        ("TLS", _) => TransportKind::Other,
        (_, K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe) => TransportKind::Closed,
        _ => TransportKind::Body,
    };
    Error::Transport { kind, message: format!("WebSocket {during} error: {io}"), source: Some(std::sync::Arc::new(io)) }
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
            Error::Provider { code, message: twofa_core::provider::clip(&errormsg.unwrap_or_default()) }
        }
        _ => Error::unexpected(None, "an APEX error frame"),
    }
}

fn ws_error(e: tokio_websockets::Error) -> Error {
    use tokio_websockets::{Error as E, upgrade::Error as U};
    match e {
        E::AlreadyClosed => closed(),
        E::Io(io) if io.get_ref().is_some_and(|e| e.is::<HandshakeTooLong>()) => {
            Error::unexpected(None, HandshakeTooLong.to_string())
        }
        E::Io(io) => io_error(io, "I/O"),
        E::PayloadTooLong { .. } => {
            Error::unexpected(None, format!("a WebSocket message larger than {MAX_BODY_BYTES} bytes"))
        }
        E::Protocol(p) => Error::unexpected(None, format!("a WebSocket protocol violation: {p}")),
        E::Upgrade(U::DidNotSwitchProtocols(status)) => {
            Error::unexpected(Some(status), "the WebSocket handshake was refused")
        }
        E::Upgrade(_) => Error::unexpected(None, "an invalid WebSocket handshake answer"),
        other => Error::transport(TransportKind::Other, format!("WebSocket error: {other}")),
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HandshakeBudget<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
