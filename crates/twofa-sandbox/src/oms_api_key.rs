//! The OMS's API keys (docs/protocols/oms.md#api-keys): the API-key login — `AuthenticateUser`
//! with `APIKey`, `Signature`, `UserId` and `Nonce`, WebSocket payload keys or HTTP headers, where
//! the signature is HMAC-SHA256 over `Nonce + UserId + APIKey` keyed with the API secret — and the
//! calls a logged-in user manages keys with: `AddUserAPIKey {UserId, Permissions}`,
//! `GetUserAPIKeys {UserId}` and `RemoveUserAPIKey {UserId, APIKey}`, answered in the shapes of the
//! APEX v4 / VulcanX API reference. A created key logs in at once; a removed one is refused.
//! "Authentication using an API key bypasses 2FA": the seeded key [`API_KEY`] belongs to the 2FA
//! user [`API_USER_ID`], and its login answers `Requires2FA: false` with `User.Use2FA: true`, in
//! the v4 sample's shape.
//!
//! Where the documents are silent, the sandbox picks the stricter reading and says so:
//! - the signature is hex, compared in constant time whatever its case (Notbank sends lower case,
//!   the older AlphaPoint ajax documents upper case);
//! - a nonce is accepted once per user (a replay is refused like a wrong signature); the knob
//!   [`Sandbox::set_oms_accept_nonce_replay`](crate::Sandbox::set_oms_accept_nonce_replay) turns
//!   that off, for the lax reading;
//! - a refusal is the documented `AuthenticateUser` failure, byte for byte ([`REFUSED`]): no
//!   document shows an API-key-specific one;
//! - a session manages its own user's keys only (another `UserId` is "Not Authorized"), with the
//!   documented [`PERMISSIONS`] only ("Invalid Request" otherwise, as for no permission at all);
//!   removing a key the user does not have is "Resource Not Found" (code 104).

use std::{
    collections::{BTreeMap, HashSet},
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::http::HeaderMap;
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{header, lock, random_token};

/// The user id the sandbox's API key belongs to: [`crate::oms::USER_TOTP`], who has 2FA.
pub const API_USER_ID: u64 = 2;
/// The sandbox's API key (of [`API_USER_ID`]).
pub const API_KEY: &str = "sandbox-api-key-2";
/// The secret of [`API_KEY`].
pub const API_SECRET: &str = "sandbox-api-secret-2";

/// The permissions an API key may be given, as the APEX v4 / VulcanX "GetUserAPIKeys" sample lists them.
pub const PERMISSIONS: [&str; 4] = ["Trading", "Withdraw", "Deposit", "AccountReadOnly"];
/// The permissions of the seeded key [`API_KEY`].
const SEEDED_PERMISSIONS: [&str; 2] = ["Trading", "AccountReadOnly"];

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

/// A key the sandbox knows: whose it is, its secret and its permissions.
#[derive(Debug)]
struct Issued {
    user_id: u64,
    secret: String,
    permissions: Vec<String>,
}

/// The API keys' state: the keys by value (the seeded one first), and the nonces already used.
#[derive(Debug)]
pub(crate) struct ApiKeys {
    keys: Mutex<BTreeMap<String, Issued>>,
    used_nonces: Mutex<HashSet<(u64, String)>>,
    accept_replay: AtomicBool,
}

impl Default for ApiKeys {
    fn default() -> Self {
        let seeded = Issued {
            user_id: API_USER_ID,
            secret: API_SECRET.into(),
            permissions: SEEDED_PERMISSIONS.map(String::from).to_vec(),
        };
        Self {
            keys: Mutex::new(BTreeMap::from([(API_KEY.to_owned(), seeded)])),
            used_nonces: Mutex::default(),
            accept_replay: AtomicBool::new(false),
        }
    }
}

/// A generic response (docs/protocols/oms.md#generic-response).
fn generic(result: bool, errormsg: Option<&str>, errorcode: u32) -> Value {
    json!({ "result": result, "errormsg": errormsg, "errorcode": errorcode, "detail": null })
}

impl ApiKeys {
    pub(crate) fn set_accept_replay(&self, on: bool) {
        self.accept_replay.store(on, Ordering::Relaxed);
    }

    /// The user id of a valid login; `None` when it is refused (answered with [`REFUSED`]).
    pub(crate) fn check(&self, signed: &Signed) -> Option<u64> {
        let user_id = signed.user_id.trim().parse::<u64>().ok()?;
        if signed.nonce.is_empty() {
            return None;
        }
        let secret = {
            let keys = lock(&self.keys);
            let issued = keys.get(&signed.api_key).filter(|k| k.user_id == user_id)?;
            issued.secret.clone()
        };
        let sent = hex(&signed.signature)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
        mac.update(format!("{}{}{}", signed.nonce, signed.user_id, signed.api_key).as_bytes());
        mac.verify_slice(&sent).ok()?;
        let fresh = lock(&self.used_nonces).insert((user_id, signed.nonce.clone()));
        if !fresh && !self.accept_replay.load(Ordering::Relaxed) {
            tracing::debug!(user_id, "sandbox refused a replayed API-key nonce");
            return None;
        }
        Some(user_id)
    }

    /// `AddUserAPIKey`, `GetUserAPIKeys` or `RemoveUserAPIKey` (canonical `function`) from a session
    /// of `session_user`: the documented reply.
    pub(crate) fn manage(&self, function: &str, session_user: u64, payload: &Value) -> Value {
        let field = |key: &str| payload.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v);
        let user_id = match field("UserId") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let Some(user_id) = user_id else { return generic(false, Some("Invalid Request"), 100) };
        if user_id != session_user {
            return generic(false, Some("Not Authorized"), 20);
        }
        match function {
            "AddUserAPIKey" => {
                let names: Option<Vec<String>> = field("Permissions")
                    .and_then(Value::as_array)
                    .map(|names| names.iter().filter_map(Value::as_str).map(str::to_owned).collect());
                let valid = names
                    .as_ref()
                    .is_some_and(|n| !n.is_empty() && n.iter().all(|p| PERMISSIONS.contains(&p.as_str())));
                let Some(permissions) = names.filter(|_| valid) else {
                    return generic(false, Some("Invalid Request"), 100);
                };
                let (key, secret) = (random_token(), random_token());
                let reply = json!({
                    "APIKey": key, "APISecret": secret, "UserId": user_id, "Permissions": permissions, "Nonce": 0,
                });
                lock(&self.keys).insert(key, Issued { user_id, secret, permissions });
                reply
            }
            "GetUserAPIKeys" => {
                let keys = lock(&self.keys);
                let listed = keys.iter().filter(|(_, k)| k.user_id == user_id).map(|(key, k)| {
                    json!({ "APIKey": key, "APISecret": "", "UserId": user_id, "Permissions": k.permissions })
                });
                Value::Array(listed.collect())
            }
            "RemoveUserAPIKey" => {
                let key = field("APIKey").and_then(Value::as_str).unwrap_or_default();
                let mut keys = lock(&self.keys);
                if keys.get(key).is_some_and(|k| k.user_id == user_id) {
                    keys.remove(key);
                    generic(true, None, 0)
                } else {
                    generic(false, Some("Resource Not Found"), 104)
                }
            }
            _ => generic(false, Some("Operation Not Supported"), 106),
        }
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

    #[test]
    fn a_created_key_logs_in_is_listed_and_once_removed_is_refused() {
        let keys = ApiKeys::default();
        let made = keys.manage("AddUserAPIKey", 1, &json!({ "UserId": 1, "Permissions": ["Trading", "Deposit"] }));
        let (key, secret) =
            (made["APIKey"].as_str().unwrap().to_owned(), made["APISecret"].as_str().unwrap().to_owned());
        assert_eq!((made["UserId"].as_u64(), made["Nonce"].as_u64()), (Some(1), Some(0)));
        assert_eq!(made["Permissions"], json!(["Trading", "Deposit"]));
        let login = |nonce: &str| {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(format!("{nonce}1{key}").as_bytes());
            let signature = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
            Signed { api_key: key.clone(), signature, user_id: "1".into(), nonce: nonce.into() }
        };
        assert_eq!(keys.check(&login("10")), Some(1));
        let listed = keys.manage("GetUserAPIKeys", 1, &json!({ "UserId": "1" }));
        assert_eq!(
            listed,
            json!([{ "APIKey": key, "APISecret": "", "UserId": 1, "Permissions": ["Trading", "Deposit"] }])
        );
        assert_eq!(keys.manage("RemoveUserAPIKey", 1, &json!({ "UserId": 1, "APIKey": key })), generic(true, None, 0));
        assert_eq!(keys.check(&login("11")), None, "a removed key is refused");
        assert_eq!(keys.manage("RemoveUserAPIKey", 1, &json!({ "UserId": 1, "APIKey": key }))["errorcode"], 104);
        assert_eq!(keys.manage("GetUserAPIKeys", 1, &json!({ "UserId": 1 })), json!([]));
    }

    #[test]
    fn keys_are_managed_by_their_own_user_with_documented_permissions_only() {
        let keys = ApiKeys::default();
        assert_eq!(keys.manage("GetUserAPIKeys", 1, &json!({ "UserId": 2 }))["errorcode"], 20, "another user");
        assert_eq!(keys.manage("RemoveUserAPIKey", 1, &json!({ "UserId": 1, "APIKey": API_KEY }))["errorcode"], 104);
        for permissions in [json!([]), json!(["Operator"]), json!("Trading"), Value::Null] {
            let reply = keys.manage("AddUserAPIKey", 1, &json!({ "UserId": 1, "Permissions": permissions }));
            assert_eq!(reply["errorcode"], 100, "{permissions}");
        }
        assert_eq!(keys.manage("AddUserAPIKey", 1, &json!({ "Permissions": ["Trading"] }))["errorcode"], 100);
        assert_eq!(keys.manage("GetUserAPIKeys", 2, &json!({ "UserId": 2 }))[0]["APIKey"], API_KEY, "the seeded key");
    }
}
