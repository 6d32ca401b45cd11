//! Rules shared by twofa's local servers (the console of `twofa serve`, the proxy of
//! `twofa proxy`): they answer only their own loopback name, and compare access tokens in
//! constant time.

use std::net::IpAddr;

use reqwest::header::{HOST, HeaderMap};

/// Equality whose time does not depend on where the inputs differ (only on their lengths, which
/// are public: every token, key and proof of a kind has the same length).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Whether `authority` (a `Host` header, or the authority of an absolute-form request) names a
/// loopback host (`127.0.0.0/8`, `[::1]`, `localhost`) with `port` (`default_port` when it gives
/// none). A page of another site whose name was rebound to 127.0.0.1 (DNS rebinding) sends its
/// own name, and is refused.
///
/// ```
/// use twofa_core::local::is_loopback_authority;
/// assert!(is_loopback_authority("127.0.0.1:8700", 8700, 80));
/// assert!(is_loopback_authority("[::1]:8700", 8700, 80));
/// assert!(is_loopback_authority("LOCALHOST:8700", 8700, 80));
/// assert!(!is_loopback_authority("evil.example:8700", 8700, 80));
/// assert!(!is_loopback_authority("127.0.0.1:8701", 8700, 80));
/// assert!(!is_loopback_authority("127.0.0.1", 8700, 80));
/// ```
pub fn is_loopback_authority(authority: &str, port: u16, default_port: u16) -> bool {
    let Ok(authority) = authority.parse::<http::uri::Authority>() else { return false };
    let name = authority.host().trim_start_matches('[').trim_end_matches(']');
    let loopback = name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    loopback && authority.port_u16().unwrap_or(default_port) == port
}

/// [`is_loopback_authority`] for the `Host` header of `headers` (false without one).
pub fn host_is_loopback(headers: &HeaderMap, port: u16, default_port: u16) -> bool {
    headers.get(HOST).and_then(|h| h.to_str().ok()).is_some_and(|h| is_loopback_authority(h, port, default_port))
}
