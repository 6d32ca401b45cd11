//! `/metrics`, `/healthz` and `/readyz`: on the console's address behind its access token, and,
//! if asked, on a loopback address of their own without it.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use tokio::net::TcpListener;
use twofa_core::{Error, time::OffsetDateTime};

use super::App;

/// Binds the ops address: loopback only, since it asks for no token.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    if !addr.ip().is_loopback() {
        return Err(Error::Config(format!(
            "the ops address {addr} is not a loopback address: it answers without the access token, so it \
             listens on loopback only (scrape the console's own address with its token otherwise)"
        )));
    }
    TcpListener::bind(addr).await.map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))
}

/// The token-free router of the ops address (listening on `port`): these three routes and nothing
/// else, for requests that name the loopback address (a page of another site rebound to 127.0.0.1
/// sends its own name, and is refused).
pub fn router(app: Arc<App>, port: u16) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(middleware::from_fn(move |request: Request, next: Next| async move {
            if twofa_core::local::host_is_loopback(request.headers(), port, 80) {
                next.run(request).await
            } else {
                (StatusCode::MISDIRECTED_REQUEST, "this address answers its own loopback name only\n").into_response()
            }
        }))
        .with_state(app)
}

/// `GET /metrics`: the registry, its gauges set from the pending codes and the profiles' sessions.
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    app.metrics.set_pending(app.registry.waiting());
    if let Ok(accounts) = app.accounts.list().await {
        let now = OffsetDateTime::now_utc();
        let left = accounts.iter().filter_map(|a| {
            let expires = a.session.as_ref()?.expires_at()?;
            Some((a.profile.as_str(), (expires - now).whole_seconds()))
        });
        app.metrics.set_sessions(left);
    }
    let content_type = twofa_ops::metrics::CONTENT_TYPE;
    ([(header::CONTENT_TYPE, content_type)], app.metrics.encode()).into_response()
}

/// `GET /healthz`: the console answers.
pub async fn healthz() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok\n").into_response()
}

/// `GET /readyz`: the console can list its profiles (their store answers).
pub async fn readyz(State(app): State<Arc<App>>) -> Response {
    match app.accounts.list().await {
        Ok(_) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ready\n").into_response(),
        Err(e) => {
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: the profiles cannot be listed ({})\n", e.kind()))
                .into_response()
        }
    }
}
