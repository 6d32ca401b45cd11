//! The JSON of `POST /token`, exactly as ETNA sends it (keys read case-insensitively).

use serde::Deserialize;
use twofa_core::Secret;

/// Every shape `/token` answers with: `{State, Step, Reason, Token, ConfirmationToken}`, `{"error"}` or `{"Message"}`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct TokenReply {
    pub state: Option<String>,
    pub step: Option<String>,
    pub reason: Option<String>,
    pub token: Option<Secret>,
    #[serde(rename = "confirmationtoken")]
    pub confirmation_token: Option<Secret>,
    pub error: Option<String>,
    pub message: Option<String>,
}

/// The answer of `PUT v1.0/users/passwords/reset/` (`{"Errors":[],"IsSucceed":true}`) and of
/// `GET v1.0/users/pincode/change` (the same plus `ErrorsCode` and `StatusCode`).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct AccountReply {
    pub errors: Vec<serde_json::Value>,
    #[serde(rename = "issucceed")]
    pub is_succeed: Option<bool>,
}
