//! Where a session came from: the endpoint that issued it and the account it belongs to.
//!
//! A session's tokens are good only at the endpoint that issued them, for the account that logged
//! in. A flow pointed elsewhere (a profile edited to another base URL, a second login under the
//! same name) must never send them there: the other endpoint would get a live token, or a refresh
//! token that outlives the password, without the account's second factor. Every provider stamps
//! its sessions with its [`Origin`]; `resume` and `logout` refuse a session with another one
//! ([`Error::ForeignSession`]), [`Session::authorize`](crate::Session::authorize) refuses a
//! request to another host, and the [`Authenticator`](crate::Authenticator) treats a stored
//! session from elsewhere as absent.

use std::fmt;

use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::{Error, untrusted};

/// The endpoint (scheme, host, port, base path) and the account a session was issued for.
///
/// Two origins are equal when both parts are: `https://host/api/` and `https://HOST:443/api`
/// are one endpoint. Nothing in it is secret (a username, an email, a user id).
///
/// ```
/// use twofa_core::{Origin, reqwest::Url};
/// let a = Origin::new(&Url::parse("https://Trader.example:443/api/").unwrap(), ["alice"]);
/// let b = Origin::new(&Url::parse("https://trader.example/api").unwrap(), ["alice"]);
/// assert_eq!(a, b);
/// assert_eq!(a.endpoint(), "https://trader.example:443/api");
/// assert_ne!(a, Origin::new(&Url::parse("https://evil.example/api").unwrap(), ["alice"]));
/// assert_ne!(a, Origin::new(&Url::parse("https://trader.example/api").unwrap(), ["bob"]));
/// ```
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    endpoint: String,
    account: Vec<String>,
}

/// The longest account part kept (an email is at most 254 characters).
const MAX_ACCOUNT_CHARS: usize = 512;

impl Origin {
    /// The origin of `url` (its userinfo, query and fragment dropped; the default port written
    /// out; a trailing `/` removed) for the account named by `account`'s parts (provider-defined:
    /// a username; `["user_id", "42"]`; a company code and an email).
    pub fn new<S: Into<String>>(url: &Url, account: impl IntoIterator<Item = S>) -> Self {
        Self { endpoint: normalize(url), account: account.into_iter().map(Into::into).collect() }
    }

    /// The endpoint, as `scheme://host:port/base-path` without a trailing `/`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The account's parts.
    pub fn account(&self) -> &[String] {
        &self.account
    }

    /// Whether a request to `url` goes to this origin's host: the same host and port, and the
    /// same scheme or its WebSocket twin (`wss` for `https`). The path is not compared: an API's
    /// calls live beside its login path, on the same host.
    pub fn serves(&self, url: &Url) -> bool {
        let Ok(own) = Url::parse(&self.endpoint) else { return false };
        let family = |scheme: &str| {
            match scheme {
                "wss" => "https",
                "ws" => "http",
                other => other,
            }
            .to_owned()
        };
        family(own.scheme()) == family(url.scheme())
            && own.host_str() == url.host_str()
            && own.port_or_known_default() == url.port_or_known_default()
    }

    /// Fails with [`Error::ForeignSession`] unless `other` is this origin.
    pub fn ensure(&self, other: Option<&Origin>) -> Result<(), Error> {
        match other {
            Some(other) if other == self => Ok(()),
            _ => Err(Error::ForeignSession),
        }
    }
}

fn normalize(url: &Url) -> String {
    let host = match url.host() {
        Some(host) => host.to_string(),
        None => String::new(),
    };
    let port = url.port_or_known_default().map(|p| format!(":{p}")).unwrap_or_default();
    let path = url.path().trim_end_matches('/');
    format!("{}://{host}{port}{path}", url.scheme())
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Origin").field("endpoint", &self.endpoint).field("account", &self.account).finish()
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} as {}", self.endpoint, untrusted::escape(&self.account.join("/")))
    }
}

#[derive(Deserialize)]
struct OriginRepr {
    endpoint: String,
    account: Vec<String>,
}

impl<'de> Deserialize<'de> for Origin {
    /// A stored origin is checked as a server's answer is: an endpoint that is its own normal
    /// form, account parts without control characters or bidi marks. A planted one fails to load.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let r = OriginRepr::deserialize(deserializer)?;
        let normal = Url::parse(&r.endpoint).ok().map(|url| normalize(&url));
        if normal.as_deref() != Some(r.endpoint.as_str()) {
            return Err(serde::de::Error::custom("malformed origin endpoint"));
        }
        if r.account.iter().any(|part| part.chars().count() > MAX_ACCOUNT_CHARS || untrusted::escape(part) != *part) {
            return Err(serde::de::Error::custom("malformed origin account"));
        }
        Ok(Self { endpoint: r.endpoint, account: r.account })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn endpoints_compare_in_normal_form() {
        let a = Origin::new(&url("https://user:pw@Host.Example/api/?q=1#f"), ["alice"]);
        assert_eq!(a.endpoint(), "https://host.example:443/api");
        assert!(!format!("{a:?}").contains("pw"));
        assert_eq!(a, Origin::new(&url("https://host.example:443/api"), ["alice"]));
        for other in ["http://host.example/api", "https://host.example:8443/api", "https://host.example/other"] {
            assert_ne!(a, Origin::new(&url(other), ["alice"]), "{other}");
        }
        assert_eq!(Origin::new(&url("http://127.0.0.1:8080/"), ["a"]).endpoint(), "http://127.0.0.1:8080");
        assert_eq!(Origin::new(&url("ws://[::1]:9/ws/"), ["a"]).endpoint(), "ws://[::1]:9/ws");
    }

    #[test]
    fn serves_the_same_host_and_port_only() {
        let a = Origin::new(&url("https://host.example/api/"), ["alice"]);
        assert!(a.serves(&url("https://host.example/v1.0/users/me")));
        assert!(a.serves(&url("wss://host.example/ws")));
        assert!(!a.serves(&url("https://evil.example/api/")));
        assert!(!a.serves(&url("http://host.example/api/")));
        assert!(!a.serves(&url("https://host.example:444/api/")));
        assert!(!a.serves(&url("https://host.example.evil.example/api/")));
    }

    /// Red team of issue 22 item 1: URL tricks that make two endpoints look alike. Each either
    /// names one host in two spellings (equal) or two hosts (never equal, never served).
    #[test]
    fn lookalike_urls_never_pass_for_the_origin() {
        let a = Origin::new(&url("https://host.example/api"), ["alice"]);
        // One host, spelled differently: the URL parser's normal form makes them one.
        assert_eq!(a, Origin::new(&url("HTTPS://HOST.EXAMPLE:443/api/"), ["alice"]));
        let idn = Origin::new(&url("https://b\u{fc}cher.example/api"), ["alice"]);
        assert_eq!(idn, Origin::new(&url("https://xn--bcher-kva.example/api"), ["alice"]));
        assert!(Origin::new(&url("http://h.example/api"), ["a"]).serves(&url("ws://h.example:80/ws")));
        // Another host or port, however written: refused.
        for other in [
            "https://host.example@evil.example/api",
            "https://evil.example#@host.example/api",
            "https://evil.example\\@host.example/api",
            "https://host.example.evil.example/api",
            "http://host.example:443/api",
            "ws://host.example:443/api",
            "https://host.example:8443/api",
        ] {
            assert!(!a.serves(&url(other)), "{other}");
            assert_ne!(a, Origin::new(&url(other), ["alice"]), "{other}");
        }
        // Spellings the parser keeps apart are refused too (a refusal, never a leak).
        for distinct in ["https://host.example./api", "https://host.example/%61pi", "https://host.example/API"] {
            assert_ne!(a, Origin::new(&url(distinct), ["alice"]), "{distinct}");
        }
        let v4 = Origin::new(&url("http://127.0.0.1:8080/"), ["a"]);
        for v6 in ["http://[::ffff:127.0.0.1]:8080/", "http://[::1]:8080/", "http://0x7f.1:8080/"] {
            let same_host = v6 == "http://0x7f.1:8080/";
            assert_eq!(v4.serves(&url(v6)), same_host, "{v6}");
        }
        // The account is compared part by part: no join can make two accounts one.
        assert_ne!(
            Origin::new(&url("https://h.example"), ["acme", "customer", "a@x"]),
            Origin::new(&url("https://h.example"), ["acme/customer", "a@x"])
        );
    }

    #[test]
    fn ensure_refuses_another_or_no_origin() {
        let a = Origin::new(&url("https://host.example/api/"), ["alice"]);
        assert!(a.ensure(Some(&a.clone())).is_ok());
        let bob = Origin::new(&url("https://host.example/api/"), ["bob"]);
        assert!(matches!(a.ensure(Some(&bob)), Err(Error::ForeignSession)));
        assert!(matches!(a.ensure(None), Err(Error::ForeignSession)));
    }

    #[test]
    fn a_stored_origin_is_checked() {
        let good = serde_json::json!({"endpoint": "https://host.example:443/api", "account": ["alice"]});
        let back: Origin = serde_json::from_value(good).unwrap();
        assert_eq!(back.account(), ["alice"]);
        for planted in [
            serde_json::json!({"endpoint": "https://host.example/api/", "account": ["alice"]}),
            serde_json::json!({"endpoint": "https://u:p@host.example:443/api", "account": ["alice"]}),
            serde_json::json!({"endpoint": "not a url", "account": ["alice"]}),
            serde_json::json!({"endpoint": "https://host.example:443/api", "account": ["al\u{1b}]0;x\u{7}ice"]}),
            serde_json::json!({"endpoint": "https://host.example:443/api", "account": ["\u{202e}alice"]}),
        ] {
            let err = serde_json::from_value::<Origin>(planted.clone()).map(|_| ()).unwrap_err();
            assert!(err.to_string().starts_with("malformed origin"), "{planted}: {err}");
        }
    }
}
