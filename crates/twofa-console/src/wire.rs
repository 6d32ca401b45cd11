//! The bot protocol: JSON bodies a [`ConsoleCodeSource`](crate::ConsoleCodeSource) and the console
//! exchange under `/api/`, each sealed by the [channel](crate::channel) after the bot's hello (no
//! Bearer token: the bot proves its profile's key, the console proves it holds it too). One module
//! for both ends, so they cannot drift apart. Every call is a sealed `POST`:
//!
//! 1. `api/challenges` with a [`Register`] → `201` with a [`Registered`] id (checked with
//!    [`is_challenge_id`] before it goes into a URL); a registration for a profile replaces the one
//!    waiting before (one pending entry per profile); `403` for another profile than the key's.
//! 2. `api/challenges/{id}/code?wait=SECONDS` → `200` with a [`CodeAnswer`] once the person has
//!    typed it; `204` when `wait` ran out first (ask again); `410` when the challenge is gone
//!    (expired, replaced, cancelled, or another profile's).
//! 3. `api/challenges/{id}/outcome` with an [`Outcome`] → `204`: whether the provider took the code.

use serde::{Deserialize, Serialize};

/// The longest wait one `…/code` call may ask for, in seconds: below common proxy idle timeouts.
pub const MAX_POLL_SECS: u64 = 25;

/// The longest [`Register::hint`] and [`Setup::manual_key`] the console takes, in characters (a
/// provider's hint is a masked address or a sentence; a base32 seed is under 110).
/// The same limit [`Challenge::with_hint`](twofa_core::Challenge::with_hint) clips every hint to.
pub const MAX_HINT_CHARS: usize = twofa_core::Challenge::MAX_HINT_CHARS;

/// The longest [`Register::provider`] and [`Register::method`], in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// The longest [`Setup::qr_payload`], in characters (a QR code holds at most 2,953 bytes; an
/// `otpauth://` URI is about 150).
pub const MAX_QR_CHARS: usize = 2048;

/// The longest [`Outcome::message`] the console shows, in characters; a longer one is cut.
pub const MAX_MESSAGE_CHARS: usize = 512;

/// The longest challenge id a bot accepts from the console (it makes 24 characters).
pub const MAX_ID_CHARS: usize = 64;

/// Whether `id` may name a challenge in a URL: 1 to [`MAX_ID_CHARS`] ASCII letters and digits, so
/// a console's answer cannot make the bot call another path (`/`, `..`, `?`, `%`, controls).
pub fn is_challenge_id(id: &str) -> bool {
    (1..=MAX_ID_CHARS).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A login waiting for a code, as a bot announces it. Never holds the code; holds the
/// authenticator setup (the TOTP seed) only while the provider offers enrolment.
#[derive(Debug, Serialize, Deserialize)]
pub struct Register {
    /// The profile logging in (the pending entry's key).
    pub profile: String,
    /// The provider asking.
    pub provider: String,
    /// [`Method::name`](twofa_core::Method::name): `email`, `sms`, `email_or_sms`, `authenticator`, …
    pub method: String,
    /// The provider's hint (where the code went, e.g. a masked address), untrusted text.
    #[serde(default)]
    pub hint: Option<String>,
    /// When the challenge stops waiting, in Unix seconds.
    pub expires_at: i64,
    /// 1 for the first code, 2 after one refused code…
    pub attempt: u32,
    /// How many codes will be tried in all.
    pub max_attempts: u32,
    /// Which challenge of the login (2 for a PIN asked after a code).
    #[serde(default = "one")]
    pub step: u32,
    /// Authenticator enrolment data, when the provider sent it.
    #[serde(default)]
    pub setup: Option<Setup>,
}

fn one() -> u32 {
    1
}

/// Authenticator enrolment data: every field holds the TOTP seed in some form.
#[derive(Serialize, Deserialize)]
pub struct Setup {
    /// The key to type into the app by hand (base32).
    #[serde(default)]
    pub manual_key: Option<String>,
    /// An `otpauth://totp/...` URI, or the provider's QR payload.
    #[serde(default)]
    pub qr_payload: Option<String>,
}

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Setup([REDACTED])")
    }
}

/// The console's answer to a [`Register`].
#[derive(Debug, Serialize, Deserialize)]
pub struct Registered {
    /// The pending entry, for the calls that follow.
    pub id: String,
}

/// The code the person typed.
#[derive(Serialize, Deserialize)]
pub struct CodeAnswer {
    /// The code (or PIN), as typed.
    pub code: String,
}

impl std::fmt::Debug for CodeAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeAnswer([REDACTED])")
    }
}

/// What the provider made of the code.
#[derive(Debug, Serialize, Deserialize)]
pub struct Outcome {
    /// Whether the provider took it.
    pub accepted: bool,
    /// Why not, in words for the person (the error's message: never a secret).
    #[serde(default)]
    pub message: Option<String>,
    /// Whether another code will be asked for (the code was refused and attempts remain).
    #[serde(default)]
    pub retry: bool,
}

impl Register {
    /// The registration of `request` for `profile`: it expires with the challenge, or after `wait`
    /// when that comes first (nobody will take a code after the login stopped waiting).
    pub fn for_request(profile: &str, request: &twofa_core::CodeRequest, wait: std::time::Duration) -> Self {
        use twofa_core::Method;
        let limit = twofa_core::time::OffsetDateTime::now_utc() + wait;
        let setup = match &request.method {
            Method::Authenticator { setup: Some(setup) } => Some(Setup {
                manual_key: setup.manual_key.as_ref().map(|k| k.expose_secret().to_owned()),
                qr_payload: setup.otpauth_uri.as_ref().or(setup.qr_data.as_ref()).map(|p| p.expose_secret().to_owned()),
            }),
            _ => None,
        };
        Self {
            profile: profile.to_owned(),
            provider: request.provider.clone(),
            method: request.method.name().to_owned(),
            hint: request.hint.clone(),
            expires_at: request.expires_at.map_or(limit, |at| at.min(limit)).unix_timestamp(),
            attempt: request.attempt,
            max_attempts: request.max_attempts,
            step: request.step,
            setup,
        }
    }
}

impl Register {
    /// Whether every text is within its bound (the console refuses a registration that is not:
    /// each ends up in a page).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](twofa_core::Error::InvalidInput) naming the first field too long.
    pub fn check_bounds(&self) -> Result<(), twofa_core::Error> {
        let setup = self.setup.as_ref();
        let fields = [
            ("provider", Some(self.provider.as_str()), MAX_NAME_CHARS),
            ("method", Some(self.method.as_str()), MAX_NAME_CHARS),
            ("hint", self.hint.as_deref(), MAX_HINT_CHARS),
            ("setup.manual_key", setup.and_then(|s| s.manual_key.as_deref()), MAX_HINT_CHARS),
            ("setup.qr_payload", setup.and_then(|s| s.qr_payload.as_deref()), MAX_QR_CHARS),
        ];
        for (name, value, max) in fields {
            if value.is_some_and(|v| v.chars().nth(max).is_some()) {
                return Err(twofa_core::Error::InvalidInput(format!("the {name} is too long (over {max} characters)")));
            }
        }
        Ok(())
    }
}

impl Outcome {
    /// The report of what the provider made of the code given for `request`.
    pub fn of(request: &twofa_core::CodeRequest, outcome: Result<(), &twofa_core::Error>) -> Self {
        use twofa_core::Error;
        Self {
            accepted: outcome.is_ok(),
            message: outcome.err().map(ToString::to_string),
            retry: matches!(outcome, Err(Error::InvalidCode | Error::InvalidPin))
                && request.attempt < request.max_attempts,
        }
    }
}
