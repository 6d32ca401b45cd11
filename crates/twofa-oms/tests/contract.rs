//! Contract tests for the HTTP gateway: the documented APEX samples, replayed by mockito, with the
//! exact requests asserted.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use mockito::{Matcher, Server, ServerGuard};
use serde_json::json;
use twofa_core::{Error, Method, OneTimeCode, Session, Step, TwoFactorFlow};
use twofa_oms::{OmsFlow, Permission};

mod support {
    pub mod python_hmac;
}
use support::python_hmac::python_hmac;

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
async fn oms_2_6_logout_over_http_posts_ap_logout_with_aptoken() {
    let mut server = Server::new_async().await;
    let s = session(&mut server).await;
    let f = flow(&server);
    // The documented path is `/AP/Logout`; mockito matches paths exactly, so `/AP/LogOut` would not do.
    let ok = server
        .mock("POST", "/AP/Logout")
        .match_header("aptoken", "tok-1")
        .match_header("content-type", "application/json")
        .match_body("{}")
        .with_body(r#"{"result":"true","errormsg":null,"errorcode":0,"detail":null}"#)
        .create_async()
        .await;
    f.logout(&s).await.unwrap();
    ok.assert_async().await;
    ok.remove_async().await;
    let boolean = server
        .mock("POST", "/AP/Logout")
        .with_body(r#"{"result":true,"errormsg":null,"errorcode":0,"detail":null}"#)
        .create_async()
        .await;
    f.logout(&s).await.unwrap();
    boolean.assert_async().await;
    boolean.remove_async().await;
    let refused = server
        .mock("POST", "/AP/Logout")
        .with_body(r#"{"result":false,"errormsg":"Not Authorized","errorcode":20,"detail":null}"#)
        .create_async()
        .await;
    assert!(matches!(f.logout(&s).await, Err(Error::SessionExpired)));
    refused.assert_async().await;
}

#[tokio::test]
async fn oms_2_6_a_gateway_without_ap_logout_is_unsupported_not_expired() {
    let mut server = Server::new_async().await;
    let s = session(&mut server).await;
    let missing =
        server.mock("POST", "/AP/Logout").with_status(404).with_body("<html>Not Found</html>").create_async().await;
    assert!(matches!(flow(&server).logout(&s).await, Err(Error::Unsupported { operation: "logout" })));
    missing.assert_async().await;
    missing.remove_async().await;
    let html = server.mock("POST", "/AP/Logout").with_body("<!doctype html><p>hello</p>").create_async().await;
    assert!(matches!(flow(&server).logout(&s).await, Err(Error::UnexpectedResponse { status: Some(200), .. })));
    html.assert_async().await;
}

#[tokio::test]
async fn oms_2_5_resume_over_http_is_unsupported_and_sends_nothing() {
    let mut server = Server::new_async().await;
    let s = session(&mut server).await;
    // No stored document shows an HTTP call that re-establishes a session: nothing may be probed.
    let get = server.mock("GET", Matcher::Any).expect(0).create_async().await;
    let post = server.mock("POST", Matcher::Any).expect(0).create_async().await;
    assert!(matches!(flow(&server).resume(&s).await, Err(Error::Unsupported { operation: "resume" })));
    get.assert_async().await;
    post.assert_async().await;
}

#[tokio::test]
async fn oms_2_7_operation_in_process_is_not_an_error() {
    let mut server = Server::new_async().await;
    let s = session(&mut server).await;
    let mock = server
        .mock("POST", "/AP/Logout")
        .with_body(r#"{"result":false,"errormsg":"Operation In Process","errorcode":107}"#)
        .create_async()
        .await;
    flow(&server).logout(&s).await.unwrap();
    mock.assert_async().await;
}

// docs/protocols/oms.md#api-key-login, API-key login over HTTP: `GET /AP/AuthenticateUser` with `APIKey`,
// `Signature`, `UserId` and `Nonce` headers; the signature is checked against Python's `hmac`, not our
// own code.

const API_KEY: &str = "key-96-abc";
const API_SECRET: &str = "secret-96-xyz";

fn key_flow(server: &ServerGuard) -> OmsFlow {
    OmsFlow::builder().endpoint(server.url()).api_key(96, API_KEY, API_SECRET).build().unwrap()
}

fn header(request: &mockito::Request, name: &str) -> String {
    request.header(name).first().and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// Whether a request is a correctly signed API-key login for user 96.
fn signed_correctly(request: &mockito::Request) -> bool {
    let nonce = header(request, "nonce");
    !nonce.is_empty()
        && nonce.bytes().all(|b| b.is_ascii_digit())
        && header(request, "signature") == python_hmac(API_SECRET, &format!("{nonce}96{API_KEY}"))
}

async fn key_login(server: &mut ServerGuard, status: usize, body: &str) -> mockito::Mock {
    server
        .mock("GET", "/AP/AuthenticateUser")
        .match_header("apikey", API_KEY)
        .match_header("userid", "96")
        .match_header("authorization", Matcher::Missing)
        .match_request(signed_correctly)
        .with_status(status)
        .with_body(body)
        .create_async()
        .await
}

#[tokio::test]
async fn oms_2_3_api_key_login_over_http_signs_the_documented_headers() {
    let mut server = Server::new_async().await;
    // The v4 no-2FA sample, for a user with 2FA on: "authentication using an API key bypasses 2FA".
    let body = r#"{ "Authenticated": true, "SessionToken": "a923322a-5140-4d20-b2a6-e07422bb0e6e",
      "User": { "UserId": 96, "UserName": "bot", "Email": "b@x", "EmailVerified": true, "AccountId": 3, "OMSId": 1, "Use2FA": true },
      "Locked": false, "Requires2FA": false, "EnforceEnable2FA": false, "TwoFAType": null, "TwoFAToken": null, "errormsg": null }"#;
    let mock = key_login(&mut server, 200, body).await.expect(2);
    let f = key_flow(&server);
    let Step::Authenticated(s) = f.start().await.unwrap() else { panic!("an API-key login has no challenge") };
    assert_eq!(s.header_name(), "aptoken");
    assert_eq!(s.access_token().expose_secret(), "a923322a-5140-4d20-b2a6-e07422bb0e6e");
    assert_eq!((s.subject()["UserId"].as_str(), s.extras()["OMSId"].as_str()), ("96", Some("1")));
    // A second login signs a new nonce (the matcher recomputes the signature for each).
    let Step::Authenticated(_) = f.start().await.unwrap() else { panic!() };
    mock.assert_async().await;
}

#[tokio::test]
async fn oms_2_3_api_key_login_keeps_the_configured_user_id_when_the_reply_omits_it() {
    let mut server = Server::new_async().await;
    let mock = key_login(&mut server, 200, r#"{"Authenticated":true,"SessionToken":"tok-k"}"#).await;
    let Step::Authenticated(s) = key_flow(&server).start().await.unwrap() else { panic!() };
    mock.assert_async().await;
    assert_eq!(s.subject()["UserId"], "96");
}

#[tokio::test]
async fn oms_2_3_a_refused_api_key_is_invalid_api_key() {
    for (status, body) in [
        (200, r#"{"authenticated": false, "locked": false, "errormsg": "Invalid username or password"}"#),
        (200, r#"{"Authenticated":false}"#),
        (401, ""),
    ] {
        let mut server = Server::new_async().await;
        let mock = key_login(&mut server, status, body).await;
        let err = key_flow(&server).start().await.unwrap_err();
        mock.assert_async().await;
        assert!(matches!(err, Error::InvalidApiKey), "{status} {body}: {err:?}");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(API_KEY) && !shown.contains(API_SECRET), "{shown}");
    }
}

/// What an answer must yield.
type Expect = fn(&Error) -> bool;

#[tokio::test]
async fn oms_2_3_api_key_hostile_answers_are_typed_errors() {
    let locked = r#"{"Authenticated":false,"Locked":true,"errormsg":"User is locked. Please contact administrator"}"#;
    let cases: [(usize, &str, Expect); 6] = [
        (200, locked, |e| matches!(e, Error::AccountLocked)),
        (200, "<!doctype html><title>gateway</title>", |e| {
            matches!(e, Error::UnexpectedResponse { status: Some(200), .. })
        }),
        (404, "<html>Not Found</html>", |e| matches!(e, Error::UnexpectedResponse { status: Some(404), .. })),
        (200, r#"{"Authenticated":true}"#, |e| matches!(e, Error::UnexpectedResponse { .. })),
        (200, r#"{"Authenticated":true,"SessionToken":"bad\u0007token"}"#, |e| {
            matches!(e, Error::MalformedCredential { field: "SessionToken" })
        }),
        (429, "", |e| matches!(e, Error::RateLimited { .. })),
    ];
    for (status, body, expected) in cases {
        let mut server = Server::new_async().await;
        let mock = key_login(&mut server, status, body).await;
        let err = key_flow(&server).start().await.unwrap_err();
        mock.assert_async().await;
        assert!(expected(&err), "{status} {body}: {err:?}");
    }
}

#[test]
fn oms_2_3_username_and_password_or_an_api_key_not_both_nor_neither() {
    let base = || OmsFlow::builder().endpoint("https://oms.example");
    let message = |b: twofa_oms::OmsBuilder| match b.build() {
        Err(Error::Config(m)) => m,
        other => panic!("{other:?}"),
    };
    assert!(base().api_key(1, "k", "s").build().is_ok());
    assert!(base().username("u").password("p").build().is_ok());
    let both = "the OMS takes either a username and a password, or an API key, not both";
    assert_eq!(message(base().username("u").password("p").api_key(1, "k", "s")), both);
    assert_eq!(message(base().username("u").api_key(1, "k", "s")), both);
    assert_eq!(message(base()), "the OMS needs a username and a password, or an API key (user id, key and secret)");
    assert_eq!(message(base().username("u")), "the OMS needs a password");
    assert!(matches!(base().api_key(1, "", "s").build(), Err(Error::Config(_))), "an empty key");
    assert!(matches!(base().api_key(1, "k", "").build(), Err(Error::Config(_))), "an empty secret");
    let shown = format!("{:?}", base().api_key(1, "key-shown?", "secret-shown?"));
    assert!(!shown.contains("key-shown?") && !shown.contains("secret-shown?"), "{shown}");
}

// docs/protocols/oms.md#api-keys: `AddUserAPIKey`, `GetUserAPIKeys` and `RemoveUserAPIKey` over HTTP,
// the requests asserted and the APEX v4 "User" samples answered byte for byte.

#[tokio::test]
async fn oms_api_keys_over_http_send_the_documented_requests_and_read_the_documented_samples() {
    let mut server = Server::new_async().await;
    let s = session(&mut server).await;
    let f = flow(&server);
    let keys = f.api_keys(&s).unwrap();
    assert_eq!(keys.user_id(), 7);
    // `UserId` goes as a number: a Coins Pro client notes a string "will not push the request".
    let add = server
        .mock("POST", "/AP/AddUserAPIKey")
        .match_header("aptoken", "tok-1")
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(json!({ "UserId": 7, "Permissions": ["Trading", "Withdraw"] })))
        .with_body(
            r#"{
  "APIKey": "75e81e03303c365cf5409bece487ced5",
  "APISecret": "12323c2854d28f5947e75191212121211",
  "UserId": 6,
  "Permissions": [
    "Trading"
  ],
  "Nonce": 0,
  "IpWhiteList": "1.1.2.3"
}"#,
        )
        .create_async()
        .await;
    let made = keys.create(&[Permission::Trading, Permission::Withdraw]).await.unwrap();
    add.assert_async().await;
    assert_eq!(made.key.expose_secret(), "75e81e03303c365cf5409bece487ced5");
    assert_eq!(made.secret.expose_secret(), "12323c2854d28f5947e75191212121211");
    assert_eq!((made.user_id, made.permissions.clone()), (6, vec![Permission::Trading]), "as the reply says");

    let list = server
        .mock("POST", "/AP/GetUserAPIKeys")
        .match_header("aptoken", "tok-1")
        .match_body(Matcher::Json(json!({ "UserId": 7 })))
        .with_body(
            r#"[
  {
    "APIKey": "b0a58da50d64df5dc5ec11b851aa1a3a",
    "APISecret": "",
    "UserId": 18,
    "Permissions": [
      "Trading",
      "Withdraw",
      "Deposit",
      "AccountReadOnly"
    ],
    "IpWhiteList": "1.2.3.4"
  }
]"#,
        )
        .create_async()
        .await;
    let listed = keys.list().await.unwrap();
    list.assert_async().await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key.expose_secret(), "b0a58da50d64df5dc5ec11b851aa1a3a");
    assert_eq!(listed[0].permissions, Permission::DOCUMENTED.to_vec());

    let remove = server
        .mock("POST", "/AP/RemoveUserAPIKey")
        .match_header("aptoken", "tok-1")
        .match_body(Matcher::Json(json!({ "UserId": 7, "APIKey": "04c58e781cf23ddb7889beacebaf36ef" })))
        .with_body(r#"{"result": true, "errormsg": null, "errorcode": 0, "detail": null}"#)
        .create_async()
        .await;
    keys.remove(&twofa_core::ApiKey::new("04c58e781cf23ddb7889beacebaf36ef")).await.unwrap();
    remove.assert_async().await;
}

#[tokio::test]
async fn oms_api_keys_hostile_answers_are_typed_errors() {
    let mut server = Server::new_async().await;
    let s = session(&mut server).await;
    let f = flow(&server);
    let keys = f.api_keys(&s).unwrap();
    let answer = |server: &mut ServerGuard, function: &str, status: usize, body: &str| {
        server.mock("POST", format!("/AP/{function}").as_str()).with_status(status).with_body(body)
    };
    for (body, check) in [
        (r#"{"APIKey":"bad key\r\nX: 1","APISecret":"s"}"#, "malformed"),
        (r#"{"APIKey":"k","APISecret":""}"#, "no secret"),
        (r#"{"result":false,"errormsg":"Not Authorized","errorcode":20,"detail":null}"#, "not authorized"),
        (r#"{"result":false,"errormsg":"Invalid Request","errorcode":100,"detail":null}"#, "invalid request"),
        ("[]", "a list"),
    ] {
        let mock = answer(&mut server, "AddUserAPIKey", 200, body).create_async().await;
        let err = keys.create(&[Permission::Trading]).await.unwrap_err();
        mock.remove_async().await;
        let expected = match check {
            "malformed" => matches!(err, Error::MalformedCredential { field: "APIKey" }),
            "no secret" | "a list" => matches!(err, Error::UnexpectedResponse { .. }),
            "not authorized" => matches!(err, Error::SessionExpired),
            _ => matches!(err, Error::Provider { code: 100, .. }),
        };
        assert!(expected, "{check}: {err:?}");
        assert!(!err.to_string().contains("bad key"), "{err}");
    }
    let gone = answer(&mut server, "GetUserAPIKeys", 404, "").create_async().await;
    assert!(matches!(keys.list().await, Err(Error::Unsupported { operation: "GetUserAPIKeys" })));
    gone.remove_async().await;
    let object = answer(&mut server, "GetUserAPIKeys", 200, r#"{"result":true}"#).create_async().await;
    assert!(matches!(keys.list().await, Err(Error::UnexpectedResponse { .. })));
    object.remove_async().await;
    let limited = answer(&mut server, "RemoveUserAPIKey", 429, "").create_async().await;
    assert!(matches!(keys.remove(&twofa_core::ApiKey::new("k")).await, Err(Error::RateLimited { .. })));
    limited.remove_async().await;
}
