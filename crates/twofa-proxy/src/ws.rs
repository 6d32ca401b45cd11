//! The OMS WebSocket gateway relay.

use std::sync::Arc;

use http::{HeaderMap, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use crate::{
    body::ProxyBody,
    forward::{Refusal, Shared},
};

/// Whether the request asks for a WebSocket.
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Relays a client WebSocket to the gateway.
pub(crate) async fn relay(shared: Arc<Shared>, _request: Request<Incoming>) -> Result<Response<ProxyBody>, Refusal> {
    let Some(_url) = &shared.ws else {
        return Err(Refusal::new(StatusCode::NOT_IMPLEMENTED, "no_websocket", "this proxy relays no WebSocket"));
    };
    Err(Refusal::new(StatusCode::NOT_IMPLEMENTED, "no_websocket", "not yet"))
}
