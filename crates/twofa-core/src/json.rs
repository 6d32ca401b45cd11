//! Tolerant JSON reading for vendor APIs that vary key case and value types.

use serde::de::{DeserializeOwned, value::MapDeserializer};
use serde_json::Value;

/// Parses `bytes` as JSON with every object key lower-cased first, so that one struct whose
/// fields are named in lower case reads `Authenticated`, `authenticated` and `AUTHENTICATED` alike.
pub fn from_slice_ci<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    match serde_json::from_slice(bytes)? {
        // Keys are lower-cased where they lie and fed to `T` as they come, without building a
        // second map: this runs on every answer of a login.
        Value::Object(map) => T::deserialize(MapDeserializer::new(map.into_iter().map(|(mut key, value)| {
            key.make_ascii_lowercase();
            (key, lowercase_keys(value))
        }))),
        other => serde_json::from_value(other),
    }
}

/// Why `bytes` did not parse, without serde's message: a type error quotes the value it met,
/// and in a session file or a store entry that value can be a token.
pub fn describe_error(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "an I/O error",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "JSON of the wrong shape",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    format!("{kind} at line {} column {}", e.line(), e.column())
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

    #[test]
    fn errors_are_described_without_the_value_met() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)] // only parsed
        struct Stored {
            version: u32,
        }
        let e = serde_json::from_slice::<Stored>(br#"{"version":"tok-S3CRET"}"#).unwrap_err();
        assert!(e.to_string().contains("tok-S3CRET"), "serde quotes the value: {e}");
        assert_eq!(describe_error(&e), "JSON of the wrong shape at line 1 column 23");
        let e = serde_json::from_slice::<Stored>(b"{\"version\":").unwrap_err();
        assert_eq!(describe_error(&e), "truncated JSON at line 1 column 11");
    }

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

    #[test]
    fn nested_keys_are_lowered_too_and_a_key_given_twice_in_two_cases_is_refused() {
        let v: Value = from_slice_ci(br#"{"Errors":[{"Code":1}],"Inner":{"A":{"B":2}}}"#).unwrap();
        assert_eq!(v, serde_json::json!({"errors": [{"code": 1}], "inner": {"a": {"b": 2}}}));
        // Which of the two would be meant is a guess: the answer is not read at all.
        let twice = br#"{"Authenticated":true,"authenticated":false}"#;
        assert!(from_slice_ci::<Reply>(twice).is_err_and(|e| e.to_string().contains("duplicate field")));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = from_slice_ci::<Reply>(&bytes);
            let _ = from_slice_ci::<Value>(&bytes);
        }
    }
}
