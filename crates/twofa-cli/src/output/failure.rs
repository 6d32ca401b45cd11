//! Errors as the CLI reports them: an exit code, a stable kind, one sentence and a hint.

use serde_json::json;
use twofa_core::Error;

use crate::args::Format;

/// Exit codes, as documented in `--help`.
pub mod exit {
    /// A usage or configuration error.
    pub const USAGE: u8 = 2;
    /// Credentials, app key, API key or company rejected.
    pub const REJECTED: u8 = 3;
    /// The second factor rejected, or the challenge expired.
    pub const SECOND_FACTOR: u8 = 4;
    /// Network, server or unexpected response.
    pub const NETWORK: u8 = 5;
    /// Rate limited.
    pub const RATE_LIMITED: u8 = 6;
}

/// An error as the CLI reports it: built by the commands only (everything below them returns
/// [`Error`]), printed by [`report`].
#[derive(Debug)]
pub struct Failure {
    /// The exit code (see [`exit`]).
    pub code: u8,
    /// A stable name for scripts: the library error's [`Error::kind`], or `usage`.
    pub kind: &'static str,
    /// Whether running the same command again may succeed.
    pub retryable: bool,
    /// One sentence for a person, server text escaped.
    pub message: String,
    /// What to do about it, when the CLI knows.
    pub hint: Option<String>,
}

/// Prints `failure` on standard error, as text or as one JSON object, and gives its exit code.
pub fn report(format: Format, failure: Failure) -> std::process::ExitCode {
    match format {
        Format::Json => {
            let mut error = json!({
                "kind": failure.kind,
                "message": failure.message,
                "retryable": failure.retryable,
                "exit_code": failure.code,
            });
            if let Some(hint) = &failure.hint {
                error["hint"] = json!(hint);
            }
            eprintln!("{}", json!({ "error": error }));
        }
        // curl and env are `token`'s formats; its errors are text.
        Format::Text | Format::Curl | Format::Env => {
            eprintln!("error: {}", failure.message);
            if let Some(hint) = failure.hint {
                eprintln!("hint: {hint}");
            }
        }
    }
    std::process::ExitCode::from(failure.code)
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let (code, hint) = match &e {
            Error::RateLimited { retry_after } => (
                exit::RATE_LIMITED,
                Some(match retry_after {
                    Some(d) => format!("retry in {} s", d.as_secs().max(1)),
                    None => "wait a minute before retrying".into(),
                }),
            ),
            Error::InvalidCode => {
                (exit::SECOND_FACTOR, Some("no attempts left; run the login again for a new code".into()))
            }
            Error::InvalidPin => (
                exit::SECOND_FACTOR,
                Some("check the security PIN (the variable given to --pin-env, or the one typed)".into()),
            ),
            Error::PinNotSet { .. } => {
                (exit::REJECTED, Some("set a security PIN in the provider's web app, then log in again".into()))
            }
            Error::PasswordExpired { .. } => {
                (exit::REJECTED, Some("change the password in the provider's web app, then log in again".into()))
            }
            Error::UnsupportedStep { .. } => {
                (exit::REJECTED, Some("finish this login step in the provider's web app".into()))
            }
            Error::ChallengeExpired => {
                (exit::SECOND_FACTOR, Some("run the login again and enter the code sooner".into()))
            }
            Error::SessionExpired => (exit::REJECTED, Some("log in again with `twofa login`".into())),
            Error::ForeignSession => (exit::REJECTED, Some("log in again with `twofa login` for this endpoint".into())),
            e if e.is_rejected_credentials() => (exit::REJECTED, None),
            Error::Transport { .. } => (exit::NETWORK, Some("check the URL and the network".into())),
            Error::UnexpectedResponse { .. }
            | Error::MalformedCredential { .. }
            | Error::Provider { .. }
            | Error::Store { .. } => (exit::NETWORK, None),
            Error::CodeSource(_) => (
                exit::USAGE,
                Some(
                    "pass --code-env VAR, --totp-secret-env VAR or (after --password-stdin) --code-stdin, and \
                     --pin-env VAR for an ETNA security PIN, when no one is at a terminal"
                        .into(),
                ),
            ),
            _ => (exit::USAGE, None),
        };
        // Provider messages, hints and reasons are server text: escaped before the terminal sees them.
        Self {
            code,
            kind: e.kind(),
            retryable: e.is_retryable(),
            message: twofa_core::untrusted::display(&e.to_string()),
            hint,
        }
    }
}

impl Failure {
    /// A usage or configuration error the CLI itself found (exit 2, kind `usage`).
    pub fn usage(message: impl Into<String>) -> Self {
        Self { code: exit::USAGE, kind: "usage", retryable: false, message: message.into(), hint: None }
    }

    /// A lower layer's refusal of the command line ([`Error::Config`]) as the usage error it is,
    /// its sentence unchanged; any other error as [`From<Error>`] maps it.
    pub fn usage_error(e: Error) -> Self {
        match e {
            Error::Config(message) => Self::usage(message),
            other => other.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn each_error_maps_to_its_documented_exit_code_and_kind() {
        let cases: [(Error, u8, &str); 9] = [
            (Error::InvalidCredentials, exit::REJECTED, "invalid_credentials"),
            (Error::InvalidCode, exit::SECOND_FACTOR, "invalid_code"),
            (Error::InvalidPin, exit::SECOND_FACTOR, "invalid_pin"),
            (Error::ChallengeExpired, exit::SECOND_FACTOR, "challenge_expired"),
            (Error::RateLimited { retry_after: Some(Duration::from_secs(30)) }, exit::RATE_LIMITED, "rate_limited"),
            (Error::ForeignSession, exit::REJECTED, "foreign_session"),
            (Error::CodeSource("no terminal".into()), exit::USAGE, "code_source"),
            (Error::Config("bad".into()), exit::USAGE, "config"),
            (Error::SessionExpired, exit::REJECTED, "session_expired"),
        ];
        for (error, code, kind) in cases {
            let failure = Failure::from(error);
            assert_eq!((failure.code, failure.kind), (code, kind), "{}", failure.message);
        }
    }

    #[test]
    fn a_rate_limit_hint_says_when_to_retry() {
        let failure = Failure::from(Error::RateLimited { retry_after: Some(Duration::from_millis(200)) });
        assert_eq!(failure.hint.as_deref(), Some("retry in 1 s"));
        assert!(failure.retryable);
    }

    #[test]
    fn server_text_in_an_error_is_escaped_for_the_terminal() {
        let failure = Failure::from(Error::Config("\x1b]0;owned\x07 text".into()));
        assert!(!failure.message.contains('\x1b'), "{}", failure.message);
    }

    #[test]
    fn a_lower_layers_refusal_is_a_usage_error_with_its_own_sentence() {
        let failure = Failure::usage_error(Error::Config("--code-command: missing closing quote".into()));
        assert_eq!((failure.code, failure.kind), (exit::USAGE, "usage"));
        assert_eq!(failure.message, "--code-command: missing closing quote");
        assert_eq!(Failure::usage_error(Error::InvalidCode).kind, "invalid_code");
    }
}
