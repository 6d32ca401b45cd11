//! The answers of `v1/Authenticate/2FA*`, in JSON or WCF XML, and the base64 `id_token`.

use base64::{
    Engine as _, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use twofa_core::{Error, Secret, untrusted};

/// The body of `POST v1/Authenticate/2FA` and `POST v1/Authenticate/Guest`, members in
/// alphabetical order as the DataContract serializer writes them.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LoginBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<&'a str>,
    pub email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<&'a str>,
}

/// The body of `POST v1/Authenticate/2FA/Refresh`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RefreshBody<'a> {
    pub refresh_token: &'a str,
}

/// `GenerateCodeResult`, `ConfirmCodeResult` and `RefreshAccessTokenResult` share these fields.
/// Json.NET's `$id` and anything else unknown is ignored.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct TokenResult {
    pub auth_code: Option<String>,
    pub access_token: Option<Secret>,
    pub refresh_token: Option<Secret>,
    pub expires_in_seconds: Option<f64>,
    pub id_token: Option<String>,
}

impl TokenResult {
    /// Parses JSON, or XML when the server says so.
    pub(crate) fn parse(body: &[u8], content_type: Option<&str>) -> Option<Self> {
        if content_type.is_some_and(|t| t.contains("xml")) {
            quick_xml::de::from_str(std::str::from_utf8(body).ok()?).ok()
        } else {
            serde_json::from_slice(body).ok()
        }
    }

    /// The same result once every credential in it passed [`untrusted::credential`].
    pub(crate) fn checked(mut self) -> Result<Self, Error> {
        self.access_token = untrusted::optional_credential("access_token", self.access_token)?;
        self.refresh_token = untrusted::optional_credential("refresh_token", self.refresh_token)?;
        let auth_code = self.auth_code.take().map(Secret::new);
        self.auth_code = untrusted::optional_credential("auth_code", auth_code)?.map(|c| c.expose_secret().to_owned());
        Ok(self)
    }
}

/// `id_token` is base64 JSON: standard or URL-safe alphabet, padded or not.
pub(crate) fn decode_id_token(token: &str) -> Option<Map<String, Value>> {
    const CONFIG: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    // Built at compile time: an engine made at run time computes its decode table on every call.
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);
    let token = token.trim();
    let bytes = STANDARD.decode(token).or_else(|_| URL_SAFE.decode(token)).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A key of the `id_token`, whatever its case.
pub(crate) fn field<'a>(claims: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    claims.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

/// A claim as text: strings as they are, numbers and booleans printed.
pub(crate) fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's `id_token`, and the same JSON in every base64 flavour.
    #[test]
    fn id_token_decodes_in_every_base64_flavour() {
        let seed = "eyJDdXN0b21lcklkIjoiOGY1OWU4NGQtMzk5Yi00YjYyLWJiMmMtNTUyYWRkMjExMTZjIiwiTG95YWx0eUlkIjoiIn0=";
        let claims = decode_id_token(seed).unwrap();
        assert_eq!(claims["CustomerId"], "8f59e84d-399b-4b62-bb2c-552add21116c");
        assert_eq!(claims["LoyaltyId"], "");
        let unpadded = seed.trim_end_matches('=');
        assert_eq!(decode_id_token(unpadded), Some(claims.clone()));
        // `{"a":"??>"}` has `+`/`/` in standard base64 and `-`/`_` in URL-safe.
        assert_eq!(decode_id_token("eyJhIjoiPz8+In0=").unwrap()["a"], "??>");
        assert_eq!(decode_id_token("eyJhIjoiPz8-In0").unwrap()["a"], "??>");
        assert!(decode_id_token("not base64!").is_none());
        assert!(decode_id_token("WzEsMl0=").is_none(), "an array is not claims");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(
            body in twofa_core::test_util::arbitrary_bytes(),
            xml in proptest::prelude::any::<bool>(),
        ) {
            let _ = TokenResult::parse(&body, Some(if xml { "application/xml" } else { "application/json" }));
        }

        #[test]
        fn arbitrary_json_never_panics(value in twofa_core::test_util::arbitrary_json(&["access_token", "refresh_token", "expires_in_seconds", "id_token", "auth_code", "$id"])) {
            let _ = TokenResult::parse(value.to_string().as_bytes(), None);
        }

        #[test]
        fn arbitrary_id_tokens_never_panic(token in ".{0,200}", claims in twofa_core::test_util::arbitrary_json(&["CustomerId", "AuthenticationMethod", "ManualEntryKey", "QrCodeData"])) {
            let _ = decode_id_token(&token);
            let encoded = base64::engine::general_purpose::STANDARD.encode(claims.to_string());
            if let Some(map) = decode_id_token(&encoded) {
                let _ = field(&map, "AuthenticationMethod").and_then(text);
            }
        }
    }

    #[test]
    fn claims_are_read_case_insensitively() {
        let claims = decode_id_token("eyJhdXRoZW50aWNhdGlvbk1ldGhvZCI6Mn0=").unwrap();
        assert_eq!(field(&claims, "AuthenticationMethod").and_then(text).as_deref(), Some("2"));
    }
}
