//! The answers of `v1/Authenticate/2FA*`, in JSON or WCF XML, and the base64 `id_token`.

use std::{borrow::Cow, fmt, ops::Deref};

use serde::{
    Deserialize, Deserializer, Serialize,
    de::{MapAccess, Visitor},
};
use serde_json::Value;
use twofa_core::{Error, untrusted};

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
pub(crate) struct TokenResult<'a> {
    #[serde(borrow)]
    pub auth_code: Option<Text<'a>>,
    #[serde(borrow)]
    pub access_token: Option<Text<'a>>,
    #[serde(borrow)]
    pub refresh_token: Option<Text<'a>>,
    pub expires_in_seconds: Option<f64>,
    #[serde(borrow)]
    pub id_token: Option<Text<'a>>,
}

impl<'a> TokenResult<'a> {
    /// Parses JSON, or XML when the server says so.
    pub(crate) fn parse(body: &'a [u8], content_type: Option<&str>) -> Option<Self> {
        // UTF-8 checked once for the whole body, not string by string as `from_slice` does.
        let body = std::str::from_utf8(body).ok()?;
        if content_type.is_some_and(|t| t.contains("xml")) {
            quick_xml::de::from_str(body).ok()
        } else {
            serde_json::from_str(body).ok()
        }
    }

    /// The same result once every credential in it passed [`untrusted::check_credential`].
    pub(crate) fn checked(self) -> Result<Self, Error> {
        let credentials = [
            ("access_token", &self.access_token),
            ("refresh_token", &self.refresh_token),
            ("auth_code", &self.auth_code),
        ];
        for (field, value) in credentials {
            if let Some(value) = value {
                untrusted::check_credential(field, value)?;
            }
        }
        Ok(self)
    }
}

/// A JSON or XML string, borrowed from the answer unless it holds escapes: each login reads two
/// answers and two `id_token`s, and copies only what the session keeps.
pub(crate) struct Text<'a>(Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// `id_token` is base64 JSON: standard or URL-safe alphabet, padded or not. Returns the JSON,
/// for [`Claims::parse`].
///
/// Decoded with SIMD (`base64-simd`, as the AWS SDK does): every login decodes two tokens, and
/// the `base64` crate's table decoder was a third of what a twofa login cost beyond a
/// hand-written one (`docs/benchmarks.md`).
pub(crate) fn decode_id_token(token: &str) -> Option<Vec<u8>> {
    let token = token.trim();
    let unpadded = token.trim_end_matches('=');
    // As the `base64` crate's indifferent padding mode: none, or no more than the last group lacks.
    if token.len() - unpadded.len() > (4 - unpadded.len() % 4) % 4 {
        return None;
    }
    let decode = |engine: &base64_simd::Base64| engine.decode_to_vec(unpadded).ok();
    decode(&base64_simd::STANDARD_NO_PAD).or_else(|| decode(&base64_simd::URL_SAFE_NO_PAD))
}

/// The claims of an `id_token` (a JSON object), in the order sent, strings borrowed from the
/// decoded JSON.
pub(crate) struct Claims<'a>(Vec<(Text<'a>, Claim<'a>)>);

/// The value of a claim.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Claim<'a> {
    /// A string, as most claims are.
    Text(#[serde(borrow)] Text<'a>),
    /// Any other JSON value.
    Json(Value),
}

impl<'a> Claims<'a> {
    /// The claims in `json`, unless it is not a JSON object.
    pub(crate) fn parse(json: &'a [u8]) -> Option<Self> {
        serde_json::from_str(std::str::from_utf8(json).ok()?).ok()
    }

    /// The claim `key` as text (see [`Claim::text`]), whatever the key's case; of a key sent twice,
    /// the last, as a JSON object keeps it.
    pub(crate) fn text(&self, key: &str) -> Option<Cow<'_, str>> {
        self.0.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(key)).and_then(|(_, v)| v.text())
    }

    /// [`text`](Self::text) of a credential, once every claim of that name — in any case, however
    /// often sent — passed [`untrusted::check_credential`]: a hostile twin is refused, not skipped
    /// because another spelling is the one read.
    pub(crate) fn credential(&self, key: &'static str) -> Result<Option<Cow<'_, str>>, Error> {
        let mut last = None;
        for (_, value) in self.0.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key)) {
            let text = value.text();
            if let Some(text) = &text {
                untrusted::check_credential(key, text)?;
            }
            last = text;
        }
        Ok(last)
    }
}

impl<'a> IntoIterator for Claims<'a> {
    type Item = (Text<'a>, Claim<'a>);
    type IntoIter = std::vec::IntoIter<Self::Item>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Claims<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ClaimsVisitor;
        impl<'de> Visitor<'de> for ClaimsVisitor {
            type Value = Claims<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Claims<'de>, A::Error> {
                // NCR sends two claims, five with authenticator setup data.
                let mut claims = Vec::with_capacity(8);
                while let Some(entry) = map.next_entry()? {
                    claims.push(entry);
                }
                Ok(Claims(claims))
            }
        }
        deserializer.deserialize_map(ClaimsVisitor)
    }
}

impl Claim<'_> {
    /// Strings as they are, numbers and booleans printed; `None` for anything else.
    pub(crate) fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Claim::Text(text) => Some(Cow::Borrowed(text)),
            Claim::Json(value) => text(value).map(Cow::Owned),
        }
    }

    /// The claim as a JSON value, for the session's extras.
    pub(crate) fn into_json(self) -> Value {
        match self {
            Claim::Text(text) => Value::String(text.0.into_owned()),
            Claim::Json(value) => value,
        }
    }
}

/// A claim kept in a session as text: strings as they are, numbers and booleans printed.
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
    use base64::Engine as _;

    use super::*;

    /// The claims of `token` as (key, text) pairs, `None` when it is not base64 of a JSON object.
    fn texts(token: &str) -> Option<Vec<(String, Option<String>)>> {
        let json = decode_id_token(token)?;
        let claims = Claims::parse(&json)?;
        Some(claims.into_iter().map(|(k, v)| (k.to_string(), v.text().map(Cow::into_owned))).collect())
    }

    /// The seed's `id_token`, and the same JSON in every base64 flavour.
    #[test]
    fn id_token_decodes_in_every_base64_flavour() {
        let seed = "eyJDdXN0b21lcklkIjoiOGY1OWU4NGQtMzk5Yi00YjYyLWJiMmMtNTUyYWRkMjExMTZjIiwiTG95YWx0eUlkIjoiIn0=";
        let claims = texts(seed).unwrap();
        let expected = [("CustomerId", Some("8f59e84d-399b-4b62-bb2c-552add21116c")), ("LoyaltyId", Some(""))];
        assert_eq!(claims, expected.map(|(k, v)| (k.to_owned(), v.map(str::to_owned))));
        assert_eq!(texts(seed.trim_end_matches('=')), Some(claims));
        // `{"a":"??>"}` has `+`/`/` in standard base64 and `-`/`_` in URL-safe.
        assert_eq!(texts("eyJhIjoiPz8+In0=").unwrap()[0].1.as_deref(), Some("??>"));
        assert_eq!(texts("eyJhIjoiPz8-In0").unwrap()[0].1.as_deref(), Some("??>"));
        assert!(decode_id_token("not base64!").is_none());
        for overpadded in ["eyJhIjoiPz8+In0==", "eyJhIjoiPz8-In0===", "=", "=="] {
            assert!(decode_id_token(overpadded).is_none(), "{overpadded}: more padding than the last group lacks");
        }
        assert!(texts("WzEsMl0=").is_none(), "an array is not claims");
    }

    #[test]
    fn claims_are_read_case_insensitively_and_the_last_of_a_repeated_key_counts() {
        let json = br#"{"authenticationMethod":2,"QRCODEDATA":"a","qrCodeData":"b"}"#;
        let claims = Claims::parse(json).unwrap();
        assert_eq!(claims.text("AuthenticationMethod").as_deref(), Some("2"));
        assert_eq!(claims.text("QrCodeData").as_deref(), Some("b"));
        assert_eq!(claims.text("ManualEntryKey"), None);
    }

    #[test]
    fn claims_of_every_json_type_are_kept_and_only_scalars_read_as_text() {
        let json = br#"{"s":"x\u0041","n":-1.5,"u":7,"t":true,"z":null,"a":[1,{"b":2}],"o":{"k":"v"}}"#;
        let claims: Vec<_> = Claims::parse(json).unwrap().into_iter().collect();
        let texts: Vec<_> = claims.iter().map(|(_, v)| v.text().map(Cow::into_owned)).collect();
        let expected = [Some("xA"), Some("-1.5"), Some("7"), Some("true"), None, None, None];
        assert_eq!(texts, expected.map(|t| t.map(str::to_owned)));
        let values: Vec<_> = claims.into_iter().map(|(k, v)| (k.to_string(), v.into_json())).collect();
        let object: serde_json::Map<_, _> = values.into_iter().collect();
        assert_eq!(Value::Object(object), serde_json::from_slice::<Value>(json).unwrap());
    }

    #[test]
    fn strings_are_borrowed_from_the_answer_unless_escaped() {
        let body = br#"{"access_token":"plain","refresh_token":"esc\u0041ped","id_token":null}"#;
        let result = TokenResult::parse(body, None).unwrap();
        assert!(matches!(result.access_token, Some(Text(Cow::Borrowed("plain")))));
        assert!(matches!(&result.refresh_token, Some(Text(Cow::Owned(s))) if s == "escAped"));
        assert!(result.id_token.is_none() && result.auth_code.is_none());
        let xml = b"<R><access_token>plain</access_token><refresh_token>a&amp;b</refresh_token></R>";
        let result = TokenResult::parse(xml, Some("application/xml")).unwrap();
        assert_eq!(result.access_token.as_deref(), Some("plain"));
        assert_eq!(result.refresh_token.as_deref(), Some("a&b"));
        assert!(TokenResult::parse(br#"{"access_token":5}"#, None).is_none(), "a token is a string");
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

        /// Whatever the `base64` crate decodes (either alphabet, padding optional), this decodes
        /// alike; what it refuses (too much padding, padding inside, mixed alphabets, stray bits),
        /// this refuses too.
        #[test]
        fn id_tokens_decode_as_the_base64_crate_decodes_them(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            noise in "[A-Za-z0-9+/_=-]{0,40}",
            url_safe in proptest::prelude::any::<bool>(),
            padded in proptest::prelude::any::<bool>(),
        ) {
            use base64::{alphabet, engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig}};
            let config = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
            let (standard, url) = (GeneralPurpose::new(&alphabet::STANDARD, config), GeneralPurpose::new(&alphabet::URL_SAFE, config));
            let encoder = match (url_safe, padded) {
                (false, true) => base64::engine::general_purpose::STANDARD,
                (false, false) => base64::engine::general_purpose::STANDARD_NO_PAD,
                (true, true) => base64::engine::general_purpose::URL_SAFE,
                (true, false) => base64::engine::general_purpose::URL_SAFE_NO_PAD,
            };
            let token = encoder.encode(&bytes);
            proptest::prop_assert_eq!(decode_id_token(&token), Some(bytes));
            let reference = standard.decode(&noise).or_else(|_| url.decode(&noise)).ok();
            proptest::prop_assert_eq!(decode_id_token(&noise), reference);
        }

        #[test]
        fn arbitrary_id_tokens_never_panic(token in ".{0,200}", claims in twofa_core::test_util::arbitrary_json(&["CustomerId", "AuthenticationMethod", "ManualEntryKey", "QrCodeData"])) {
            let _ = texts(&token);
            let encoded = base64::engine::general_purpose::STANDARD.encode(claims.to_string());
            let decoded = decode_id_token(&encoded).unwrap();
            if let Some(parsed) = Claims::parse(&decoded) {
                let _ = parsed.text("AuthenticationMethod");
                let kept: serde_json::Map<_, _> = parsed.into_iter().map(|(k, v)| (k.to_string(), v.into_json())).collect();
                // Compared with serde_json's own reading: its float parsing is not exact.
                proptest::prop_assert_eq!(Value::Object(kept), serde_json::from_slice::<Value>(&decoded).unwrap());
            }
        }
    }
}
