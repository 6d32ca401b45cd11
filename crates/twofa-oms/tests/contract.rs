//! Contract tests for the HTTP gateway: the documented APEX samples, replayed by mockito, with the
//! exact requests asserted.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use mockito::{Matcher, Server, ServerGuard};
use serde_json::json;
use twofa_core::{Error, Method, OneTimeCode, Session, Step, TwoFactorFlow};
use twofa_oms::OmsFlow;

const BASIC: &str = "Basic dHJhZGVyOnNlY3JldC1Q"; // trader:secret-P

fn flow(server: &ServerGuard) -> OmsFlow {
    OmsFlow::builder().endpoint(server.url()).username("trader").password("secret-P").build().unwrap()
}

async fn authenticate(server: &mut ServerGuard, status: usize, body: &str) -> mockito::Mock {
    server
        .mock("GET", "/AP/AuthenticateUser")
        .match_header("authorization", BASIC)
        .with_status(status)
        .with_header("content-type", "application/json")
        .with_body(body)
        .create_async()
        .await
}

async fn start(status: usize, body: &str) -> Result<Step, Error> {
    let mut server = Server::new_async().await;
    let mock = authenticate(&mut server, status, body).await;
    let step = flow(&server).start().await;
    mock.assert_async().await;
    step
}

async fn session(server: &mut ServerGuard) -> Session {
    let mock = authenticate(server, 200, r#"{"Authenticated":true,"SessionToken":"tok-1","User":{"UserId":7}}"#).await;
    let Step::Authenticated(s) = flow(server).start().await.unwrap() else { panic!() };
    mock.assert_async().await;
    s
}

#[tokio::test]
async fn the_v4_two_factor_sample_then_authenticate2fa() {
    let mut server = Server::new_async().await;
    let first = authenticate(
        &mut server,
        200,
        r#"{ "Authenticated": true, "Requires2FA": true, "AuthType": "Google", "AddtlInfo": "" }"#,
    )
    .await;
    let f = flow(&server);
    let Step::Challenge(c) = f.start().await.unwrap() else { panic!("expected a challenge") };
    first.assert_async().await;
    assert!(matches!(c.method(), Method::Authenticator { .. }));
    let second = server
        .mock("POST", "/AP/Authenticate2FA")
        .match_header("content-type", "application/json")
        .match_header("pending2fatoken", Matcher::Missing)
        .match_header("authorization", Matcher::Missing)
        .match_body(Matcher::Json(json!({ "Code": "235991" })))
        .with_body(r#"{"Authenticated":true,"UserId":2,"SessionToken":"db1f4eeb-0000"}"#)
        .create_async()
        .await;
    let s = f.verify(&c, &OneTimeCode::new("235991").unwrap()).await.unwrap().session().unwrap();
    second.assert_async().await;
    assert_eq!(s.header_name(), "aptoken");
    assert_eq!(s.header_value().expose_secret(), "db1f4eeb-0000");
    assert_eq!(s.subject()["UserId"], "2");
    assert_eq!(s.idle_timeout(), Some(std::time::Duration::from_secs(3600)));
}

#[tokio::test]
async fn the_pending_token_goes_back_in_its_header() {
    let mut server = Server::new_async().await;
    let first = authenticate(
        &mut server,
        200,
        r#"{"Authenticated":false,"Requires2FA":true,"AuthType":"Google","Pending2FaToken":"pend-9"}"#,
    )
    .await;
    let f = flow(&server);
    let Step::Challenge(c) = f.start().await.unwrap() else { panic!() };
    first.assert_async().await;
    let second = server
        .mock("POST", "/AP/Authenticate2FA")
        .match_header("pending2fatoken", "pend-9")
        .with_body(r#"{"Authenticated":false}"#)
        .create_async()
        .await;
    assert!(matches!(f.verify(&c, &OneTimeCode::new("111111").unwrap()).await, Err(Error::InvalidCode)));
    second.assert_async().await;
}

#[tokio::test]
async fn the_v4_single_factor_sample_is_a_session() {
    let body = r#"{ "Authenticated": true, "SessionToken": "a923322a-5140-4d20-b2a6-e07422bb0e6e",
      "User": { "UserId": 1, "UserName": "sample", "Email": "x@y", "EmailVerified": true, "AccountId": 1, "OMSId": 1, "Use2FA": false },
      "Locked": false, "Requires2FA": false, "EnforceEnable2FA": false, "TwoFAType": null, "TwoFAToken": null, "errormsg": null }"#;
    let Step::Authenticated(s) = start(200, body).await.unwrap() else { panic!() };
    assert_eq!(s.access_token().expose_secret(), "a923322a-5140-4d20-b2a6-e07422bb0e6e");
    assert_eq!(s.subject()["UserId"], "1");
    assert_eq!(s.extras()["OMSId"], "1");
}

#[tokio::test]
async fn login_failures_map_to_their_errors() {
    let invalid = r#"{"authenticated": false, "locked": false, "errormsg": "Invalid username or password"}"#;
    assert!(matches!(start(200, invalid).await, Err(Error::InvalidCredentials)));
    let locked = r#"{"Authenticated":false,"Locked":true,"errormsg":"User is locked. Please contact administrator"}"#;
    assert!(matches!(start(200, locked).await, Err(Error::AccountLocked)));
    assert!(matches!(start(401, "").await, Err(Error::InvalidCredentials)), "KiiEx proxy: 401 Invalid credentials");
    assert!(matches!(start(500, "<html>").await, Err(Error::UnexpectedResponse { status: Some(500), .. })));
    assert!(matches!(start(200, "not json").await, Err(Error::UnexpectedResponse { status: Some(200), .. })));
    let generic = r#"{"result":false,"errormsg":"Operation Failed","errorcode":101,"detail":null}"#;
    assert!(matches!(start(200, generic).await, Err(Error::Provider { code: 101, .. })));
}

#[tokio::test]
async fn logout_sends_aptoken_and_reads_the_generic_response() {
    let mut server = Server::new_async().await;
    let s = session(&mut server).await;
    let f = flow(&server);
    let ok = server
        .mock("POST", "/AP/LogOut")
        .match_header("aptoken", "tok-1")
        .with_body(r#"{"result":"true","errormsg":null,"errorcode":0,"detail":null}"#)
        .create_async()
        .await;
    f.logout(&s).await.unwrap();
    ok.assert_async().await;
    ok.remove_async().await;
    let refused = server
        .mock("POST", "/AP/LogOut")
        .with_body(r#"{"result":false,"errormsg":"Not Authorized","errorcode":20,"detail":null}"#)
        .create_async()
        .await;
    assert!(matches!(f.logout(&s).await, Err(Error::SessionExpired)));
    refused.assert_async().await;
}

#[tokio::test]
async fn resume_over_http_checks_the_session_with_an_authenticated_call() {
    let mut server = Server::new_async().await;
    let s = session(&mut server).await;
    let f = flow(&server);
    let alive = server
        .mock("POST", "/AP/GetUserInfo")
        .match_header("aptoken", "tok-1")
        .with_body(r#"{"UserId":7,"UserName":"trader"}"#)
        .create_async()
        .await;
    let renewed = f.resume(&s).await.unwrap();
    alive.assert_async().await;
    assert_eq!(renewed.subject()["UserId"], "7");
    alive.remove_async().await;
    let dead = server
        .mock("POST", "/AP/GetUserInfo")
        .with_body(r#"{"result":false,"errormsg":"Not Authorized","errorcode":20}"#)
        .create_async()
        .await;
    assert!(matches!(f.resume(&s).await, Err(Error::SessionExpired)));
    dead.assert_async().await;
}

#[tokio::test]
async fn operation_in_process_is_not_an_error() {
    let mut server = Server::new_async().await;
    let s = session(&mut server).await;
    let mock = server
        .mock("POST", "/AP/LogOut")
        .with_body(r#"{"result":false,"errormsg":"Operation In Process","errorcode":107}"#)
        .create_async()
        .await;
    flow(&server).logout(&s).await.unwrap();
    mock.assert_async().await;
}
