//! Where the second factor comes from: a person at a terminal, a TOTP seed, the environment,
//! a callback, or another task through a channel.

mod callback;
mod channel;
mod env;
#[cfg(feature = "prompt")]
mod prompt;
#[cfg(feature = "totp")]
mod totp;

use std::fmt;

use async_trait::async_trait;
use time::OffsetDateTime;

pub use callback::{FnCodeSource, from_fn};
pub use channel::{ChannelCodeSource, CodeSender, code_channel};
pub use env::EnvCode;
#[cfg(feature = "prompt")]
pub use prompt::Prompt;
#[cfg(feature = "totp")]
pub use totp::{Totp, TotpAlgorithm};

use crate::{Challenge, Error, Method, OneTimeCode};

/// What a code source is asked for: which challenge, and which attempt this is.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CodeRequest {
    /// The provider asking.
    pub provider: String,
    /// How the code reaches the user.
    pub method: Method,
    /// The provider's hint, if any.
    pub hint: Option<String>,
    /// When the challenge stops accepting codes, if known.
    pub expires_at: Option<OffsetDateTime>,
    /// 1 for the first try, 2 after one rejected code…
    pub attempt: u32,
    /// How many codes will be tried in all.
    pub max_attempts: u32,
    /// Which challenge of the login this is: 1 for the first, 2 for a PIN asked after a code…
    pub step: u32,
}

impl CodeRequest {
    /// The request for `attempt` (1-based) of `max_attempts` on `challenge`.
    pub fn new(challenge: &Challenge, attempt: u32, max_attempts: u32) -> Self {
        Self {
            provider: challenge.provider().to_owned(),
            method: challenge.method().clone(),
            hint: challenge.hint().map(str::to_owned),
            expires_at: challenge.expires_at(),
            attempt,
            max_attempts,
            step: 1,
        }
    }

    /// The same request, for challenge number `step` (1-based) of a multi-step login.
    pub fn at_step(mut self, step: u32) -> Self {
        self.step = step;
        self
    }

    /// Whether the answer wanted is the user's security PIN rather than a one-time code.
    pub fn wants_pin(&self) -> bool {
        self.method.is_pin()
    }

    /// A one-line prompt for a person: what is asked (code or PIN), method, hint and attempt.
    pub fn prompt_text(&self) -> String {
        let mut text = format!("{} for {} ({}", self.method.answer_name(), self.provider, self.method);
        if let Some(hint) = &self.hint {
            text.push_str("; ");
            text.push_str(hint);
        }
        text.push(')');
        if self.attempt > 1 {
            text.push_str(&format!(", attempt {} of {}", self.attempt, self.max_attempts));
        }
        text.push_str(": ");
        text
    }
}

/// Refuses a PIN request in a source of one-time codes: sending a code as a PIN would burn one
/// of the few PIN attempts a provider allows.
pub(crate) fn refuse_pin(request: &CodeRequest, source: &str) -> Result<(), Error> {
    if request.wants_pin() {
        return Err(Error::CodeSource(format!(
            "{} asks for a security PIN, and {source} only supplies one-time codes; configure the PIN \
             (e.g. the provider builder's `pin`) or use a source that asks a person",
            request.provider
        )));
    }
    Ok(())
}

/// A supplier of verification codes (and, for sources that can, security PINs: see
/// [`CodeRequest::wants_pin`]).
#[async_trait]
pub trait CodeSource: Send + Sync + fmt::Debug {
    /// One code for `request`.
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, Error>;

    /// What became of the answer [`CodeSource::code`] gave for `request`: `Ok` when the provider
    /// took it (a session, or the next step of the login), else the error it answered with
    /// ([`Error::InvalidCode`] for a wrong code). [`login`](crate::login) calls it after every
    /// verification, so a source that shows challenges to a person (a web console) can say at
    /// once whether the typed code worked. Does nothing by default.
    async fn answered(&self, request: &CodeRequest, outcome: Result<(), &Error>) {
        let _ = (request, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    #[test]
    fn prompt_text_names_method_hint_and_attempt() {
        let c = Challenge::portable("etna", Method::EmailOrSms, OffsetDateTime::UNIX_EPOCH, Secret::new("s"))
            .with_hint("Expecting confirmation code");
        assert_eq!(
            CodeRequest::new(&c, 1, 3).prompt_text(),
            "Verification code for etna (code sent by email or SMS; Expecting confirmation code): "
        );
        assert!(CodeRequest::new(&c, 2, 3).prompt_text().ends_with(", attempt 2 of 3: "));
        let pin = Challenge::portable("etna", Method::SecurityPin, OffsetDateTime::UNIX_EPOCH, Secret::new("s"));
        let request = CodeRequest::new(&pin, 1, 3).at_step(2);
        assert!(request.wants_pin() && request.step == 2);
        assert_eq!(request.prompt_text(), "Security PIN for etna (your security PIN): ");
        assert!(matches!(refuse_pin(&request, "a TOTP seed"), Err(Error::CodeSource(m)) if m.contains("security PIN")));
        assert!(refuse_pin(&CodeRequest::new(&c, 1, 3), "a TOTP seed").is_ok());
    }
}
