//! One client request: the guard (host, access token), the proxy's own endpoints, then the
//! exchange with the upstream under the session's headers.

use std::{
    sync::{
        Arc, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt as _;
use hyper::body::{Body as _, Incoming};
use tracing::{debug, info, warn};
use twofa_core::{
    Authenticator, Error, Secret, Session,
    http::Http,
    local::{constant_time_eq, is_loopback_authority},
    reqwest::{self, Url},
};

use twofa_ops::audit::{Action, AuditLog, Record};

use crate::{
    OWN_PREFIX,
    body::{BoxError, IdleTimeout, ProxyBody, full},
    headers::{strip_hop_by_hop, upstream_request_headers},
    metrics::Metrics,
    refusal::Refusal,
    ws,
};

/// Everything a connection needs, shared by all of them.
pub(crate) struct Shared {
    pub(crate) auth: Arc<Authenticator>,
    /// The profile's base URL, ending in `/`.
    pub(crate) origin: Url,
    pub(crate) http: Http,
    /// On TCP: the port the `Host` must name, and the access token the path must start with.
    pub(crate) guard: Option<(u16, Secret)>,
    pub(crate) retry_body_limit: usize,
    pub(crate) code_wait: Duration,
    pub(crate) code_where: Option<String>,
    pub(crate) head_timeout: Duration,
    pub(crate) upstream_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_head_bytes: usize,
    pub(crate) max_headers: usize,
    pub(crate) extra_credential_headers: Vec<HeaderName>,
    /// The owner token that `/_twofa/session` asks for; `None`: that path does not exist.
    pub(crate) owner: Option<Secret>,
    pub(crate) shutdown_grace: Duration,
    pub(crate) metrics: Metrics,
    pub(crate) audit: Option<Arc<AuditLog>>,
    /// The address of the last session taken into use, to count renewals.
    pub(crate) last_session: AtomicUsize,
    /// The OMS WebSocket relays (upgrades are refused without a gateway).
    pub(crate) relays: Arc<ws::Relays>,
}

/// A request body as it goes upstream: kept whole (so it can be sent again), or streamed.
enum Outgoing {
    Kept(Bytes),
    Streamed(reqwest::Body),
}

impl Shared {
    /// Answers one request; never fails (a failure is an answer).
    pub(crate) async fn handle(self: &Arc<Self>, request: Request<Incoming>) -> Response<ProxyBody> {
        let response = match self.route(request).await {
            Ok(response) => response,
            Err(refusal) => refusal.into_response(),
        };
        self.metrics.answered(response.status().as_u16());
        response
    }

    async fn route(self: &Arc<Self>, request: Request<Incoming>) -> Result<Response<ProxyBody>, Refusal> {
        if request.method() == Method::CONNECT {
            return Err(Refusal::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "not_a_forward_proxy",
                "this proxy forwards to its profile's API only; CONNECT is refused",
            ));
        }
        self.check_host(&request)?;
        let path = request.uri().path();
        let rest = self.strip_token(path)?.to_owned();
        if let Some(own) = rest.strip_prefix(OWN_PREFIX) {
            return Ok(self.own_endpoint(own, request.headers()).await);
        }
        if ws::is_upgrade(request.headers()) {
            return self.relays.upgrade(self.as_ref(), request).await;
        }
        self.forward(request, &rest).await
    }

    /// On TCP: the request names the proxy's own loopback host and port, in its `Host` and in an
    /// absolute-form target. Another host in an absolute-form target is an open-proxy attempt.
    fn check_host(&self, request: &Request<Incoming>) -> Result<(), Refusal> {
        let Some((port, _)) = &self.guard else { return Ok(()) };
        if let Some(authority) = request.uri().authority()
            && !is_loopback_authority(authority.as_str(), *port, 80)
        {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "not_a_forward_proxy",
                "this proxy forwards to its profile's API only; a request for another host is refused",
            ));
        }
        if !twofa_core::local::host_is_loopback(request.headers(), *port, 80) {
            return Err(Refusal::new(
                StatusCode::MISDIRECTED_REQUEST,
                "wrong_host",
                "this proxy answers only its own loopback address",
            ));
        }
        Ok(())
    }

    /// The path after the access token (on TCP), starting with `/`. A missing or wrong token is a
    /// bare 404 that tells nothing about the proxy.
    fn strip_token<'p>(&self, path: &'p str) -> Result<&'p str, Refusal> {
        let Some((_, token)) = &self.guard else { return Ok(path) };
        let not_found = || Refusal::new(StatusCode::NOT_FOUND, "not_found", "not found");
        let after = path.strip_prefix('/').ok_or_else(not_found)?;
        let (given, rest) = match after.find('/') {
            Some(at) => after.split_at(at),
            None => (after, "/"),
        };
        if constant_time_eq(given.as_bytes(), token.expose_secret().as_bytes()) {
            Ok(rest)
        } else {
            // The unguarded health endpoints: they tell only that the process is up.
            match path {
                "/_twofa/healthz" | "/_twofa/readyz" => Ok(path),
                _ => Err(not_found()),
            }
        }
    }

    async fn own_endpoint(&self, name: &str, headers: &http::HeaderMap) -> Response<ProxyBody> {
        let text = |status: StatusCode, body: String, kind: &'static str| {
            let mut r = Response::new(full(body));
            *r.status_mut() = status;
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        };
        match name {
            "healthz" => text(StatusCode::OK, "ok\n".into(), "text/plain"),
            // Ready when a session is in memory; no renewal is started by a probe.
            "readyz" => match self.auth.peek() {
                Some(_) => text(StatusCode::OK, "ready\n".into(), "text/plain"),
                None => text(StatusCode::SERVICE_UNAVAILABLE, "no session yet\n".into(), "text/plain"),
            },
            "metrics" => {
                if let Some(expires) = self.auth.peek().and_then(|s| s.expires_at()) {
                    let left = (expires - twofa_core::time::OffsetDateTime::now_utc()).whole_seconds();
                    self.metrics.shared().set_session(self.auth.profile(), left);
                }
                text(StatusCode::OK, self.metrics.render(), twofa_ops::metrics::CONTENT_TYPE)
            }
            "session" if self.is_owner(headers) => match self.session().await {
                Ok(session) => match serde_json::to_string(&session.expose_secrets()) {
                    Ok(json) => {
                        let proof = self.owner.as_ref().map(|owner| crate::owner::proof(owner, json.as_bytes()));
                        let mut answer = text(StatusCode::OK, json, "application/json");
                        if let Some(value) = proof.and_then(|p| HeaderValue::from_str(&p).ok()) {
                            answer.headers_mut().insert(crate::owner::PROOF_HEADER, value);
                        }
                        answer
                    }
                    Err(_) => {
                        Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the session did not serialize")
                            .into_response()
                    }
                },
                Err(refusal) => refusal.into_response(),
            },
            _ => Refusal::new(StatusCode::NOT_FOUND, "not_found", "not found").into_response(),
        }
    }

    /// Whether `headers` carry the owner token's digest (compared in constant time).
    fn is_owner(&self, headers: &http::HeaderMap) -> bool {
        match (&self.owner, headers.get(crate::OWNER_HEADER)) {
            (Some(owner), Some(given)) => {
                constant_time_eq(given.as_bytes(), crate::owner::request_value(owner).as_bytes())
            }
            _ => false,
        }
    }

    /// The session, renewed if needed, within the code wait. The renewal runs in its own task: a
    /// request that gives up waiting does not cancel the login a person is answering.
    pub(crate) async fn session(&self) -> Result<Arc<Session>, Refusal> {
        // The hot path: a fresh session, with no task and no timer.
        if let Some(session) = self.auth.fresh() {
            self.taken_into_use(&session);
            return Ok(session);
        }
        let auth = Arc::clone(&self.auth);
        let renewal = tokio::spawn(async move { auth.session().await });
        let session = match tokio::time::timeout(self.code_wait, renewal).await {
            Ok(Ok(Ok(session))) => session,
            Ok(Ok(Err(e))) => return Err(self.session_refusal(&e)),
            Ok(Err(_)) => {
                return Err(Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the renewal task failed"));
            }
            Err(_) => {
                self.metrics.person_waited();
                return Err(self.code_needed("the renewal, waiting for a person's code, did not finish in time"));
            }
        };
        self.taken_into_use(&session);
        Ok(session)
    }

    /// Counts a renewal and writes its audit line the first time `session` is used.
    fn taken_into_use(&self, session: &Arc<Session>) {
        let address = Arc::as_ptr(session) as usize;
        if self.last_session.swap(address, Ordering::Relaxed) != address {
            self.metrics.renewed();
            self.audit_hand_out(session);
        }
    }

    /// One audit line for a session the proxy takes into use: every client request after it
    /// carries that token, told apart by its fingerprint.
    fn audit_hand_out(&self, session: &Session) {
        let Some(audit) = &self.audit else { return };
        let record = Record::new(Action::Token, self.auth.profile(), session.provider(), "proxy")
            .subject(session.subject())
            .token(audit.fingerprint(session.access_token().expose_secret()));
        if let Err(e) = audit.append(&record) {
            warn!(profile = %self.auth.profile(), error = %e, "cannot write the audit line");
        }
    }

    fn code_needed(&self, message: &str) -> Refusal {
        let place = self.code_where.clone().unwrap_or_else(|| {
            format!("the code source of profile `{}` (the console, or the proxy's terminal)", self.auth.profile())
        });
        Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "code_needed", message).with_place(place)
    }

    fn session_refusal(&self, e: &Error) -> Refusal {
        warn!(profile = %self.auth.profile(), error = %e, "the proxy has no session");
        match e {
            Error::CodeSource(_) => self.code_needed("a new login needs a code and none came"),
            Error::Transport { .. } | Error::RateLimited { .. } => {
                Refusal::new(StatusCode::SERVICE_UNAVAILABLE, e.kind(), e.to_string())
            }
            _ => Refusal::new(StatusCode::BAD_GATEWAY, e.kind(), e.to_string()),
        }
    }

    /// The upstream URL of a request for `rest` (the path after the token): the origin's path
    /// joined with it, the client's query kept. The host is always the origin's.
    fn upstream_url(&self, rest: &str, query: Option<&str>) -> Url {
        let mut url = self.origin.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}/{}", rest.trim_start_matches('/')));
        url.set_query(query);
        url
    }

    async fn forward(&self, request: Request<Incoming>, rest: &str) -> Result<Response<ProxyBody>, Refusal> {
        let (parts, body) = request.into_parts();
        let url = self.upstream_url(rest, parts.uri.query());
        let mut outgoing = self.outgoing_body(&parts.headers, body).await?;
        // Decided once: a streamed body is gone after its first sending.
        let replayable = matches!(outgoing, Outgoing::Kept(_));
        let mut session = self.session().await?;
        let mut retried = false;
        loop {
            let own = session.headers().map_err(|e| self.session_refusal(&e))?;
            if session.origin().is_some_and(|origin| !origin.serves(&url)) {
                return Err(self.session_refusal(&Error::ForeignSession));
            }
            let headers = upstream_request_headers(parts.headers.clone(), &self.extra_credential_headers, own);
            let body = match &outgoing {
                Outgoing::Kept(bytes) => reqwest::Body::from(bytes.clone()),
                Outgoing::Streamed(_) => match std::mem::replace(&mut outgoing, Outgoing::Kept(Bytes::new())) {
                    Outgoing::Streamed(body) => body,
                    Outgoing::Kept(_) => reqwest::Body::from(Bytes::new()),
                },
            };
            let sent = self.http.request_with(parts.method.clone(), url.clone(), headers).body(body).send();
            let started = Instant::now();
            let answer = tokio::time::timeout(self.upstream_timeout, sent).await;
            self.metrics.upstream_latency(started.elapsed());
            let answer = match answer {
                Ok(Ok(answer)) => answer,
                Ok(Err(e)) => {
                    let e = twofa_core::http::transport_error(e);
                    debug!(error = %e, "the upstream exchange failed");
                    return Err(Refusal::new(StatusCode::BAD_GATEWAY, "upstream", e.to_string()));
                }
                Err(_) => {
                    return Err(Refusal::new(
                        StatusCode::GATEWAY_TIMEOUT,
                        "upstream_timeout",
                        "the API did not answer in time",
                    ));
                }
            };
            if answer.status() == reqwest::StatusCode::UNAUTHORIZED && !retried && replayable {
                info!(profile = %self.auth.profile(), "the API answered 401; renewing and retrying once");
                self.auth.invalidate(&session);
                self.metrics.retried_401();
                retried = true;
                session = self.session().await?;
                continue;
            }
            if answer.status().is_success() {
                self.auth.touch();
            }
            return Ok(self.client_response(answer));
        }
    }

    /// The request body, kept whole when its declared length is within the retry limit (or it
    /// has none), else streamed with the idle timeout.
    async fn outgoing_body(&self, headers: &HeaderMap, body: Incoming) -> Result<Outgoing, Refusal> {
        let declared = body.size_hint().exact();
        let chunked = headers.contains_key(header::TRANSFER_ENCODING);
        let keep = !chunked && declared.is_some_and(|n| n <= self.retry_body_limit as u64);
        let timed = IdleTimeout::new(body, self.idle_timeout);
        if !keep {
            return Ok(Outgoing::Streamed(reqwest::Body::wrap(SyncBody::new(timed))));
        }
        match timed.collect().await {
            Ok(collected) => Ok(Outgoing::Kept(collected.to_bytes())),
            Err(e) => Err(Refusal::new(StatusCode::BAD_REQUEST, "bad_body", format!("the request body failed: {e}"))),
        }
    }

    /// The upstream's answer as it goes to the client: hop-by-hop headers stripped, the body
    /// streamed with the idle timeout.
    fn client_response(&self, answer: reqwest::Response) -> Response<ProxyBody> {
        let answer: Response<reqwest::Body> = answer.into();
        let (mut parts, body) = answer.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        let body = IdleTimeout::new(body, self.idle_timeout).map_err(|e: BoxError| e).boxed();
        Response::from_parts(parts, body)
    }
}

impl ws::Sessions for Shared {
    fn current_session(&self) -> impl Future<Output = Result<Arc<Session>, Refusal>> + Send {
        self.session()
    }

    fn refusal_for(&self, e: &Error) -> Refusal {
        self.session_refusal(e)
    }
}

/// A body that is `Sync` because it is only ever polled through `&mut` (reqwest asks `Sync` of a
/// streamed body; hyper's incoming body is not).
struct SyncBody<B>(std::sync::Mutex<B>);

impl<B> SyncBody<B> {
    fn new(inner: B) -> Self {
        Self(std::sync::Mutex::new(inner))
    }
}

impl<B: hyper::body::Body + Unpin> hyper::body::Body for SyncBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let inner = self.get_mut().0.get_mut().unwrap_or_else(PoisonError::into_inner);
        std::pin::Pin::new(inner).poll_frame(cx)
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.0.lock().map(|b| b.size_hint()).unwrap_or_default()
    }
}
