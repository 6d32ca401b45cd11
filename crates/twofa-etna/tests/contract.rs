//! Contract tests: every ETNA sample from the vendor pages, replayed byte for byte by mockito,
//! with the exact request headers asserted.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use mockito::{Matcher, Server, ServerGuard};
use twofa_core::{Challenge, Error, Method, OneTimeCode, Password, Pin, PinSetup, Secret, Step, TwoFactorFlow};
use twofa_etna::EtnaFlow;

const APP_KEY: &str = "app-key-K";
const USER: &str = "trader1";
const PASSWORD: &str = "pa$$word-P";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn flow(server: &ServerGuard) -> EtnaFlow {
    EtnaFlow::builder()
        .base_url(format!("{}/api", server.url()))
        .app_key(APP_KEY)
        .username(USER)
        .password(PASSWORD)
        .build()
        .unwrap()
}

/// A mock of the first `/token` request: the three identifying headers, nothing else.
async fn first_step(server: &mut ServerGuard, status: usize, body: &str) -> mockito::Mock {
    server
        .mock("POST", "/api/token")
        .match_header("accept", "application/json")
        .match_header("content-length", "0")
        .match_header("et-app-key", APP_KEY)
        .match_header("username", USER)
        .match_header("password", PASSWORD)
        .match_header("authorization", Matcher::Missing)
        .match_header("verificationcode", Matcher::Missing)
        .match_header("pincode", Matcher::Missing)
        .match_body("")
        .with_status(status)
        .with_header("content-type", "application/json; charset=utf-8")
        .with_body(body)
        .create_async()
        .await
}

async fn start_error(status: usize, fixture_name: &str) -> Error {
    let mut server = Server::new_async().await;
    let mock = first_step(&mut server, status, &fixture(fixture_name)).await;
    let err = flow(&server).start().await.unwrap_err();
    mock.assert_async().await;
    err
}

async fn challenge(server: &mut ServerGuard) -> Challenge {
    let mock = first_step(server, 202, &fixture("expecting_code.json")).await;
    let Step::Challenge(c) = flow(server).start().await.unwrap() else { panic!("expected a challenge") };
    mock.assert_async().await;
    c
}

/// The second `/token` request: the same three headers plus the interim token and the code.
async fn second_step(server: &mut ServerGuard, status: usize, body: &str) -> mockito::Mock {
    server
        .mock("POST", "/api/token")
        .match_header("et-app-key", APP_KEY)
        .match_header("username", USER)
        .match_header("password", PASSWORD)
        .match_header("authorization", "Bearer someToken+zrIbQGZl8sBT1LWQEY38SQ==")
        .match_header("verificationcode", "123456")
        .match_header("pincode", Matcher::Missing)
        .match_header("content-length", "0")
        .with_status(status)
        .with_body(body)
        .create_async()
        .await
}

async fn verify_error(status: usize, fixture_name: &str) -> Error {
    let mut server = Server::new_async().await;
    let c = challenge(&mut server).await;
    let mock = second_step(&mut server, status, &fixture(fixture_name)).await;
    let err = flow(&server).verify(&c, &OneTimeCode::new("123456").unwrap()).await.unwrap_err();
    mock.assert_async().await;
    err
}

#[tokio::test]
async fn single_factor_login_is_a_session() {
    let mut server = Server::new_async().await;
    let mock = first_step(&mut server, 200, &fixture("succeeded.json")).await;
    let Step::Authenticated(session) = flow(&server).start().await.unwrap() else { panic!("expected a session") };
    mock.assert_async().await;
    assert_eq!(session.access_token().expose_secret(), "VGhpcyBpcyBleGFtcGxlIHRva2Vu...");
    assert_eq!(session.header_value().expose_secret(), "Bearer VGhpcyBpcyBleGFtcGxlIHRva2Vu...");
    let headers = session.headers().unwrap();
    assert_eq!(headers["et-app-key"], APP_KEY, "later calls need the app key too");
    let lifetime = session.expires_at().unwrap() - session.issued_at();
    assert_eq!(lifetime.whole_hours(), 24);
}

#[tokio::test]
async fn two_factor_login_sends_interim_token_and_code_only_in_the_second_request() {
    let mut server = Server::new_async().await;
    let c = challenge(&mut server).await;
    assert!(matches!(c.method(), Method::EmailOrSms));
    assert_eq!(c.hint(), Some("Expecting confirmation code"));
    assert_eq!(c.portable_state("etna").unwrap().expose_secret(), "someToken+zrIbQGZl8sBT1LWQEY38SQ==");
    let mock = second_step(&mut server, 200, &fixture("verified.json")).await;
    let session = flow(&server).verify(&c, &OneTimeCode::new("123456").unwrap()).await.unwrap().session().unwrap();
    mock.assert_async().await;
    assert_eq!(session.access_token().expose_secret(), "someToken");
}

#[tokio::test]
async fn a_challenge_survives_serialization_between_processes() {
    let mut server = Server::new_async().await;
    let c = challenge(&mut server).await;
    let saved = serde_json::to_string(&c.expose_secrets()).unwrap();
    let restored: Challenge = serde_json::from_str(&saved).unwrap();
    let mock = second_step(&mut server, 200, &fixture("verified.json")).await;
    flow(&server).verify(&restored, &OneTimeCode::new("123456").unwrap()).await.unwrap().session().unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn status_202_without_state_is_still_a_challenge() {
    let mut server = Server::new_async().await;
    let mock = first_step(&mut server, 202, r#"{"Token":"interim"}"#).await;
    assert!(matches!(flow(&server).start().await.unwrap(), Step::Challenge(_)));
    mock.assert_async().await;
}

#[tokio::test]
async fn bad_app_key() {
    assert!(matches!(start_error(401, "bad_app_key.json").await, Error::InvalidAppKey));
    assert!(
        matches!(start_error(200, "bad_app_key.json").await, Error::InvalidAppKey),
        "the body decides, not the status"
    );
}

#[tokio::test]
async fn invalid_credentials_in_both_documented_shapes() {
    assert!(matches!(start_error(401, "invalid_credentials.json").await, Error::InvalidCredentials));
    assert!(matches!(start_error(401, "invalid_credentials_new_table.json").await, Error::InvalidCredentials));
}

#[tokio::test]
async fn etna_1_4_password_expired_in_state_or_step_keeps_the_reset_token() {
    for (status, name) in [(401, "password_expired_in_state.json"), (202, "password_expired_in_step.json")] {
        let err = start_error(status, name).await;
        let Error::PasswordExpired { reset_token: Some(token) } = &err else { panic!("{name}: {err:?}") };
        assert_eq!(token.expose_secret(), "reset-token", "{name}");
        assert!(err.is_rejected_credentials() && !format!("{err} {err:?}").contains("reset-token"));
    }
}

#[tokio::test]
async fn etna_1_4_pin_not_init_keeps_what_the_set_pin_call_needs() {
    let err = start_error(202, "pin_not_init.json").await;
    let Error::PinNotSet { setup } = &err else { panic!("{err:?}") };
    assert_eq!(setup.bearer.as_ref().unwrap().expose_secret(), "pin-setup-token");
    assert_eq!(setup.confirmation.as_ref().unwrap().expose_secret(), "confirm");
    assert_eq!(err.to_string(), "the account has no security PIN yet; set one before logging in");
    assert!(!format!("{err:?}").contains("pin-setup-token") && !format!("{err:?}").contains("confirm\""));
}

const PIN: &str = "2468";
/// The interim token of the documented PIN answer (`expecting_pin.json`).
const PIN_TICKET: &str = "VGhpcyBpcyBleGFtcGxlIHRva2Vu....";

/// The PIN step of `/token`: the three headers, the interim bearer and `PinCode`, no `VerificationCode`.
async fn pin_step(server: &mut ServerGuard, status: usize, body: &str) -> mockito::Mock {
    server
        .mock("POST", "/api/token")
        .match_header("et-app-key", APP_KEY)
        .match_header("username", USER)
        .match_header("password", PASSWORD)
        .match_header("authorization", format!("Bearer {PIN_TICKET}").as_str())
        .match_header("pincode", PIN)
        .match_header("verificationcode", Matcher::Missing)
        .match_header("content-length", "0")
        .match_body("")
        .with_status(status)
        .with_body(body)
        .create_async()
        .await
}

fn with_pin(server: &ServerGuard, pin: &str) -> EtnaFlow {
    EtnaFlow::builder()
        .base_url(format!("{}/api", server.url()))
        .app_key(APP_KEY)
        .username(USER)
        .password(PASSWORD)
        .pin(pin)
        .build()
        .unwrap()
}

#[tokio::test]
async fn etna_1_3_pin_step_in_both_spellings_is_a_pin_challenge() {
    let documented = fixture("expecting_pin.json");
    for body in [documented.clone(), documented.replace("SecutityPin", "SecurityPin")] {
        let mut server = Server::new_async().await;
        let mock = first_step(&mut server, 202, &body).await;
        let Step::Challenge(c) = flow(&server).start().await.unwrap() else { panic!("{body}") };
        mock.assert_async().await;
        assert!(matches!(c.method(), Method::SecurityPin), "{body}");
        assert_eq!(c.portable_state("etna").unwrap().expose_secret(), PIN_TICKET);
    }
}

#[tokio::test]
async fn etna_1_3_pin_answer_goes_in_pincode_with_the_interim_bearer() {
    let mut server = Server::new_async().await;
    let mock = first_step(&mut server, 202, &fixture("expecting_pin.json")).await;
    let Step::Challenge(c) = flow(&server).start().await.unwrap() else { panic!() };
    mock.assert_async().await;
    // The challenge survives a round trip through storage with its kind.
    let c: Challenge = serde_json::from_str(&serde_json::to_string(&c.expose_secrets()).unwrap()).unwrap();
    let pin = pin_step(&mut server, 200, &fixture("verified.json")).await;
    let Step::Authenticated(session) = flow(&server).verify(&c, &OneTimeCode::new(PIN).unwrap()).await.unwrap() else {
        panic!("the PIN was the last step")
    };
    pin.assert_async().await;
    assert_eq!(session.access_token().expose_secret(), "someToken");
}

#[tokio::test]
async fn etna_1_4_code_then_pin_returns_the_pin_step_with_its_new_token() {
    let mut server = Server::new_async().await;
    let c = challenge(&mut server).await;
    let code = second_step(&mut server, 202, &fixture("expecting_pin.json")).await;
    let Step::Challenge(next) = flow(&server).verify(&c, &OneTimeCode::new("123456").unwrap()).await.unwrap() else {
        panic!("a PIN step follows the code")
    };
    code.assert_async().await;
    assert!(next.method().is_pin());
    assert_eq!(next.portable_state("etna").unwrap().expose_secret(), PIN_TICKET, "the new interim token is kept");
    let pin = pin_step(&mut server, 200, &fixture("verified.json")).await;
    let step = flow(&server).verify(&next, &OneTimeCode::new(PIN).unwrap()).await.unwrap();
    pin.assert_async().await;
    assert!(matches!(step, Step::Authenticated(_)));
}

#[tokio::test]
async fn etna_1_5_wrong_pin_is_invalid_pin_in_both_spellings() {
    for name in ["failed_pin.json", "failed_pin_admin_guide.json"] {
        let mut server = Server::new_async().await;
        let mock = first_step(&mut server, 202, &fixture("expecting_pin.json")).await;
        let Step::Challenge(c) = flow(&server).start().await.unwrap() else { panic!() };
        mock.assert_async().await;
        let pin = pin_step(&mut server, 401, &fixture(name)).await;
        let err = flow(&server).verify(&c, &OneTimeCode::new(PIN).unwrap()).await.unwrap_err();
        pin.assert_async().await;
        assert!(matches!(err, Error::InvalidPin), "{name}: {err:?}");
        assert!(!err.to_string().contains(PIN));
    }
}

#[tokio::test]
async fn etna_1_4_a_configured_pin_is_sent_when_asked_without_a_challenge() {
    // PIN only: `start` answers the PIN step itself.
    let mut server = Server::new_async().await;
    let first = first_step(&mut server, 202, &fixture("expecting_pin.json")).await;
    let pin = pin_step(&mut server, 200, &fixture("verified.json")).await;
    assert!(matches!(with_pin(&server, PIN).start().await.unwrap(), Step::Authenticated(_)));
    first.assert_async().await;
    pin.assert_async().await;
    // Code then PIN: `verify` of the code answers the PIN step itself.
    let mut server = Server::new_async().await;
    let c = challenge(&mut server).await;
    let code = second_step(&mut server, 202, &fixture("expecting_pin.json")).await;
    let pin = pin_step(&mut server, 200, &fixture("verified.json")).await;
    let step = with_pin(&server, PIN).verify(&c, &OneTimeCode::new("123456").unwrap()).await.unwrap();
    code.assert_async().await;
    pin.assert_async().await;
    assert!(matches!(step, Step::Authenticated(_)));
}

#[tokio::test]
async fn etna_1_4_a_configured_pin_asked_for_again_is_invalid_pin_sent_once() {
    let mut server = Server::new_async().await;
    let first = first_step(&mut server, 202, &fixture("expecting_pin.json")).await;
    let pin = pin_step(&mut server, 202, &fixture("expecting_pin.json")).await.expect(1);
    let err = with_pin(&server, PIN).start().await.unwrap_err();
    first.assert_async().await;
    pin.assert_async().await;
    assert!(matches!(err, Error::InvalidPin), "{err:?}");
}

#[tokio::test]
async fn etna_1_4_an_unknown_expecting_step_is_unsupported_and_named() {
    let mut server = Server::new_async().await;
    let body = r#"{"Step":"FaceId\u001b[2J","Reason":"Expecting face","State":"Expecting","Token":"t"}"#;
    let mock = first_step(&mut server, 202, body).await;
    let err = flow(&server).start().await.unwrap_err();
    mock.assert_async().await;
    let Error::UnsupportedStep { step } = &err else { panic!("{err:?}") };
    assert_eq!(step, "FaceId\\u{1b}[2J", "escaped, never raw control characters");
    assert!(err.to_string().contains("FaceId") && !err.to_string().contains('\u{1b}'));
}

#[tokio::test]
async fn etna_1_4_password_reset_helper_sends_the_documented_put() {
    let mut server = Server::new_async().await;
    let reset = server
        .mock("PUT", "/api/v1.0/users/passwords/reset/")
        .match_header("et-app-key", APP_KEY)
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(serde_json::json!({
            "Token": "reset-token", "Password": "n3w-Pass", "PasswordConfirmation": "n3w-Pass"
        })))
        .with_status(200)
        .with_body(r#"{"Errors":[],"IsSucceed":true}"#)
        .create_async()
        .await;
    let token = Secret::new("reset-token");
    flow(&server).reset_expired_password(&token, &Password::new("n3w-Pass")).await.unwrap();
    reset.assert_async().await;
    server.reset();
    let refused = server
        .mock("PUT", "/api/v1.0/users/passwords/reset/")
        .with_status(400)
        .with_body(r#"{"Errors":["Password is too short"],"IsSucceed":false}"#)
        .create_async()
        .await;
    let err = flow(&server).reset_expired_password(&token, &Password::new("n3w-Pass")).await.unwrap_err();
    refused.assert_async().await;
    assert!(matches!(&err, Error::Provider { message, .. } if message.contains("too short")), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("n3w-Pass"));
}

#[tokio::test]
async fn etna_1_4_set_pin_helper_sends_the_documented_get_with_a_body() {
    let mut server = Server::new_async().await;
    let first = first_step(&mut server, 202, &fixture("pin_not_init.json")).await;
    let Error::PinNotSet { setup } = flow(&server).start().await.unwrap_err() else { panic!() };
    first.assert_async().await;
    let change = server
        .mock("GET", "/api/v1.0/users/pincode/change")
        .match_header("authorization", "Bearer pin-setup-token")
        .match_header("et-app-key", APP_KEY)
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(serde_json::json!({
            "Token": "confirm", "Pin": PIN, "ImageName": "cat", "PersonalPhrase": "hello"
        })))
        .with_status(200)
        .with_body(r#"{"Errors":[],"ErrorsCode":[],"StatusCode":"Continue","IsSucceed":true}"#)
        .create_async()
        .await;
    flow(&server).set_pin(&setup, &Pin::new(PIN), "cat", "hello").await.unwrap();
    change.assert_async().await;
    let missing = flow(&server).set_pin(&PinSetup::default(), &Pin::new(PIN), "cat", "hello").await.unwrap_err();
    assert!(matches!(missing, Error::InvalidInput(_)), "{missing:?}");
}

#[tokio::test]
async fn asp_net_message_and_non_json_bodies_are_unexpected_with_status() {
    let err = start_error(401, "denied.json").await;
    assert!(
        matches!(&err, Error::UnexpectedResponse { status: Some(401), detail } if detail.contains("denied")),
        "{err:?}"
    );
    let mut server = Server::new_async().await;
    let mock = first_step(&mut server, 502, "<html><body>Bad gateway</body></html>").await;
    let err = flow(&server).start().await.unwrap_err();
    mock.assert_async().await;
    assert!(matches!(err, Error::UnexpectedResponse { status: Some(502), .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(!err.to_string().contains("Bad gateway"), "bodies are described, not quoted");
}

#[tokio::test]
async fn succeeded_without_token_is_unexpected() {
    let mut server = Server::new_async().await;
    let mock = first_step(&mut server, 200, r#"{"State":"Succeeded"}"#).await;
    assert!(matches!(flow(&server).start().await.unwrap_err(), Error::UnexpectedResponse { status: Some(200), .. }));
    mock.assert_async().await;
}

#[tokio::test]
async fn rate_limit_with_retry_after() {
    let mut server = Server::new_async().await;
    let mock = server.mock("POST", "/api/token").with_status(429).with_header("retry-after", "42").create_async().await;
    let err = flow(&server).start().await.unwrap_err();
    mock.assert_async().await;
    assert!(matches!(err, Error::RateLimited { retry_after: Some(d) } if d.as_secs() == 42), "{err:?}");
}

#[tokio::test]
async fn corrupted_ticket_is_an_expired_challenge() {
    assert!(matches!(verify_error(401, "corrupted_ticket.json").await, Error::ChallengeExpired));
}

#[tokio::test]
async fn any_other_failed_verification_is_an_invalid_code() {
    assert!(matches!(verify_error(401, "wrong_code.json").await, Error::InvalidCode));
}

#[tokio::test]
async fn etna_1_4_a_new_expecting_code_answer_to_a_code_is_the_same_step_again() {
    let mut server = Server::new_async().await;
    let c = challenge(&mut server).await;
    let again = fixture("expecting_code.json").replace("someToken+", "newToken+");
    let mock = second_step(&mut server, 202, &again).await;
    let Step::Challenge(next) = flow(&server).verify(&c, &OneTimeCode::new("123456").unwrap()).await.unwrap() else {
        panic!("asked again")
    };
    mock.assert_async().await;
    // Same kind again: the login driver counts it as a refused code, with the new token.
    assert_eq!(next.method().name(), c.method().name());
    assert_eq!(next.portable_state("etna").unwrap().expose_secret(), "newToken+zrIbQGZl8sBT1LWQEY38SQ==");
}

#[tokio::test]
async fn logout_posts_token_and_app_key() {
    let mut server = Server::new_async().await;
    let mock = first_step(&mut server, 200, &fixture("verified.json")).await;
    let Step::Authenticated(session) = flow(&server).start().await.unwrap() else { panic!() };
    mock.assert_async().await;
    let logout = server
        .mock("POST", "/api/logout")
        .match_header("authorization", "Bearer someToken")
        .match_header("et-app-key", APP_KEY)
        .match_header("password", Matcher::Missing)
        .with_status(200)
        .create_async()
        .await;
    flow(&server).logout(&session).await.unwrap();
    logout.assert_async().await;
    let expired =
        server.mock("POST", "/api/logout").with_status(401).with_body(fixture("denied.json")).create_async().await;
    assert!(matches!(flow(&server).logout(&session).await, Err(Error::SessionExpired)));
    expired.assert_async().await;
}

#[tokio::test]
async fn resume_is_unsupported_because_etna_has_no_refresh() {
    let mut server = Server::new_async().await;
    let mock = first_step(&mut server, 200, &fixture("verified.json")).await;
    let Step::Authenticated(session) = flow(&server).start().await.unwrap() else { panic!() };
    mock.assert_async().await;
    assert!(matches!(flow(&server).resume(&session).await, Err(Error::Unsupported { operation: "resume" })));
}

#[test]
fn configuration_is_checked_at_build_time() {
    let base = || EtnaFlow::builder().app_key("k").username("u").password("p");
    assert!(matches!(base().build(), Err(Error::Config(_))), "no base URL");
    assert!(
        matches!(base().base_url("http://etna.example.com/api").build(), Err(Error::Config(_))),
        "plain http off loopback"
    );
    assert!(matches!(base().base_url("https://h/api").password("").build(), Err(Error::Config(_))));
    assert!(matches!(base().base_url("https://h/api").password("a\nb").build(), Err(Error::InvalidInput(_))));
    assert!(matches!(
        EtnaFlow::builder().base_url("https://h/api").username("u").password("p").build(),
        Err(Error::Config(_))
    ));
    assert!(base().base_url(twofa_etna::DEMO_TRADER_API).build().is_ok());
}

#[test]
fn flow_debug_hides_credentials() {
    let flow = EtnaFlow::builder()
        .base_url("https://h/api")
        .app_key("key-S3CRET")
        .username("u")
        .password("pw-S3CRET")
        .pin("pin-S3CRET")
        .build()
        .unwrap();
    let shown = format!("{flow:?}");
    assert!(!shown.contains("key-S3CRET") && !shown.contains("pw-S3CRET") && !shown.contains("pin-S3CRET"), "{shown}");
}
