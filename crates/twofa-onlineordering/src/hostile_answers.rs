//! Answers a hostile server could send, read as sessions and challenges: every credential is
//! checked however it is spelt (JSON escapes, XML entities or CDATA, duplicated or differently
//! cased keys), and what cannot be read is refused as a whole, never partly used.

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Value, json};
use twofa_core::{Challenge, Error, Session, http::Answer};

use crate::OnlineOrderingFlow;

fn flow() -> OnlineOrderingFlow {
    OnlineOrderingFlow::builder()
        .base_url("https://onlineordering.invalid/")
        .company_code("C")
        .integrator("integrator", "api-P")
        .email("e@example.com")
        .password("p")
        .build()
        .unwrap()
}

fn answer(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Answer {
    Answer::new(status, HeaderMap::from_iter([(CONTENT_TYPE, HeaderValue::from_static(content_type))]), body.into())
}

fn session(content_type: &'static str, body: impl Into<Vec<u8>>) -> Result<Session, Error> {
    flow().session(&answer(200, content_type, body), None)
}

fn challenge(content_type: &'static str, body: impl Into<Vec<u8>>) -> Result<Challenge, Error> {
    flow().challenge(&answer(303, content_type, body))
}

fn id_token(claims: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(claims)
}

#[track_caller]
fn assert_refused<T: std::fmt::Debug>(result: Result<T, Error>, field: &str) {
    let err = result.expect_err("a hostile credential was accepted");
    assert!(matches!(&err, Error::MalformedCredential { field: f } if *f == field), "{field}: {err:?}");
}

/// Spellings in the WCF XML of a value no credential may hold.
const XML_HOSTILE: [&str; 6] =
    ["a&#13;&#10;b", "<![CDATA[a\r\nX-Injected: yes]]>", "a&#x1b;]0;owned", "n&#xf6;n-ascii", "a b", "a&#9;b"];

#[test]
fn xml_credentials_spelt_with_entities_or_cdata_are_refused() {
    for bad in XML_HOSTILE {
        for field in ["access_token", "refresh_token"] {
            let other = if field == "access_token" { "refresh_token" } else { "access_token" };
            let xml = format!("<ConfirmCodeResult><{field}>{bad}</{field}><{other}>good</{other}></ConfirmCodeResult>");
            assert_refused(session("application/xml; charset=utf-8", xml), field);
        }
        let claims = id_token(r#"{"AuthenticationMethod":"Email"}"#);
        let xml = format!(
            "<GenerateCodeResult><auth_code>{bad}</auth_code><id_token>{claims}</id_token></GenerateCodeResult>"
        );
        assert_refused(challenge("application/xml", xml), "auth_code");
    }
    // A NUL is no XML character at all: the answer is unreadable, not a credential.
    let nul = session("application/xml", "<ConfirmCodeResult><access_token>a&#0;b</access_token></ConfirmCodeResult>");
    assert!(matches!(nul, Err(Error::UnexpectedResponse { status: Some(200), .. })), "{nul:?}");
    let long =
        format!("<ConfirmCodeResult><access_token>{}</access_token></ConfirmCodeResult>", "t".repeat(16 * 1024 + 1));
    assert_refused(session("application/xml", long), "access_token");
}

#[test]
fn json_escapes_in_credentials_are_refused_or_unreadable() {
    for bad in [r"a\r\nb", r"a\u0000b", r"a\u001b]0;x", r"n\u00f6n", r"\ud83d\ude00", r"a\/b\u0020c", r"\u007f"] {
        let body = format!(r#"{{"access_token":"{bad}","refresh_token":"good"}}"#);
        assert_refused(session("application/json", body), "access_token");
    }
    // A lone surrogate is no string at all: the answer is unreadable, not a credential.
    let lone = session("application/json", r#"{"access_token":"a\ud800b"}"#).unwrap_err();
    assert!(matches!(lone, Error::UnexpectedResponse { status: Some(200), .. }), "{lone:?}");
}

/// A body is UTF-8 or is not read at all: bytes that are not UTF-8 anywhere, even in a field
/// nobody reads, make the whole answer unexpected rather than half-read.
#[test]
fn a_body_with_invalid_utf8_outside_the_credentials_is_refused_whole() {
    let mut body = br#"{"access_token":"good","refresh_token":"good","note":""#.to_vec();
    body.extend_from_slice(b"\xff\xfe\"}");
    let err = session("application/json", body).unwrap_err();
    assert!(matches!(err, Error::UnexpectedResponse { status: Some(200), .. }), "{err:?}");
}

/// The device id goes back to the server on the next login: every claim of that name, in any
/// case, however often sent and however escaped, is checked — not only the one a JSON object
/// would keep.
#[test]
fn every_device_id_claim_is_checked_whatever_its_case_or_place() {
    for claims in [
        r#"{"DeviceId":"bad\r\nX: y","DeviceId":"good"}"#,
        r#"{"DeviceId":"good","deviceid":"bad\r\nX: y"}"#,
        r#"{"DEVICEID":"bad value","DeviceId":"good"}"#,
        r#"{"Device\u0049d":"bad value"}"#,
    ] {
        let body = json!({ "access_token": "a", "refresh_token": "r", "id_token": id_token(claims) });
        assert_refused(session("application/json", body.to_string()), "DeviceId");
    }
    let body = json!({ "access_token": "a", "id_token": id_token(r#"{"DeviceId":"first","DeviceId":"last"}"#) });
    let kept = session("application/json", body.to_string()).unwrap();
    assert_eq!(crate::remembered_device_id(&kept).as_deref(), Some("last"), "the last, as a JSON object keeps it");
}

/// Setup data holds the TOTP seed and is shown on a terminal: a hostile value under any spelling
/// of its name is refused, whichever spelling is read.
#[test]
fn every_authenticator_setup_claim_is_checked_whatever_its_case_or_place() {
    for key in ["ManualEntryKey", "QrCodeData"] {
        let lower = key.to_ascii_lowercase();
        for claims in [
            format!(r#"{{"AuthenticationMethod":"Authenticator","{key}":"bad\r\nX: y","{lower}":"GOOD"}}"#),
            format!(r#"{{"AuthenticationMethod":"Authenticator","{lower}":"GOOD","{key}":"bad\r\nX: y"}}"#),
            format!(r#"{{"AuthenticationMethod":"Authenticator","{key}":"bad value","{key}":"GOOD"}}"#),
        ] {
            let body = json!({ "auth_code": "c", "id_token": id_token(&claims) });
            assert_refused(challenge("application/json", body.to_string()), key);
        }
    }
}

/// Claims nested past serde_json's recursion limit are not claims: no stack overflow, and a
/// challenge without readable claims is refused.
#[test]
fn deeply_nested_claims_are_refused_without_overflowing_the_stack() {
    let deep = format!(r#"{{"AuthenticationMethod":"Email","x":{}1{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    let body = json!({ "auth_code": "c", "id_token": id_token(&deep) });
    let err = challenge("application/json", body.to_string()).unwrap_err();
    assert!(matches!(err, Error::UnexpectedResponse { status: Some(303), .. }), "{err:?}");
    let body = json!({ "access_token": "a", "id_token": id_token(&deep) });
    let kept = session("application/json", body.to_string()).unwrap();
    assert!(kept.subject().is_empty() && kept.extras().is_empty());
}

/// The largest answer (1 MiB) holding an `id_token` of tiny claims, all but one the same, is read
/// (with the last of each claim kept) in bounded time and memory.
#[test]
fn an_id_token_of_a_hundred_thousand_tiny_claims_is_read() {
    let mut claims = String::from(r#"{"CustomerId":"c-1""#);
    while claims.len() < 700 * 1024 {
        claims.push_str(r#","a":1"#);
    }
    claims.push_str(r#","DeviceId":"d-1"}"#);
    let body = json!({ "access_token": "a", "id_token": id_token(&claims) }).to_string();
    assert!(body.len() <= twofa_core::http::MAX_BODY_BYTES);
    let kept = session("application/json", body).unwrap();
    assert_eq!(kept.extras().len(), 2, "{:?}", kept.extras().keys().collect::<Vec<_>>());
    assert_eq!(kept.extras()["a"], Value::from(1));
    assert_eq!(crate::remembered_device_id(&kept).as_deref(), Some("d-1"));
}

/// Authenticator setup data holds the TOTP seed. A server that puts it in the `id_token` of a
/// token answer (it belongs to the 303 only) must not get it stored with the session's extras,
/// which are not secret: shown by `twofa status`, written to session files in the clear.
#[test]
fn setup_data_in_a_token_answer_is_not_kept_with_the_session() {
    const SEED: &str = "JBSWY3DPEHPK3PXPSEED";
    for key in ["ManualEntryKey", "manualentrykey", "QrCodeData", "QRCODEDATA"] {
        let claims = id_token(&format!(r#"{{"CustomerId":"c1","{key}":"otpauth://totp/x?secret={SEED}","Other":1}}"#));
        let body = json!({ "access_token": "tok", "id_token": claims }).to_string();
        let session = session("application/json", body).unwrap();
        assert_eq!(session.subject().get("CustomerId").map(String::as_str), Some("c1"));
        assert_eq!(session.extras().get("Other"), Some(&json!(1)), "other claims are kept");
        let kept = serde_json::to_string(&session.expose_secrets()).unwrap();
        assert!(!kept.contains(SEED) && !format!("{session:?}").contains(SEED), "{key}: {kept}");
    }
}
