//! One `tracing` span per login, renewal, resume and logout, closed with its outcome.
//!
//! Spans are named after the operation (`login`, `renewal`, `resume`, `logout`) and carry
//! `provider`, `profile` (when an authenticator runs them), `outcome` and, on failure, `error` —
//! the error's message, which never holds a secret — and `kind`, its stable
//! [`Error::kind`] (what metrics count failures by). Each ends with a `finished` event at INFO
//! carrying the outcome, so a plain `fmt` subscriber shows it too. Failures are INFO as well, not
//! WARN: the error is returned to the caller, who decides whether it deserves a warning.

use tracing::{Span, field::Empty, info, info_span};

use crate::Error;

/// What a span describes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Operation {
    Login,
    Renewal,
    Resume,
    Logout,
}

/// A span for `operation`; record its end with [`finish`] or [`record`].
pub(crate) fn span(operation: Operation, provider: &'static str, profile: Option<&str>) -> Span {
    macro_rules! named {
        ($name:literal) => {
            info_span!($name, provider, profile, outcome = Empty, error = Empty, kind = Empty)
        };
    }
    match operation {
        Operation::Login => named!("login"),
        Operation::Renewal => named!("renewal"),
        Operation::Resume => named!("resume"),
        Operation::Logout => named!("logout"),
    }
}

/// Records `result` as the span's outcome (`ok` or `error`) and passes it on.
pub(crate) fn finish<T>(span: &Span, result: Result<T, Error>) -> Result<T, Error> {
    record(span, result.as_ref().map(|_| "ok"));
    result
}

/// Records an outcome: a success named `outcome`, or a failure.
pub(crate) fn record(span: &Span, outcome: Result<&'static str, &Error>) {
    match outcome {
        Ok(outcome) => {
            span.record("outcome", outcome);
            info!(parent: span, outcome, "finished");
        }
        Err(e) => {
            span.record("outcome", "error");
            span.record("error", tracing::field::display(e));
            span.record("kind", e.kind());
            info!(parent: span, outcome = "error", error = %e, kind = e.kind(), "finished");
        }
    }
}
