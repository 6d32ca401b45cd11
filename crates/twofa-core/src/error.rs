//! The one error type of twofa, with variants a caller can act on.

use std::{fmt, sync::Arc, time::Duration};

use crate::Secret;

/// Everything that can go wrong while logging in, renewing or logging out.
///
/// Variants name what the caller should do next: ask for the code again ([`Error::InvalidCode`]),
/// start over ([`Error::ChallengeExpired`]), fix the configuration ([`Error::InvalidAppKey`],
/// [`Error::Config`]), wait ([`Error::RateLimited`]) or retry later ([`Error::is_retryable`]).
/// No variant ever carries a password, code or token: messages are safe to log.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The application key (or company code) is unknown to the provider.
    #[error("the application key was rejected by the provider")]
    InvalidAppKey,
    /// The username or password was rejected.
    #[error("the username or password was rejected")]
    InvalidCredentials,
    /// An API-key login was refused: the API key, the signature made with its secret, or the user
    /// id it was paired with (the provider does not say which).
    #[error("the API-key login was rejected: check the API key, the API secret and the user id")]
    InvalidApiKey,
    /// The account is locked; an administrator must unlock it.
    #[error("the account is locked")]
    AccountLocked,
    /// The password has expired and must be changed before logging in.
    #[error("the password has expired and must be changed before logging in")]
    PasswordExpired {
        /// The token the provider issued for resetting it, when it sent one (ETNA: for
        /// `EtnaFlow::reset_expired_password`).
        reset_token: Option<Secret>,
    },
    /// The account has no security PIN yet: one must be set before logging in.
    #[error("the account has no security PIN yet; set one before logging in")]
    PinNotSet {
        /// What the provider's set-PIN call needs.
        setup: Box<PinSetup>,
    },
    /// The security PIN was wrong.
    #[error("the security PIN was rejected")]
    InvalidPin,
    /// The provider asks for a login step twofa does not know; finish it another way (the
    /// provider's web app), or report it.
    #[error("the provider asks for a login step twofa does not support: `{step}`")]
    UnsupportedStep {
        /// The provider's name for the step, escaped and shortened (see [`Error::unsupported_step`]).
        step: String,
    },
    /// The verification code was wrong (ask for it again).
    #[error("the verification code was rejected")]
    InvalidCode,
    /// The challenge is no longer valid (expired, used up or corrupted): start a new login.
    #[error("the login challenge expired or is no longer valid")]
    ChallengeExpired,
    /// The session is no longer valid: log in again.
    #[error("the session expired or was revoked")]
    SessionExpired,
    /// The session was issued by another endpoint or for another account than this flow's (see
    /// [`Origin`](crate::Origin)): it was not sent anywhere. Log in afresh with this flow.
    #[error("the session was issued by another endpoint or account; log in again")]
    ForeignSession,
    /// Too many requests; wait before trying again.
    #[error("rate limited by the provider{}", RetryAfter(*retry_after))]
    RateLimited {
        /// How long the provider asked us to wait, when it said so.
        retry_after: Option<Duration>,
    },
    /// The provider cannot do this (e.g. resume a session without a refresh token).
    #[error("{operation} is not supported by this provider")]
    Unsupported {
        /// The operation asked for, e.g. `resume`.
        operation: &'static str,
    },
    /// The configuration is incomplete or invalid.
    #[error("invalid configuration: {}", shown(.0))]
    Config(String),
    /// Input given by the caller or the user is invalid (an empty code, a header-unsafe password…).
    #[error("invalid input: {}", shown(.0))]
    InvalidInput(String),
    /// The code source could not supply a verification code.
    #[error("no verification code available: {}", shown(.0))]
    CodeSource(String),
    /// The request did not complete: connection, TLS, timeout or a broken body.
    #[error("transport error ({kind}): {}", shown(message))]
    Transport {
        /// What kind of failure it was.
        kind: TransportKind,
        /// A description without URLs or secrets.
        message: String,
        /// The underlying error (its URL removed).
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },
    /// The provider answered something twofa does not understand.
    #[error("unexpected response{}: {}", Status(*status), shown(detail))]
    UnexpectedResponse {
        /// The HTTP status, when there was one.
        status: Option<u16>,
        /// What was unexpected, never the raw body.
        detail: String,
    },
    /// The provider issued a credential (a token, pending-2FA state, setup data, a device id) that
    /// is not visible ASCII of at most 16 KiB, so it cannot travel in a header or be printed safely.
    /// It was refused where it was parsed and replaced nothing: a protocol error, not retryable.
    /// The message names the wire field, never the value (see [`crate::untrusted::credential`]).
    #[error("the provider sent a malformed {field}: only visible ASCII of at most 16 KiB is accepted")]
    MalformedCredential {
        /// The field's name on the wire, e.g. `SessionToken`.
        field: &'static str,
    },
    /// A session store could not load, save or delete a session.
    #[error("session store error{}: {}", At(path.as_deref()), shown(detail))]
    Store {
        /// The file concerned, for file-backed stores.
        path: Option<std::path::PathBuf>,
        /// What went wrong.
        detail: String,
    },
    /// The provider refused the request with its own error code and message.
    #[error("the provider refused the request: {} (code {code})", shown(message))]
    Provider {
        /// The provider's numeric error code.
        code: i64,
        /// The provider's message.
        message: String,
    },
}

/// An error's text as it may be shown: much of it is the server's (a provider's message, a
/// reason), so every message passes [`untrusted::display`](crate::untrusted::display) — escaped
/// and clipped — before it reaches a log, a terminal or a page.
fn shown(text: &str) -> String {
    crate::untrusted::display(text)
}

/// The tokens a provider hands out with "PIN not set", for its set-PIN call (ETNA:
/// `users/pincode/change`, authorized by `bearer`, with `confirmation` in the body). Both are secrets.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PinSetup {
    /// The token that authorizes the set-PIN call.
    pub bearer: Option<Secret>,
    /// The confirmation token the set-PIN call's body carries.
    pub confirmation: Option<Secret>,
}

impl PinSetup {
    /// The tokens as the provider sent them.
    pub fn new(bearer: Option<Secret>, confirmation: Option<Secret>) -> Self {
        Self { bearer, confirmation }
    }
}

/// The kind of a [`Error::Transport`] failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// No connection could be made.
    Connect,
    /// The request or the connection timed out.
    Timeout,
    /// The connection broke while a body was read or written.
    Body,
    /// The connection was closed by the peer.
    Closed,
    /// Anything else (TLS, protocol…).
    Other,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Body => "body",
            Self::Closed => "closed",
            Self::Other => "other",
        })
    }
}

impl Error {
    /// Whether trying the same thing again later may succeed (network trouble, rate limit, 5xx).
    ///
    /// Note that twofa itself never repeats a login start or a code submission automatically.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::RateLimited { .. } => true,
            Self::UnexpectedResponse { status: Some(s), .. } => (500..=599).contains(s),
            _ => false,
        }
    }

    /// A stable, machine-readable name of the variant (`invalid_code`, `rate_limited`, …), for
    /// JSON output and metrics. It never changes for an existing variant.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidAppKey => "invalid_app_key",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidApiKey => "invalid_api_key",
            Self::AccountLocked => "account_locked",
            Self::PasswordExpired { .. } => "password_expired",
            Self::PinNotSet { .. } => "pin_not_set",
            Self::InvalidPin => "invalid_pin",
            Self::UnsupportedStep { .. } => "unsupported_step",
            Self::InvalidCode => "invalid_code",
            Self::ChallengeExpired => "challenge_expired",
            Self::SessionExpired => "session_expired",
            Self::ForeignSession => "foreign_session",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unsupported { .. } => "unsupported",
            Self::Config(_) => "config",
            Self::InvalidInput(_) => "invalid_input",
            Self::CodeSource(_) => "code_source",
            Self::Transport { .. } => "transport",
            Self::UnexpectedResponse { .. } => "unexpected_response",
            Self::MalformedCredential { .. } => "malformed_credential",
            Self::Store { .. } => "store",
            Self::Provider { .. } => "provider",
        }
    }

    /// How long the provider asked to wait, for [`Error::RateLimited`].
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// Whether the request timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Transport { kind: TransportKind::Timeout, .. })
    }

    /// Whether the credentials, app key or account state rule out logging in until a person acts
    /// (a wrong code or PIN is a second-factor failure instead: see [`Error::is_second_factor_rejected`]).
    pub fn is_rejected_credentials(&self) -> bool {
        matches!(
            self,
            Self::InvalidAppKey
                | Self::InvalidCredentials
                | Self::InvalidApiKey
                | Self::AccountLocked
                | Self::PasswordExpired { .. }
                | Self::PinNotSet { .. }
                | Self::UnsupportedStep { .. }
        )
    }

    /// Whether the session belongs to another endpoint or account ([`Error::ForeignSession`]).
    pub fn is_foreign_session(&self) -> bool {
        matches!(self, Self::ForeignSession)
    }

    /// Whether a second factor (a verification code or a security PIN) was refused.
    pub fn is_second_factor_rejected(&self) -> bool {
        matches!(self, Self::InvalidCode | Self::InvalidPin)
    }

    /// An [`Error::UnsupportedStep`] naming `raw`, the server's text: cut to 64 characters and
    /// escaped like all server text ([`untrusted::escape`](crate::untrusted::escape)), so no
    /// control sequence reaches a terminal or a log.
    pub fn unsupported_step(raw: &str) -> Self {
        const MAX: usize = 64;
        let mut step = crate::untrusted::escape(&raw.chars().take(MAX).collect::<String>());
        if raw.chars().nth(MAX).is_some() {
            step.push('…');
        }
        Self::UnsupportedStep { step }
    }

    /// A [`Error::Transport`] error of `kind` with a safe message.
    pub fn transport(kind: TransportKind, message: impl Into<String>) -> Self {
        Self::Transport { kind, message: message.into(), source: None }
    }

    /// An [`Error::UnexpectedResponse`].
    pub fn unexpected(status: Option<u16>, detail: impl Into<String>) -> Self {
        Self::UnexpectedResponse { status, detail: detail.into() }
    }
}

struct RetryAfter(Option<Duration>);

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => write!(f, "; retry after {} s", d.as_secs_f64().ceil()),
            None => Ok(()),
        }
    }
}

struct At<'a>(Option<&'a std::path::Path>);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            // A directory's name is chosen by whoever created it: escaped like server text.
            Some(path) => write!(f, " at {}", crate::untrusted::display(&path.display().to_string())),
            None => Ok(()),
        }
    }
}

struct Status(Option<u16>);

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, " (HTTP {s})"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Red team of issue 22 item 5: a store error printed its path raw. A directory on the path is
    /// named by whoever could create it (the parent `check_dir` refuses is often one another
    /// account writes), so its name could carry an OSC title change or a bidi override.
    #[test]
    fn a_store_error_escapes_its_path() {
        let path = std::path::PathBuf::from("/tmp/a\u{1b}]0;pwned\u{7}/\u{202e}sessions");
        let err = Error::Store { path: Some(path), detail: "writable by group or others".into() };
        let shown = err.to_string();
        assert_eq!(
            shown,
            "session store error at /tmp/a\\u{1b}]0;pwned\\u{7}/\\u{202e}sessions: writable by group or others"
        );
    }

    #[test]
    fn retryable_errors_are_transient_ones() {
        assert!(Error::transport(TransportKind::Connect, "refused").is_retryable());
        assert!(Error::RateLimited { retry_after: None }.is_retryable());
        assert!(Error::unexpected(Some(503), "down").is_retryable());
        assert!(!Error::unexpected(Some(400), "bad").is_retryable());
        assert!(!Error::InvalidCode.is_retryable());
        assert!(!Error::InvalidCredentials.is_retryable());
    }

    #[test]
    fn kinds_are_stable_snake_case_names() {
        assert_eq!(Error::InvalidCode.kind(), "invalid_code");
        assert_eq!(Error::InvalidPin.kind(), "invalid_pin");
        assert_eq!(Error::unsupported_step("X").kind(), "unsupported_step");
        assert_eq!(Error::RateLimited { retry_after: None }.kind(), "rate_limited");
        assert_eq!(Error::transport(TransportKind::Timeout, "slow").kind(), "transport");
        assert_eq!(Error::unexpected(None, "x").kind(), "unexpected_response");
        assert_eq!(Error::MalformedCredential { field: "Token" }.kind(), "malformed_credential");
        assert_eq!(Error::InvalidApiKey.kind(), "invalid_api_key");
        assert!(Error::InvalidApiKey.is_rejected_credentials());
    }

    #[test]
    fn rate_limit_reports_its_delay() {
        let e = Error::RateLimited { retry_after: Some(Duration::from_secs(7)) };
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(e.to_string(), "rate limited by the provider; retry after 7 s");
        assert_eq!(Error::RateLimited { retry_after: None }.to_string(), "rate limited by the provider");
    }

    #[test]
    fn unsupported_step_is_escaped_and_bounded() {
        let Error::UnsupportedStep { step } = Error::unsupported_step("Face\u{1b}[31mId\n\"x") else { panic!() };
        assert_eq!(step, "Face\\u{1b}[31mId\\u{a}\"x");
        let Error::UnsupportedStep { step } = Error::unsupported_step(&"A".repeat(500)) else { panic!() };
        assert_eq!(step, format!("{}…", "A".repeat(64)));
        assert!(Error::unsupported_step("X").is_rejected_credentials());
    }

    #[test]
    fn pin_errors_classify_and_never_print_their_tokens() {
        assert!(Error::InvalidPin.is_second_factor_rejected() && !Error::InvalidPin.is_rejected_credentials());
        let e = Error::PinNotSet {
            setup: Box::new(PinSetup::new(Some(Secret::new("bearer-1")), Some(Secret::new("confirm-2")))),
        };
        let expired = Error::PasswordExpired { reset_token: Some(Secret::new("reset-3")) };
        let shown = format!("{e} {e:?} {expired} {expired:?}");
        assert!(!shown.contains("bearer-1") && !shown.contains("confirm-2") && !shown.contains("reset-3"), "{shown}");
        assert!(e.is_rejected_credentials() && expired.is_rejected_credentials());
    }

    #[test]
    fn unexpected_response_names_the_status() {
        let e = Error::unexpected(Some(502), "not JSON");
        assert_eq!(e.to_string(), "unexpected response (HTTP 502): not JSON");
        assert!(Error::transport(TransportKind::Timeout, "slow").is_timeout());
    }
}
