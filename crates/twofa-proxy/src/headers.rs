//! Which request and response headers cross the proxy.

use http::{HeaderMap, HeaderName, header::CONNECTION};

/// Hop-by-hop headers (RFC 9110 §7.6.1 and the legacy ones proxies still see): they describe one
/// connection, never travel past a proxy, and `Transfer-Encoding`/`TE`/`Upgrade` in particular
/// would let a client shape how the upstream connection frames messages.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
];

/// Credential headers a client may send on its own, by provider: the proxy drops them all, so a
/// client's stale or borrowed credentials never reach the API beside (or instead of) the
/// session's, whatever the session itself sets.
///
/// - everyone: `Authorization`, `Proxy-Authorization`, `Cookie`;
/// - ETNA: `Et-App-Key`;
/// - AlphaPoint APEX (OMS): `aptoken`, the 2FA step's `Pending2FaToken`, and the API-key
///   signature's `APIKey`, `Signature`, `Nonce`;
/// - NCR Aloha Online Ordering: `X-Api-CompanyCode`, `x-api-custom-auth`.
pub const CLIENT_CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "et-app-key",
    "aptoken",
    "pending2fatoken",
    "apikey",
    "signature",
    "nonce",
    "x-api-companycode",
    "x-api-custom-auth",
];

/// The header names `Connection` lists: hop-by-hop too, for this one connection.
fn connection_named(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect()
}

/// Removes the hop-by-hop headers, and every header `Connection` names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in connection_named(headers) {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

/// The client's request headers as they go upstream: no hop-by-hop header, no `Host` (the client
/// sets the upstream's), no credential of the client's (see [`CLIENT_CREDENTIAL_HEADERS`], and
/// `extra`), then the session's `own` headers.
///
/// One pass over the client's headers, each name compared with the lists (names are lower case
/// in a `HeaderMap`), instead of a lookup per listed name: this runs on every request.
pub(crate) fn upstream_request_headers(headers: HeaderMap, extra: &[HeaderName], own: HeaderMap) -> HeaderMap {
    let named = connection_named(&headers);
    let dropped = |name: &HeaderName| {
        let text = name.as_str();
        text == "host"
            || HOP_BY_HOP.contains(&text)
            || CLIENT_CREDENTIAL_HEADERS.contains(&text)
            || extra.contains(name)
            || named.contains(name)
            || own.contains_key(name)
    };
    let mut out = HeaderMap::with_capacity(headers.len() + own.len());
    // `into_iter` names a header once, then `None` for each further value of the same name.
    let mut current: Option<(HeaderName, bool)> = None;
    for (name, value) in headers {
        if let Some(name) = name {
            let drop = dropped(&name);
            current = Some((name, drop));
        }
        if let Some((name, false)) = &current {
            out.append(name.clone(), value);
        }
    }
    out.extend(own);
    out
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn hop_by_hop_and_connection_named_headers_go() {
        let mut h = HeaderMap::new();
        h.insert(CONNECTION, HeaderValue::from_static("close, X-Secret-Hop"));
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert("te", HeaderValue::from_static("trailers"));
        h.insert("accept", HeaderValue::from_static("*/*"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("accept"));
    }

    #[test]
    fn client_credentials_are_replaced_by_the_sessions() {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer client-own"));
        h.insert("ET-APP-KEY", HeaderValue::from_static("client-key"));
        h.insert("cookie", HeaderValue::from_static("a=b"));
        h.insert("x-custom", HeaderValue::from_static("kept"));
        h.insert("x-session-only", HeaderValue::from_static("client"));
        let mut own = HeaderMap::new();
        own.insert("authorization", HeaderValue::from_static("Bearer session"));
        own.insert("x-session-only", HeaderValue::from_static("session"));
        let out = upstream_request_headers(h, &[], own);
        assert_eq!(out.get_all("authorization").iter().collect::<Vec<_>>(), ["Bearer session"]);
        assert_eq!(out.get_all("x-session-only").iter().collect::<Vec<_>>(), ["session"]);
        assert!(!out.contains_key("et-app-key") && !out.contains_key("cookie"));
        assert_eq!(out.get("x-custom").map(|v| v.as_bytes()), Some(&b"kept"[..]));
    }

    #[test]
    fn every_value_of_a_kept_header_is_kept_and_every_value_of_a_dropped_one_goes() {
        let mut h = HeaderMap::new();
        h.append("accept", HeaderValue::from_static("a"));
        h.append("accept", HeaderValue::from_static("b"));
        h.append("cookie", HeaderValue::from_static("one"));
        h.append("cookie", HeaderValue::from_static("two"));
        h.insert("host", HeaderValue::from_static("127.0.0.1:1"));
        h.insert(CONNECTION, HeaderValue::from_static("x-hop"));
        h.insert("x-hop", HeaderValue::from_static("1"));
        h.insert("x-extra", HeaderValue::from_static("1"));
        let out = upstream_request_headers(h, &[HeaderName::from_static("x-extra")], HeaderMap::new());
        assert_eq!(out.get_all("accept").iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(out.len(), 2, "{out:?}");
    }
}
