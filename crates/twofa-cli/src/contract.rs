//! The token contract every language reads (`docs/cli.md`, `docs/token.schema.json`): the JSON
//! object of `twofa token --format json` and the headers file of `twofa exec`, and the variables of
//! `--format env` and of `exec`'s child. Built here once, printed by `output`, handed to a child by
//! `commands/exec.rs`.
//!
//! Every header comes from [`Session::header_list`], the list [`Session::authorize`] sets: the CLI
//! knows nothing of a provider's headers.

use std::collections::BTreeMap;

use serde_json::json;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use twofa_core::{Secret, Session, untrusted::escape};
use zeroize::Zeroizing;

/// The version of the contract (`"version"`, `TWOFA_FORMAT_VERSION`): bumped only when a field
/// changes meaning or goes.
pub const VERSION: u32 = 1;

/// The variables of one profile, without the `TWOFA_` prefix, in the order `--format env` prints
/// them (documented in `docs/cli.md`).
pub const VARIABLES: [&str; 8] = [
    "PROVIDER",
    "PROFILE",
    "ACCESS_TOKEN",
    "HEADERS",
    "EXPIRES_AT",
    "IDLE_TIMEOUT_SECONDS",
    "SUBJECT",
    "FORMAT_VERSION",
];

/// `t` as RFC 3339.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// The session's subject (ids the server chose), escaped for a terminal.
pub fn escaped_subject(session: &Session) -> BTreeMap<String, String> {
    session.subject().iter().map(|(k, v)| (escape(k), escape(v))).collect()
}

/// The contract's object for `session` of `profile`, from its [`Session::header_list`].
pub fn object(profile: &str, session: &Session, headers: &[(String, Secret)]) -> serde_json::Value {
    let headers: serde_json::Map<String, serde_json::Value> =
        headers.iter().map(|(name, value)| (name.clone(), json!(value.expose_secret()))).collect();
    json!({
        "version": VERSION,
        "provider": session.provider(),
        "profile": profile,
        "access_token": session.access_token().expose_secret(),
        "headers": headers,
        "expires_at": session.expires_at().map(rfc3339),
        "idle_timeout_seconds": session.idle_timeout().map(|d| d.as_secs()),
        "subject": escaped_subject(session),
    })
}

/// The contract as variables, each named `{prefix}{VARIABLE}` (`TWOFA_` for one profile), in the
/// order of [`VARIABLES`]; an absent expiry or idle timeout is an empty value.
pub fn variables(
    prefix: &str,
    profile: &str,
    session: &Session,
    headers: &[(String, Secret)],
) -> Vec<(String, Zeroizing<String>)> {
    let fields = object(profile, session, headers);
    let values = [
        session.provider().to_owned(),
        profile.to_owned(),
        session.access_token().expose_secret().to_owned(),
        fields["headers"].to_string(),
        fields["expires_at"].as_str().unwrap_or_default().to_owned(),
        fields["idle_timeout_seconds"].as_u64().map(|s| s.to_string()).unwrap_or_default(),
        fields["subject"].to_string(),
        VERSION.to_string(),
    ];
    VARIABLES.iter().zip(values).map(|(name, value)| (format!("{prefix}{name}"), Zeroizing::new(value))).collect()
}

/// The variable prefix of `profile` among several (`exec --profile a --profile b`): `TWOFA_`, the
/// name in capitals with every character but a letter or digit as `_`, then `_`
/// (`etna-live` → `TWOFA_ETNA_LIVE_`).
pub fn prefix_of(profile: &str) -> String {
    let name: String =
        profile.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("TWOFA_{name}_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_name_becomes_a_variable_prefix() {
        assert_eq!(prefix_of("etna-live"), "TWOFA_ETNA_LIVE_");
        assert_eq!(prefix_of("oms.2"), "TWOFA_OMS_2_");
        assert_eq!(prefix_of("é"), "TWOFA___");
    }
}
