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

use std::{sync::Arc, time::Duration};

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use tracing::{debug, info};
use twofa_core::{Authenticator, Error, Session};
use twofa_oms::{BoundedWebSocket, GatewayTransport, OmsFlow};

pub use self::login::PLACEHOLDER_SESSION_TOKEN;
pub(crate) use self::{handshake::is_upgrade, relay::WsLimits};
use crate::{body::ProxyBody, refusal::Refusal};

/// Where a relay gets its session: the proxy's renewal (within its code wait) and its refusals.
pub(crate) trait Sessions {
    /// The session, renewed first if needed.
    fn current_session(&self) -> impl Future<Output = Result<Arc<Session>, Refusal>> + Send;
    /// The client's answer when no session can be had, or the gateway refuses the login.
    fn refusal_for(&self, e: &Error) -> Refusal;
}

/// The proxy's WebSocket relays: the gateway, their bounds, and their count.
pub(crate) struct Relays {
    auth: Arc<Authenticator>,
    /// The OMS flow whose gateway upgrades are relayed to (`None`: refused).
    gateway: Option<Arc<OmsFlow>>,
    limits: WsLimits,
    /// The time the gateway has to open and log in its socket.
    open_timeout: Duration,
    /// Turns `true` when the proxy shuts down: relays close.
    stopping: watch::Receiver<bool>,
    /// The number of relays running, which shutdown waits to reach zero.
    running: watch::Sender<usize>,
}

impl Relays {
    /// Relays to `gateway` (none: upgrades refused) within `limits`, until `stopping` turns `true`.
    pub(crate) fn new(
        auth: Arc<Authenticator>,
        gateway: Option<Arc<OmsFlow>>,
        limits: WsLimits,
        open_timeout: Duration,
        stopping: watch::Receiver<bool>,
    ) -> Self {
        Self { auth, gateway, limits, open_timeout, stopping, running: watch::channel(0).0 }
    }

    /// Resolves when no relay runs.
    pub(crate) async fn all_closed(&self) {
        let mut running = self.running.subscribe();
        let _ = running.wait_for(|n| *n == 0).await;
    }

    /// Answers a client's WebSocket upgrade: a relay to the OMS gateway, or a refusal.
    pub(crate) async fn upgrade(
        self: &Arc<Self>,
        sessions: &impl Sessions,
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
        let (socket, session) = self.open_gateway(sessions, &gateway).await?;
        let login = login::LocalLogin::of(&session);
        let relays = Arc::clone(self);
        tokio::spawn(async move {
            match hyper::upgrade::on(request).await {
                Ok(upgraded) => relay::run(relays, TokioIo::new(upgraded), socket, login).await,
                Err(e) => debug!(error = %e, "a client's WebSocket upgrade failed"),
            }
        });
        info!(profile = %self.auth.profile(), "a WebSocket relay to the OMS gateway opened");
        Ok(handshake::switching_protocols(accept))
    }

    /// The gateway's socket logged in with the session, within the open timeout; a session the
    /// gateway refuses is invalidated and renewed once.
    async fn open_gateway(
        &self,
        sessions: &impl Sessions,
        gateway: &OmsFlow,
    ) -> Result<(BoundedWebSocket<GatewayTransport>, Session), Refusal> {
        let mut session = sessions.current_session().await?;
        let mut renewed = false;
        loop {
            let opened = tokio::time::timeout(self.open_timeout, gateway.open_relay_socket(&session)).await;
            match opened {
                Ok(Ok(open)) => return Ok(open),
                Ok(Err(Error::SessionExpired)) if !renewed => {
                    info!(profile = %self.auth.profile(), "the gateway refused the session; renewing once");
                    self.auth.invalidate(&session);
                    renewed = true;
                    session = sessions.current_session().await?;
                }
                Ok(Err(e)) => return Err(sessions.refusal_for(&e)),
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
