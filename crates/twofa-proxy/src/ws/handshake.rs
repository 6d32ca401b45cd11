//! The server side of a client's WebSocket upgrade (RFC 6455 §4.2): the request's headers are
//! checked (hyper parsed them) and the `Sec-WebSocket-Accept` value computed.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use sha1::{Digest as _, Sha1};

use crate::{
    body::{ProxyBody, full},
    refusal::Refusal,
};

/// The GUID RFC 6455 §1.3 appends to the client's key.
const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Whether the request asks for a WebSocket.
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The `Sec-WebSocket-Accept` value of a well-formed upgrade request (a `GET` with
/// `Connection: upgrade`, version 13 and a 16-byte key), else a 400.
pub(crate) fn accept_key(method: &Method, headers: &HeaderMap) -> Result<HeaderValue, Refusal> {
    let bad = |what: &str| Refusal::new(StatusCode::BAD_REQUEST, "bad_upgrade", format!("a WebSocket upgrade {what}"));
    if method != Method::GET {
        return Err(bad("must be a GET"));
    }
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    if !connection_upgrade {
        return Err(bad("needs `Connection: upgrade`"));
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) != Some(b"13") {
        return Err(bad("needs `Sec-WebSocket-Version: 13`"));
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY).map(HeaderValue::as_bytes).unwrap_or_default();
    if STANDARD.decode(key).map(|k| k.len()) != Ok(16) {
        return Err(bad("needs a `Sec-WebSocket-Key` of 16 bytes in Base64"));
    }
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(WEBSOCKET_GUID.as_bytes());
    HeaderValue::from_str(&STANDARD.encode(sha.finalize())).map_err(|_| bad("key could not be answered"))
}

/// The `101 Switching Protocols` answer carrying `accept`.
pub(crate) fn switching_protocols(accept: HeaderValue) -> Response<ProxyBody> {
    let mut response = Response::new(full(""));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade(key: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        h.insert(header::SEC_WEBSOCKET_KEY, HeaderValue::from_static(key));
        h
    }

    #[test]
    fn rfc_6455_sample_key_gets_the_sample_accept() {
        // RFC 6455 §1.3: "dGhlIHNhbXBsZSBub25jZQ==" → "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
        let accept = accept_key(&Method::GET, &upgrade("dGhlIHNhbXBsZSBub25jZQ==")).ok();
        assert_eq!(accept.as_ref().map(HeaderValue::as_bytes), Some(&b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="[..]));
    }

    #[test]
    fn malformed_upgrades_are_400() {
        assert!(accept_key(&Method::GET, &upgrade("c2hvcnQ=")).is_err(), "a key of 5 bytes");
        assert!(accept_key(&Method::POST, &upgrade("dGhlIHNhbXBsZSBub25jZQ==")).is_err());
        let mut no_connection = upgrade("dGhlIHNhbXBsZSBub25jZQ==");
        no_connection.remove(header::CONNECTION);
        assert!(accept_key(&Method::GET, &no_connection).is_err());
        let mut old = upgrade("dGhlIHNhbXBsZSBub25jZQ==");
        old.insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("8"));
        assert!(accept_key(&Method::GET, &old).is_err());
    }
}
