//! The APEX message frame: `{"m": type, "i": sequence, "n": function, "o": "<JSON as a string>"}`.
//!
//! `o` is JSON encoded *twice*: the payload is serialized, and that text is the value of `o`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use twofa_core::Error;

/// A request from the client.
pub(crate) const REQUEST: u8 = 0;
/// The reply to a request, with the request's sequence number.
pub(crate) const REPLY: u8 = 1;
/// An error answer to a request.
pub(crate) const ERROR: u8 = 5;

/// A decoded frame; `o` is the payload text, still to be parsed as JSON.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Frame {
    pub m: u8,
    pub i: u64,
    pub n: String,
    pub o: String,
}

#[derive(Serialize)]
struct Out<'a> {
    m: u8,
    i: u64,
    n: &'a str,
    o: String,
}

#[derive(Deserialize)]
struct In {
    m: u8,
    i: u64,
    #[serde(default)]
    n: String,
    #[serde(default)]
    o: Value,
}

/// A request frame for `function` with `payload`.
pub(crate) fn encode(i: u64, function: &str, payload: &Value) -> String {
    let out = Out { m: REQUEST, i, n: function, o: payload.to_string() };
    // Serializing a struct of integers and strings cannot fail.
    serde_json::to_string(&out).unwrap_or_default()
}

/// Parses a frame. `o` is accepted as the documented string, or as an object some gateways send.
pub(crate) fn decode(text: &str) -> Result<Frame, Error> {
    let frame: In = serde_json::from_str(text)
        .map_err(|_| Error::unexpected(None, "a WebSocket message that is not an APEX frame"))?;
    let o = match frame.o {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    };
    Ok(Frame { m: frame.m, i: frame.i, n: frame.n, o })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payload_is_encoded_twice() {
        let text = encode(2, "Authenticate2FA", &json!({ "Code": "123456" }));
        assert_eq!(text, r#"{"m":0,"i":2,"n":"Authenticate2FA","o":"{\"Code\":\"123456\"}"}"#);
        let back = decode(&text).unwrap();
        assert_eq!(back, Frame { m: 0, i: 2, n: "Authenticate2FA".into(), o: r#"{"Code":"123456"}"#.into() });
    }

    #[test]
    fn object_and_missing_payloads_are_tolerated() {
        assert_eq!(decode(r#"{"m":1,"i":4,"n":"LogOut","o":{"result":true}}"#).unwrap().o, r#"{"result":true}"#);
        assert_eq!(decode(r#"{"m":3,"i":9}"#).unwrap().o, "");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,256}") {
            let _ = decode(&text);
        }

        #[test]
        fn arbitrary_frames_never_panic(value in twofa_core::test_util::arbitrary_json(&["m", "i", "n", "o"])) {
            let _ = decode(&value.to_string());
        }

        #[test]
        fn encoding_round_trips(i in proptest::prelude::any::<u64>(), name in "[A-Za-z0-9]{1,20}", payload in twofa_core::test_util::arbitrary_json(&["Code"])) {
            let frame = decode(&encode(i, &name, &payload)).unwrap();
            proptest::prop_assert_eq!(frame.i, i);
            proptest::prop_assert_eq!(frame.n, name);
            proptest::prop_assert_eq!(frame.o, payload.to_string(), "the payload text travels verbatim");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in ["", "null", "[]", r#"{"m":"x","i":1}"#, r#"{"m":1,"i":-1}"#, "\u{0}"] {
            assert!(matches!(decode(bad), Err(Error::UnexpectedResponse { .. })), "{bad:?}");
        }
    }
}
