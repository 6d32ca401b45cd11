//! Tolerant JSON reading for vendor APIs that vary key case and value types.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Parses `bytes` as JSON with every object key lower-cased first, so that one struct whose
/// fields are named in lower case reads `Authenticated`, `authenticated` and `AUTHENTICATED` alike.
pub fn from_slice_ci<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    let value: Value = serde_json::from_slice(bytes)?;
    serde_json::from_value(lowercase_keys(value))
}

fn lowercase_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), lowercase_keys(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(lowercase_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Reply {
        authenticated: bool,
        twofatoken: Option<String>,
    }

    #[test]
    fn keys_match_whatever_their_case() {
        for raw in [r#"{"Authenticated":true,"TwoFAToken":"x"}"#, r#"{"authenticated":true,"twoFaToken":"x"}"#] {
            let r: Reply = from_slice_ci(raw.as_bytes()).unwrap();
            assert!(r.authenticated);
            assert_eq!(r.twofatoken.as_deref(), Some("x"));
        }
        assert!(from_slice_ci::<Reply>(b"not json").is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = from_slice_ci::<Reply>(&bytes);
            let _ = from_slice_ci::<Value>(&bytes);
        }
    }
}
