//! What the CLI prints: sessions as text or JSON, and errors as one sentence, a hint and an exit code.

use std::fmt::Write as _;

use serde_json::json;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use twofa_core::{Error, Session, untrusted::escape};

use crate::cli::Format;

/// Exit codes, as documented in `--help`.
pub mod exit {
    pub const USAGE: u8 = 2;
    pub const REJECTED: u8 = 3;
    pub const SECOND_FACTOR: u8 = 4;
    pub const NETWORK: u8 = 5;
    pub const RATE_LIMITED: u8 = 6;
}

/// An error as the CLI reports it.
pub struct Failure {
    pub code: u8,
    /// A stable name for scripts: the library error's [`Error::kind`], or `usage`.
    pub kind: &'static str,
    pub retryable: bool,
    pub message: String,
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
    pub fn usage(message: impl Into<String>) -> Self {
        Self { code: exit::USAGE, kind: "usage", retryable: false, message: message.into(), hint: None }
    }
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// How long until `t`, for people: `23h 59m`, `4m`, or `expired`.
pub fn until(t: OffsetDateTime) -> String {
    let left = t - OffsetDateTime::now_utc();
    if left.is_negative() {
        return "expired".into();
    }
    match (left.whole_hours(), left.whole_minutes() % 60) {
        (0, m) => format!("{m}m"),
        (h, m) => format!("{h}h {m}m"),
    }
}

/// The session's subject (ids the server chose), escaped for a terminal.
pub fn escaped_subject(session: &Session) -> std::collections::BTreeMap<String, String> {
    session.subject().iter().map(|(k, v)| (escape(k), escape(v))).collect()
}

/// The subject as `key=value` pairs, escaped.
fn subject(session: &Session) -> String {
    escaped_subject(session).iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

/// Prints a login left waiting for its code (`login --no-wait`): what to run next. JSON names the
/// profile, the method and when the login stops waiting (`expires_at`: the challenge's expiry, or
/// the pending file's default); never the challenge's secret state.
pub fn waiting(format: Format, profile: &str, challenge: &twofa_core::Challenge, expires_at: OffsetDateTime) {
    let next = format!("twofa verify --profile {profile} --code CODE");
    match format {
        Format::Json => {
            let out = json!({
                "provider": challenge.provider(),
                "profile": profile,
                "waiting_for": challenge.method().name(),
                "expires_at": rfc3339(expires_at),
                "next": next,
            });
            println!("{out}");
        }
        Format::Text | Format::Curl | Format::Env => {
            let method = challenge.method();
            let answer = method.answer_name().to_lowercase();
            println!("{} is waiting for the {answer} ({}).", escape(challenge.provider()), escape(&method.to_string()));
            println!("Finish it with `{next}` (or `--code-stdin`) within {}.", until(expires_at));
        }
    }
}

/// Prints a fresh login: JSON with the token, or text without it.
pub fn logged_in(format: Format, profile: &str, session: &Session, store: &str) {
    match format {
        Format::Json => {
            let out = json!({
                "provider": session.provider(),
                "profile": profile,
                "access_token": session.access_token().expose_secret(),
                "header_name": session.header_name(),
                "header_value": session.header_value().expose_secret(),
                "expires_at": session.expires_at().map(rfc3339),
                "subject": escaped_subject(session),
            });
            println!("{out}");
        }
        Format::Text | Format::Curl | Format::Env => {
            let mut text = format!("Logged in to {} as profile `{profile}`", session.provider());
            if !session.subject().is_empty() {
                let _ = write!(text, " ({})", subject(session));
            }
            let _ = match (session.expires_at(), session.idle_timeout()) {
                (Some(at), _) => write!(text, "; the session expires in {} ({}).", until(at), rfc3339(at)),
                (None, Some(idle)) => {
                    write!(text, "; the session ends after {} min without activity.", idle.as_secs() / 60)
                }
                (None, None) => write!(text, "."),
            };
            println!("{text}");
            println!("Stored in {store}. Print the token with `twofa token --profile {profile}`.");
        }
    }
}

/// One profile of `twofa status --format json`: what a script needs to decide, never a secret.
pub fn status_json(profile: &str, provider: Option<&str>, session: Option<&Session>) -> serde_json::Value {
    let Some(session) = session else {
        return json!({ "profile": profile, "provider": provider, "session": null });
    };
    let now = OffsetDateTime::now_utc();
    json!({
        "profile": profile,
        "provider": provider.unwrap_or(session.provider()),
        "session": {
            "subject": escaped_subject(session),
            "issued_at": rfc3339(session.issued_at()),
            "expires_at": session.expires_at().map(rfc3339),
            "expires_in_seconds": session.expires_at().map(|at| (at - now).whole_seconds().max(0)),
            "idle_timeout_seconds": session.idle_timeout().map(|d| d.as_secs()),
            "renewable_without_code": session.renewal_token().is_some(),
        },
    })
}

/// One row of `twofa status`.
pub fn status_row(profile: &str, provider: &str, session: Option<&Session>) -> [String; 5] {
    let Some(session) = session else {
        return [profile.into(), provider.into(), "-".into(), "no session".into(), "-".into()];
    };
    let expires = match (session.expires_at(), session.idle_timeout()) {
        (Some(at), _) => until(at),
        (None, Some(idle)) => format!("{} min idle", idle.as_secs() / 60),
        (None, None) => "never".into(),
    };
    let renewal = if session.renewal_token().is_some() { "yes (no code)" } else { "re-login" };
    let subject = match subject(session) {
        s if s.is_empty() => "-".into(),
        s => s,
    };
    [profile.into(), session.provider().into(), subject, expires, renewal.into()]
}
