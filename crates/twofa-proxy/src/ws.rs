//! WebSocket upgrades: refused until the OMS gateway relay exists, so that no upgrade is ever
//! forwarded with the client's own credentials or a client's frames reach the gateway unchecked.

use http::{HeaderMap, StatusCode, header};

use crate::refusal::Refusal;

/// Whether the request asks for a WebSocket.
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The answer to a WebSocket upgrade.
pub(crate) fn refuse() -> Refusal {
    Refusal::new(StatusCode::NOT_IMPLEMENTED, "no_websocket", "this proxy does not relay WebSockets yet")
}
