//! The OMS WebSocket gateway relay.
//!
//! On a client's upgrade (under the access token, after the same `Host` check as any request)
//! the proxy opens its own WebSocket to the profile's gateway and logs it in with the session —
//! `WebAuthenticateUser {SessionToken}`, or `AuthenticateUser` with a fresh signature for an
//! API-key profile — before it answers `101`; a gateway that cannot be reached or refuses gets the
//! client a JSON refusal instead. Then frames go both ways with their `i` and `n` kept. The
//! client's own login frames never reach the gateway (see [`login`]).
//!
//! A relay keeps the session it opened with. When the gateway ends that session mid-relay
//! (idle, a logout elsewhere), the relay carries on as the gateway answers; the next client
//! connection gets a renewed session, because every new relay asks the
//! [`Authenticator`](twofa_core::Authenticator) for one, and a refused session token is
//! invalidated and renewed once before the client is answered.

mod handshake;
mod login;
mod relay;

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tracing::{debug, info};
use twofa_core::{Error, Session};
use twofa_oms::{BoundedWebSocket, GatewayTransport, OmsFlow};

pub use self::login::PLACEHOLDER_SESSION_TOKEN;
pub(crate) use self::{handshake::is_upgrade, relay::WsLimits};
use crate::{body::ProxyBody, forward::Shared, refusal::Refusal};

impl Shared {
    /// Answers a client's WebSocket upgrade: a relay to the OMS gateway, or a refusal.
    pub(crate) async fn websocket(
        self: &Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<Response<ProxyBody>, Refusal> {
        let Some(gateway) = self.gateway.clone() else {
            return Err(Refusal::new(
                StatusCode::NOT_FOUND,
                "no_websocket",
                "this profile's API has no WebSocket gateway (only an OMS profile's has)",
            ));
        };
        let accept = handshake::accept_key(request.method(), request.headers())?;
        let (socket, session) = self.open_gateway(&gateway).await?;
        let login = login::LocalLogin::of(&session);
        let shared = Arc::clone(self);
        tokio::spawn(async move {
            match hyper::upgrade::on(request).await {
                Ok(upgraded) => relay::run(shared, TokioIo::new(upgraded), socket, login).await,
                Err(e) => debug!(error = %e, "a client's WebSocket upgrade failed"),
            }
        });
        info!(profile = %self.auth.profile(), "a WebSocket relay to the OMS gateway opened");
        Ok(handshake::switching_protocols(accept))
    }

    /// The gateway's socket logged in with the session, within the upstream timeout; a session
    /// the gateway refuses is invalidated and renewed once.
    async fn open_gateway(&self, gateway: &OmsFlow) -> Result<(BoundedWebSocket<GatewayTransport>, Session), Refusal> {
        let mut session = self.session().await?;
        let mut renewed = false;
        loop {
            let opened = tokio::time::timeout(self.upstream_timeout, gateway.open_relay_socket(&session)).await;
            match opened {
                Ok(Ok(open)) => return Ok(open),
                Ok(Err(Error::SessionExpired)) if !renewed => {
                    info!(profile = %self.auth.profile(), "the gateway refused the session; renewing once");
                    self.auth.invalidate(&session);
                    renewed = true;
                    session = self.session().await?;
                }
                Ok(Err(e)) => return Err(self.session_refusal(&e)),
                Err(_) => {
                    return Err(Refusal::new(
                        StatusCode::GATEWAY_TIMEOUT,
                        "upstream_timeout",
                        "the OMS gateway did not open and log in its WebSocket in time",
                    ));
                }
            }
        }
    }
}
