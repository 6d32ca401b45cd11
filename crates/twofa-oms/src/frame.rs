//! The APEX message frame: `{"m": type, "i": sequence, "n": function, "o": "<JSON as a string>"}`.
//!
//! `o` is JSON encoded *twice*: the payload is serialized, and that text is the value of `o`.
//!
//! Public so that a relay (`twofa-proxy`) reads and writes the frames the flow does.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use twofa_core::Error;

/// A request from the client.
pub const REQUEST: u8 = 0;
/// The reply to a request, with the request's sequence number.
pub const REPLY: u8 = 1;
/// An error answer to a request.
pub const ERROR: u8 = 5;

/// A decoded frame; `o` is the payload text, still to be parsed as JSON.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Frame {
    /// The message type: [`REQUEST`], [`REPLY`], [`ERROR`], or 2–4 for events.
    pub m: u8,
    /// The sequence number; a reply carries its request's.
    pub i: u64,
    /// The function name.
    pub n: String,
    /// The payload as JSON text.
    pub o: String,
}

impl Frame {
    /// A frame of type `m` numbered `i` for `function`, with `payload` as its JSON text.
    pub fn new(m: u8, i: u64, function: impl Into<String>, payload: impl Into<String>) -> Self {
        Self { m, i, n: function.into(), o: payload.into() }
    }

    /// The frame as a WebSocket text message, `o` as a string (encoded twice), as the gateway
    /// documents it: what is sent is exactly what was decoded.
    pub fn to_text(&self) -> String {
        let out = Out { m: self.m, i: self.i, n: &self.n, o: self.o.clone() };
        // Serializing a struct of integers and strings cannot fail.
        serde_json::to_string(&out).unwrap_or_default()
    }
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
pub fn encode(i: u64, function: &str, payload: &Value) -> String {
    Frame::new(REQUEST, i, function, payload.to_string()).to_text()
}

/// Parses a frame. `o` is accepted as the documented string, or as an object some gateways send.
///
/// # Errors
///
/// [`Error::UnexpectedResponse`] for text that is not a frame (a duplicate key included).
pub fn decode(text: &str) -> Result<Frame, Error> {
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

    #[test]
    fn to_text_writes_back_what_was_decoded_with_o_as_a_string() {
        let frame = decode(r#"{"i":7,"n":"GetUserInfo","m":0,"o":{"OMSId":1}}"#).unwrap();
        assert_eq!(frame.to_text(), r#"{"m":0,"i":7,"n":"GetUserInfo","o":"{\"OMSId\":1}"}"#);
        assert!(decode(r#"{"m":0,"i":2,"n":"Ping","n":"LogOut","o":"{}"}"#).is_err(), "duplicate keys are refused");
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
