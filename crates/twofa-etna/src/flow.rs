//! The trait implementation: requests, and the one mapping from ETNA's answers to twofa's.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use reqwest::{
    Method, RequestBuilder, Url,
    header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, HeaderMap, HeaderName, HeaderValue},
};
use twofa_core::{
    AccessToken, ApiKey, Challenge, Clock, Error, LoginPassword, Method as Delivery, OneTimeCode, Origin, Password,
    Pin, PinSetup, Secret, Session, Step, TokenPlacement, TwoFactorFlow,
    http::{Answer, Http, HttpOptions, sensitive_value},
    json::from_slice_ci,
    provider::{Spec, clip, required},
    retry::Backoff,
    untrusted,
};

use crate::{EtnaBuilder, wire::TokenReply};

/// The provider name sessions and challenges carry.
pub const PROVIDER: &str = "etna";

/// How errors name this provider and its common fields.
const SPEC: Spec = Spec::new("ETNA", "a base URL (e.g. twofa_etna::DEMO_TRADER_API)", "a username", "a password");

/// ETNA Trader / AutoShares login; build it with [`EtnaFlow::builder`].
#[derive(Debug)]
pub struct EtnaFlow {
    token_url: Url,
    logout_url: Url,
    pub(crate) reset_url: Url,
    pub(crate) pin_change_url: Url,
    pub(crate) app_key: ApiKey,
    username: String,
    /// What every `/token` request carries besides the password, checked and built once.
    token_headers: HeaderMap,
    password: LoginPassword,
    pin: Option<Pin>,
    pub(crate) http: Http,
    token_lifetime: Duration,
    clock: Arc<dyn Clock>,
    /// The base URL and the username: stamped on every session, required of every session sent.
    origin: Origin,
}

/// Which factor an `Expecting` answer asks for, and the header that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Factor {
    /// `Step: VerificationCode`, answered in `VerificationCode`.
    Code,
    /// `Step: SecutityPin` (sic) or `SecurityPin`, answered in `PinCode`.
    Pin,
}

impl Factor {
    /// The factor a `Step` names; `None` for a step twofa does not know.
    fn of_step(step: &str) -> Option<Self> {
        if step.eq_ignore_ascii_case("VerificationCode") {
            Some(Self::Code)
        } else if step.eq_ignore_ascii_case("SecutityPin") || step.eq_ignore_ascii_case("SecurityPin") {
            Some(Self::Pin)
        } else {
            None
        }
    }

    fn header(self) -> (&'static str, &'static str) {
        match self {
            Self::Code => ("VerificationCode", "the verification code"),
            Self::Pin => ("PinCode", "the security PIN"),
        }
    }
}

/// What a `/token` answer means once errors are taken out.
pub(crate) enum Reply {
    Succeeded(Secret),
    Expecting { interim: Secret, factor: Factor, reason: Option<String> },
}

impl EtnaFlow {
    /// A builder; `base_url`, `app_key`, `username` and `password` are required.
    pub fn builder() -> EtnaBuilder {
        EtnaBuilder::default()
    }

    pub(crate) fn from_builder(b: EtnaBuilder) -> Result<Self, Error> {
        let ep = b.common.resolve(&SPEC, HttpOptions::base_url)?;
        let app_key = required(b.app_key, SPEC.name, "an app key (Et-App-Key)")?;
        if app_key.expose_secret().is_empty() {
            return Err(Error::Config("ETNA needs a non-empty app key".into()));
        }
        // Fail at build time, not at the first request, on values a header cannot carry.
        let token_headers = HeaderMap::from_iter([
            (ACCEPT, HeaderValue::from_static("application/json")),
            (CONTENT_LENGTH, HeaderValue::from_static("0")),
            (HeaderName::from_static("et-app-key"), sensitive_value(app_key.expose_secret(), "the app key")?),
            (HeaderName::from_static("username"), sensitive_value(&ep.login, "the username")?),
        ]);
        if let Some(password) = ep.password.known() {
            sensitive_value(password.expose_secret(), "the password")?;
        }
        if let Some(pin) = &b.pin {
            if pin.expose_secret().is_empty() {
                return Err(Error::Config("the ETNA security PIN is empty".into()));
            }
            sensitive_value(pin.expose_secret(), "the security PIN")?;
        }
        let origin = Origin::new(&ep.url, [ep.login.as_str()]);
        Ok(Self {
            origin,
            token_url: ep.join("token")?,
            logout_url: ep.join("logout")?,
            reset_url: ep.join("v1.0/users/passwords/reset/")?,
            pin_change_url: ep.join("v1.0/users/pincode/change")?,
            app_key,
            username: ep.login,
            token_headers,
            password: ep.password,
            pin: b.pin,
            http: ep.http,
            token_lifetime: b.token_lifetime,
            clock: ep.clock,
        })
    }

    /// `POST /token` with the three identifying headers and no body; `password` is the login's.
    fn token_request(&self, password: &Password) -> Result<RequestBuilder, Error> {
        Ok(self
            .http
            .request_with(Method::POST, self.token_url.clone(), self.token_headers.clone())
            .header("Password", sensitive_value(password.expose_secret(), "the password")?))
    }

    /// The next `/token` POST of a multi-step login: the interim token as bearer, and the answer
    /// in the header of its factor (`VerificationCode` or `PinCode`).
    async fn answer(&self, interim: &Secret, factor: Factor, value: &str) -> Result<Reply, Error> {
        let bearer = zeroize::Zeroizing::new(format!("Bearer {}", interim.expose_secret()));
        let (name, what) = factor.header();
        // Every step resends the password: the one this login started with.
        let password = self.password.current().await?;
        let request = self
            .token_request(&password)?
            .header(AUTHORIZATION, sensitive_value(&bearer, "the interim token")?)
            .header(name, sensitive_value(value, what)?);
        interpret(&self.http.send(request).await?)
    }

    /// Turns a reply into the next step, answering a PIN step with the configured PIN (once: a
    /// second PIN step after it means the server refused it).
    async fn follow(&self, mut reply: Reply) -> Result<Step, Error> {
        let mut configured_pin_sent = false;
        loop {
            reply = match (reply, &self.pin) {
                (Reply::Succeeded(token), _) => return Ok(Step::Authenticated(self.session(token))),
                (Reply::Expecting { factor: Factor::Pin, .. }, Some(_)) if configured_pin_sent => {
                    return Err(Error::InvalidPin);
                }
                (Reply::Expecting { interim, factor: Factor::Pin, .. }, Some(pin)) => {
                    configured_pin_sent = true;
                    self.answer(&interim, Factor::Pin, pin.expose_secret()).await?
                }
                (Reply::Expecting { interim, factor, reason }, _) => {
                    let method = match factor {
                        Factor::Code => Delivery::EmailOrSms,
                        Factor::Pin => Delivery::SecurityPin,
                    };
                    let challenge = Challenge::portable(PROVIDER, method, self.clock.now(), interim);
                    return Ok(Step::Challenge(match reason {
                        Some(reason) => challenge.with_hint(reason),
                        None => challenge,
                    }));
                }
            };
        }
    }

    fn session(&self, token: Secret) -> Session {
        let now = self.clock.now();
        Session::new(PROVIDER, AccessToken::new(token.expose_secret()), TokenPlacement::Bearer, now)
            .with_expires_at(Some(now + self.token_lifetime))
            .with_header("Et-App-Key", Secret::new(self.app_key.expose_secret()))
            .with_subject("username", self.username.clone())
            .with_origin(self.origin.clone())
    }
}

fn non_empty(secret: Option<Secret>) -> Option<Secret> {
    secret.filter(|s| !s.expose_secret().is_empty())
}

/// The one mapping from a `/token` answer to a [`Reply`] or an [`Error`]. The body decides, not the
/// status: ETNA sends the same shapes with 200, 202 and 401.
pub(crate) fn interpret(answer: &Answer) -> Result<Reply, Error> {
    if answer.status == 429 {
        return Err(Error::RateLimited { retry_after: answer.retry_after() });
    }
    let mut reply: TokenReply = from_slice_ci(&answer.body).map_err(|_| answer.unexpected("a JSON object"))?;
    // Both the interim and the final token go back out in a header: checked before anything reads them.
    reply.token = untrusted::optional_credential("Token", reply.token)?;
    if let Some(error) = reply.error {
        return Err(if error.to_ascii_lowercase().contains("application key") {
            Error::InvalidAppKey
        } else {
            Error::unexpected(Some(answer.status), format!("ETNA error: {}", clip(&error)))
        });
    }
    let is = |field: &Option<String>, value: &str| field.as_deref().is_some_and(|f| f.eq_ignore_ascii_case(value));
    let reason = reply.reason.as_deref().unwrap_or_default();
    let reason_is = |text: &str| reason.to_ascii_lowercase().contains(text);
    // Both documented with the reason as the key ("Two-Factor Authentication", newer article):
    // the field holding `BaseAuthentication` or `Expecting` varies between copies.
    if reason_is("password has expired") {
        return Err(Error::PasswordExpired {
            reset_token: non_empty(reply.token).or(non_empty(reply.confirmation_token)),
        });
    }
    if reason_is("pin code is not init") {
        let setup = PinSetup::new(non_empty(reply.token), non_empty(reply.confirmation_token));
        return Err(Error::PinNotSet { setup: Box::new(setup) });
    }
    if is(&reply.state, "Succeeded") {
        let token = non_empty(reply.token);
        return token.map(Reply::Succeeded).ok_or_else(|| answer.unexpected("a token with State Succeeded"));
    }
    let step = reply.step.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if is(&reply.state, "Expecting") || reply.state.is_none() && answer.status == 202 {
        let factor = match step {
            Some(step) => Factor::of_step(step).ok_or_else(|| Error::unsupported_step(step))?,
            // A bare 202 with a token: the original two-step login.
            None if reply.state.is_none() => Factor::Code,
            None => return Err(answer.unexpected("a Step with State Expecting")),
        };
        let interim =
            non_empty(reply.token).ok_or_else(|| answer.unexpected("an interim token with State Expecting"))?;
        return Ok(Reply::Expecting { interim, factor, reason: reply.reason });
    }
    if is(&reply.state, "Failed") {
        if is(&reply.step, "BaseAuthentication") || reason_is("invalid credentials") {
            return Err(Error::InvalidCredentials);
        }
        let corrupted = reason_is("corrupted ticket");
        match step.and_then(Factor::of_step) {
            Some(_) if corrupted => return Err(Error::ChallengeExpired),
            Some(Factor::Code) => return Err(Error::InvalidCode),
            Some(Factor::Pin) => return Err(Error::InvalidPin),
            None => {}
        }
    }
    match reply.message {
        Some(message) => Err(Error::unexpected(Some(answer.status), clip(&message))),
        None => Err(answer.unexpected("an ETNA token answer")),
    }
}

#[async_trait]
impl TwoFactorFlow for EtnaFlow {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn origin(&self) -> Option<&Origin> {
        Some(&self.origin)
    }

    /// Every call is an [`Http`] request, which ends at the deadline.
    fn waits_are_clamped(&self) -> bool {
        true
    }

    async fn start(&self) -> Result<Step, Error> {
        let password = self.password.fresh().await?;
        let answer = self.http.send(self.token_request(&password)?).await?;
        self.follow(interpret(&answer)?).await
    }

    /// Answers a code challenge in `VerificationCode`, a PIN challenge in `PinCode`. A code may
    /// be followed by a PIN step: with [`EtnaBuilder::pin`] it is answered here; else it comes
    /// back as a [`Step::Challenge`] of [`Method::SecurityPin`](twofa_core::Method::SecurityPin).
    async fn verify(&self, challenge: &Challenge, code: &OneTimeCode) -> Result<Step, Error> {
        let interim = challenge.portable_state(PROVIDER)?;
        let factor = if challenge.method().is_pin() { Factor::Pin } else { Factor::Code };
        self.follow(self.answer(interim, factor, code.expose_secret()).await?).await
    }

    /// Logging out twice is harmless, so transport errors and 5xx are retried (see [`Backoff`]).
    async fn logout(&self, session: &Session) -> Result<(), Error> {
        session.ensure_issued_by(PROVIDER, &self.origin)?;
        Backoff::default()
            .retry(|| async {
                let request = self.http.request(Method::POST, self.logout_url.clone()).header(CONTENT_LENGTH, 0);
                let answer = self.http.send(session.authorize(request)?).await?;
                match answer.status {
                    200..=299 => Ok(()),
                    429 => Err(Error::RateLimited { retry_after: answer.retry_after() }),
                    401 => Err(Error::SessionExpired),
                    _ => Err(answer.unexpected("a 2xx answer to /logout")),
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use reqwest::header::HeaderMap;
    use twofa_core::test_util::{arbitrary_bytes, arbitrary_json};

    use super::*;

    fn answer(status: u16, body: Vec<u8>) -> Answer {
        Answer::new(status, HeaderMap::new(), body)
    }

    const KEYS: &[&str] =
        &["State", "Step", "Reason", "Token", "ConfirmationToken", "error", "Message", "state", "token"];

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(status in 100u16..600, body in arbitrary_bytes()) {
            let _ = interpret(&answer(status, body));
        }

        #[test]
        fn arbitrary_json_never_panics(status in 100u16..600, body in arbitrary_json(KEYS)) {
            let _ = interpret(&answer(status, body.to_string().into_bytes()));
        }

        #[test]
        fn every_token_answer_shape_maps_to_a_reply_or_an_error(
            status in prop::sample::select(vec![200u16, 202, 401, 403, 500]),
            state in prop::sample::select(vec!["Succeeded", "Expecting", "Failed", "BaseAuthentication", "", "Other"]),
            step in prop::sample::select(vec!["VerificationCode", "BaseAuthentication", "SecutityPin", "SecurityPin", ""]),
            reason in ".{0,30}",
            token in prop::option::of("[A-Za-z0-9+/=]{0,20}"),
        ) {
            let body = serde_json::json!({ "State": state, "Step": step, "Reason": reason, "Token": token });
            let _ = interpret(&answer(status, body.to_string().into_bytes()));
        }
    }
}
