//! [`ConsoleCodeSource`]: a bot's code source that asks a person through a running console.

use std::{sync::Mutex, time::Duration};

use async_trait::async_trait;
use reqwest::{Method as HttpMethod, header::AUTHORIZATION};
use twofa_core::{
    CodeRequest, CodeSource, Error, OneTimeCode, Secret,
    http::{Answer, Http, HttpOptions, sensitive_value},
    store::check_profile,
    time::OffsetDateTime,
};
use url::Url;

use crate::wire::{CodeAnswer, MAX_POLL_SECS, Outcome, Register, Registered};

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
/// When a login needs a code it registers the challenge (provider, profile, delivery, the
/// provider's hint, time left) with the console over HTTP, authenticated with the console's
/// token, then long-polls until the person has typed the code or the wait limit passes; after the
/// provider answered, it tells the console whether the code was taken, so a wrong code shows on
/// the page at once and the person can type another while the challenge lives.
///
/// One source serves one profile: a registration replaces the profile's pending entry, and the
/// [`Authenticator`](twofa_core::Authenticator)'s single flight (with a shared store's renewal
/// lease across processes) means one login, so one pending entry, however many tasks wait.
///
/// Plain `http://` is accepted for loopback consoles only (the token would travel in clear);
/// a remote console needs `https://` (see [`ConsoleCodeSource::http`] for a private CA).
pub struct ConsoleCodeSource {
    base: Url,
    token: Secret,
    profile: String,
    wait: Duration,
    options: HttpOptions,
    http: Http,
    /// The entry of the last code handed out, for [`CodeSource::answered`].
    last: Mutex<Option<String>>,
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

impl ConsoleCodeSource {
    /// A source for `profile` from the URL the console printed (`http://127.0.0.1:PORT/?token=…`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the URL is not one, has no token, or is plain HTTP to another host.
    pub fn new(console_url: &str, profile: impl Into<String>) -> Result<Self, Error> {
        let mut url = Url::parse(console_url.trim()).map_err(|e| Error::Config(format!("invalid console URL: {e}")))?;
        let token =
            url.query_pairs().find(|(k, _)| k == "token").map(|(_, v)| Secret::new(v.into_owned())).ok_or_else(
                || Error::Config("the console URL has no `?token=`; copy the whole URL `twofa serve` printed".into()),
            )?;
        url.set_query(None);
        url.set_fragment(None);
        Self::with_token(url.as_str(), token, profile)
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

    /// A source for `profile` from the console's address and its token, given apart.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an invalid URL or profile name, or plain HTTP to a host not on loopback.
    pub fn with_token(console: &str, token: Secret, profile: impl Into<String>) -> Result<Self, Error> {
        let profile = profile.into();
        check_profile(&profile)?;
        let options = HttpOptions::default().timeout(Duration::from_secs(MAX_POLL_SECS + 15));
        let base = options.base_url(console)?;
        let http = options.build()?;
        Ok(Self { base, token, profile, wait: DEFAULT_WAIT, options, http, last: Mutex::new(None) })
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
        self.base = self.options.base_url(self.base.as_str())?;
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

    async fn call(&self, method: HttpMethod, path: &str, body: Option<Vec<u8>>) -> Result<Answer, Error> {
        let bearer = sensitive_value(&format!("Bearer {}", self.token.expose_secret()), "the console token")?;
        let mut request = self.http.request(method, self.url(path)?).header(AUTHORIZATION, bearer);
        if let Some(body) = body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        }
        let answer = self.http.send(request).await?;
        match answer.status {
            401 | 403 => Err(Error::Config(
                "the console refused its access token (was it restarted? copy the URL it printed anew)".into(),
            )),
            _ => Ok(answer),
        }
    }

    /// The entry's id, and when it expires.
    async fn register(&self, request: &CodeRequest) -> Result<(String, i64), Error> {
        let body = Register::for_request(&self.profile, request, self.wait);
        let expires_at = body.expires_at;
        let json = serde_json::to_vec(&body).map_err(|e| Error::Config(e.to_string()))?;
        let answer = self.call(HttpMethod::POST, "api/challenges", Some(json)).await?;
        if answer.status != 201 {
            return Err(answer.unexpected("a registered challenge (201)"));
        }
        let registered: Registered =
            serde_json::from_slice(&answer.body).map_err(|_| answer.unexpected("a registered challenge id"))?;
        Ok((registered.id, expires_at))
    }

    /// Long-polls until the person typed the code, the wait runs out or the entry is gone.
    async fn poll(&self, id: &str, expires_at: i64, give_up: tokio::time::Instant) -> Result<OneTimeCode, Error> {
        let timed_out =
            || Error::CodeSource(format!("nobody typed the code in the console within {} s", self.wait.as_secs()));
        loop {
            let left = give_up.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(timed_out());
            }
            let wait = left.as_secs().clamp(1, MAX_POLL_SECS);
            let asked = tokio::time::Instant::now();
            let answer = self.call(HttpMethod::GET, &format!("api/challenges/{id}/code?wait={wait}"), None).await?;
            match answer.status {
                200 => {
                    let typed: CodeAnswer =
                        serde_json::from_slice(&answer.body).map_err(|_| answer.unexpected("a code"))?;
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
                _ => return Err(answer.unexpected("a code (200), or no code yet (204)")),
            }
        }
    }
}

#[async_trait]
impl CodeSource for ConsoleCodeSource {
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, Error> {
        let give_up = tokio::time::Instant::now() + self.wait;
        let (id, expires_at) = self.register(request).await?;
        tracing::info!(profile = %self.profile, provider = %request.provider, "waiting for the code typed in the console");
        let code = self.poll(&id, expires_at, give_up).await?;
        *self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(id);
        Ok(code)
    }

    async fn answered(&self, request: &CodeRequest, outcome: Result<(), &Error>) {
        let Some(id) = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() else { return };
        let report = Outcome::of(request, outcome);
        let Ok(json) = serde_json::to_vec(&report) else { return };
        if let Err(e) = self.call(HttpMethod::POST, &format!("api/challenges/{id}/outcome"), Some(json)).await {
            tracing::debug!(profile = %self.profile, error = %e, "cannot tell the console the code's outcome");
        }
    }
}
