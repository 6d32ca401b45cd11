//! A logged-in session: the token, where it goes on a request, and how long it lives.

use std::{collections::BTreeMap, fmt, time::Duration};

use reqwest::{
    RequestBuilder,
    header::{HeaderMap, HeaderName, HeaderValue},
};
use serde::{Deserialize, Serialize, Serializer};
use time::OffsetDateTime;

use crate::{AccessToken, Error, Origin, RenewalToken, Secret, http::sensitive_value, untrusted};

/// Where the access token goes on later API requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TokenPlacement {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `<name>: <token>`, e.g. the OMS `aptoken` header.
    Header {
        /// The header name.
        name: String,
    },
}

/// A logged-in session.
///
/// `Debug` redacts every secret; serde writes secrets only through [`Session::expose_secrets`],
/// which the session stores use.
///
/// ```
/// use twofa_core::{AccessToken, Session, TokenPlacement};
/// let session = Session::new("etna", AccessToken::new("tok"), TokenPlacement::Bearer, time::OffsetDateTime::now_utc());
/// assert_eq!(session.header_name(), "Authorization");
/// assert_eq!(session.header_value().expose_secret(), "Bearer tok");
/// assert!(!format!("{session:?}").contains("tok\""));
/// ```
#[derive(Clone)]
pub struct Session {
    provider: String,
    access_token: AccessToken,
    placement: TokenPlacement,
    headers: Vec<(String, Secret)>,
    issued_at: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
    idle_timeout: Option<Duration>,
    renewal_token: Option<RenewalToken>,
    subject: BTreeMap<String, String>,
    extras: BTreeMap<String, serde_json::Value>,
    origin: Option<Origin>,
}

impl Session {
    /// A session for `provider`, issued at `issued_at`, that never expires until told otherwise.
    pub fn new(
        provider: impl Into<String>,
        access_token: AccessToken,
        placement: TokenPlacement,
        issued_at: OffsetDateTime,
    ) -> Self {
        Self {
            provider: provider.into(),
            access_token,
            placement,
            headers: Vec::new(),
            issued_at,
            expires_at: None,
            idle_timeout: None,
            renewal_token: None,
            subject: BTreeMap::new(),
            extras: BTreeMap::new(),
            origin: None,
        }
    }

    /// Records the endpoint and account that issued the session (every provider does): its
    /// `resume` and `logout` then refuse it anywhere else, and [`Session::authorize`] refuses a
    /// request to another host.
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// The endpoint and account that issued the session; `None` for one built by hand, or stored
    /// by a version before origins (which no provider accepts back).
    pub fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }

    /// Fails unless `provider` at `origin` issued the session: [`Error::InvalidInput`] for another
    /// provider's, [`Error::ForeignSession`] for another endpoint's or account's, or one without
    /// an origin. Providers call it before sending anything of a session.
    pub fn ensure_issued_by(&self, provider: &str, origin: &Origin) -> Result<(), Error> {
        self.ensure_provider(provider)?;
        origin.ensure(self.origin.as_ref())
    }

    /// Sets when the access token expires.
    pub fn with_expires_at(mut self, expires_at: Option<OffsetDateTime>) -> Self {
        self.expires_at = expires_at;
        self
    }

    /// Sets how long the session survives without activity (OMS: one hour).
    pub fn with_idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = Some(idle_timeout);
        self
    }

    /// Sets the secret that renews the session without a new code.
    pub fn with_renewal_token(mut self, token: RenewalToken) -> Self {
        self.renewal_token = Some(token);
        self
    }

    /// Adds a header every later request must carry besides the token (e.g. ETNA's `Et-App-Key`).
    pub fn with_header(mut self, name: impl Into<String>, value: Secret) -> Self {
        self.headers.push((name.into(), value));
        self
    }

    /// Adds a subject id (e.g. `UserId`, `CustomerId`).
    pub fn with_subject(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.subject.insert(key.into(), value.into());
        self
    }

    /// Adds a provider-specific value that is not secret.
    pub fn with_extra(mut self, key: impl Into<String>, value: serde_json::Value) -> Self {
        self.extras.insert(key.into(), value);
        self
    }

    /// The provider that issued the session.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// Fails with [`Error::InvalidInput`] unless the session was issued by `provider`.
    pub fn ensure_provider(&self, provider: &str) -> Result<(), Error> {
        if self.provider == provider {
            Ok(())
        } else {
            Err(Error::InvalidInput(format!("a `{}` session cannot be used with `{provider}`", self.provider)))
        }
    }

    /// The access token.
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// Where the token goes on a request.
    pub fn placement(&self) -> &TokenPlacement {
        &self.placement
    }

    /// When the session was issued.
    pub fn issued_at(&self) -> OffsetDateTime {
        self.issued_at
    }

    /// When the access token expires, if the provider said so.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.expires_at
    }

    /// How long the session survives without activity, if it has such a limit.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// The refresh or session token, if the provider can renew without a code.
    pub fn renewal_token(&self) -> Option<&RenewalToken> {
        self.renewal_token.as_ref()
    }

    /// Subject ids (user, customer, loyalty…).
    pub fn subject(&self) -> &BTreeMap<String, String> {
        &self.subject
    }

    /// Provider-specific values that are not secret.
    pub fn extras(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.extras
    }

    /// The names of the extra headers later requests carry (their values are secret).
    pub fn extra_header_names(&self) -> impl Iterator<Item = &str> {
        self.headers.iter().map(|(name, _)| name.as_str())
    }

    /// Whether the token is expired at `now`, or will be within `margin`.
    pub fn is_expired_at(&self, now: OffsetDateTime, margin: Duration) -> bool {
        self.expires_at.is_some_and(|at| now + margin >= at)
    }

    /// Whether the token is expired now (system clock), or will be within `margin`.
    pub fn is_expired(&self, margin: Duration) -> bool {
        self.is_expired_at(OffsetDateTime::now_utc(), margin)
    }

    /// The name of the header that carries the token.
    pub fn header_name(&self) -> &str {
        match &self.placement {
            TokenPlacement::Bearer => "Authorization",
            TokenPlacement::Header { name } => name,
        }
    }

    /// The value of that header (`Bearer <token>` or the bare token).
    pub fn header_value(&self) -> Secret {
        match &self.placement {
            TokenPlacement::Bearer => Secret::new(format!("Bearer {}", self.access_token.expose_secret())),
            TokenPlacement::Header { .. } => Secret::new(self.access_token.expose_secret()),
        }
    }

    /// Every header a later request needs, values marked sensitive so reqwest never logs them.
    pub fn headers(&self) -> Result<HeaderMap, Error> {
        let mut map = HeaderMap::new();
        self.each_header(|name, _, _, value| {
            map.insert(name, value);
        })?;
        Ok(map)
    }

    /// The headers of [`Session::headers`] (and so of [`Session::authorize`]) as `(name, value)`
    /// pairs in the order they are set, names spelt as the provider spells them: for programs that
    /// hand the headers on (`twofa token --format json|curl|env`) rather than send a request.
    ///
    /// The same checks as [`Session::headers`] apply, and a later header of the same name
    /// (compared case-insensitively) replaces an earlier one, as it does in the header map.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a name or value that cannot be sent in an HTTP header (the
    /// message never holds the value).
    pub fn header_list(&self) -> Result<Vec<(String, Secret)>, Error> {
        let mut list: Vec<(String, Secret)> = Vec::with_capacity(1 + self.headers.len());
        self.each_header(|_, name, value, _| match list.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some(slot) => slot.1 = Secret::new(value),
            None => list.push((name.to_owned(), Secret::new(value))),
        })?;
        Ok(list)
    }

    /// Checks every header (the token's first, then the extra ones) and hands each to `f` as its
    /// parsed name, its spelling, its value and its sensitive header value: the one place both
    /// views of the headers come from.
    fn each_header(&self, mut f: impl FnMut(HeaderName, &str, &str, HeaderValue)) -> Result<(), Error> {
        let token = self.header_value();
        let own = std::iter::once((self.header_name(), &token));
        for (name, value) in own.chain(self.headers.iter().map(|(n, v)| (n.as_str(), v))) {
            let parsed = header_name(name).map_err(|_| {
                Error::InvalidInput(format!("`{}` is not a valid header name", untrusted::escape(name)))
            })?;
            let header = sensitive_value(value.expose_secret(), "a session header")?;
            f(parsed, name, value.expose_secret(), header);
        }
        Ok(())
    }

    /// Adds the session's headers to a request.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignSession`] when the session has an [origin](Session::origin) and the request
    /// goes to another host, port or scheme: its tokens are good only where they were issued, and
    /// nothing is added. [`Error::InvalidInput`] for a header HTTP cannot carry, or a request that
    /// does not build.
    pub fn authorize(&self, request: RequestBuilder) -> Result<RequestBuilder, Error> {
        let Some(origin) = &self.origin else { return Ok(request.headers(self.headers()?)) };
        let (client, request) = request.build_split();
        let request =
            request.map_err(|e| Error::InvalidInput(format!("the request does not build: {}", e.without_url())))?;
        if !origin.serves(request.url()) {
            return Err(Error::ForeignSession);
        }
        Ok(RequestBuilder::from_parts(client, request).headers(self.headers()?))
    }

    /// A view that serializes the session *with* its secrets, for stores.
    pub fn expose_secrets(&self) -> ExposedSession<'_> {
        ExposedSession(self)
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("provider", &self.provider)
            .field("access_token", &self.access_token)
            .field("placement", &self.placement)
            .field("headers", &self.headers)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("idle_timeout", &self.idle_timeout)
            .field("renewal_token", &self.renewal_token)
            .field("subject", &self.subject)
            .field("extras", &self.extras)
            .field("origin", &self.origin)
            .finish()
    }
}

/// A session serialized with its secrets; made by [`Session::expose_secrets`].
#[derive(Debug)]
pub struct ExposedSession<'a>(&'a Session);

#[derive(Serialize, Deserialize)]
#[serde(bound(deserialize = "S: Deserialize<'de>"))]
struct SessionRepr<S> {
    provider: String,
    access_token: S,
    placement: TokenPlacement,
    #[serde(default)]
    headers: Vec<HeaderRepr<S>>,
    #[serde(with = "time::serde::rfc3339")]
    issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    expires_at: Option<OffsetDateTime>,
    #[serde(default)]
    idle_timeout_secs: Option<u64>,
    #[serde(default)]
    renewal_token: Option<S>,
    #[serde(default)]
    subject: BTreeMap<String, String>,
    #[serde(default)]
    extras: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    origin: Option<Origin>,
}

#[derive(Serialize, Deserialize)]
struct HeaderRepr<S> {
    name: String,
    value: S,
}

impl Serialize for ExposedSession<'_> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        let s = self.0;
        SessionRepr {
            provider: s.provider.clone(),
            access_token: s.access_token.expose_secret(),
            placement: s.placement.clone(),
            headers: s
                .headers
                .iter()
                .map(|(name, v)| HeaderRepr { name: name.clone(), value: v.expose_secret() })
                .collect(),
            issued_at: s.issued_at,
            expires_at: s.expires_at,
            idle_timeout_secs: s.idle_timeout.map(|d| d.as_secs()),
            renewal_token: s.renewal_token.as_ref().map(RenewalToken::expose_secret),
            subject: s.subject.clone(),
            extras: s.extras.clone(),
            origin: s.origin.clone(),
        }
        .serialize(serializer)
    }
}

/// A header name as HTTP allows it (a token: no space, no control byte, no separator).
fn header_name(name: &str) -> Result<HeaderName, Error> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| Error::MalformedCredential { field: "header name" })
}

impl SessionRepr<Secret> {
    /// A stored session is checked as strictly as the server's answer it came from: whoever can
    /// write the store (a planted or corrupted file) must not get a control sequence printed by
    /// `twofa status` or `token`, nor a CR/LF into a header line. Every credential passes
    /// [`untrusted::check_credential`], every header name and value is one HTTP allows, and the
    /// provider's name is visible ASCII. The subject is escaped wherever it is shown, as on receipt.
    fn check(&self) -> Result<(), Error> {
        untrusted::check_credential("provider", &self.provider)?;
        untrusted::check_credential("access_token", self.access_token.expose_secret())?;
        if let Some(renewal) = &self.renewal_token {
            untrusted::check_credential("renewal_token", renewal.expose_secret())?;
        }
        if let TokenPlacement::Header { name } = &self.placement {
            untrusted::check_credential("header name", name)?;
            header_name(name)?;
        }
        for header in &self.headers {
            untrusted::check_credential("header name", &header.name)?;
            header_name(&header.name)?;
            // Configured values (`Basic …`, a company code) may hold spaces: the rule is the header's.
            sensitive_value(header.value.expose_secret(), "a stored header")
                .map_err(|_| Error::MalformedCredential { field: "header value" })?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Session {
    /// Refuses a session that fails the checks of a server's answer (see `SessionRepr::check`):
    /// a store reports it as corrupt, and never hands it out.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let r = SessionRepr::<Secret>::deserialize(deserializer)?;
        r.check().map_err(serde::de::Error::custom)?;
        Ok(Self {
            provider: r.provider,
            access_token: AccessToken::new(r.access_token.expose_secret()),
            placement: r.placement,
            headers: r.headers.into_iter().map(|h| (h.name, h.value)).collect(),
            issued_at: r.issued_at,
            expires_at: r.expires_at,
            idle_timeout: r.idle_timeout_secs.map(Duration::from_secs),
            renewal_token: r.renewal_token.map(|t| RenewalToken::new(t.expose_secret())),
            subject: r.subject,
            extras: r.extras,
            origin: r.origin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn session() -> Session {
        Session::new("etna", AccessToken::new("access-AAA"), TokenPlacement::Bearer, datetime!(2026-01-01 0:00 UTC))
            .with_expires_at(Some(datetime!(2026-01-02 0:00 UTC)))
            .with_idle_timeout(Duration::from_secs(3600))
            .with_renewal_token(RenewalToken::new("renew-BBB"))
            .with_header("Et-App-Key", Secret::new("appkey-CCC"))
            .with_subject("username", "alice")
            .with_extra("note", serde_json::json!(1))
    }

    #[test]
    fn expiry_respects_the_margin() {
        let s = session();
        let margin = Duration::from_secs(60);
        assert!(!s.is_expired_at(datetime!(2026-01-01 23:58 UTC), margin));
        assert!(s.is_expired_at(datetime!(2026-01-01 23:59 UTC), margin));
        assert!(s.is_expired_at(datetime!(2026-01-02 0:00 UTC), Duration::ZERO));
        let forever = Session::new("x", AccessToken::new("t"), TokenPlacement::Bearer, datetime!(2026-01-01 0:00 UTC));
        assert!(!forever.is_expired_at(datetime!(2099-01-01 0:00 UTC), margin));
    }

    #[test]
    fn round_trips_with_secrets_only_when_exposed() {
        let s = session();
        let json = serde_json::to_string(&s.expose_secrets()).unwrap();
        assert!(json.contains("access-AAA") && json.contains("renew-BBB") && json.contains("appkey-CCC"));
        let back: Session = serde_json::from_str(&json).unwrap();
        assert_eq!(back.access_token().expose_secret(), "access-AAA");
        assert_eq!(back.renewal_token().unwrap().expose_secret(), "renew-BBB");
        assert_eq!(back.expires_at(), s.expires_at());
        assert_eq!(back.idle_timeout(), Some(Duration::from_secs(3600)));
        assert_eq!(back.subject()["username"], "alice");
        assert_eq!(back.extras()["note"], serde_json::json!(1));
        assert_eq!(back.extra_header_names().collect::<Vec<_>>(), ["Et-App-Key"]);
    }

    #[test]
    fn debug_redacts_every_secret() {
        let shown = format!("{:?}", session());
        for secret in ["access-AAA", "renew-BBB", "appkey-CCC"] {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
        }
    }

    #[test]
    fn headers_are_sensitive_and_complete() {
        let h = session().headers().unwrap();
        assert_eq!(h["authorization"], "Bearer access-AAA");
        assert!(h["authorization"].is_sensitive());
        assert_eq!(h["et-app-key"], "appkey-CCC");
        assert!(h["et-app-key"].is_sensitive());
        let named = Session::new(
            "oms",
            AccessToken::new("tok"),
            TokenPlacement::Header { name: "aptoken".into() },
            datetime!(2026-01-01 0:00 UTC),
        );
        assert_eq!(named.header_name(), "aptoken");
        assert_eq!(named.headers().unwrap()["aptoken"], "tok");
    }

    #[test]
    fn a_stored_session_is_checked_like_a_server_answer() {
        let good = serde_json::to_value(session().expose_secrets()).unwrap();
        assert!(serde_json::from_value::<Session>(good.clone()).is_ok());
        let plants: [(&str, serde_json::Value); 8] = [
            ("access_token", "tok\u{1b}]0;title\u{7}".into()),
            ("access_token", "tok\r\nX-Injected: 1".into()),
            ("renewal_token", "renew with space".into()),
            ("provider", "etna\u{1b}[2J".into()),
            ("placement", serde_json::json!({"kind": "header", "name": "X-A\r\nX-B: 1"})),
            ("placement", serde_json::json!({"kind": "header", "name": "Bad Name"})),
            ("headers", serde_json::json!([{"name": "Et-App-Key", "value": "k\r\nX-B: 1"}])),
            ("headers", serde_json::json!([{"name": "Et App Key", "value": "k"}])),
        ];
        for (field, value) in plants {
            let mut planted = good.clone();
            planted[field] = value.clone();
            let err = serde_json::from_value::<Session>(planted).map(|_| ()).unwrap_err();
            assert!(!err.to_string().contains("X-B") && !err.to_string().contains("title"), "{field}: {err}");
            assert!(err.to_string().contains("malformed"), "{field} = {value}: {err}");
        }
        // What a configured header legitimately holds still loads.
        let mut basic = good;
        basic["headers"] = serde_json::json!([{"name": "Authorization", "value": "Basic dXNlcjpwYXNz"}]);
        assert!(serde_json::from_value::<Session>(basic).is_ok());
    }

    #[test]
    fn header_list_is_the_header_map_in_order_and_spelling() {
        let s = session();
        let list = s.header_list().unwrap();
        let shown: Vec<(&str, &str)> = list.iter().map(|(n, v)| (n.as_str(), v.expose_secret())).collect();
        assert_eq!(shown, [("Authorization", "Bearer access-AAA"), ("Et-App-Key", "appkey-CCC")]);
        let map = s.headers().unwrap();
        assert_eq!(map.len(), list.len());
        for (name, value) in &list {
            assert_eq!(map[name.as_str()], value.expose_secret());
        }
        // A later header of the same name replaces the earlier one, as in the map.
        let twice = s.clone().with_header("et-app-key", Secret::new("second"));
        let list = twice.header_list().unwrap();
        let shown: Vec<(&str, &str)> = list.iter().map(|(n, v)| (n.as_str(), v.expose_secret())).collect();
        assert_eq!(shown, [("Authorization", "Bearer access-AAA"), ("Et-App-Key", "second")]);
        assert_eq!(twice.headers().unwrap()["et-app-key"], "second");
        let bad = s.with_header("X-Bad", Secret::new("a\rb"));
        assert!(matches!(bad.header_list(), Err(Error::InvalidInput(m)) if !m.contains("a\rb")));
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_an_error_not_a_panic() {
        let bad = Session::new("x", AccessToken::new("a\nb"), TokenPlacement::Bearer, datetime!(2026-01-01 0:00 UTC));
        assert!(matches!(bad.headers(), Err(Error::InvalidInput(_))));
        let bad_name = Session::new(
            "x",
            AccessToken::new("t"),
            TokenPlacement::Header { name: "bad name".into() },
            datetime!(2026-01-01 0:00 UTC),
        );
        assert!(matches!(bad_name.headers(), Err(Error::InvalidInput(_))));
    }
}
