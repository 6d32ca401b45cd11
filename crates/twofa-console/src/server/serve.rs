//! Serving connections: hyper with a timer and a header read timeout, so a client that stalls is
//! closed, and a cap on the connections served at once, so clients cannot use up file descriptors.
//! (`axum::serve` gives hyper no timer: a half-sent request kept its connection forever.)

use std::{sync::Arc, time::Duration};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpListener,
    sync::{Semaphore, watch},
};
use tokio_rustls::TlsAcceptor;

use super::tls;

/// Bounds on what clients may hold open.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a request's headers may take to arrive (and an idle connection may wait).
    pub header_timeout: Duration,
    /// Connections served at once, TLS handshakes included.
    pub max_connections: usize,
}

/// Accepts and serves connections until `stop`'s sender is dropped; then stops accepting and lets
/// each connection finish the request it is answering.
pub async fn run(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait instead of spinning.
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        // Closed at once (dropped) past the cap: waiting in a queue would hold the descriptor.
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::debug!(%peer, "too many connections: closed");
            continue;
        };
        let (tls, router, stop) = (tls.clone(), router.clone(), stop.clone());
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                None => serve(tcp, router, limits, stop).await,
                Some(acceptor) => {
                    if let Some(tls) = tls::handshake(&acceptor, tcp).await {
                        serve(tls, router, limits, stop).await;
                    }
                }
            }
        });
    }
}

/// Serves HTTP/1.1 on one connection until the client or the header timeout ends it, or `stop`.
async fn serve<I>(io: I, router: Router, limits: Limits, mut stop: watch::Receiver<()>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = http1::Builder::new();
    // The timeout runs from the start of each request's head (and so also over an idle kept-alive
    // connection) to its end: a handler's long wait is not cut.
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    // hyper's default buffer grows to about 400 KiB for a head that never ends.
    builder.max_buf_size(super::MAX_HEAD_BYTES);
    let connection = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(router));
    tokio::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        _ = stop.changed() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(error = %e, "connection ended");
    }
}
