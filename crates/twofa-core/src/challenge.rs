//! The second-factor challenge a provider answers a login start with.

use std::{fmt, sync::Arc};

use async_trait::async_trait;
use serde::{Deserialize, Serialize, Serializer, ser::Error as _};
use time::OffsetDateTime;

use crate::{Error, OneTimeCode, Secret, Step};

/// The part of a challenge that lives in this process — e.g. the open connection an OMS login
/// waits on — and answers the code itself.
///
/// The provider that made it implements this; nobody else looks inside, so there is nothing to
/// downcast and no way to hand one provider's live state to another: a challenge names its
/// provider, and [`Challenge::live_state`] refuses any other.
#[async_trait]
pub trait LiveChallenge: Send + Sync + fmt::Debug {
    /// Submits the answer on the live resource and returns what comes next, as
    /// [`TwoFactorFlow::verify`](crate::TwoFactorFlow::verify) does.
    async fn verify(&self, code: &OneTimeCode) -> Result<Step, Error>;
}

/// How the second factor reaches the user, and so what kind of answer a challenge wants: a
/// one-time code for every method but [`Method::SecurityPin`], which wants the user's standing PIN.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Method {
    /// A code sent by email.
    Email,
    /// A code sent by SMS.
    Sms,
    /// A code sent by email or SMS, as the user chose in the provider's settings.
    EmailOrSms,
    /// A code from an authenticator app (TOTP), with enrolment data when the provider sent it.
    Authenticator {
        /// Data to set the app up, present on a first login.
        setup: Option<AuthenticatorSetup>,
    },
    /// The user's security PIN, a standing secret rather than a one-time code (ETNA's `SecutityPin` step).
    SecurityPin,
    /// A method twofa has no name for.
    Other {
        /// The provider's name for it.
        name: String,
    },
}

impl Method {
    /// A short stable name: `email`, `sms`, `email_or_sms`, `authenticator`, `security_pin` or `other`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::EmailOrSms => "email_or_sms",
            Self::Authenticator { .. } => "authenticator",
            Self::SecurityPin => "security_pin",
            Self::Other { .. } => "other",
        }
    }

    /// Whether the answer is the user's security PIN rather than a one-time code.
    pub fn is_pin(&self) -> bool {
        matches!(self, Self::SecurityPin)
    }

    /// What the answer is called, for prompts and messages: `Security PIN` or `Verification code`.
    pub fn answer_name(&self) -> &'static str {
        if self.is_pin() { "Security PIN" } else { "Verification code" }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Email => f.write_str("code sent by email"),
            Self::Sms => f.write_str("code sent by SMS"),
            Self::EmailOrSms => f.write_str("code sent by email or SMS"),
            Self::Authenticator { .. } => f.write_str("code from an authenticator app"),
            Self::SecurityPin => f.write_str("your security PIN"),
            Self::Other { name } => write!(f, "code from {name}"),
        }
    }
}

/// Authenticator enrolment data. Every field holds the TOTP seed in some form, so all are secrets.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct AuthenticatorSetup {
    /// The key to type into the app by hand (base32).
    pub manual_key: Option<Secret>,
    /// An `otpauth://totp/...` URI.
    pub otpauth_uri: Option<Secret>,
    /// The payload to render as a QR code, as the provider sent it.
    pub qr_data: Option<Secret>,
}

impl AuthenticatorSetup {
    /// Setup data from whichever parts the provider sent.
    pub fn new(manual_key: Option<Secret>, otpauth_uri: Option<Secret>, qr_data: Option<Secret>) -> Self {
        Self { manual_key, otpauth_uri, qr_data }
    }
}

/// What a provider needs to verify a code: portable (a secret string, serializable) or live
/// (e.g. an open WebSocket, usable only in this process).
#[derive(Clone)]
enum State {
    Portable(Secret),
    Live(Arc<dyn LiveChallenge>),
}

/// A pending login that waits for a second factor.
///
/// Hand it back to the same provider's [`TwoFactorFlow::verify`](crate::TwoFactorFlow::verify)
/// with the code. A portable challenge can be saved with [`Challenge::expose_secrets`] and
/// restored with serde, so a web backend can ask for the code in one request and verify in the next.
#[derive(Clone)]
pub struct Challenge {
    provider: String,
    method: Method,
    hint: Option<String>,
    issued_at: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
    state: State,
}

impl Challenge {
    /// A challenge whose provider state is a secret string (e.g. an interim token).
    pub fn portable(provider: impl Into<String>, method: Method, issued_at: OffsetDateTime, state: Secret) -> Self {
        Self::with_state(provider, method, issued_at, State::Portable(state))
    }

    /// A challenge bound to a live resource of this process (e.g. an open connection).
    pub fn live(
        provider: impl Into<String>,
        method: Method,
        issued_at: OffsetDateTime,
        state: Arc<dyn LiveChallenge>,
    ) -> Self {
        Self::with_state(provider, method, issued_at, State::Live(state))
    }

    fn with_state(provider: impl Into<String>, method: Method, issued_at: OffsetDateTime, state: State) -> Self {
        Self { provider: provider.into(), method, hint: None, issued_at, expires_at: None, state }
    }

    /// The longest hint kept, in characters: a provider's hint is a masked address or a sentence,
    /// and the console (which shows it) takes no more.
    pub const MAX_HINT_CHARS: usize = 256;

    /// Adds a hint for humans (e.g. "Expecting confirmation code"), clipped to
    /// [`Challenge::MAX_HINT_CHARS`] (the last kept character then `…`): a server's 900 KB
    /// "reason" is cut once, here, not printed at every prompt, kept in a pending file, or refused
    /// by the console.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(clip_hint(hint.into()));
        self
    }

    /// Adds the instant after which the provider will refuse the code.
    pub fn with_expires_at(mut self, expires_at: OffsetDateTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// The provider that issued it.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// How the code reaches the user.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// A hint for humans, when the provider gave one.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// When the challenge was issued.
    pub fn issued_at(&self) -> OffsetDateTime {
        self.issued_at
    }

    /// When the provider stops accepting a code, when known.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.expires_at
    }

    /// Whether the state can be serialized (see [`Challenge::expose_secrets`]).
    pub fn is_portable(&self) -> bool {
        matches!(self.state, State::Portable(_))
    }

    /// The portable state, for the provider named `provider`.
    ///
    /// Fails with [`Error::InvalidInput`] when the challenge came from another provider or holds live state.
    pub fn portable_state(&self, provider: &str) -> Result<&Secret, Error> {
        self.check_provider(provider)?;
        match &self.state {
            State::Portable(secret) => Ok(secret),
            State::Live(_) => Err(Error::InvalidInput("this challenge holds live state, not a portable one".into())),
        }
    }

    /// The live state, for the provider named `provider`.
    ///
    /// Fails with [`Error::InvalidInput`] when the challenge came from another provider or is portable.
    pub fn live_state(&self, provider: &str) -> Result<&Arc<dyn LiveChallenge>, Error> {
        self.check_provider(provider)?;
        match &self.state {
            State::Live(live) => Ok(live),
            State::Portable(_) => Err(Error::InvalidInput("this challenge holds no live state".into())),
        }
    }

    fn check_provider(&self, provider: &str) -> Result<(), Error> {
        if self.provider == provider {
            Ok(())
        } else {
            Err(Error::InvalidInput(format!("a challenge from `{}` cannot be verified by `{provider}`", self.provider)))
        }
    }

    /// A view that serializes the challenge *with* its secret state, for a caller that stores it
    /// deliberately. Serializing a live challenge fails.
    pub fn expose_secrets(&self) -> ExposedChallenge<'_> {
        ExposedChallenge(self)
    }
}

impl fmt::Debug for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Challenge")
            .field("provider", &self.provider)
            .field("method", &self.method)
            .field("hint", &self.hint)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("state", &if self.is_portable() { "[REDACTED]" } else { "[live]" })
            .finish()
    }
}

/// A challenge serialized with its secrets; made by [`Challenge::expose_secrets`].
#[derive(Debug)]
pub struct ExposedChallenge<'a>(&'a Challenge);

#[derive(Serialize, Deserialize)]
struct ChallengeRepr<M, S> {
    provider: String,
    method: M,
    hint: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
    state: S,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum MethodRepr<'a> {
    Email,
    Sms,
    EmailOrSms,
    Authenticator { setup: Option<SetupRepr<'a>> },
    SecurityPin,
    Other { name: &'a str },
}

#[derive(Serialize)]
struct SetupRepr<'a> {
    manual_key: Option<&'a str>,
    otpauth_uri: Option<&'a str>,
    qr_data: Option<&'a str>,
}

impl<'a> From<&'a Method> for MethodRepr<'a> {
    fn from(method: &'a Method) -> Self {
        match method {
            Method::Email => Self::Email,
            Method::Sms => Self::Sms,
            Method::EmailOrSms => Self::EmailOrSms,
            Method::Authenticator { setup } => Self::Authenticator {
                setup: setup.as_ref().map(|s| SetupRepr {
                    manual_key: s.manual_key.as_ref().map(Secret::expose_secret),
                    otpauth_uri: s.otpauth_uri.as_ref().map(Secret::expose_secret),
                    qr_data: s.qr_data.as_ref().map(Secret::expose_secret),
                }),
            },
            Method::SecurityPin => Self::SecurityPin,
            Method::Other { name } => Self::Other { name },
        }
    }
}

impl Serialize for ExposedChallenge<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let State::Portable(state) = &c.state else {
            return Err(S::Error::custom(format!(
                "a `{}` challenge holds a live connection and cannot be serialized",
                c.provider
            )));
        };
        ChallengeRepr {
            provider: c.provider.clone(),
            method: MethodRepr::from(&c.method),
            hint: c.hint.clone(),
            issued_at: c.issued_at,
            expires_at: c.expires_at,
            state: state.expose_secret(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Challenge {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let r = ChallengeRepr::<Method, Secret>::deserialize(deserializer)?;
        Ok(Self {
            provider: r.provider,
            method: r.method,
            hint: r.hint.map(clip_hint),
            issued_at: r.issued_at,
            expires_at: r.expires_at,
            state: State::Portable(r.state),
        })
    }
}

/// `hint` cut to [`Challenge::MAX_HINT_CHARS`] characters, the last one `…` when cut.
fn clip_hint(hint: String) -> String {
    match hint.char_indices().nth(Challenge::MAX_HINT_CHARS - 1) {
        Some((end, _)) if hint[end..].chars().nth(1).is_some() => format!("{}…", &hint[..end]),
        _ => hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn authenticator() -> Method {
        Method::Authenticator {
            setup: Some(AuthenticatorSetup::new(
                Some(Secret::new("JBSWY3DPEHPK3PXP")),
                None,
                Some(Secret::new("qr-payload")),
            )),
        }
    }

    #[test]
    fn hints_are_clipped_once_at_receipt() {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        let at = |hint: String| Challenge::portable("etna", Method::Email, now, Secret::new("s")).with_hint(hint);
        let exact = "é".repeat(Challenge::MAX_HINT_CHARS);
        assert_eq!(at(exact.clone()).hint(), Some(exact.as_str()), "a hint at the limit is kept whole");
        let huge = at("x".repeat(900_000));
        let clipped = huge.hint().unwrap();
        assert_eq!(clipped.chars().count(), Challenge::MAX_HINT_CHARS);
        assert!(clipped.ends_with('…') && clipped.starts_with("xxx"));
        // A stored challenge (a pending file) is clipped on load as well.
        let mut json = serde_json::to_value(huge.expose_secrets()).unwrap();
        json["hint"] = "y".repeat(10_000).into();
        let back: Challenge = serde_json::from_value(json).unwrap();
        assert_eq!(back.hint().unwrap().chars().count(), Challenge::MAX_HINT_CHARS);
    }

    #[test]
    fn portable_challenge_round_trips_with_secrets() {
        let c =
            Challenge::portable("etna", authenticator(), datetime!(2026-01-01 0:00 UTC), Secret::new("interim-xyz"))
                .with_hint("Expecting confirmation code")
                .with_expires_at(datetime!(2026-01-01 0:05 UTC));
        let json = serde_json::to_string(&c.expose_secrets()).unwrap();
        let back: Challenge = serde_json::from_str(&json).unwrap();
        assert_eq!(back.portable_state("etna").unwrap().expose_secret(), "interim-xyz");
        assert_eq!(back.hint(), Some("Expecting confirmation code"));
        assert_eq!(back.expires_at(), Some(datetime!(2026-01-01 0:05 UTC)));
        let Method::Authenticator { setup: Some(setup) } = back.method() else { panic!("method lost") };
        assert_eq!(setup.manual_key.as_ref().unwrap().expose_secret(), "JBSWY3DPEHPK3PXP");
    }

    #[test]
    fn a_pin_challenge_keeps_its_kind_through_serialization() {
        let c = Challenge::portable("etna", Method::SecurityPin, datetime!(2026-01-01 0:00 UTC), Secret::new("step-2"))
            .with_hint("Invalid pin");
        let json = serde_json::to_string(&c.expose_secrets()).unwrap();
        assert!(json.contains(r#""method":{"kind":"security_pin"}"#), "{json}");
        let back: Challenge = serde_json::from_str(&json).unwrap();
        assert!(back.method().is_pin());
        assert_eq!(back.portable_state("etna").unwrap().expose_secret(), "step-2");
        let code: Challenge = serde_json::from_str(&json.replace("security_pin", "email_or_sms")).unwrap();
        assert!(!code.method().is_pin());
    }

    #[test]
    fn debug_hides_state_and_setup() {
        let c =
            Challenge::portable("etna", authenticator(), datetime!(2026-01-01 0:00 UTC), Secret::new("interim-xyz"));
        let shown = format!("{c:?}");
        assert!(!shown.contains("interim-xyz") && !shown.contains("JBSWY3DPEHPK3PXP") && !shown.contains("qr-payload"));
        assert!(shown.contains("[REDACTED]"));
    }

    /// A live state that answers every code with the same error, to tell it apart.
    #[derive(Debug)]
    struct Closed;

    #[async_trait]
    impl LiveChallenge for Closed {
        async fn verify(&self, _code: &OneTimeCode) -> Result<Step, Error> {
            Err(Error::ChallengeExpired)
        }
    }

    #[tokio::test]
    async fn live_challenge_refuses_to_serialize_and_answers_through_its_provider_only() {
        let c = Challenge::live("oms", Method::Email, datetime!(2026-01-01 0:00 UTC), Arc::new(Closed));
        let err = serde_json::to_string(&c.expose_secrets()).unwrap_err();
        assert!(err.to_string().contains("cannot be serialized"));
        let code = OneTimeCode::new("123456").unwrap();
        assert!(matches!(c.live_state("oms").unwrap().verify(&code).await, Err(Error::ChallengeExpired)));
        assert!(matches!(c.live_state("etna"), Err(Error::InvalidInput(_))));
        assert!(matches!(c.portable_state("oms"), Err(Error::InvalidInput(_))));
        let portable = Challenge::portable("oms", Method::Email, datetime!(2026-01-01 0:00 UTC), Secret::new("t"));
        assert!(matches!(portable.live_state("oms"), Err(Error::InvalidInput(_))));
    }

    #[test]
    fn a_challenge_only_goes_back_to_its_provider() {
        let c = Challenge::portable("etna", Method::Sms, datetime!(2026-01-01 0:00 UTC), Secret::new("t"));
        assert!(matches!(c.portable_state("onlineordering"), Err(Error::InvalidInput(_))));
    }

    #[test]
    fn methods_describe_themselves() {
        assert_eq!(Method::Email.to_string(), "code sent by email");
        assert_eq!(authenticator().to_string(), "code from an authenticator app");
        assert_eq!(Method::EmailOrSms.name(), "email_or_sms");
        assert_eq!(Method::SecurityPin.to_string(), "your security PIN");
        assert_eq!(Method::SecurityPin.answer_name(), "Security PIN");
        assert_eq!(Method::Sms.answer_name(), "Verification code");
    }
}
