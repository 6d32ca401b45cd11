//! What real clients send, each accepted as the real servers do (issue 26 item 1), spoken raw: one
//! test per leniency, with the client or document it comes from, asserting the exact status and body.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use base64::{Engine as _, engine::general_purpose::STANDARD};
use futures_util::{SinkExt as _, StreamExt as _};
use hmac::{Hmac, KeyInit as _, Mac as _};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::{connect_async, tungstenite::Message};
use twofa_sandbox::{Sandbox, Variants, etna, oms, oms_api_key, onlineordering as oo};

fn variant(spec: &str) -> Variants {
    let mut variants = Variants::default();
    variants.set(spec).unwrap();
    variants
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, String) {
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

fn totp_now(seed: &str) -> String {
    let secret = totp_rs::Secret::try_from_base32(seed).unwrap().as_bytes().to_vec();
    let totp = totp_rs::Builder::new().with_secret(secret).build_noncompliant();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    totp.generate(now).to_string()
}

/// The API-key headers ccxt's `ndax` and notbank send: HMAC-SHA256 of `Nonce + UserId + APIKey`.
fn signed(request: reqwest::RequestBuilder, nonce: &str) -> reqwest::RequestBuilder {
    let user_id = oms_api_key::API_USER_ID.to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(oms_api_key::API_SECRET.as_bytes()).unwrap();
    mac.update(format!("{nonce}{user_id}{}", oms_api_key::API_KEY).as_bytes());
    let signature: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    request
        .header("Nonce", nonce)
        .header("APIKey", oms_api_key::API_KEY)
        .header("Signature", signature)
        .header("UserId", user_id)
}

// ---- OMS over HTTP ----

/// ccxt's `ndax` `sign_in`: `GET /AP/Authenticate?grant_type=client_credentials` with Basic, then
/// `GET /AP/Authenticate2FA?Code=…` with the `Pending2FaToken` header (a GET, payload in the
/// query, where the documents POST a JSON body).
#[tokio::test]
async fn oms_authenticate2fa_as_a_get_with_the_code_in_the_query() {
    let sandbox = Sandbox::start().await.unwrap();
    let http = Client::new();
    let basic = STANDARD.encode(format!("{}:{}", oms::USER_TOTP, oms::PASSWORD));
    let url = format!("{}/AP/Authenticate?grant_type=client_credentials", sandbox.oms_http_url());
    let (status, body) = send(http.get(url).header("Authorization", format!("Basic {basic}"))).await;
    assert_eq!(status, StatusCode::OK);
    let reply: Value = serde_json::from_str(&body).unwrap();
    let pending = reply["Pending2FaToken"].as_str().unwrap();
    let url = format!("{}/AP/Authenticate2FA?Code={}", sandbox.oms_http_url(), totp_now(oms::TOTP_SEED));
    let (status, body) = send(http.get(url).header("Pending2FaToken", pending)).await;
    assert_eq!(status, StatusCode::OK);
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((reply["Authenticated"].clone(), reply["UserId"].clone()), (json!(true), json!("2")), "{body}");
    let token = reply["SessionToken"].as_str().unwrap();
    let url = format!("{}/AP/GetUserInfo", sandbox.oms_http_url());
    let (status, body) = send(http.get(url).header("APToken", token)).await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()["UserName"].clone()),
        (StatusCode::OK, json!(oms::USER_TOTP))
    );
}

/// ccxt lists `LogOut` among its public GETs; the documents POST it.
#[tokio::test]
async fn oms_logout_as_a_get() {
    let sandbox = Sandbox::start().await.unwrap();
    let (status, body) = send(Client::new().get(format!("{}/AP/LogOut", sandbox.oms_http_url()))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, oms::LOGGED_OUT));
}

/// An unknown function over HTTP answers as over the WebSocket: 200 with the generic 106
/// ("Operation Not Supported"), never an empty 404; so does a method other than GET or POST.
#[tokio::test]
async fn oms_an_unknown_http_function_is_106_with_200() {
    let sandbox = Sandbox::start().await.unwrap();
    let http = Client::new();
    for (method, path) in
        [(Method::POST, "/AP/NoSuchFunction"), (Method::GET, "/ap/getinstruments"), (Method::PUT, "/AP/Ping")]
    {
        let (status, body) = send(http.request(method.clone(), format!("{}{path}", sandbox.oms_http_url()))).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, oms::NOT_SUPPORTED), "{method} {path}");
    }
}

/// ccxt's `ndax` signs every private call with the API-key headers when it holds no session:
/// accepted (`oms.api-key-calls=any`, the default), each nonce once; refused under `login`.
#[tokio::test]
async fn oms_api_key_headers_on_a_private_call() {
    let sandbox = Sandbox::start().await.unwrap();
    let http = Client::new();
    let url = format!("{}/AP/GetUserInfo", sandbox.oms_http_url());
    let (status, body) = send(signed(http.get(&url), "1700000000001")).await;
    let info: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status, info["UserName"].clone(), info["UserId"].clone()),
        (StatusCode::OK, json!(oms::USER_TOTP), json!(2))
    );
    let (status, body) = send(signed(http.get(&url), "1700000000001")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, oms::NOT_AUTHORIZED), "a replayed nonce");

    sandbox.set_variants(variant("oms.api-key-calls=login"));
    let (status, body) = send(signed(http.get(&url), "1700000000002")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, oms::NOT_AUTHORIZED), "login-only variant");
}

// ---- OMS over the WebSocket ----

async fn ws_call(url: &str, frames: &[(&str, Value)]) -> Vec<String> {
    let (mut socket, _) = connect_async(url).await.unwrap();
    let mut replies = Vec::new();
    for (i, (name, payload)) in frames.iter().enumerate() {
        let seq = 2 * (i as u64 + 1);
        let frame = json!({ "m": 0, "i": seq, "n": name, "o": payload.to_string() });
        socket.send(Message::text(frame.to_string())).await.unwrap();
        let Some(Ok(Message::Text(text))) = socket.next().await else { panic!("no reply to {name}") };
        let frame: Value = serde_json::from_str(&text).unwrap();
        replies.push(frame["o"].as_str().unwrap().to_owned());
    }
    replies
}

/// notbank's typed `WebAuthenticateUser` model wants `UserId` as a string, as the APEX v4 table
/// documents it: the default in login and resume replies.
#[tokio::test]
async fn oms_user_id_is_a_string_in_resume_replies() {
    let sandbox = Sandbox::start().await.unwrap();
    let login = json!({ "UserName": oms::USER_NO_2FA, "Password": oms::PASSWORD });
    let replies = ws_call(&sandbox.oms_ws_url(), &[("WebAuthenticateUser", login)]).await;
    let reply: Value = serde_json::from_str(&replies[0]).unwrap();
    assert_eq!(reply["UserId"], json!("1"));
    let resume = json!({ "SessionToken": reply["SessionToken"] });
    let replies = ws_call(&sandbox.oms_ws_url(), &[("WebAuthenticateUser", resume)]).await;
    let reply: Value = serde_json::from_str(&replies[0]).unwrap();
    assert_eq!((reply["Authenticated"].clone(), reply["UserId"].clone()), (json!(true), json!("1")));
}

/// StockSharp's NDAX client expects `Ping` to answer a bare string (`oms.ping=string`).
#[tokio::test]
async fn oms_ping_as_a_string_variant() {
    let sandbox = Sandbox::start().await.unwrap();
    assert_eq!(ws_call(&sandbox.oms_ws_url(), &[("Ping", json!({}))]).await, [oms::PONG]);
    sandbox.set_variants(variant("oms.ping=string"));
    assert_eq!(ws_call(&sandbox.oms_ws_url(), &[("Ping", json!({}))]).await, [r#""PONG""#]);
    let (status, body) = send(Client::new().get(format!("{}/AP/Ping", sandbox.oms_http_url()))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, r#""PONG""#));
}

// ---- NCR Aloha Online Ordering ----

fn integrator(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    let basic = STANDARD.encode(format!("{}:{}", oo::API_USER, oo::API_PASSWORD));
    request.header("Authorization", format!("Basic {basic}")).header("X-Api-CompanyCode", oo::COMPANY_CODE)
}

/// The customer GUID the 2FA login's `id_token` carries for `email`.
async fn customer_id(sandbox: &Sandbox, email: &str) -> String {
    let body = json!({ "Email": email, "Password": oo::PASSWORD });
    let url = format!("{}/v1/Authenticate/2FA", sandbox.base_url());
    let (_, text) =
        send(integrator(Client::new().post(url)).header("Content-Type", "application/json").body(body.to_string()))
            .await;
    let reply: Value = serde_json::from_str(&text).unwrap();
    let claims = STANDARD.decode(reply["id_token"].as_str().unwrap()).unwrap();
    serde_json::from_slice::<Value>(&claims).unwrap()["CustomerId"].as_str().unwrap().to_owned()
}

/// NCR's C# demo: the legacy `POST v1/Authenticate {Email, Password}` answers the bare customer
/// GUID, as JSON or as DataContract XML (production help).
#[tokio::test]
async fn oo_legacy_login_answers_the_bare_guid() {
    let sandbox = Sandbox::start().await.unwrap();
    let id = customer_id(&sandbox, oo::CUSTOMER_NO_2FA).await;
    let url = format!("{}/v1/Authenticate", sandbox.base_url());
    let body = json!({ "Email": oo::CUSTOMER_NO_2FA, "Password": oo::PASSWORD });
    let http = Client::new();
    let (status, text) = send(
        integrator(http.post(&url))
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .body(body.to_string()),
    )
    .await;
    assert_eq!((status, text), (StatusCode::OK, format!("\"{id}\"")));
    let (status, text) = send(
        integrator(http.post(&url))
            .header("Accept", "application/xml")
            .header("Content-Type", "application/json")
            .body(body.to_string()),
    )
    .await;
    let xml = format!(r#"<guid xmlns="http://schemas.microsoft.com/2003/10/Serialization/">{id}</guid>"#);
    assert_eq!((status, text), (StatusCode::OK, xml));
    let wrong = json!({ "Email": oo::CUSTOMER_NO_2FA, "Password": "not-the-password" });
    let (status, text) =
        send(integrator(http.post(&url)).header("Content-Type", "application/json").body(wrong.to_string())).await;
    assert_eq!((status, text.as_str()), (StatusCode::UNAUTHORIZED, r#"{"Message":"Invalid email or password."}"#));
    let locked = json!({ "Email": oo::CUSTOMER_LOCKED, "Password": oo::PASSWORD });
    let (status, text) =
        send(integrator(http.post(&url)).header("Content-Type", "application/json").body(locked.to_string())).await;
    assert_eq!((status, text.as_str()), (StatusCode::FORBIDDEN, r#"{"Message":"The account is locked."}"#));
}

/// NCR's help documents DataContract XML beside JSON for every call: the legacy login, the 2FA
/// login and the refresh take an XML body (`InLogin`, `InLoginWithDevice`, `InRefreshAccessToken`).
#[tokio::test]
async fn oo_xml_request_bodies() {
    let sandbox = Sandbox::start().await.unwrap();
    let http = Client::new();
    let ns = r#"xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.datacontract.org/2004/07/OnlineOrderingAPI.Inbound""#;
    let legacy =
        format!("<InLogin {ns}><Email>{}</Email><Password>{}</Password></InLogin>", oo::CUSTOMER_NO_2FA, oo::PASSWORD);
    let id = customer_id(&sandbox, oo::CUSTOMER_NO_2FA).await;
    let request = integrator(http.post(format!("{}/v1/Authenticate", sandbox.base_url())))
        .header("Content-Type", "application/xml")
        .header("Accept", "application/xml")
        .body(legacy);
    let guid = format!(r#"<guid xmlns="http://schemas.microsoft.com/2003/10/Serialization/">{id}</guid>"#);
    assert_eq!(send(request).await, (StatusCode::OK, guid));

    let login = format!(
        r#"<InLoginWithDevice {ns}><Email>{}</Email><Password>{}</Password><DeviceId i:nil="true"/></InLoginWithDevice>"#,
        oo::CUSTOMER_NO_2FA,
        oo::PASSWORD
    );
    let request = integrator(http.post(format!("{}/v1/Authenticate/2FA", sandbox.base_url())))
        .header("Content-Type", "text/xml")
        .body(login);
    let (status, text) = send(request).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let refresh_token = serde_json::from_str::<Value>(&text).unwrap()["refresh_token"].as_str().unwrap().to_owned();
    let refresh =
        format!("<InRefreshAccessToken {ns}><RefreshToken>{refresh_token}</RefreshToken></InRefreshAccessToken>");
    let request = integrator(http.post(format!("{}/v1/Authenticate/2FA/Refresh", sandbox.base_url())))
        .header("Content-Type", "application/xml")
        .body(refresh);
    let (status, text) = send(request).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(serde_json::from_str::<Value>(&text).unwrap()["access_token"].is_string(), "{text}");

    let broken = integrator(http.post(format!("{}/v1/Authenticate", sandbox.base_url())))
        .header("Content-Type", "application/xml")
        .body("<InLogin><Email>x</Password></InLogin>");
    assert_eq!(send(broken).await, (StatusCode::BAD_REQUEST, r#"{"Message":"The request is invalid."}"#.to_owned()));
}

/// ASP.NET Web API routes and binds names without regard to case: the route, the body keys and
/// the query names.
#[tokio::test]
async fn oo_routes_query_names_and_body_keys_in_any_case() {
    let sandbox = Sandbox::start().await.unwrap();
    let http = Client::new();
    let body = json!({ "email": oo::CUSTOMER_EMAIL_2FA, "PASSWORD": oo::PASSWORD });
    let no_redirect = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let (status, _) = send(
        integrator(no_redirect.post(format!("{}/V1/authenticate/2fa/", sandbox.base_url())))
            .header("Content-Type", "application/json")
            .body(body.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let code = sandbox.outbox().latest_code(oo::CUSTOMER_EMAIL_2FA).unwrap();
    let url = format!("{}/v1/AUTHENTICATE/2FA?EMAIL={}&Code={code}", sandbox.base_url(), oo::CUSTOMER_EMAIL_2FA);
    let (status, text) = send(integrator(http.get(url))).await;
    let reply: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    let refresh = json!({ "refreshtoken": reply["refresh_token"] });
    let (status, text) = send(
        integrator(http.post(format!("{}/v1/authenticate/2fa/refresh", sandbox.base_url())))
            .header("Content-Type", "application/json")
            .body(refresh.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let access = serde_json::from_str::<Value>(&text).unwrap()["access_token"].as_str().unwrap().to_owned();
    // RFC 7235 §2.1: the scheme is case-insensitive.
    let basic = STANDARD.encode(format!("{}:{}", oo::API_USER, oo::API_PASSWORD));
    let me = http
        .get(format!("{}/v1/customers/ME", sandbox.base_url()))
        .header("Authorization", format!("bearer {access}"))
        .header("x-api-custom-auth", format!("Basic {basic}"))
        .header("X-Api-CompanyCode", oo::COMPANY_CODE);
    let (status, text) = send(me).await;
    let me: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((status, me["Email"].clone()), (StatusCode::OK, json!(oo::CUSTOMER_EMAIL_2FA)));
}

// ---- ETNA ----

async fn etna_token(sandbox: &Sandbox, path: &str) -> String {
    let request = Client::new()
        .post(format!("{}{path}", sandbox.base_url()))
        .header("et-app-key", etna::APP_KEY)
        .header("username", etna::USER_NO_2FA)
        .header("password", etna::PASSWORD);
    let (status, text) = send(request).await;
    assert_eq!(status, StatusCode::OK, "{path}: {text}");
    serde_json::from_str::<Value>(&text).unwrap()["Token"].as_str().unwrap().to_owned()
}

/// ETNA's routes in any case and with a trailing slash, as its ASP.NET service routes them.
#[tokio::test]
async fn etna_routes_in_any_case_with_a_trailing_slash() {
    let sandbox = Sandbox::start().await.unwrap();
    for path in ["/api/token", "/API/Token/", "/Api/TOKEN"] {
        let token = etna_token(&sandbox, path).await;
        let me = Client::new()
            .get(format!("{}/api/V1.0/Users/Me/", sandbox.base_url()))
            .header("Et-App-Key", etna::APP_KEY)
            .header("Authorization", format!("Bearer {token}"));
        let (status, text) = send(me).await;
        assert_eq!((status, text), (StatusCode::OK, format!(r#"{{"Username":"{}"}}"#, etna::USER_NO_2FA)));
    }
}

/// The vendor's own samples call `GET v1.0/users/{id}/info` ("Get user info by Id"): the
/// `UserInfoModel` by id or `@me`, 401 with no content for another user, 403 for a wrong app key.
#[tokio::test]
async fn etna_users_id_info() {
    let sandbox = Sandbox::start().await.unwrap();
    let token = etna_token(&sandbox, "/api/token").await;
    let id = etna::user_id(etna::USER_NO_2FA).unwrap();
    let info = |who: String, key: &str, scheme: &str| {
        Client::new()
            .get(format!("{}/api/v1.0/users/{who}/info", sandbox.base_url()))
            .header("Et-App-Key", key)
            .header("Authorization", format!("{scheme} {token}"))
    };
    let expected = json!({
        "UserId": id, "FirstName": "bob", "MiddleName": "", "LastName": "Sandbox", "Login": "bob",
        "Email": "bob@sandbox.example", "AddedDate": "2024-01-02T03:04:05Z", "Salutation": "NoSalutation",
        "Suffix": "NoSuffix",
    });
    for (who, scheme) in [(id.to_string(), "Bearer"), ("@me".to_owned(), "bearer"), (id.to_string(), "BEARER")] {
        let (status, text) = send(info(who.clone(), etna::APP_KEY, scheme)).await;
        assert_eq!(
            (status, serde_json::from_str::<Value>(&text).unwrap()),
            (StatusCode::OK, expected.clone()),
            "{who} {scheme}"
        );
    }
    let other = etna::user_id(etna::USER_2FA).unwrap().to_string();
    assert_eq!(send(info(other, etna::APP_KEY, "Bearer")).await, (StatusCode::UNAUTHORIZED, String::new()));
    assert_eq!(send(info(id.to_string(), "wrong-key", "Bearer")).await, (StatusCode::FORBIDDEN, String::new()));
    let (status, text) = send(info(id.to_string(), etna::APP_KEY, "Basic")).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"Message":"Authorization has been denied for this request."}"#)
    );
}
