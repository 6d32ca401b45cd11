//! Every reading the vendor documents leave open, in one place: [`Variants`], and the table
//! ([`KNOBS`]) that names each one, lists its values and says where the choice comes from.
//!
//! A variant is set by name, `KEY=VALUE` (`"oms.user-id=number"`), with
//! [`Variants::set`] or by parsing an [`Assignment`]; an unknown key or value is refused with an
//! error that lists the valid ones. `twofa sandbox --variant KEY=VALUE` and its `--help` are built
//! from the same table ([`help`]). The conformance suites run the twofa client against
//! [`Variants::each`]: the defaults with one knob turned to each of its values in turn.

use std::{fmt, str::FromStr, sync::Mutex, time::Duration};

use crate::{
    etna::{ExpiredField, PinStep, WrongPin},
    lock,
    onlineordering::{GuestLogin, TokenPlacement},
};

/// How the OMS writes `UserId` in `WebAuthenticateUser`, `Authenticate2FA` and session-resume
/// replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UserIdType {
    /// A string, as the APEX v4 "WebAuthenticateUser" table documents it and notbank's typed reply
    /// model requires (a number is refused there). The default.
    #[default]
    String,
    /// A number, as other clients observe it in practice.
    Number,
}

/// How the OMS writes `result` in the `LogOut` reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LogoutResult {
    /// `"result":true`, as the slate documents print it. The default.
    #[default]
    Bool,
    /// `"result":"true"`, as the APEX v4 sample prints it.
    String,
}

/// What the OMS answers to `Ping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PingReply {
    /// `{"msg":"PONG"}`, what notbank and AlphaPoint's npm client wait for. The default.
    #[default]
    Object,
    /// The bare JSON string `"PONG"`, what StockSharp's NDAX client expects (inferred shape: the
    /// documents are silent).
    String,
}

/// Whether something seen once may be accepted again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Replay {
    /// A second use is refused (RFC 6238 §5.2 for a TOTP code; the strict reading for a nonce).
    /// The default.
    #[default]
    Refuse,
    /// A second use is accepted, as a lax server would (load tests replay one code).
    Allow,
}

/// Which OMS calls take the signed API-key headers (`Nonce`, `APIKey`, `Signature`, `UserId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ApiKeyCalls {
    /// Any private HTTP call, each with a fresh nonce, as ccxt's `ndax` sends them when it holds
    /// no session. The default.
    #[default]
    Any,
    /// Only `AuthenticateUser`/`Authenticate`; other calls need `aptoken`.
    Login,
}

/// The sandbox's reading of every point the documents leave open. `Default` is what the sandbox
/// answers unless told otherwise; each field names its knob in [`KNOBS`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Variants {
    /// `etna.pin-step`: how `Step` spells the PIN step.
    pub etna_pin_step: PinStep,
    /// `etna.wrong-pin`: how a wrong PIN is answered.
    pub etna_wrong_pin: WrongPin,
    /// `etna.expired-field`: which field holds `BaseAuthentication` when the password expired.
    pub etna_expired_field: ExpiredField,
    /// `oms.user-id`: the type of `UserId` in login and resume replies.
    pub oms_user_id: UserIdType,
    /// `oms.logout-result`: the type of `result` in the `LogOut` reply.
    pub oms_logout_result: LogoutResult,
    /// `oms.ping`: the `Ping` reply.
    pub oms_ping: PingReply,
    /// `oms.totp-period`: the TOTP time step of the OMS authenticator users.
    pub oms_totp_period: Duration,
    /// `oms.totp-replay`: whether a TOTP code is accepted twice.
    pub oms_totp_replay: Replay,
    /// `oms.nonce-replay`: whether an API-key nonce is accepted twice.
    pub oms_nonce_replay: Replay,
    /// `oms.api-key-calls`: which calls take the signed API-key headers.
    pub oms_api_key_calls: ApiKeyCalls,
    /// `oo.guest-login`: what the Online Ordering guest login answers.
    pub oo_guest_login: GuestLogin,
    /// `oo.token-placement`: where Online Ordering customer calls expect the customer token.
    pub oo_token_placement: TokenPlacement,
}

impl Default for Variants {
    fn default() -> Self {
        Self {
            etna_pin_step: PinStep::default(),
            etna_wrong_pin: WrongPin::default(),
            etna_expired_field: ExpiredField::default(),
            oms_user_id: UserIdType::default(),
            oms_logout_result: LogoutResult::default(),
            oms_ping: PingReply::default(),
            oms_totp_period: Duration::from_secs(30),
            oms_totp_replay: Replay::default(),
            oms_nonce_replay: Replay::default(),
            oms_api_key_calls: ApiKeyCalls::default(),
            oo_guest_login: GuestLogin::default(),
            oo_token_placement: TokenPlacement::default(),
        }
    }
}

/// One open choice: its key, its values (the first is the default) and where it comes from.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Knob {
    /// The name, `backend.choice`.
    pub key: &'static str,
    /// The values it takes, default first; a value in angle brackets stands for any of a kind.
    pub values: &'static [&'static str],
    /// What the choice is and which document or client each value comes from.
    pub about: &'static str,
    /// Sets the choice in `variants`; `false` when `value` is none of its values.
    set: fn(&mut Variants, &str) -> bool,
}

/// Every open choice, in the order `--help` lists them.
pub const KNOBS: &[Knob] = &[
    Knob {
        key: "etna.pin-step",
        values: &["secutity", "security"],
        about: "Step of the PIN prompt: `SecutityPin` (sic: the ETNA, AutoShares and OpenAPI copies of \
                \"Requesting Tokens\") or `SecurityPin` (the AutoShares admin guide)",
        set: |v, s| {
            set_from(&mut v.etna_pin_step, s, &[("secutity", PinStep::Secutity), ("security", PinStep::Security)])
        },
    },
    Knob {
        key: "etna.wrong-pin",
        values: &["failed", "ask-again"],
        about: "a wrong PIN: 401 `Failed` or 202 `Expecting` with a new token (\"Requesting Tokens\" shows both)",
        set: |v, s| {
            set_from(&mut v.etna_wrong_pin, s, &[("failed", WrongPin::Failed), ("ask-again", WrongPin::AskAgain)])
        },
    },
    Knob {
        key: "etna.expired-field",
        values: &["state", "step"],
        about: "where `BaseAuthentication` stands when the password expired: `State` (as the \"Two-Factor \
                Authentication\" article writes) or `Step`",
        set: |v, s| {
            set_from(&mut v.etna_expired_field, s, &[("state", ExpiredField::State), ("step", ExpiredField::Step)])
        },
    },
    Knob {
        key: "oms.user-id",
        values: &["string", "number"],
        about: "`UserId` in login and resume replies: a string (documented; notbank refuses a number) or a \
                number (observed)",
        set: |v, s| set_from(&mut v.oms_user_id, s, &[("string", UserIdType::String), ("number", UserIdType::Number)]),
    },
    Knob {
        key: "oms.logout-result",
        values: &["bool", "string"],
        about: "`result` of the LogOut reply: `true` (slate) or `\"true\"` (APEX v4 sample)",
        set: |v, s| {
            set_from(&mut v.oms_logout_result, s, &[("bool", LogoutResult::Bool), ("string", LogoutResult::String)])
        },
    },
    Knob {
        key: "oms.ping",
        values: &["object", "string"],
        about: "the Ping reply: `{\"msg\":\"PONG\"}` (notbank, AlphaPoint's npm client) or the string `\"PONG\"` \
                (StockSharp's NDAX client)",
        set: |v, s| set_from(&mut v.oms_ping, s, &[("object", PingReply::Object), ("string", PingReply::String)]),
    },
    Knob {
        key: "oms.totp-period",
        values: &["30", "<seconds>"],
        about: "the TOTP step of the OMS authenticator users, whole seconds (RFC 6238 and the apps: 30; \
                shorter lets tests log in back to back; the enrolment URI then carries `period=`)",
        set: |v, s| match s.parse::<u64>() {
            Ok(secs) if secs >= 1 => {
                v.oms_totp_period = Duration::from_secs(secs);
                true
            }
            _ => false,
        },
    },
    Knob {
        key: "oms.totp-replay",
        values: &["refuse", "allow"],
        about: "a TOTP code used twice: refused (RFC 6238 §5.2) or accepted, as a lax server might",
        set: |v, s| set_from(&mut v.oms_totp_replay, s, REPLAY),
    },
    Knob {
        key: "oms.nonce-replay",
        values: &["refuse", "allow"],
        about: "an API-key nonce used twice: refused (the strict reading) or accepted (the documents are silent)",
        set: |v, s| set_from(&mut v.oms_nonce_replay, s, REPLAY),
    },
    Knob {
        key: "oms.api-key-calls",
        values: &["any", "login"],
        about: "which HTTP calls take the signed API-key headers: any private call, nonce once (ccxt's `ndax` \
                sends them when it holds no session), or only AuthenticateUser",
        set: |v, s| set_from(&mut v.oms_api_key_calls, s, &[("any", ApiKeyCalls::Any), ("login", ApiKeyCalls::Login)]),
    },
    Knob {
        key: "oo.guest-login",
        values: &["email-code", "direct"],
        about: "the guest login: a 303 and an emailed code, or the guest token at once (NCR's help allows both)",
        set: |v, s| {
            set_from(&mut v.oo_guest_login, s, &[("email-code", GuestLogin::EmailCode), ("direct", GuestLogin::Direct)])
        },
    },
    Knob {
        key: "oo.token-placement",
        values: &["bearer", "header:<name>"],
        about: "where customer calls take the customer token (NCR documents none): `Authorization: Bearer` with \
                the integrator in `x-api-custom-auth`, or header <name> beside the integrator's Basic",
        set: |v, s| {
            if s == "bearer" {
                v.oo_token_placement = TokenPlacement::BearerWithCustomAuth;
                return true;
            }
            match s.strip_prefix("header:") {
                Some(name) if is_header_name(name) => {
                    v.oo_token_placement = TokenPlacement::Header(name.to_owned());
                    true
                }
                _ => false,
            }
        },
    },
];

const REPLAY: &[(&str, Replay)] = &[("refuse", Replay::Refuse), ("allow", Replay::Allow)];

/// Sets `slot` to the choice named `value`; `false` when none is.
fn set_from<T: Copy>(slot: &mut T, value: &str, choices: &[(&str, T)]) -> bool {
    match choices.iter().find(|(name, _)| *name == value) {
        Some((_, choice)) => {
            *slot = *choice;
            true
        }
        None => false,
    }
}

/// An HTTP header name (RFC 9110 token characters).
fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Why a `KEY=VALUE` was refused; the message lists what is valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VariantError {
    /// Not of the form `KEY=VALUE`.
    #[error("`{given}` is not KEY=VALUE; the keys are: {keys}")]
    NotAssignment {
        /// What was given.
        given: String,
        /// Every valid key, comma-separated.
        keys: String,
    },
    /// No such key.
    #[error("unknown variant `{key}`; the keys are: {keys}")]
    UnknownKey {
        /// The key given.
        key: String,
        /// Every valid key, comma-separated.
        keys: String,
    },
    /// The key takes no such value.
    #[error("`{value}` is not a value of `{key}`; it takes: {values}")]
    UnknownValue {
        /// The key.
        key: &'static str,
        /// The value given.
        value: String,
        /// Its valid values, `|`-separated.
        values: String,
    },
}

fn all_keys() -> String {
    KNOBS.iter().map(|k| k.key).collect::<Vec<_>>().join(", ")
}

/// One `KEY=VALUE`, checked against [`KNOBS`]; what `--variant` parses into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    knob: &'static Knob,
    value: String,
}

impl Assignment {
    /// The key.
    pub fn key(&self) -> &'static str {
        self.knob.key
    }

    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl PartialEq for Knob {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Knob {}

impl fmt::Display for Assignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.knob.key, self.value)
    }
}

impl FromStr for Assignment {
    type Err = VariantError;

    fn from_str(given: &str) -> Result<Self, Self::Err> {
        let Some((key, value)) = given.split_once('=') else {
            return Err(VariantError::NotAssignment { given: given.to_owned(), keys: all_keys() });
        };
        let (key, value) = (key.trim(), value.trim());
        let Some(knob) = KNOBS.iter().find(|k| k.key == key) else {
            return Err(VariantError::UnknownKey { key: key.to_owned(), keys: all_keys() });
        };
        if !(knob.set)(&mut Variants::default(), value) {
            return Err(VariantError::UnknownValue {
                key: knob.key,
                value: value.to_owned(),
                values: knob.values.join("|"),
            });
        }
        Ok(Self { knob, value: value.to_owned() })
    }
}

impl Variants {
    /// Sets one knob by name: `"oms.user-id=number"`.
    pub fn set(&mut self, assignment: &str) -> Result<&mut Self, VariantError> {
        let assignment = assignment.parse::<Assignment>()?;
        self.apply(&assignment);
        Ok(self)
    }

    /// Sets one checked knob.
    pub fn apply(&mut self, assignment: &Assignment) -> &mut Self {
        // Checked when parsed, so it takes.
        let _ = (assignment.knob.set)(self, &assignment.value);
        self
    }

    /// The defaults with `assignments` applied in order.
    pub fn from_assignments<'a>(assignments: impl IntoIterator<Item = &'a Assignment>) -> Self {
        let mut variants = Self::default();
        for assignment in assignments {
            variants.apply(assignment);
        }
        variants
    }

    /// The defaults, then each knob set to each of its concrete values in turn (a value standing
    /// for a kind is tried with an example: 2 seconds, header `X-Customer-Token`), each named by
    /// its `KEY=VALUE`: what a suite runs a client against to cover every reading.
    pub fn each() -> Vec<(String, Self)> {
        let mut out = vec![("defaults".to_owned(), Self::default())];
        for knob in KNOBS {
            for value in knob.values {
                let value = match *value {
                    "<seconds>" => "2",
                    "header:<name>" => "header:X-Customer-Token",
                    concrete => concrete,
                };
                let mut variants = Self::default();
                if (knob.set)(&mut variants, value) && variants != Self::default() {
                    out.push((format!("{}={value}", knob.key), variants));
                }
            }
        }
        out
    }
}

/// The variants table as `--help` prints it: one line per knob, its values (default first), then
/// what it is.
pub fn help() -> String {
    let width = KNOBS.iter().map(|k| k.key.len()).max().unwrap_or(0);
    let mut text = String::new();
    for knob in KNOBS {
        text.push_str(&format!("  {:width$}  {}\n", knob.key, knob.values.join(" | ")));
        text.push_str(&format!("  {:width$}    {}\n", "", knob.about.split_whitespace().collect::<Vec<_>>().join(" ")));
    }
    text
}

/// The variants a running sandbox answers with, shared by its backends.
#[derive(Debug, Default)]
pub(crate) struct VariantCell(Mutex<Variants>);

impl VariantCell {
    pub(crate) fn new(variants: Variants) -> Self {
        Self(Mutex::new(variants))
    }

    /// A copy of the variants now.
    pub(crate) fn get(&self) -> Variants {
        lock(&self.0).clone()
    }

    pub(crate) fn update(&self, change: impl FnOnce(&mut Variants)) -> Variants {
        let mut variants = lock(&self.0);
        change(&mut variants);
        variants.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_knob_is_set_by_name() {
        let mut v = Variants::default();
        v.set("oms.user-id=number").unwrap();
        v.set("oo.token-placement=header:X-Token").unwrap();
        v.set("oms.totp-period=2").unwrap();
        assert_eq!(v.oms_user_id, UserIdType::Number);
        assert_eq!(v.oo_token_placement, TokenPlacement::Header("X-Token".into()));
        assert_eq!(v.oms_totp_period, Duration::from_secs(2));
    }

    #[test]
    fn an_unknown_key_lists_every_key() {
        let err = "oms.userid=number".parse::<Assignment>().unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("unknown variant `oms.userid`; the keys are: etna.pin-step, "), "{text}");
        for knob in KNOBS {
            assert!(text.contains(knob.key), "{text}");
        }
    }

    #[test]
    fn an_unknown_value_lists_the_values() {
        let err = "oms.user-id=int".parse::<Assignment>().unwrap_err();
        assert_eq!(err.to_string(), "`int` is not a value of `oms.user-id`; it takes: string|number");
        let err = "oms.totp-period=0".parse::<Assignment>().unwrap_err();
        assert_eq!(err.to_string(), "`0` is not a value of `oms.totp-period`; it takes: 30|<seconds>");
        let err = "oo.token-placement=header:".parse::<Assignment>().unwrap_err();
        assert!(matches!(err, VariantError::UnknownValue { key: "oo.token-placement", .. }));
        let err = "oms.user-id".parse::<Assignment>().unwrap_err();
        assert!(matches!(err, VariantError::NotAssignment { .. }));
    }

    #[test]
    fn each_turns_every_knob_once_away_from_its_default() {
        let each = Variants::each();
        assert_eq!(each[0], ("defaults".to_owned(), Variants::default()));
        // Every knob has exactly one non-default value listed, so one entry each.
        assert_eq!(each.len(), 1 + KNOBS.len());
        for knob in KNOBS {
            assert!(each.iter().any(|(name, _)| name.starts_with(&format!("{}=", knob.key))), "{}", knob.key);
        }
    }

    #[test]
    fn the_first_value_of_each_knob_is_the_default() {
        for knob in KNOBS {
            let mut v = Variants::default();
            assert!((knob.set)(&mut v, knob.values[0]), "{}", knob.key);
            assert_eq!(v, Variants::default(), "{}", knob.key);
        }
    }

    #[test]
    fn help_lists_every_knob_and_value() {
        let text = help();
        for knob in KNOBS {
            assert!(text.contains(knob.key), "{}", knob.key);
            assert!(text.contains(&knob.values.join(" | ")), "{}", knob.key);
        }
    }
}
