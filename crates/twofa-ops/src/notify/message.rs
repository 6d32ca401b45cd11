//! What a notification says: [`Notice`], the one message every sink renders its own way.

use serde::Serialize;
use time::OffsetDateTime;

/// The schema name the generic webhook's body carries (`docs/operations.md` documents it).
pub const SCHEMA: &str = "twofa.notify/1";

/// What happened to a login that waits for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A login waits for a code or PIN.
    Waiting,
    /// The provider took the code.
    Answered,
    /// The provider refused the code (see [`Notice::retry`]).
    Refused,
    /// Nobody answered in time, or the wait was cancelled.
    Expired,
}

/// One notification: which profile, what happened, and, while it waits, how and until when.
///
/// Built only from names twofa controls (the profile, the provider's name, the delivery method's
/// stable name) and times: never the code, the provider's hint (which may hold part of an address
/// or phone number) or a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Notice {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// What happened.
    pub event: Event,
    /// The profile logging in.
    pub profile: String,
    /// The provider asking (`etna`, `oms`, `onlineordering`).
    pub provider: String,
    /// The delivery method's stable name (`email`, `sms`, `email_or_sms`, `authenticator`,
    /// `security_pin`, `other`).
    pub method: &'static str,
    /// When the challenge stops taking a code (RFC 3339), if known; waiting notices only.
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<OffsetDateTime>,
    /// Whole seconds left then, when the notice was made; waiting notices only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_left: Option<i64>,
    /// The console's Pending codes page, if one is configured; waiting notices only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_url: Option<String>,
    /// For [`Event::Refused`]: whether another code is asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<bool>,
    /// The message in words, as chat sinks show it.
    pub text: String,
}

/// The stable method names and what a person reads for each.
fn describe(method: &str) -> (&'static str, &'static str) {
    match method {
        "email" => ("email", "code sent by email"),
        "sms" => ("sms", "code sent by SMS"),
        "email_or_sms" => ("email_or_sms", "code sent by email or SMS"),
        "authenticator" => ("authenticator", "code from an authenticator app"),
        "security_pin" => ("security_pin", "security PIN"),
        _ => ("other", "verification code"),
    }
}

/// `272` → `4 min 32 s`.
fn duration_words(seconds: i64) -> String {
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

impl Notice {
    /// A login of `profile` at `provider` waits for the answer of `method` (a
    /// [`Method::name`](twofa_core::Method::name)) until `expires_at`; `now` counts the time left.
    pub fn waiting(
        profile: &str,
        provider: &str,
        method: &str,
        expires_at: Option<OffsetDateTime>,
        pending_url: Option<&str>,
        now: OffsetDateTime,
    ) -> Self {
        let (method, words) = describe(method);
        let what = if method == "security_pin" { "the security PIN" } else { "a code" };
        let seconds_left = expires_at.map(|at| (at - now).whole_seconds().max(0));
        let mut text = format!("twofa: {profile} ({provider}) waits for {what} ({words})");
        if let Some(left) = seconds_left {
            text.push_str(&format!(", {} left", duration_words(left)));
        }
        match pending_url {
            Some(url) => text.push_str(&format!(". Type it at {url}")),
            None => text.push('.'),
        }
        Self {
            schema: SCHEMA,
            event: Event::Waiting,
            profile: profile.to_owned(),
            provider: provider.to_owned(),
            method,
            expires_at,
            seconds_left,
            pending_url: pending_url.map(str::to_owned),
            retry: None,
            text,
        }
    }

    /// The follow-up `event` (not [`Event::Waiting`]) of a login of `profile`; `retry` for a
    /// refusal after which another code is asked for.
    pub fn follow_up(event: Event, profile: &str, provider: &str, method: &str, retry: bool) -> Self {
        let (method, _) = describe(method);
        let answer = if method == "security_pin" { "security PIN" } else { "code" };
        let text = match event {
            Event::Answered => format!("twofa: {profile} ({provider}) is logged in: the {answer} was accepted."),
            Event::Refused if retry => {
                format!("twofa: {profile} ({provider}): the {answer} was refused; another one is asked for.")
            }
            Event::Refused => format!("twofa: {profile} ({provider}): the {answer} was refused; the login failed."),
            Event::Expired | Event::Waiting => {
                format!("twofa: {profile} ({provider}): nobody typed the {answer} in time; the login gave up.")
            }
        };
        Self {
            schema: SCHEMA,
            event,
            profile: profile.to_owned(),
            provider: provider.to_owned(),
            method,
            expires_at: None,
            seconds_left: None,
            pending_url: None,
            retry: (event == Event::Refused).then_some(retry),
            text,
        }
    }

    /// A short title for sinks that show one (ntfy).
    pub fn title(&self) -> String {
        let what = match self.event {
            Event::Waiting => "waits for a code",
            Event::Answered => "logged in",
            Event::Refused => "code refused",
            Event::Expired => "code not typed in time",
        };
        format!("twofa: {} {what}", self.profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_name_profile_method_time_left_and_link_only() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let n = Notice::waiting(
            "etna-bot",
            "etna",
            "email_or_sms",
            Some(now + time::Duration::seconds(272)),
            Some("http://127.0.0.1:8700/pending"),
            now,
        );
        assert_eq!(
            n.text,
            "twofa: etna-bot (etna) waits for a code (code sent by email or SMS), 4 min 32 s left. Type it at http://127.0.0.1:8700/pending"
        );
        assert_eq!(n.seconds_left, Some(272));
        let pin = Notice::waiting("p", "etna", "security_pin", None, None, now);
        assert_eq!(pin.text, "twofa: p (etna) waits for the security PIN (security PIN).");
        let other = Notice::waiting("p", "oms", "whatever the provider says", None, None, now);
        assert_eq!(other.method, "other", "a provider's own method name never reaches a message");
        assert_eq!(Notice::follow_up(Event::Refused, "p", "etna", "sms", true).retry, Some(true));
        assert_eq!(Notice::follow_up(Event::Answered, "p", "etna", "sms", false).retry, None);
    }
}
