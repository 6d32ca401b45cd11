//! Contract tests: the seed's JSON and XML samples and every documented status, replayed by
//! mockito, with the exact requests asserted.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use mockito::{Matcher, Server, ServerGuard};
use serde_json::json;
use twofa_core::{Error, Method, OneTimeCode, Session, Step, TwoFactorFlow, http::HttpOptions};
use twofa_onlineordering::{
    CustomerTokenPlacement, OnlineOrderingBuilder, OnlineOrderingFlow, ResponseFormat, remembered_device_id,
};

const EMAIL: &str = "a+b@example.com";
const EMAIL_QUERY: &str = "email=a%2Bb%40example.com";
const BASIC: &str = "Basic aW50ZWdyYXRvcjphcGktUA=="; // integrator:api-P
const SEED_CUSTOMER: &str = "8f59e84d-399b-4b62-bb2c-552add21116c";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn builder(server: &ServerGuard) -> OnlineOrderingBuilder {
    OnlineOrderingFlow::builder()
        .base_url(server.url())
        .company_code("ABCD001")
        .integrator("integrator", "api-P")
        .email(EMAIL)
        .password("customer-P")
}

fn flow(server: &ServerGuard) -> OnlineOrderingFlow {
    builder(server).build().unwrap()
}

/// `POST v1/Authenticate/2FA?sendEmail=false` with the integrator headers and `{Email, Password}`.
async fn login_mock(server: &mut ServerGuard, status: usize, content_type: &str, body: &str) -> mockito::Mock {
    server
        .mock("POST", "/v1/Authenticate/2FA")
        .match_query(Matcher::UrlEncoded("sendEmail".into(), "false".into()))
        .match_header("authorization", BASIC)
        .match_header("x-api-companycode", "ABCD001")
        .match_header("accept", "application/json")
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(json!({ "Email": EMAIL, "Password": "customer-P" })))
        .with_status(status)
        .with_header("content-type", content_type)
        .with_header("location", "/v1/Authenticate/2FA")
        .with_body(body)
        .create_async()
        .await
}

async fn start(server: &mut ServerGuard, status: usize, fixture_name: &str) -> Result<Step, Error> {
    let mock = login_mock(server, status, "application/json; charset=utf-8", &fixture(fixture_name)).await;
    let step = flow(server).start().await;
    mock.assert_async().await;
    step
}

async fn login_error(status: usize, body: &str) -> Error {
    let mut server = Server::new_async().await;
    let mock = login_mock(&mut server, status, "application/json", body).await;
    let err = flow(&server).start().await.unwrap_err();
    mock.assert_async().await;
    err
}

/// `GET v1/Authenticate/2FA?email&code&rememberMe&nickname`, all URL-encoded.
async fn verify_with(
    server: &mut ServerGuard,
    query: &str,
    status: usize,
    content_type: &str,
    body: &str,
) -> mockito::Mock {
    server
        .mock("GET", "/v1/Authenticate/2FA")
        .match_query(Matcher::Exact(query.into()))
        .match_header("authorization", BASIC)
        .match_header("x-api-companycode", "ABCD001")
        .with_status(status)
        .with_header("content-type", content_type)
        .with_body(body)
        .create_async()
        .await
}

async fn verify(
    server: &mut ServerGuard,
    flow: &OnlineOrderingFlow,
    status: usize,
    body: &str,
) -> Result<Session, Error> {
    let query = format!("{EMAIL_QUERY}&code=123456&rememberMe=false&nickname=");
    let mock = verify_with(server, &query, status, "application/json", body).await;
    let challenge = challenge(server, flow).await;
    let result = flow.verify(&challenge, &OneTimeCode::new("123456").unwrap()).await;
    mock.assert_async().await;
    result.map(|step| step.session().expect("one factor: verify ends in a session"))
}

async fn challenge(server: &mut ServerGuard, flow: &OnlineOrderingFlow) -> twofa_core::Challenge {
    let mock = login_mock(server, 303, "application/json", &fixture("generate_email.json")).await;
    let Step::Challenge(c) = flow.start().await.unwrap() else { panic!("expected a challenge") };
    mock.assert_async().await;
    c
}

#[tokio::test]
async fn oo_3_4_login_without_2fa_is_a_session() {
    let mut server = Server::new_async().await;
    let Step::Authenticated(s) = start(&mut server, 200, "generate_remembered.json").await.unwrap() else { panic!() };
    assert_eq!(s.access_token().expose_secret(), "acc-remembered");
    assert_eq!(s.renewal_token().unwrap().expose_secret(), "ref-remembered");
    assert_eq!(s.subject()["CustomerId"], SEED_CUSTOMER);
}

#[tokio::test]
async fn oo_3_4_email_challenge_from_a_303() {
    let mut server = Server::new_async().await;
    let Step::Challenge(c) = start(&mut server, 303, "generate_email.json").await.unwrap() else { panic!() };
    assert!(matches!(c.method(), Method::Email));
    assert_eq!(c.provider(), "onlineordering");
}

#[tokio::test]
async fn oo_3_9_method_as_integer_and_url_safe_unpadded_id_token() {
    let mut server = Server::new_async().await;
    let Step::Challenge(c) = start(&mut server, 303, "generate_email_as_int.json").await.unwrap() else { panic!() };
    assert!(matches!(c.method(), Method::Email));
}

#[tokio::test]
async fn oo_3_4_authenticator_challenge_carries_setup_data_and_a_built_otpauth_uri() {
    let mut server = Server::new_async().await;
    let Step::Challenge(c) = start(&mut server, 303, "generate_authenticator.json").await.unwrap() else { panic!() };
    let Method::Authenticator { setup: Some(setup) } = c.method() else { panic!("{c:?}") };
    assert_eq!(setup.manual_key.as_ref().unwrap().expose_secret(), "JBSWY3DPEHPK3PXP");
    assert_eq!(setup.qr_data.as_ref().unwrap().expose_secret(), "iVBORw0KGgo-qr-image-bytes");
    let uri = setup.otpauth_uri.as_ref().unwrap().expose_secret();
    assert_eq!(uri, "otpauth://totp/Online%20Ordering:a+b@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Online+Ordering");
    let totp = twofa_core::code_source::Totp::from_otpauth_uri(setup.otpauth_uri.as_ref().unwrap()).unwrap();
    assert_eq!(totp.code_at(59).expose_secret().len(), 6);
}

#[tokio::test]
async fn oo_3_4_authenticator_as_integer_uses_the_servers_otpauth_uri() {
    let mut server = Server::new_async().await;
    let Step::Challenge(c) = start(&mut server, 303, "generate_authenticator_as_int.json").await.unwrap() else {
        panic!()
    };
    let Method::Authenticator { setup: Some(setup) } = c.method() else { panic!("{c:?}") };
    assert!(setup.otpauth_uri.as_ref().unwrap().expose_secret().starts_with("otpauth://totp/NCR:"));
    assert!(setup.manual_key.is_none());
}

#[tokio::test]
async fn oo_3_11_xml_generate_code_result() {
    let mut server = Server::new_async().await;
    let mock = server
        .mock("POST", "/v1/Authenticate/2FA")
        .match_query(Matcher::Any)
        .match_header("accept", "application/xml")
        .with_status(303)
        .with_header("content-type", "application/xml; charset=utf-8")
        .with_body(fixture("generate_email.xml"))
        .create_async()
        .await;
    let step = builder(&server).format(ResponseFormat::Xml).build().unwrap().start().await.unwrap();
    mock.assert_async().await;
    assert!(matches!(step, Step::Challenge(c) if matches!(c.method(), Method::Email)));
}

#[tokio::test]
async fn oo_3_5_the_seeds_json_confirm_code_result() {
    let mut server = Server::new_async().await;
    let f = flow(&server);
    let s = verify(&mut server, &f, 200, &fixture("confirm_code_result.json")).await.unwrap();
    assert!(s.access_token().expose_secret().starts_with("eyJFbmNyeXB0ZWREYXRhIjoiN1Bnd"));
    assert!(s.renewal_token().unwrap().expose_secret().starts_with("eyJFbmNyeXB0ZWREYXRhIjoienNKR1"));
    assert_eq!((s.expires_at().unwrap() - s.issued_at()).whole_seconds(), 1800);
    assert_eq!(s.subject()["CustomerId"], SEED_CUSTOMER);
    assert_eq!(s.subject()["LoyaltyId"], "");
    assert_eq!(remembered_device_id(&s), None);
    let headers = s.headers().unwrap();
    assert!(headers["authorization"].to_str().unwrap().starts_with("Bearer eyJ"));
    assert_eq!(headers["x-api-custom-auth"], BASIC);
    assert_eq!(headers["x-api-companycode"], "ABCD001");
}

#[tokio::test]
async fn oo_3_5_the_seeds_xml_confirm_code_result() {
    let mut server = Server::new_async().await;
    let f = flow(&server);
    let query = format!("{EMAIL_QUERY}&code=123456&rememberMe=false&nickname=");
    let mock =
        verify_with(&mut server, &query, 200, "application/xml; charset=utf-8", &fixture("confirm_code_result.xml"))
            .await;
    let c = challenge(&mut server, &f).await;
    let s = f.verify(&c, &OneTimeCode::new("123456").unwrap()).await.unwrap().session().unwrap();
    mock.assert_async().await;
    assert!(s.access_token().expose_secret().starts_with("eyJFbmNyeXB0ZWREYXRhIjoiN1Bnd"));
    assert_eq!((s.expires_at().unwrap() - s.issued_at()).whole_seconds(), 1800);
    assert_eq!(s.subject()["CustomerId"], SEED_CUSTOMER);
}

#[tokio::test]
async fn oo_3_5_verify_statuses_map_to_their_errors() {
    for (status, check) in [
        (404, (|e: &Error| matches!(e, Error::InvalidCode)) as fn(&Error) -> bool),
        (400, |e| matches!(e, Error::InvalidInput(_))),
        (403, |e| matches!(e, Error::AccountLocked)),
        (429, |e| matches!(e, Error::RateLimited { .. })),
        (500, |e| matches!(e, Error::UnexpectedResponse { status: Some(500), .. }) && e.is_retryable()),
    ] {
        let mut server = Server::new_async().await;
        let f = flow(&server);
        let err = verify(&mut server, &f, status, "{}").await.unwrap_err();
        assert!(check(&err), "{status}: {err:?}");
    }
}

#[tokio::test]
async fn oo_3_4_login_statuses_map_to_their_errors() {
    let denial = r#"{"Message":"Authorization has been denied for this request."}"#;
    assert!(matches!(login_error(401, denial).await, Error::InvalidAppKey));
    assert!(matches!(login_error(401, r#"{"Message":"Invalid email or password."}"#).await, Error::InvalidCredentials));
    assert!(matches!(login_error(404, "").await, Error::InvalidCredentials));
    assert!(matches!(login_error(403, "").await, Error::AccountLocked));
    assert!(matches!(login_error(400, "").await, Error::InvalidInput(_)));
    assert!(matches!(
        login_error(303, "<html>moved</html>").await,
        Error::UnexpectedResponse { status: Some(303), .. }
    ));
    assert!(matches!(
        login_error(200, r#"{"access_token":null}"#).await,
        Error::UnexpectedResponse { status: Some(200), .. }
    ));
}

#[tokio::test]
async fn oo_3_12_a_client_that_follows_redirects_is_caught() {
    let mut server = Server::new_async().await;
    let login = login_mock(&mut server, 303, "application/json", &fixture("generate_email.json")).await;
    let followed = server.mock("GET", "/v1/Authenticate/2FA").with_status(400).create_async().await;
    let following = reqwest::Client::builder().build().unwrap(); // reqwest follows redirects by default
    let err =
        builder(&server).http(HttpOptions::default().client(following)).build().unwrap().start().await.unwrap_err();
    login.assert_async().await;
    followed.assert_async().await;
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}

#[tokio::test]
async fn oo_3_5_device_id_is_sent_and_a_remembered_device_comes_back() {
    let mut server = Server::new_async().await;
    let mock = server
        .mock("POST", "/v1/Authenticate/2FA")
        .match_query(Matcher::Any)
        .match_body(Matcher::Json(json!({ "Email": EMAIL, "Password": "customer-P", "DeviceId": "device-41" })))
        .with_status(200)
        .with_body(fixture("generate_remembered.json"))
        .create_async()
        .await;
    let f = builder(&server).device_id("device-41").build().unwrap();
    assert!(matches!(f.start().await.unwrap(), Step::Authenticated(_)));
    mock.assert_async().await;
    mock.remove_async().await;

    let f = builder(&server).remember_device("My Phone").build().unwrap();
    let query = format!("{EMAIL_QUERY}&code=123456&rememberMe=true&nickname=My+Phone");
    let mock =
        verify_with(&mut server, &query, 200, "application/json", &fixture("confirm_remembered_device.json")).await;
    let c = challenge(&mut server, &f).await;
    let s = f.verify(&c, &OneTimeCode::new("123456").unwrap()).await.unwrap().session().unwrap();
    mock.assert_async().await;
    assert_eq!(remembered_device_id(&s).as_deref(), Some("device-42"));
}

#[test]
fn oo_3_5_remember_me_without_a_nickname_is_refused_before_sending() {
    let err = OnlineOrderingFlow::builder()
        .base_url("https://h")
        .company_code("C")
        .integrator("u", "p")
        .email("e@x")
        .password("p")
        .remember_device("  ")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
}

#[tokio::test]
async fn oo_3_6_refresh_rotates_tokens_and_maps_its_statuses() {
    let mut server = Server::new_async().await;
    let f = flow(&server);
    let s = verify(&mut server, &f, 200, &fixture("confirm_remembered_device.json")).await.unwrap();
    let ok = server
        .mock("POST", "/v1/Authenticate/2FA/Refresh")
        .match_header("authorization", BASIC)
        .match_body(Matcher::Json(json!({ "RefreshToken": "ref-2" })))
        .with_status(200)
        .with_body(r#"{"access_token":"acc-3","refresh_token":"ref-3","expires_in_seconds":1800.0}"#)
        .create_async()
        .await;
    let renewed = f.resume(&s).await.unwrap();
    ok.assert_async().await;
    assert_eq!(renewed.access_token().expose_secret(), "acc-3");
    assert_eq!(renewed.renewal_token().unwrap().expose_secret(), "ref-3");
    assert_eq!(renewed.subject()["CustomerId"], SEED_CUSTOMER, "kept when the answer has no id_token");
    ok.remove_async().await;
    for (status, check) in [
        (404, (|e: &Error| matches!(e, Error::SessionExpired)) as fn(&Error) -> bool),
        (403, |e| matches!(e, Error::AccountLocked)),
        (400, |e| matches!(e, Error::InvalidInput(_))),
        (500, |e| matches!(e, Error::UnexpectedResponse { status: Some(500), .. }) && e.is_retryable()),
    ] {
        let mock = server.mock("POST", "/v1/Authenticate/2FA/Refresh").with_status(status).create_async().await;
        let err = f.resume(&s).await.unwrap_err();
        mock.assert_async().await;
        mock.remove_async().await;
        assert!(check(&err), "{status}: {err:?}");
    }
}

#[tokio::test]
async fn oo_3_2_header_placement_keeps_basic_in_authorization() {
    let mut server = Server::new_async().await;
    let mock = login_mock(&mut server, 200, "application/json", &fixture("generate_remembered.json")).await;
    let f =
        builder(&server).token_placement(CustomerTokenPlacement::Header("X-Customer-Token".into())).build().unwrap();
    let Step::Authenticated(s) = f.start().await.unwrap() else { panic!() };
    mock.assert_async().await;
    let headers = s.headers().unwrap();
    assert_eq!(headers["x-customer-token"], "acc-remembered");
    assert_eq!(headers["authorization"], BASIC);
}

#[tokio::test]
async fn transport_errors_never_show_the_code_from_the_query_string() {
    let mut server = Server::new_async().await;
    let good = flow(&server);
    let c = challenge(&mut server, &good).await;
    let dead = OnlineOrderingFlow::builder()
        .base_url("http://127.0.0.1:1")
        .company_code("ABCD001")
        .integrator("integrator", "api-P")
        .email(EMAIL)
        .password("customer-P")
        .build()
        .unwrap();
    let err = dead.verify(&c, &OneTimeCode::new("987654").unwrap()).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("987654") && !shown.contains("127.0.0.1:1/v1"), "{shown}");
}

// ---- Guest login (docs/protocols/onlineordering.md#guest) ----

const GUEST_CUSTOMER: &str = "5b3f0a52-6c1e-4a4e-9d1f-0f6f3d2a9c11";

fn guest_builder(server: &ServerGuard) -> OnlineOrderingBuilder {
    OnlineOrderingFlow::builder()
        .base_url(server.url())
        .company_code("ABCD001")
        .integrator("integrator", "api-P")
        .guest(EMAIL)
}

/// `POST v1/Authenticate/Guest?sendEmail=` with the integrator headers and exactly `body`.
async fn guest_mock(
    server: &mut ServerGuard,
    send_email: &str,
    body: &str,
    status: usize,
    answer: &str,
) -> mockito::Mock {
    server
        .mock("POST", "/v1/Authenticate/Guest")
        .match_query(Matcher::Exact(format!("sendEmail={send_email}")))
        .match_header("authorization", BASIC)
        .match_header("x-api-companycode", "ABCD001")
        .match_header("accept", "application/json")
        .match_header("content-type", "application/json")
        .match_body(Matcher::Exact(body.into()))
        .with_status(status)
        .with_header("content-type", "application/json; charset=utf-8")
        .with_body(answer)
        .create_async()
        .await
}

#[tokio::test]
async fn oo_3_8_guest_request_is_byte_for_byte_and_a_200_is_the_limited_token() {
    let mut server = Server::new_async().await;
    let body = r#"{"Email":"a+b@example.com"}"#;
    let mock = guest_mock(&mut server, "false", body, 200, &fixture("guest_limited_token.json")).await;
    let never = server.mock("POST", "/v1/Authenticate/2FA").match_query(Matcher::Any).expect(0).create_async().await;
    let Step::Authenticated(s) = guest_builder(&server).build().unwrap().start().await.unwrap() else { panic!() };
    mock.assert_async().await;
    never.assert_async().await;
    assert_eq!(s.access_token().expose_secret(), "acc-guest");
    assert_eq!(s.renewal_token().unwrap().expose_secret(), "ref-guest");
    assert_eq!(s.subject()["CustomerId"], GUEST_CUSTOMER);
    let headers = s.headers().unwrap();
    assert_eq!(headers["authorization"], "Bearer acc-guest");
    assert_eq!(headers["x-api-custom-auth"], BASIC);
}

#[tokio::test]
async fn oo_3_8_guest_device_id_and_send_email_in_datacontract_order() {
    let mut server = Server::new_async().await;
    // InGuestLogin's members in alphabetical order, as the DataContract serializer writes them.
    let body = r#"{"DeviceId":"device-7","Email":"a+b@example.com"}"#;
    let mock = guest_mock(&mut server, "true", body, 200, &fixture("guest_limited_token.json")).await;
    let flow = guest_builder(&server).device_id("device-7").send_email(true).build().unwrap();
    assert!(matches!(flow.start().await.unwrap(), Step::Authenticated(_)));
    mock.assert_async().await;
}

#[tokio::test]
async fn oo_3_8_guest_303_is_verified_by_the_3_5_get() {
    let mut server = Server::new_async().await;
    let login =
        guest_mock(&mut server, "false", r#"{"Email":"a+b@example.com"}"#, 303, &fixture("guest_email.json")).await;
    let flow = guest_builder(&server).build().unwrap();
    let Step::Challenge(c) = flow.start().await.unwrap() else { panic!("expected a challenge") };
    login.assert_async().await;
    assert!(matches!(c.method(), Method::Email), "{c:?}");
    let query = format!("{EMAIL_QUERY}&code=123456&rememberMe=false&nickname=");
    let verify = verify_with(&mut server, &query, 200, "application/json", &fixture("confirm_code_result.json")).await;
    let session = flow.verify(&c, &OneTimeCode::new("123456").unwrap()).await.unwrap().session().unwrap();
    verify.assert_async().await;
    assert_eq!(session.subject()["CustomerId"], SEED_CUSTOMER);
}

#[tokio::test]
async fn oo_3_8_guest_or_email_and_password_never_both_never_neither() {
    let server = Server::new_async().await;
    let config = |b: OnlineOrderingBuilder| match b.build() {
        Err(Error::Config(m)) => m,
        other => panic!("{other:?}"),
    };
    let both = "Online Ordering takes either the customer's email and the customer's password, \
                or a guest email (guest), not both";
    assert_eq!(config(builder(&server).guest(EMAIL)), both);
    assert_eq!(config(guest_builder(&server).password("customer-P")), both);
    assert_eq!(config(guest_builder(&server).email(EMAIL)), both);
    assert_eq!(
        config(OnlineOrderingFlow::builder().base_url(server.url()).company_code("ABCD001").integrator("i", "p")),
        "Online Ordering needs the customer's email and the customer's password, or a guest email (guest)"
    );
    assert_eq!(config(guest_builder(&server).guest("")), "Online Ordering needs a guest email (guest), non-empty");
    assert!(!config(guest_builder(&server).guest(EMAIL).password("x")).contains('x'), "never the password");
    guest_builder(&server).build().unwrap();
}

/// The flow keeps the integrator's Basic credentials as a prebuilt header: its `Debug` shows neither
/// them nor their base64 form, nor the customer's password.
#[test]
fn flow_debug_hides_credentials() {
    use base64::Engine as _;
    let flow = OnlineOrderingFlow::builder()
        .base_url("https://h/")
        .company_code("C")
        .integrator("integrator", "api-S3CRET")
        .email("e@example.com")
        .password("pw-S3CRET")
        .build()
        .unwrap();
    let shown = format!("{flow:?}");
    let basic = base64::engine::general_purpose::STANDARD.encode("integrator:api-S3CRET");
    assert!(!shown.contains("S3CRET") && !shown.contains(&basic), "{shown}");
}
