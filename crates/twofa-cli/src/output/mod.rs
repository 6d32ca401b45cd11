//! Everything the CLI writes: a [`Printer`] handed to every command (sessions, listings, tokens,
//! warnings, as text or JSON), errors as a [`Failure`], and the spinner. Only this module writes to
//! standard output and standard error (the prompts of `input` aside).

mod api_keys;
mod failure;
pub mod progress;
mod token;

use std::{
    fmt::Write as _,
    io::{IsTerminal as _, Write as _},
    sync::Arc,
};

use serde_json::json;
use time::OffsetDateTime;
use twofa_core::{Challenge, Error, Session, untrusted::escape};

pub use self::failure::{Failure, exit, report};
use self::progress::Progress;
use crate::{
    args::Format,
    contract::{escaped_subject, rfc3339},
};

/// How this run prints: its format, and whether a spinner may show.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    format: Format,
    spinner: bool,
}

impl Printer {
    /// A printer of `format`; `spinner` is false with `-q`.
    pub fn new(format: Format, spinner: bool) -> Self {
        Self { format, spinner }
    }

    /// The output format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether JSON was asked for.
    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// Whether a person reads the output: text on a terminal (enrolment QR codes are for them).
    pub fn to_person(&self) -> bool {
        self.format == Format::Text && std::io::stdout().is_terminal()
    }

    /// A spinner saying `message` while a login waits on the network (on a terminal, without `-q`).
    pub fn spinner(&self, message: &str) -> Arc<Progress> {
        Progress::start(self.spinner, message)
    }

    /// Writes `text` and a newline to standard output. A closed standard output (`| head`) is not
    /// an error worth a panic: what was not read is dropped.
    pub fn line(&self, text: impl std::fmt::Display) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
    }

    /// Writes one JSON value on a line of standard output.
    pub fn json(&self, value: &serde_json::Value) {
        self.line(value);
    }

    /// A warning on standard error, for a person or a log.
    pub fn warn(&self, text: impl std::fmt::Display) {
        let _ = writeln!(std::io::stderr().lock(), "warning: {text}");
    }

    /// Prints a fresh login: JSON with the token, or text without it.
    pub fn logged_in(&self, profile: &str, session: &Session, store: &str) {
        if self.is_json() {
            return self.json(&json!({
                "provider": session.provider(),
                "profile": profile,
                "access_token": session.access_token().expose_secret(),
                "header_name": session.header_name(),
                "header_value": session.header_value().expose_secret(),
                "expires_at": session.expires_at().map(rfc3339),
                "subject": escaped_subject(session),
            }));
        }
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
        self.line(text);
        self.line(format_args!("Stored in {store}. Print the token with `twofa token --profile {profile}`."));
    }

    /// Prints a login left waiting for its code (`login --no-wait`): what to run next. JSON names
    /// the profile, the method and when the login stops waiting (`expires_at`: the challenge's
    /// expiry, or the pending file's default); never the challenge's secret state.
    pub fn waiting(&self, profile: &str, challenge: &Challenge, expires_at: OffsetDateTime) {
        let next = format!("twofa verify --profile {profile} --code CODE");
        if self.is_json() {
            return self.json(&json!({
                "provider": challenge.provider(),
                "profile": profile,
                "waiting_for": challenge.method().name(),
                "expires_at": rfc3339(expires_at),
                "next": next,
            }));
        }
        let method = challenge.method();
        let answer = method.answer_name().to_lowercase();
        self.line(format_args!(
            "{} is waiting for the {answer} ({}).",
            escape(challenge.provider()),
            escape(&method.to_string())
        ));
        self.line(format_args!("Finish it with `{next}` (or `--code-stdin`) within {}.", until(expires_at)));
    }

    /// Prints `twofa status`: one row (or JSON object) per profile, never a secret. `store_dir` is
    /// named when there is no profile.
    pub fn status(&self, profiles: &[(String, Option<&'static str>, Option<Session>)], store_dir: &std::path::Path) {
        if self.is_json() {
            let profiles: Vec<_> = profiles
                .iter()
                .map(|(name, provider, session)| status_json(name, *provider, session.as_ref()))
                .collect();
            return self.json(&json!({ "profiles": profiles }));
        }
        if profiles.is_empty() {
            return self.line(format_args!("No stored profiles in {}.", store_dir.display()));
        }
        let mut rows = vec![["PROFILE", "PROVIDER", "SUBJECT", "EXPIRES IN", "RENEWABLE"].map(String::from)];
        rows.extend(
            profiles
                .iter()
                .map(|(name, provider, session)| status_row(name, provider.unwrap_or("?"), session.as_ref())),
        );
        let widths: Vec<usize> = (0..5).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
        for row in rows {
            let line: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
            self.line(line.join("  ").trim_end());
        }
    }

    /// Prints `session`'s token in the token contract's format; `header` asks the
    /// text format for every header instead of the bare token.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for `--header` with another format than text and when standard output is
    /// closed (a token nobody received); the session's error for a header that cannot be sent.
    pub fn token(&self, profile: &str, session: &Session, header: bool) -> Result<(), Error> {
        token::print(self.format, profile, session, header)
    }
}

/// How long until `t`, for people: `23h 59m`, `4m`, or `expired`.
fn until(t: OffsetDateTime) -> String {
    let left = t - OffsetDateTime::now_utc();
    if left.is_negative() {
        return "expired".into();
    }
    match (left.whole_hours(), left.whole_minutes() % 60) {
        (0, m) => format!("{m}m"),
        (h, m) => format!("{h}h {m}m"),
    }
}

/// The subject as `key=value` pairs, escaped.
fn subject(session: &Session) -> String {
    escaped_subject(session).iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

/// One profile of `twofa status --format json`: what a script needs to decide, never a secret.
fn status_json(profile: &str, provider: Option<&str>, session: Option<&Session>) -> serde_json::Value {
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
fn status_row(profile: &str, provider: &str, session: Option<&Session>) -> [String; 5] {
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
