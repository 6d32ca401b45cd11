//! APEX answers, read tolerantly: keys in any case, booleans as `true` or `"true"`, ids as numbers
//! or strings, fields absent or `null`.

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use twofa_core::{AuthenticatorSetup, Error, Method, Secret, json::from_slice_ci, provider::clip, untrusted};

/// `AuthenticateUser`, `WebAuthenticateUser` and `Authenticate2FA` replies, and the generic
/// `{result, errormsg, errorcode, detail}` response. Field names are lower case because keys are
/// lower-cased before parsing.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Reply {
    #[serde(deserialize_with = "flag")]
    pub authenticated: Option<bool>,
    #[serde(deserialize_with = "flag")]
    pub requires2fa: Option<bool>,
    #[serde(deserialize_with = "flag")]
    pub locked: Option<bool>,
    pub twofatype: Option<String>,
    pub authtype: Option<String>,
    pub twofatoken: Option<Secret>,
    pub pending2fatoken: Option<Secret>,
    pub sessiontoken: Option<Secret>,
    #[serde(deserialize_with = "id")]
    pub userid: Option<String>,
    pub user: Option<User>,
    pub errormsg: Option<String>,
    #[serde(deserialize_with = "flag")]
    pub result: Option<bool>,
    #[serde(deserialize_with = "code")]
    pub errorcode: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct User {
    #[serde(deserialize_with = "id")]
    pub userid: Option<String>,
    #[serde(deserialize_with = "id")]
    pub omsid: Option<String>,
}

/// An API key as `AddUserAPIKey` answers it and `GetUserAPIKeys` lists it: `{APIKey, APISecret,
/// UserId, Permissions, Nonce}` (keys lower-cased before parsing).
#[derive(Deserialize, Default)]
#[serde(default)]
struct KeyWire {
    apikey: Option<Secret>,
    apisecret: Option<Secret>,
    #[serde(deserialize_with = "id")]
    userid: Option<String>,
    permissions: Option<Vec<Value>>,
}

/// An API key of a reply, its key and secret checked as every credential a server issues.
pub(crate) struct KeyReply {
    pub apikey: Secret,
    /// Empty or absent except in the `AddUserAPIKey` reply.
    pub apisecret: Option<Secret>,
    /// The user who owns the key, when the reply names one as a number.
    pub user_id: Option<u64>,
    /// The permission names (entries that are not strings are skipped).
    pub permissions: Option<Vec<String>>,
}

impl KeyReply {
    /// The key of `payload`; `None` when it is no object with a non-empty `APIKey` (an error reply).
    pub(crate) fn parse(payload: &[u8]) -> Result<Option<Self>, Error> {
        if !matches!(serde_json::from_slice::<Value>(payload), Ok(Value::Object(_))) {
            return Ok(None);
        }
        let wire: KeyWire =
            from_slice_ci(payload).map_err(|_| Error::unexpected(None, "an API-key reply of the wrong shape"))?;
        let Some(apikey) = untrusted::optional_credential("APIKey", wire.apikey)? else { return Ok(None) };
        if apikey.expose_secret().is_empty() {
            return Ok(None);
        }
        let permissions =
            wire.permissions.map(|names| names.into_iter().filter_map(|n| n.as_str().map(str::to_owned)).collect());
        let user_id = wire.userid.and_then(|id| id.trim().parse().ok());
        let apisecret = untrusted::optional_credential("APISecret", wire.apisecret)?;
        Ok(Some(Self { apikey, apisecret, user_id, permissions }))
    }
}

/// `true`, `"true"`, `1` (any case); `null` is absent.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) => Some(s.trim().eq_ignore_ascii_case("true") || s.trim() == "1"),
        Value::Number(n) => Some(n.as_i64().is_some_and(|n| n != 0)),
        _ => None,
    })
}

/// An id as a number or a string.
fn id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) if !s.is_empty() => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// An error code as a number or a numeric string.
fn code<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Which call an answer belongs to: the same answer means different things on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// A username/password login.
    Login,
    /// An API-key login: the same answers, but a refusal is about the key.
    KeyLogin,
    Verify,
    Resume,
    Other,
}

/// What a login or verification produced.
pub(crate) enum Outcome {
    Session { token: Secret, user_id: Option<String>, oms_id: Option<String> },
    Challenge { method: Method, pending: Option<Secret> },
}

impl Reply {
    pub(crate) fn parse(payload: &[u8]) -> Result<Self, Error> {
        if payload.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let mut reply: Self =
            from_slice_ci(payload).map_err(|_| Error::unexpected(None, "an APEX reply that is not a JSON object"))?;
        // Each goes back out (a header, a frame) or onto a terminal: checked before anything reads them.
        reply.sessiontoken = untrusted::optional_credential("SessionToken", reply.sessiontoken)?;
        reply.pending2fatoken = untrusted::optional_credential("Pending2FaToken", reply.pending2fatoken)?;
        reply.twofatoken = untrusted::optional_credential("TwoFAToken", reply.twofatoken)?;
        Ok(reply)
    }

    /// The one mapping from a reply to an outcome or an error.
    pub(crate) fn outcome(self, call: Call) -> Result<Outcome, Error> {
        // `Authenticated` may already be true while the second factor is pending: check 2FA first.
        if self.requires2fa == Some(true) && matches!(call, Call::Login | Call::KeyLogin) {
            let kind = self.twofatype.as_deref().or(self.authtype.as_deref()).unwrap_or_default();
            let setup = self.twofatoken.filter(|t| !t.expose_secret().is_empty());
            let method = match kind.to_ascii_lowercase().as_str() {
                "" | "google" | "authenticator" | "totp" => Method::Authenticator { setup: setup.map(setup_of) },
                "sms" => Method::Sms,
                "email" => Method::Email,
                _ => Method::Other { name: kind.to_owned() },
            };
            return Ok(Outcome::Challenge { method, pending: self.pending2fatoken });
        }
        if self.authenticated == Some(true)
            && let Some(token) = self.sessiontoken.clone().filter(|t| !t.expose_secret().is_empty())
        {
            let user = self.user.unwrap_or_default();
            return Ok(Outcome::Session { token, user_id: self.userid.or(user.userid), oms_id: user.omsid });
        }
        Err(self.error(call))
    }

    /// A generic `{result, errormsg, errorcode}` answer: `Ok` on success (or code 107, "Operation In Process").
    pub(crate) fn generic(self, call: Call) -> Result<(), Error> {
        if self.result != Some(false) || self.errorcode == Some(107) { Ok(()) } else { Err(self.error(call)) }
    }

    pub(crate) fn error(self, call: Call) -> Error {
        let message = self.errormsg.clone().unwrap_or_default();
        let lower = message.to_ascii_lowercase();
        if self.locked == Some(true) || lower.contains("locked") {
            return Error::AccountLocked;
        }
        if lower.contains("invalid username or password") {
            return if call == Call::KeyLogin { Error::InvalidApiKey } else { Error::InvalidCredentials };
        }
        if lower.contains("invalid session token") {
            return Error::SessionExpired;
        }
        match (self.errorcode, call) {
            // "Not Authorized": the pending 2FA state or the session is gone.
            (Some(20), Call::Verify) => Error::ChallengeExpired,
            (Some(20), Call::Resume | Call::Other) => Error::SessionExpired,
            (Some(code), _) if self.result == Some(false) => Error::Provider { code, message: clip(&message) },
            _ => match (call, self.authenticated) {
                (Call::Verify, Some(false)) => Error::InvalidCode,
                (Call::Login, Some(false)) => Error::InvalidCredentials,
                (Call::KeyLogin, Some(false)) => Error::InvalidApiKey,
                (Call::Resume, Some(false)) => Error::SessionExpired,
                _ => Error::unexpected(None, "an APEX reply with neither a session nor an error"),
            },
        }
    }
}

fn setup_of(token: Secret) -> AuthenticatorSetup {
    let uri = token.expose_secret().starts_with("otpauth://").then(|| Secret::new(token.expose_secret()));
    AuthenticatorSetup::new(None, uri, Some(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(json: &str, call: Call) -> Result<Outcome, Error> {
        Reply::parse(json.as_bytes()).and_then(|r| r.outcome(call))
    }

    #[test]
    fn requires_2fa_wins_even_when_authenticated_is_true() {
        let r = outcome(
            r#"{ "Authenticated": true, "Requires2FA": true, "AuthType": "Google", "AddtlInfo": "" }"#,
            Call::Login,
        );
        assert!(matches!(r, Ok(Outcome::Challenge { method: Method::Authenticator { setup: None }, pending: None })));
    }

    #[test]
    fn keys_in_any_case_and_booleans_as_strings() {
        let r = outcome(
            r#"{"authenticated":"true","requires2FA":"TRUE","twoFAType":"Google","twoFaToken":"otpauth://totp/x?secret=AB","Pending2FaToken":"p"}"#,
            Call::Login,
        );
        let Ok(Outcome::Challenge { method: Method::Authenticator { setup: Some(setup) }, pending: Some(p) }) = r
        else {
            panic!()
        };
        assert_eq!(setup.otpauth_uri.unwrap().expose_secret(), "otpauth://totp/x?secret=AB");
        assert_eq!(p.expose_secret(), "p");
        assert!(matches!(
            outcome(r#"{"Requires2FA":true,"TwoFAType":"SMS"}"#, Call::Login),
            Ok(Outcome::Challenge { method: Method::Sms, .. })
        ));
        assert!(matches!(
            outcome(r#"{"Requires2FA":true,"AuthType":"Yubikey"}"#, Call::Login),
            Ok(Outcome::Challenge { method: Method::Other { .. }, .. })
        ));
    }

    #[test]
    fn sessions_with_ids_as_numbers_or_strings() {
        let v4 = r#"{ "Authenticated": true, "SessionToken": "a923322a-5140-4d20-b2a6-e07422bb0e6e",
            "User": { "UserId": 1, "UserName": "sample", "Email": "x", "EmailVerified": true, "AccountId": 1, "OMSId": 1, "Use2FA": false },
            "Locked": false, "Requires2FA": false, "EnforceEnable2FA": false, "TwoFAType": null, "TwoFAToken": null, "errormsg": null }"#;
        let Ok(Outcome::Session { token, user_id, oms_id }) = outcome(v4, Call::Login) else { panic!() };
        assert_eq!(token.expose_secret(), "a923322a-5140-4d20-b2a6-e07422bb0e6e");
        assert_eq!((user_id.as_deref(), oms_id.as_deref()), (Some("1"), Some("1")));
        let verify = r#"{"Authenticated":true,"UserId":"2","SessionToken":"db1f4eeb"}"#;
        assert!(matches!(outcome(verify, Call::Verify), Ok(Outcome::Session { user_id: Some(id), .. }) if id == "2"));
    }

    #[test]
    fn errors_map_to_their_variants() {
        let e = |json: &str, call| outcome(json, call).err().unwrap();
        assert!(matches!(
            e(r#"{"authenticated": false, "locked": false, "errormsg": "Invalid username or password"}"#, Call::Login),
            Error::InvalidCredentials
        ));
        assert!(matches!(e(r#"{"Authenticated":false,"Locked":true}"#, Call::Login), Error::AccountLocked));
        assert!(matches!(
            e(r#"{"Authenticated":false,"errormsg":"User is locked. Please contact administrator"}"#, Call::Login),
            Error::AccountLocked
        ));
        assert!(matches!(e(r#"{"Authenticated":false}"#, Call::Verify), Error::InvalidCode));
        assert!(matches!(e(r#"{"Authenticated":false}"#, Call::KeyLogin), Error::InvalidApiKey));
        assert!(matches!(
            e(
                r#"{"authenticated": false, "locked": false, "errormsg": "Invalid username or password"}"#,
                Call::KeyLogin
            ),
            Error::InvalidApiKey
        ));
        assert!(matches!(e(r#"{"Authenticated":false,"Locked":true}"#, Call::KeyLogin), Error::AccountLocked));
        assert!(matches!(
            e(r#"{"Authenticated":false,"errormsg":"Invalid session token"}"#, Call::Resume),
            Error::SessionExpired
        ));
        let not_authorized = r#"{"result":false,"errormsg":"Not Authorized","errorcode":20,"detail":null}"#;
        assert!(matches!(e(not_authorized, Call::Resume), Error::SessionExpired));
        assert!(matches!(e(not_authorized, Call::Verify), Error::ChallengeExpired));
        assert!(matches!(
            e(r#"{"result":false,"errormsg":"Server Error","errorcode":"102"}"#, Call::Login),
            Error::Provider { code: 102, .. }
        ));
        assert!(matches!(e("{}", Call::Login), Error::UnexpectedResponse { .. }));
        assert!(matches!(Reply::parse(b"not json"), Err(Error::UnexpectedResponse { .. })));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in twofa_core::test_util::arbitrary_bytes()) {
            for call in [Call::Login, Call::KeyLogin, Call::Verify, Call::Resume, Call::Other] {
                if let Ok(reply) = Reply::parse(&bytes) {
                    let _ = reply.outcome(call);
                }
                if let Ok(reply) = Reply::parse(&bytes) {
                    let _ = reply.generic(call);
                }
            }
        }

        #[test]
        fn arbitrary_json_never_panics(value in twofa_core::test_util::arbitrary_json(&[
            "Authenticated", "Requires2FA", "Locked", "TwoFAType", "AuthType", "TwoFAToken", "Pending2FaToken",
            "SessionToken", "UserId", "User", "errormsg", "result", "errorcode", "OMSId",
        ])) {
            for call in [Call::Login, Call::KeyLogin, Call::Verify, Call::Resume, Call::Other] {
                if let Ok(reply) = Reply::parse(value.to_string().as_bytes()) {
                    let _ = reply.outcome(call);
                }
            }
        }
    }

    #[test]
    fn generic_responses_and_operation_in_process() {
        let ok = |json: &str| Reply::parse(json.as_bytes()).unwrap().generic(Call::Other);
        assert!(ok(r#"{"result":true,"errormsg":null,"errorcode":0,"detail":null}"#).is_ok());
        assert!(ok(r#"{"result":"true","errormsg":null,"errorcode":0,"detail":null}"#).is_ok());
        assert!(ok(r#"{"result":false,"errormsg":"Operation In Process","errorcode":107}"#).is_ok());
        assert!(matches!(
            ok(r#"{"result":false,"errormsg":"Operation Failed","errorcode":101}"#),
            Err(Error::Provider { code: 101, .. })
        ));
        assert!(ok("").is_ok(), "an empty payload is no error");
    }
}
