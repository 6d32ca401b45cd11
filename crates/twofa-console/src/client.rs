//! [`ConsoleCodeSource`]: a bot's code source that asks a person through a running console.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use reqwest::{Method as HttpMethod, header::CONTENT_TYPE};
use twofa_core::{
    CodeRequest, CodeSource, Error, OneTimeCode, Secret,
    http::{Http, HttpOptions},
    store::check_profile,
    time::OffsetDateTime,
};
use url::Url;

use crate::{
    channel::{self, HELLO_PATH, Hello, HelloAnswer, SEQ_HEADER, SESSION_HEADER, SessionKey},
    wire::{CodeAnswer, MAX_POLL_SECS, Outcome, Register, Registered, is_challenge_id},
};

/// The environment variable [`ConsoleCodeSource::from_env`] reads: the URL `twofa serve` prints.
pub const CONSOLE_ENV: &str = "TWOFA_CONSOLE";

/// How long a code is waited for by default: a person has to notice, unlock a phone and type.
const DEFAULT_WAIT: Duration = Duration::from_secs(600);

/// The least time between two long polls: a console that answers "not yet" at once (broken, or
/// hostile) must not turn the wait into a flood of requests.
const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// A code source that hands each challenge to a `twofa serve` console and waits for the code a
/// person types there.
///
/// When a login needs a code it first makes the console prove that it holds this bot's key (see
/// [`channel`](crate::channel): a process squatting the console's old address gets the profile's
/// name and a random nonce, nothing else), then registers the challenge (provider, profile,
/// delivery, the provider's hint, time left) in a sealed call, long-polls until the person has
/// typed the code or the wait limit passes, and after the provider answered tells the console
/// whether the code was taken, so a wrong code shows on the page at once. It acts on no answer the
/// console did not seal: a code, a refusal or a "gone" from anything else is refused.
///
/// One source serves one profile: a registration replaces the profile's pending entry, and the
/// [`Authenticator`](twofa_core::Authenticator)'s single flight (with a shared store's renewal
/// lease across processes) means one login, so one pending entry, however many tasks wait.
///
/// Plain `http://` is accepted for loopback consoles only; a remote console needs `https://` (see
/// [`ConsoleCodeSource::http`] for a private CA). `http://localhost` is reached as `127.0.0.1`:
/// the name may resolve to `::1`, where another process may listen.
pub struct ConsoleCodeSource {
    base: Url,
    /// [`channel::bot_key`] for `profile`: never sent.
    key: Secret,
    profile: String,
    wait: Duration,
    options: HttpOptions,
    http: Http,
    /// The session and entry of the last code handed out, for [`CodeSource::answered`].
    last: Mutex<Option<(Arc<Session>, String)>>,
}

/// A proven console: the session's keys and the number of the last call.
struct Session {
    id: String,
    keys: SessionKey,
    seq: AtomicU64,
}

impl std::fmt::Debug for ConsoleCodeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleCodeSource")
            .field("console", &self.base.as_str())
            .field("profile", &self.profile)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

/// `url` with `localhost` replaced by `127.0.0.1` when it is plain HTTP (over HTTPS the name is
/// what the certificate names, and the console proves itself with it).
fn literal_loopback(mut url: Url) -> Url {
    if url.scheme() == "http" && url.host_str().is_some_and(|h| h.eq_ignore_ascii_case("localhost")) {
        // `127.0.0.1` is a valid host for every http URL: this cannot fail.
        let _ = url.set_host(Some("127.0.0.1"));
    }
    url
}

impl ConsoleCodeSource {
    /// A source for `profile` from a link `twofa serve` printed: a bot's own link
    /// (`http://127.0.0.1:PORT/?profile=NAME&key=…`, which serves that profile only) or the
    /// console's access link (`…/?token=…`, from which the key of any profile follows).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the URL is not one, has neither a key nor a token, is a bot link of
    /// another profile, or is plain HTTP to another host.
    pub fn new(console_url: &str, profile: impl Into<String>) -> Result<Self, Error> {
        let profile = profile.into();
        let mut url = Url::parse(console_url.trim()).map_err(|e| Error::Config(format!("invalid console URL: {e}")))?;
        let query = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        let key = match (query("token"), query("profile"), query("key")) {
            (Some(token), _, _) => channel::bot_key(&Secret::new(token), &profile),
            (None, Some(linked), Some(key)) if linked == profile => Secret::new(key),
            (None, Some(linked), Some(_)) => {
                return Err(Error::Config(format!(
                    "this console link is the bot link of the profile `{linked}`, not of `{profile}`: \
                     `twofa serve --bot {profile}` prints this profile's"
                )));
            }
            _ => {
                return Err(Error::Config(
                    "the console URL has no `?token=` or `?profile=…&key=`; copy the whole link `twofa serve` printed"
                        .into(),
                ));
            }
        };
        url.set_query(None);
        url.set_fragment(None);
        Self::with_key(url.as_str(), key, profile)
    }

    /// A source for `profile` from the URL in the `TWOFA_CONSOLE` environment variable.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the variable is unset, or as [`ConsoleCodeSource::new`].
    pub fn from_env(profile: impl Into<String>) -> Result<Self, Error> {
        let url = std::env::var(CONSOLE_ENV).map_err(|_| {
            Error::Config(format!("the environment variable {CONSOLE_ENV} (the console URL) is not set"))
        })?;
        Self::new(&url, profile)
    }

    /// A source for `profile` from the console's address and its access token, given apart. The
    /// token itself is never sent: the profile's key is derived from it.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an invalid URL or profile name, or plain HTTP to a host not on loopback.
    pub fn with_token(console: &str, token: Secret, profile: impl Into<String>) -> Result<Self, Error> {
        let profile = profile.into();
        let key = channel::bot_key(&token, &profile);
        Self::with_key(console, key, profile)
    }

    fn with_key(console: &str, key: Secret, profile: String) -> Result<Self, Error> {
        check_profile(&profile)?;
        let options = HttpOptions::default().timeout(Duration::from_secs(MAX_POLL_SECS + 15));
        let base = literal_loopback(options.base_url(console)?);
        let http = options.build()?;
        Ok(Self { base, key, profile, wait: DEFAULT_WAIT, options, http, last: Mutex::new(None) })
    }

    /// How long to wait for the person's code before failing with [`Error::CodeSource`] (default
    /// 10 min; never longer than the challenge lives).
    pub fn wait_limit(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// HTTP settings, e.g. [`HttpOptions::add_root_certificate`] for a console served with a
    /// certificate of a private CA. The request timeout is kept above the long poll's.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the client cannot be built or the console URL breaks the new rules.
    pub fn http(mut self, options: HttpOptions) -> Result<Self, Error> {
        let timeout = options.request_timeout().max(Duration::from_secs(MAX_POLL_SECS + 15));
        self.options = options.timeout(timeout);
        self.base = literal_loopback(self.options.base_url(self.base.as_str())?);
        self.http = self.options.build()?;
        Ok(self)
    }

    /// The profile whose challenges this source announces.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    fn url(&self, path: &str) -> Result<Url, Error> {
        self.base.join(path).map_err(|e| Error::Config(format!("invalid console URL: {e}")))
    }

    /// Why nothing more is sent: what answered did not prove it is this bot's console.
    fn not_proven(&self) -> Error {
        Error::Config(format!(
            "the console at {} did not prove it holds this bot's key: it restarted (use the link it printed this \
             time) or another process listens on its address; nothing was sent to it",
            self.base
        ))
    }

    /// The hello: the console proves it knows the key and saw this nonce, or nothing more is sent.
    async fn hello(&self) -> Result<Session, Error> {
        let nonce = channel::new_nonce();
        let hello = Hello { profile: self.profile.clone(), nonce: nonce.clone() };
        let json = serde_json::to_vec(&hello).map_err(|e| Error::Config(e.to_string()))?;
        let request = self
            .http
            .request(HttpMethod::POST, self.url(HELLO_PATH)?)
            .header(CONTENT_TYPE, "application/json")
            .body(json);
        let answer = self.http.send(request).await?;
        let proven = (answer.status == 200)
            .then(|| serde_json::from_slice::<HelloAnswer>(&answer.body).ok())
            .flatten()
            .filter(|a| channel::is_nonce(&a.session) && channel::is_nonce(&a.nonce))
            .map(|a| (SessionKey::derive(&self.key, &self.profile, &nonce, &a.nonce), a))
            .filter(|(keys, a)| keys.proof_matches(&a.proof));
        let (keys, answer) = proven.ok_or_else(|| self.not_proven())?;
        Ok(Session { id: answer.session, keys, seq: AtomicU64::new(0) })
    }

    /// A sealed call of `path` (relative, query included): the answer's status and opened body.
    async fn call(&self, session: &Session, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>), Error> {
        let seq = session.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let sealed = session.keys.seal_request(&session.id, seq, "POST", path, body);
        let request = self
            .http
            .request(HttpMethod::POST, self.url(path)?)
            .header(SESSION_HEADER, &session.id)
            .header(SEQ_HEADER, seq.to_string())
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(sealed);
        let answer = self.http.send(request).await?;
        session.keys.open_answer(&session.id, seq, &answer.body).ok_or_else(|| self.not_proven())
    }

    /// The entry's id, and when it expires.
    async fn register(&self, session: &Session, request: &CodeRequest) -> Result<(String, i64), Error> {
        let body = Register::for_request(&self.profile, request, self.wait);
        let expires_at = body.expires_at;
        let json = serde_json::to_vec(&body).map_err(|e| Error::Config(e.to_string()))?;
        let (status, answer) = self.call(session, "api/challenges", &json).await?;
        if status != 201 {
            return Err(Error::unexpected(Some(status), "expected a registered challenge (201)"));
        }
        let registered: Registered = serde_json::from_slice(&answer)
            .map_err(|_| Error::unexpected(Some(status), "expected a registered challenge id"))?;
        // It goes into the next URLs: letters and digits only, so it cannot name another path.
        if !is_challenge_id(&registered.id) {
            return Err(Error::unexpected(Some(status), "the challenge id is not letters and digits"));
        }
        Ok((registered.id, expires_at))
    }

    /// Long-polls until the person typed the code, the wait runs out or the entry is gone.
    async fn poll(
        &self,
        session: &Session,
        id: &str,
        expires_at: i64,
        give_up: tokio::time::Instant,
    ) -> Result<OneTimeCode, Error> {
        let timed_out =
            || Error::CodeSource(format!("nobody typed the code in the console within {} s", self.wait.as_secs()));
        loop {
            let left = give_up.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(timed_out());
            }
            let wait = left.as_secs().clamp(1, MAX_POLL_SECS);
            let asked = tokio::time::Instant::now();
            let (status, answer) = self.call(session, &format!("api/challenges/{id}/code?wait={wait}"), b"").await?;
            match status {
                200 => {
                    let typed: CodeAnswer =
                        serde_json::from_slice(&answer).map_err(|_| Error::unexpected(Some(200), "expected a code"))?;
                    return OneTimeCode::new(typed.code);
                }
                204 => tokio::time::sleep_until((asked + MIN_POLL_INTERVAL).min(give_up)).await,
                // Expired on the console's side (its clock counts whole seconds).
                410 if OffsetDateTime::now_utc().unix_timestamp() + 1 >= expires_at => return Err(timed_out()),
                404 | 410 => {
                    return Err(Error::CodeSource(
                        "the challenge left the console (it expired, or was cancelled or replaced)".into(),
                    ));
                }
                _ => return Err(Error::unexpected(Some(status), "expected a code (200), or no code yet (204)")),
            }
        }
    }
}

#[async_trait]
impl CodeSource for ConsoleCodeSource {
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, Error> {
        let give_up = tokio::time::Instant::now() + self.wait;
        let session = Arc::new(self.hello().await?);
        let (id, expires_at) = self.register(&session, request).await?;
        tracing::info!(profile = %self.profile, provider = %request.provider, "waiting for the code typed in the console");
        let code = self.poll(&session, &id, expires_at, give_up).await?;
        *self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((session, id));
        Ok(code)
    }

    async fn answered(&self, request: &CodeRequest, outcome: Result<(), &Error>) {
        let Some((session, id)) = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() else {
            return;
        };
        let report = Outcome::of(request, outcome);
        let Ok(json) = serde_json::to_vec(&report) else { return };
        if let Err(e) = self.call(&session, &format!("api/challenges/{id}/outcome"), &json).await {
            tracing::debug!(profile = %self.profile, error = %e, "cannot tell the console the code's outcome");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_localhost_is_reached_on_the_literal_loopback_address() {
        let codes = ConsoleCodeSource::new("http://localhost:8700/?token=t", "alice").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(codes.base.as_str(), "http://127.0.0.1:8700/");
        let codes = ConsoleCodeSource::new("http://[::1]:8700/?token=t", "alice").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(codes.base.as_str(), "http://[::1]:8700/");
        let tls = ConsoleCodeSource::new("https://localhost:8700/?token=t", "alice").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tls.base.as_str(), "https://localhost:8700/", "the certificate's name stays");
    }

    #[test]
    fn a_bot_link_serves_its_own_profile_only() {
        let key = channel::bot_key(&Secret::new("t"), "alice");
        let link = format!("http://127.0.0.1:8700/?profile=alice&key={}", key.expose_secret());
        let codes = ConsoleCodeSource::new(&link, "alice").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(codes.key.expose_secret(), key.expose_secret());
        let other = ConsoleCodeSource::new(&link, "bob");
        assert!(matches!(&other, Err(Error::Config(m)) if m.contains("of the profile `alice`")), "{other:?}");
        // The token link derives the same key: one console, one key per profile.
        let from_token =
            ConsoleCodeSource::new("http://127.0.0.1:8700/?token=t", "alice").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(from_token.key.expose_secret(), key.expose_secret());
        assert!(!format!("{codes:?}").contains(key.expose_secret()), "Debug shows no key");
    }
}
