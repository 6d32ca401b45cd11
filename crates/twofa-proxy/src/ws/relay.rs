//! One relay: the client's WebSocket and the gateway's, each driven by its own task, joined by
//! two bounded queues.
//!
//! Memory is bounded per relay: a message is at most `max_message` bytes (larger ones close the
//! relay with 1009), each queue holds at most `max_buffered` messages, and a side whose queue to
//! the other is full stops reading its socket (so TCP pushes back on a peer that sends faster
//! than the other side reads) while it goes on writing what comes to it, so two busy sides
//! never wait on each other. A write that does not finish within the write timeout, and a relay
//! with no message either way for the idle timeout, end the relay. A Close from either side is
//! passed on to the other; shutdown closes both with 1001.

use std::{sync::Arc, time::Duration};

use tokio::{
    io::{AsyncRead, AsyncWrite},
    sync::{mpsc, watch},
};
use tokio_websockets::{CloseCode, Limits, Message, ServerBuilder};
use tracing::debug;
use twofa_oms::{BoundedWebSocket, GatewayTransport};

use super::{
    Relays,
    login::{LocalLogin, Verdict},
};

/// The relay's bounds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WsLimits {
    /// The largest message either way, in bytes.
    pub(crate) max_message: usize,
    /// The most messages queued toward each side.
    pub(crate) max_buffered: usize,
    /// The longest time with no message on a side before the relay ends.
    pub(crate) idle: Duration,
    /// The longest time one write may take.
    pub(crate) write: Duration,
}

/// How long a side waits for the peer's answer to its Close.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How many messages a side reads, and drops, while it waits for the peer's answer to its Close.
const CLOSE_DRAIN_MESSAGES: usize = 64;

/// Relays between the upgraded client connection and the logged-in gateway socket until either
/// side closes, fails, idles out or the proxy stops.
pub(crate) async fn run<S>(
    relays: Arc<Relays>,
    client: S,
    gateway: BoundedWebSocket<GatewayTransport>,
    login: LocalLogin,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = relays.limits;
    let _counted = RelayCount::enter(&relays);
    let client = BoundedWebSocket::new(
        ServerBuilder::new().limits(Limits::default().max_payload_len(Some(limits.max_message))).serve(client),
    );
    let (to_client, client_inbox) = mpsc::channel(limits.max_buffered);
    let (to_gateway, gateway_inbox) = mpsc::channel(limits.max_buffered);
    let auth = Arc::clone(&relays.auth);
    let from_client = move |message: Message| match message.as_text() {
        Some(text) => match login.judge(text) {
            Verdict::Forward(text) => {
                auth.touch();
                Action::Pass(Message::text(text))
            }
            Verdict::Answer(text) => Action::Answer(Message::text(text)),
            Verdict::Close(reason) => Action::Close(CloseCode::POLICY_VIOLATION, reason),
        },
        None => Action::Close(CloseCode::UNSUPPORTED_DATA, "the gateway speaks text frames only"),
    };
    let client_side = tokio::spawn(drive(
        client,
        client_inbox,
        to_gateway,
        from_client,
        limits,
        relays.stopping.clone(),
        Side { name: "client", failed: CloseCode::GOING_AWAY },
    ));
    let gateway_side = drive(
        gateway,
        gateway_inbox,
        to_client,
        Action::Pass,
        limits,
        relays.stopping.clone(),
        Side { name: "gateway", failed: CloseCode::BAD_GATEWAY },
    );
    gateway_side.await;
    let _ = client_side.await;
    debug!("a WebSocket relay ended");
}

/// Which socket a driver drives, and the Close the other side gets when this one fails.
#[derive(Clone, Copy)]
struct Side {
    name: &'static str,
    failed: CloseCode,
}

/// What a side does with a message it read.
enum Action {
    /// Queue it for the other side.
    Pass(Message),
    /// Answer it on this side's own socket.
    Answer(Message),
    /// Close this side's socket.
    Close(CloseCode, &'static str),
}

/// Drives one socket: reads it through `filter` into `outbox` (the other side's inbox), writes
/// what comes to `inbox`; ends when either socket closes or fails, on idle, or on shutdown.
async fn drive<S, F>(
    mut socket: BoundedWebSocket<S>,
    mut inbox: mpsc::Receiver<Message>,
    outbox: mpsc::Sender<Message>,
    mut filter: F,
    limits: WsLimits,
    mut stopping: watch::Receiver<bool>,
    side: Side,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(Message) -> Action,
{
    // A message read but not yet queued: while it waits, this side reads no more.
    let mut held: Option<Message> = None;
    loop {
        let idle = tokio::time::sleep(limits.idle);
        tokio::select! {
            () = stopped(&mut stopping) => {
                close(&mut socket, CloseCode::GOING_AWAY, "the proxy is shutting down").await;
                return;
            }
            permit = outbox.reserve(), if held.is_some() => {
                // When the other side is gone the message is dropped; its end reaches this side
                // through `inbox`.
                if let (Ok(permit), Some(message)) = (permit, held.take()) {
                    permit.send(message);
                }
            }
            read = socket.next_message(), if held.is_none() => match read {
                None => return,
                Some(Err(e)) => {
                    debug!(side = side.name, error = %e, "a WebSocket relay's socket failed");
                    // This socket's Close (1009 for a message too large) is already queued; the
                    // other side is told why, unless its queue is full.
                    let _ = outbox.try_send(Message::close(Some(side.failed), "the other end of the relay failed"));
                    socket.close_after_error(CLOSE_WAIT, limits.max_message).await;
                    return;
                }
                Some(Ok(message)) if message.is_close() => {
                    // The library answers the Close; the other side gets it passed on.
                    let _ = outbox.try_send(message);
                    drain(&mut socket).await;
                    return;
                }
                Some(Ok(message)) if message.is_pong() => {}
                Some(Ok(message)) => match filter(message) {
                    Action::Pass(message) => held = Some(message),
                    Action::Answer(message) => {
                        if !write(&mut socket, message, limits.write, side.name).await {
                            return;
                        }
                    }
                    Action::Close(code, reason) => {
                        close(&mut socket, code, reason).await;
                        return;
                    }
                },
            },
            incoming = inbox.recv() => match incoming {
                Some(message) if message.is_close() => {
                    let (code, reason) = message.as_close().unwrap_or((CloseCode::NORMAL_CLOSURE, ""));
                    close(&mut socket, code, reason).await;
                    return;
                }
                Some(message) => {
                    if !write(&mut socket, message, limits.write, side.name).await {
                        return;
                    }
                }
                None => {
                    close(&mut socket, CloseCode::GOING_AWAY, "the other end of the relay closed").await;
                    return;
                }
            },
            () = idle => {
                close(&mut socket, CloseCode::GOING_AWAY, "idle").await;
                return;
            }
        }
    }
}

/// Resolves once the proxy stops (or is gone).
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// Writes one message within `limit`; `false` when the relay must end.
async fn write<S: AsyncRead + AsyncWrite + Unpin>(
    socket: &mut BoundedWebSocket<S>,
    message: Message,
    limit: Duration,
    side: &'static str,
) -> bool {
    match tokio::time::timeout(limit, socket.send(message)).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            debug!(side, error = %e, "a WebSocket relay's write failed");
            false
        }
        Err(_) => {
            debug!(side, "a WebSocket relay's peer did not read in time");
            false
        }
    }
}

/// Sends a Close (`code` if it may be sent, `reason` cut to the protocol's 123 bytes), then waits
/// a little for the peer's.
async fn close<S: AsyncRead + AsyncWrite + Unpin>(socket: &mut BoundedWebSocket<S>, code: CloseCode, reason: &str) {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let message =
        if code.is_reserved() { Message::close(None, "") } else { Message::close(Some(code), &reason[..end]) };
    if tokio::time::timeout(CLOSE_WAIT, socket.send(message)).await.is_ok() {
        drain(socket).await;
    }
}

/// Reads until the peer's Close has been answered and the stream ends, for [`CLOSE_WAIT`] and
/// [`CLOSE_DRAIN_MESSAGES`] at most: a peer that keeps sending instead of closing is cut.
async fn drain<S: AsyncRead + AsyncWrite + Unpin>(socket: &mut BoundedWebSocket<S>) {
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        for _ in 0..CLOSE_DRAIN_MESSAGES {
            match socket.next_message().await {
                Some(Ok(message)) if !message.is_close() => {}
                _ => break,
            }
        }
    })
    .await;
}

/// Counts a relay as running for as long as it lives, so that shutdown can wait for it.
struct RelayCount(watch::Sender<usize>);

impl RelayCount {
    fn enter(relays: &Relays) -> Self {
        relays.running.send_modify(|n| *n += 1);
        Self(relays.running.clone())
    }
}

impl Drop for RelayCount {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}
