//! The OMS's API-key login (the twofa provider reference, §2.3): `AuthenticateUser` with `APIKey`,
//! `Signature`, `UserId` and `Nonce` — WebSocket payload keys or HTTP headers — where the signature
//! is HMAC-SHA256 over `Nonce + UserId + APIKey` keyed with the API secret. "Authentication using
//! an API key bypasses 2FA": the key of [`API_USER_ID`] belongs to the 2FA user, and its login
//! answers `Requires2FA: false` with `User.Use2FA: true`, in the v4 sample's shape.
//!
//! Where the documents are silent, the sandbox picks the stricter reading and says so:
//! - the signature is hex, compared in constant time whatever its case (Notbank sends lower case,
//!   the older AlphaPoint ajax documents upper case);
//! - a nonce is accepted once per user (a replay is refused like a wrong signature); the knob
//!   [`Sandbox::set_oms_accept_nonce_replay`](crate::Sandbox::set_oms_accept_nonce_replay) turns
//!   that off, for the lax reading;
//! - a refusal is the documented `AuthenticateUser` failure, byte for byte ([`REFUSED`]): no
//!   document shows an API-key-specific one.

use std::{
    collections::HashSet,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::http::HeaderMap;
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{header, lock};

/// The user id the sandbox's API key belongs to: [`crate::oms::USER_TOTP`], who has 2FA.
pub const API_USER_ID: u64 = 2;
/// The sandbox's API key (of [`API_USER_ID`]).
pub const API_KEY: &str = "sandbox-api-key-2";
/// The secret of [`API_KEY`].
pub const API_SECRET: &str = "sandbox-api-secret-2";

/// The documented `AuthenticateUser` failure (slate sample), byte for byte.
pub const REFUSED: &str = r#"{"authenticated": false, "locked": false, "errormsg": "Invalid username or password"}"#;

/// The four values of an API-key login, as sent.
#[derive(Debug)]
pub(crate) struct Signed {
    api_key: String,
    signature: String,
    user_id: String,
    nonce: String,
}

impl Signed {
    /// From a WebSocket payload; `None` when it has no `APIKey` (then it is a password login).
    pub(crate) fn from_payload(payload: &Value) -> Option<Self> {
        let get = |key: &str| {
            let map = payload.as_object()?;
            let (_, value) = map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))?;
            // The documented sample sends `UserId` and `Nonce` as strings; numbers are read too.
            match value {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        Some(Self {
            api_key: get("APIKey")?,
            signature: get("Signature").unwrap_or_default(),
            user_id: get("UserId").unwrap_or_default(),
            nonce: get("Nonce").unwrap_or_default(),
        })
    }

    /// From HTTP headers; `None` when there is no `APIKey` header.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let get = |name: &str| header(headers, name).unwrap_or_default().to_owned();
        header(headers, "apikey")?;
        Some(Self { api_key: get("apikey"), signature: get("signature"), user_id: get("userid"), nonce: get("nonce") })
    }
}

/// The API keys' state: the nonces already used.
#[derive(Debug, Default)]
pub(crate) struct ApiKeys {
    used_nonces: Mutex<HashSet<(u64, String)>>,
    accept_replay: AtomicBool,
}

impl ApiKeys {
    pub(crate) fn set_accept_replay(&self, on: bool) {
        self.accept_replay.store(on, Ordering::Relaxed);
    }

    /// The user id of a valid login; `None` when it is refused (answered with [`REFUSED`]).
    pub(crate) fn check(&self, signed: &Signed) -> Option<u64> {
        let user_id = signed.user_id.trim().parse::<u64>().ok()?;
        if user_id != API_USER_ID || signed.api_key != API_KEY || signed.nonce.is_empty() {
            return None;
        }
        let sent = hex(&signed.signature)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(API_SECRET.as_bytes()).ok()?;
        mac.update(format!("{}{}{}", signed.nonce, signed.user_id, signed.api_key).as_bytes());
        mac.verify_slice(&sent).ok()?;
        let fresh = lock(&self.used_nonces).insert((user_id, signed.nonce.clone()));
        if !fresh && !self.accept_replay.load(Ordering::Relaxed) {
            tracing::debug!(user_id, "sandbox refused a replayed API-key nonce");
            return None;
        }
        Some(user_id)
    }
}

/// The v4 no-2FA `AuthenticateUser` reply for an API-key login, `user` being the v4 `User` object
/// (whose `Use2FA` may be `true`: the key bypasses it).
pub(crate) fn accepted(token: &str, user: Value) -> Value {
    json!({
        "Authenticated": true, "SessionToken": token, "User": user, "Locked": false, "Requires2FA": false,
        "EnforceEnable2FA": false, "TwoFAType": null, "TwoFAToken": null, "errormsg": null,
    })
}

/// Hex digits (either case) to bytes; `None` for anything else.
fn hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(signature: &str, nonce: &str) -> Signed {
        Signed { api_key: API_KEY.into(), signature: signature.into(), user_id: "2".into(), nonce: nonce.into() }
    }

    fn sign(nonce: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(API_SECRET.as_bytes()) else { return String::new() };
        mac.update(format!("{nonce}2{API_KEY}").as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn a_good_signature_once_then_a_replay_is_refused() {
        let keys = ApiKeys::default();
        assert_eq!(keys.check(&signed(&sign("1"), "1")), Some(2));
        assert_eq!(keys.check(&signed(&sign("1"), "1")), None, "replayed nonce");
        assert_eq!(keys.check(&signed(&sign("2").to_uppercase(), "2")), Some(2), "upper-case hex");
        assert_eq!(keys.check(&signed(&sign("3"), "4")), None, "signature of another nonce");
        assert_eq!(keys.check(&signed("zz", "5")), None);
        assert_eq!(keys.check(&signed("", "6")), None);
        keys.set_accept_replay(true);
        assert_eq!(keys.check(&signed(&sign("1"), "1")), Some(2));
    }
}
