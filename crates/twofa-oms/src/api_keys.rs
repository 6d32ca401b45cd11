//! "2FA once, then an API key": a user logged in with a second factor mints an API key for a bot,
//! lists the keys and removes one, over the session's transport (docs/protocols/oms.md#api-keys):
//! `AddUserAPIKey {UserId, Permissions}`, `GetUserAPIKeys {UserId}` and
//! `RemoveUserAPIKey {UserId, APIKey}`. The API secret is shown once, in the `AddUserAPIKey`
//! reply; it comes back as an [`ApiSecret`], which never prints.

use std::{fmt, str::FromStr};

use serde_json::{Value, json};
use twofa_core::{ApiKey, ApiSecret, Error, Session};

use crate::{
    OmsFlow,
    wire::{Call, KeyReply, Reply},
};

/// A permission of an API key, as `AddUserAPIKey` takes it and `GetUserAPIKeys` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Permission {
    /// `Trading`: orders and the account's data.
    Trading,
    /// `Deposit`: deposit tickets.
    Deposit,
    /// `Withdraw`: withdrawal tickets.
    Withdraw,
    /// `AccountReadOnly`: the account's data, nothing more.
    AccountReadOnly,
    /// A name a gateway listed that the documents do not (kept as sent, never asked for).
    Other(String),
}

impl Permission {
    /// The documented permissions, as the APEX v4 / VulcanX "GetUserAPIKeys" sample lists them.
    pub const DOCUMENTED: [Permission; 4] =
        [Permission::Trading, Permission::Withdraw, Permission::Deposit, Permission::AccountReadOnly];

    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Trading => "Trading",
            Self::Deposit => "Deposit",
            Self::Withdraw => "Withdraw",
            Self::AccountReadOnly => "AccountReadOnly",
            Self::Other(name) => name,
        }
    }

    /// A name from a reply: a documented one whatever its case, else [`Permission::Other`].
    fn from_wire(name: &str) -> Self {
        name.parse().unwrap_or_else(|_| Self::Other(twofa_core::untrusted::display(name)))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = Error;

    /// A documented permission, in any case (`trading`, `Trading`); anything else is
    /// [`Error::InvalidInput`] naming the documented ones.
    fn from_str(name: &str) -> Result<Self, Error> {
        Self::DOCUMENTED.into_iter().find(|p| p.as_str().eq_ignore_ascii_case(name.trim())).ok_or_else(|| {
            let known: Vec<&str> = Self::DOCUMENTED.iter().map(Permission::as_str).collect();
            Error::InvalidInput(format!(
                "`{}` is not an API-key permission; the documented ones are {}",
                twofa_core::untrusted::display(name),
                known.join(", ")
            ))
        })
    }
}

/// A key `AddUserAPIKey` just made: the only time its secret is sent (`Debug` redacts both).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewApiKey {
    /// The user the key belongs to (the reply's `UserId`, else the session's): its login's `UserId`.
    pub user_id: u64,
    /// The API key.
    pub key: ApiKey,
    /// The API secret that signs its logins.
    pub secret: ApiSecret,
    /// What the key may do.
    pub permissions: Vec<Permission>,
}

/// One of the user's keys as `GetUserAPIKeys` lists them (the secret is never listed).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiKeyEntry {
    /// The API key.
    pub key: ApiKey,
    /// What the key may do.
    pub permissions: Vec<Permission>,
}

/// The API keys of the user a session belongs to; made by [`OmsFlow::api_keys`].
#[derive(Debug)]
pub struct ApiKeys<'a> {
    flow: &'a OmsFlow,
    session: &'a Session,
    user_id: u64,
}

impl OmsFlow {
    /// The API keys of `session`'s user, managed over this flow's transport with that session
    /// (a 2FA login, typically).
    ///
    /// # Errors
    ///
    /// [`Error::ForeignSession`] for a session of another endpoint or account,
    /// [`Error::InvalidInput`] for a session without a numeric `UserId`.
    pub fn api_keys<'a>(&'a self, session: &'a Session) -> Result<ApiKeys<'a>, Error> {
        self.check_session(session)?;
        let user_id =
            session.subject().get("UserId").and_then(|id| id.trim().parse::<u64>().ok()).ok_or_else(|| {
                Error::InvalidInput("the OMS session names no numeric UserId to manage keys of".into())
            })?;
        Ok(ApiKeys { flow: self, session, user_id })
    }
}

impl ApiKeys<'_> {
    /// The user whose keys these are.
    pub fn user_id(&self) -> u64 {
        self.user_id
    }

    /// `AddUserAPIKey {UserId, Permissions}`: a new key with `permissions` (at least one).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for no permission; [`Error::Provider`] for the gateway's refusal
    /// (e.g. "Invalid Request", code 100); [`Error::SessionExpired`] for "Not Authorized";
    /// [`Error::MalformedCredential`] for a key or secret that is not visible ASCII.
    pub async fn create(&self, permissions: &[Permission]) -> Result<NewApiKey, Error> {
        if permissions.is_empty() {
            return Err(Error::InvalidInput("an API key needs at least one permission".into()));
        }
        let names: Vec<&str> = permissions.iter().map(Permission::as_str).collect();
        let payload = json!({ "UserId": self.user_id, "Permissions": names });
        let reply = self.flow.session_call(self.session, "AddUserAPIKey", &payload).await?;
        let Some(made) = KeyReply::parse(&reply)? else { return Err(refusal(&reply)) };
        let secret = made
            .apisecret
            .filter(|s| !s.expose_secret().is_empty())
            .ok_or_else(|| Error::unexpected(None, "an AddUserAPIKey reply without the APISecret of the new key"))?;
        let permissions = match made.permissions {
            Some(names) => names.iter().map(|n| Permission::from_wire(n)).collect(),
            None => permissions.to_vec(),
        };
        Ok(NewApiKey {
            user_id: made.user_id.unwrap_or(self.user_id),
            key: ApiKey::new(made.apikey.expose_secret()),
            secret: ApiSecret::new(secret.expose_secret()),
            permissions,
        })
    }

    /// `GetUserAPIKeys {UserId}`: the user's active keys.
    ///
    /// # Errors
    ///
    /// As [`ApiKeys::create`]; an answer that is neither a list nor an error is
    /// [`Error::UnexpectedResponse`].
    pub async fn list(&self) -> Result<Vec<ApiKeyEntry>, Error> {
        let reply = self.flow.session_call(self.session, "GetUserAPIKeys", &json!({ "UserId": self.user_id })).await?;
        let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&reply) else { return Err(refusal(&reply)) };
        items
            .iter()
            .map(|item| {
                let entry = KeyReply::parse(item.to_string().as_bytes())?
                    .ok_or_else(|| Error::unexpected(None, "a GetUserAPIKeys entry without an APIKey"))?;
                let permissions = entry.permissions.unwrap_or_default();
                Ok(ApiKeyEntry {
                    key: ApiKey::new(entry.apikey.expose_secret()),
                    permissions: permissions.iter().map(|n| Permission::from_wire(n)).collect(),
                })
            })
            .collect()
    }

    /// `RemoveUserAPIKey {UserId, APIKey}`: the key stops logging in.
    ///
    /// # Errors
    ///
    /// As [`ApiKeys::create`]; an unknown key is the gateway's refusal ([`Error::Provider`],
    /// "Resource Not Found", code 104, in the sandbox).
    pub async fn remove(&self, key: &ApiKey) -> Result<(), Error> {
        let payload = json!({ "UserId": self.user_id, "APIKey": key.expose_secret() });
        let reply = self.flow.session_call(self.session, "RemoveUserAPIKey", &payload).await?;
        Reply::parse(&reply)?.generic(Call::Other)
    }
}

/// The error a reply without the expected shape carries: a generic failure mapped as every other
/// call's, else an unexpected response.
fn refusal(reply: &[u8]) -> Error {
    match Reply::parse(reply).map(|r| r.generic(Call::Other)) {
        Ok(Err(e)) | Err(e) => e,
        Ok(Ok(())) => Error::unexpected(None, "an API-key reply with neither a key nor an error"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn documented_permissions_parse_in_any_case_and_others_are_refused_by_name() {
        assert_eq!("trading".parse::<Permission>().unwrap(), Permission::Trading);
        assert_eq!(" AccountReadOnly ".parse::<Permission>().unwrap(), Permission::AccountReadOnly);
        let Err(Error::InvalidInput(message)) = "Operator".parse::<Permission>() else { panic!() };
        assert!(message.contains("`Operator`") && message.contains("Trading, Withdraw, Deposit, AccountReadOnly"));
        assert_eq!(Permission::from_wire("Operator"), Permission::Other("Operator".into()));
        assert_eq!(Permission::from_wire("WITHDRAW"), Permission::Withdraw);
    }

    #[test]
    fn refusals_map_as_generic_answers() {
        let invalid = br#"{"result":false,"errormsg":"Invalid Request","errorcode":100,"detail":null}"#;
        assert!(matches!(refusal(invalid), Error::Provider { code: 100, .. }));
        let not_authorized = br#"{"result":false,"errormsg":"Not Authorized","errorcode":20,"detail":null}"#;
        assert!(matches!(refusal(not_authorized), Error::SessionExpired));
        assert!(matches!(refusal(b"[1,2]"), Error::UnexpectedResponse { .. }));
        assert!(matches!(refusal(br#"{"result":true}"#), Error::UnexpectedResponse { .. }));
    }

    #[test]
    fn a_new_key_prints_neither_key_nor_secret() {
        let made = NewApiKey {
            user_id: 6,
            key: ApiKey::new("622c53ce8cf61ca825ec20a51300778e"),
            secret: ApiSecret::new("abcdef6b533fc9b2fcfe4dba789045d0123121"),
            permissions: vec![Permission::Trading],
        };
        let shown = format!("{made:?}");
        assert!(!shown.contains("622c53ce") && !shown.contains("abcdef6b"), "{shown}");
    }
}
