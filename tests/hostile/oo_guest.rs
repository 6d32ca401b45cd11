//! Online Ordering guest login (docs/protocols/onlineordering.md#guest) against bad answers: each one a
//! typed error, never a panic, never a session.

use mockito::{Matcher, Server};

use super::*;

/// What an error must be.
type Check = Box<dyn Fn(&Error) -> bool>;

async fn guest_start(status: usize, content_type: &str, body: &[u8]) -> Error {
    let mut server = Server::new_async().await;
    let mock = server
        .mock("POST", "/v1/Authenticate/Guest")
        .match_query(Matcher::Any)
        .with_status(status)
        .with_header("content-type", content_type)
        .with_body(body)
        .create_async()
        .await;
    let flow = OnlineOrderingFlow::builder()
        .base_url(server.url())
        .company_code("ABCD001")
        .integrator("integrator", "api-P")
        .guest("guest@example.com")
        .build()
        .unwrap();
    let result = flow.start().await;
    mock.assert_async().await;
    match result {
        Err(e) => e,
        Ok(step) => panic!("{status} {:?}: {step:?}", String::from_utf8_lossy(body)),
    }
}

fn b64(json: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(json)
}

#[tokio::test]
async fn oo_3_8_guest_bad_answers_are_typed_errors() {
    let json = "application/json";
    let unexpected =
        |status: u16| move |e: &Error| matches!(e, Error::UnexpectedResponse { status: Some(s), .. } if *s == status);
    let no_method = format!(r#"{{"auth_code":null,"id_token":"{}"}}"#, b64(r#"{"AuthenticationMethod":"None"}"#));
    let array_claims = format!(r#"{{"id_token":"{}"}}"#, b64("[1,2]"));
    let control = r#"{"access_token":"SeCrEt\u0000en","expires_in_seconds":1800}"#;
    let negative = r#"{"access_token":"SeCrEt","expires_in_seconds":-1}"#;
    let cases: Vec<(usize, &str, Vec<u8>, Check)> = vec![
        (
            401,
            json,
            br#"{"Message":"Authorization has been denied for this request."}"#.to_vec(),
            Box::new(|e| matches!(e, Error::InvalidAppKey)),
        ),
        (
            400,
            json,
            br#"{"Message":"The request is invalid."}"#.to_vec(),
            Box::new(|e| matches!(e, Error::InvalidInput(_))),
        ),
        (403, json, b"".to_vec(), Box::new(|e| matches!(e, Error::AccountLocked))),
        (404, json, b"".to_vec(), Box::new(|e| matches!(e, Error::InvalidCredentials))),
        (429, json, b"".to_vec(), Box::new(|e| matches!(e, Error::RateLimited { .. }))),
        (500, json, b"<html>oops</html>".to_vec(), Box::new(unexpected(500))),
        (200, json, b"{\"access_token\":".to_vec(), Box::new(unexpected(200))),
        (200, json, b"\xff\xfe not utf-8".to_vec(), Box::new(unexpected(200))),
        (200, json, br#"{"access_token":""}"#.to_vec(), Box::new(unexpected(200))),
        (200, json, br#"[]"#.to_vec(), Box::new(unexpected(200))),
        (200, json, negative.as_bytes().to_vec(), Box::new(unexpected(200))),
        (200, json, control.as_bytes().to_vec(), Box::new(|e| matches!(e, Error::MalformedCredential { .. }))),
        (200, "application/xml", b"<GenerateCodeResult><access_token>".to_vec(), Box::new(unexpected(200))),
        (303, json, br#"{"auth_code":null}"#.to_vec(), Box::new(unexpected(303))),
        (303, json, br#"{"id_token":"not base64!"}"#.to_vec(), Box::new(unexpected(303))),
        (303, json, array_claims.into_bytes(), Box::new(unexpected(303))),
        (303, json, no_method.into_bytes(), Box::new(unexpected(303))),
        (303, "text/html", b"<html>see other</html>".to_vec(), Box::new(unexpected(303))),
    ];
    for (status, content_type, body, check) in cases {
        let err = guest_start(status, content_type, &body).await;
        assert!(check(&err), "{status} {:?}: {err:?}", String::from_utf8_lossy(&body));
        assert!(!format!("{err} {err:?}").contains("SeCrEt"), "no token text in {err:?}");
    }
}
