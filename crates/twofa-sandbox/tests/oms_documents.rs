//! The OMS gateways against the APEX documents, spoken raw (no twofa client): each test names the part of
//! docs/protocols/oms.md or the RFC it follows.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async, tungstenite::Message};
use twofa_sandbox::{
    Sandbox,
    oms::{self, OmsVariant},
};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Ws {
    socket: Socket,
    seq: u64,
}

impl Ws {
    async fn open(url: &str) -> Self {
        Self { socket: connect_async(url).await.unwrap().0, seq: 0 }
    }

    /// Sends `n` with `payload` and returns the reply frame's `m` and its `o` as text.
    async fn call(&mut self, n: &str, payload: Value) -> (u64, String) {
        self.seq += 2;
        let frame = json!({ "m": 0, "i": self.seq, "n": n, "o": payload.to_string() });
        self.socket.send(Message::text(frame.to_string())).await.unwrap();
        loop {
            let Some(Ok(Message::Text(text))) = self.socket.next().await else { panic!("no reply to {n}") };
            let frame: Value = serde_json::from_str(&text).unwrap();
            if frame["i"] == self.seq && frame["m"] != 3 {
                return (frame["m"].as_u64().unwrap(), frame["o"].as_str().unwrap().to_owned());
            }
        }
    }

    async fn json(&mut self, n: &str, payload: Value) -> Value {
        let (m, o) = self.call(n, payload).await;
        assert_eq!(m, 1, "{n}: {o}");
        serde_json::from_str(&o).unwrap()
    }
}

fn seed_code(seed: &str, period: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(seed).unwrap().as_bytes().to_vec();
    let totp = totp_rs::Builder::new().with_secret(secret).with_step_duration(period).build_noncompliant();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    totp.generate(now).to_string()
}

fn password(user: &str) -> Value {
    json!({ "UserName": user, "Password": oms::PASSWORD })
}

/// RFC 6455 §5.5.1: a Close frame is answered with a Close frame, so the client's close is clean.
#[tokio::test]
async fn a_client_close_is_answered_and_ends_cleanly() {
    let sandbox = Sandbox::start().await.unwrap();
    let mut ws = Ws::open(&sandbox.oms_ws_url()).await;
    ws.socket.close(None).await.unwrap();
    let mut answered = false;
    while let Some(message) = ws.socket.next().await {
        match message {
            Ok(Message::Close(_)) => answered = true,
            Ok(_) => {}
            Err(e) => panic!("the close did not end cleanly: {e}"),
        }
    }
    assert!(answered, "the sandbox never answered the Close frame");
}

/// docs/protocols/oms.md#frames: the documents write `/WSGateway/`, `/wsgateway` and `/AP/` or `/ap/`.
#[tokio::test]
async fn gateway_paths_match_any_case_with_or_without_a_trailing_slash() {
    let sandbox = Sandbox::start().await.unwrap();
    let base = sandbox.addr();
    for path in ["WSGateway", "WSGateway/", "wsgateway/", "wsgateway", "WSGATEWAY"] {
        let mut ws = Ws::open(&format!("ws://{base}/{path}")).await;
        assert_eq!(ws.json("Ping", json!({})).await, json!({ "msg": "PONG" }), "{path}");
    }
    let http = reqwest::Client::new();
    for path in ["AP/LogOut", "ap/logout", "AP/Logout/", "ap/LOGOUT/"] {
        let response = http.post(format!("http://{base}/{path}")).body("{}").send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.text().await.unwrap(), oms::LOGGED_OUT, "{path}");
    }
    let unknown = http.post(format!("http://{base}/AP/NoSuchCall")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}

/// docs/protocols/oms.md#webauthenticateuser and AlphaPoint's "Authenticate2FA" API page: `twoFAToken` is
/// the enrolment QR code — sent while the user has not enrolled, an empty string once a code has been
/// accepted.
#[tokio::test]
async fn the_seed_travels_only_until_the_user_enrols() {
    let sandbox = Sandbox::start().await.unwrap();
    let mut ws = Ws::open(&sandbox.oms_ws_url()).await;
    let enrolled = ws.json("WebAuthenticateUser", password(oms::USER_TOTP)).await;
    assert_eq!((enrolled["Requires2FA"].clone(), enrolled["twoFAToken"].clone()), (json!(true), json!("")));

    let mut ws = Ws::open(&sandbox.oms_ws_url()).await;
    let first = ws.json("WebAuthenticateUser", password(oms::USER_ENROLLING)).await;
    let uri = first["twoFAToken"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/") && uri.contains(oms::ENROLLING_SEED), "{first}");
    let code = seed_code(oms::ENROLLING_SEED, 30);
    let done = ws.json("Authenticate2FA", json!({ "Code": code })).await;
    assert_eq!(done["Authenticated"], true, "{done}");

    let mut ws = Ws::open(&sandbox.oms_ws_url()).await;
    let later = ws.json("WebAuthenticateUser", password(oms::USER_ENROLLING)).await;
    assert_eq!((later["Requires2FA"].clone(), later["twoFAToken"].clone()), (json!(true), json!("")));
}

/// docs/protocols/oms.md#authenticateuser: `AuthenticateUser {UserName, Password}` is a documented
/// WebSocket login (slate's camelCase reply).
#[tokio::test]
async fn authenticate_user_with_a_password_over_websocket() {
    let sandbox = Sandbox::start().await.unwrap();
    let mut ws = Ws::open(&sandbox.oms_ws_url()).await;
    let reply = ws.json("AuthenticateUser", password(oms::USER_NO_2FA)).await;
    assert_eq!(reply["authenticated"], true, "{reply}");
    for key in ["userId", "userName", "email", "emailVerified", "accountId", "omsId", "use2FA"] {
        assert!(reply["user"].get(key).is_some(), "user.{key} missing: {reply}");
    }
    assert!(!reply["sessionToken"].as_str().unwrap().is_empty());
    assert_eq!(ws.json("GetUserInfo", json!({})).await["UserName"], oms::USER_NO_2FA);

    let mut ws = Ws::open(&sandbox.oms_ws_url()).await;
    let pending = ws.json("AuthenticateUser", password(oms::USER_TOTP)).await;
    assert_eq!((pending["requires2FA"].clone(), pending["twoFAType"].clone()), (json!(true), json!("Google")));
    let bad = ws.json("AuthenticateUser", json!({ "UserName": oms::USER_TOTP, "Password": "nope" })).await;
    assert_eq!(bad, json!({ "authenticated": false, "locked": false, "errormsg": "Invalid username or password" }));
}

/// docs/protocols/oms.md#logout: LogOut needs no authentication, over both gateways, and answers the
/// documented body.
#[tokio::test]
async fn logout_needs_no_session() {
    let sandbox = Sandbox::start().await.unwrap();
    let mut ws = Ws::open(&sandbox.oms_ws_url()).await;
    ws.json("WebAuthenticateUser", password(oms::USER_TOTP)).await;
    assert_eq!(ws.call("LogOut", json!({})).await, (1, oms::LOGGED_OUT.to_owned()));
    let http = reqwest::Client::new().post(format!("{}/AP/LogOut", sandbox.oms_http_url())).body("{}");
    assert_eq!(http.send().await.unwrap().text().await.unwrap(), oms::LOGGED_OUT);

    sandbox.set_oms_variant(OmsVariant::default().logout_result_as_string(true));
    assert_eq!(ws.call("LogOut", json!({})).await, (1, oms::LOGGED_OUT_V4.to_owned()));
}

/// docs/protocols/oms.md#other-calls: the keep-alive `Ping` answers `{"msg":"PONG"}`, also before any
/// login.
#[tokio::test]
async fn ping_answers_pong() {
    let sandbox = Sandbox::start().await.unwrap();
    let mut ws = Ws::open(&sandbox.oms_ws_url()).await;
    assert_eq!(ws.call("Ping", json!({})).await, (1, oms::PONG.to_owned()));
}

/// docs/protocols/oms.md#authenticateuser: the v4 `User` object; docs/protocols/oms.md#other-calls:
/// `GetUserInfo` with the fields the Notbank client's model reads.
#[tokio::test]
async fn replies_have_the_documented_shapes() {
    let sandbox = Sandbox::start().await.unwrap();
    let http = reqwest::Client::new();
    let login = http
        .get(format!("{}/AP/AuthenticateUser", sandbox.oms_http_url()))
        .basic_auth(oms::USER_NO_2FA, Some(oms::PASSWORD))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let login: Value = serde_json::from_slice(&login).unwrap();
    for key in ["Authenticated", "SessionToken", "User", "Locked", "Requires2FA", "EnforceEnable2FA", "TwoFAType"] {
        assert!(login.get(key).is_some(), "{key} missing: {login}");
    }
    for key in ["UserId", "UserName", "Email", "EmailVerified", "AccountId", "OMSId", "Use2FA"] {
        assert!(login["User"].get(key).is_some(), "User.{key} missing: {login}");
    }
    let token = login["SessionToken"].as_str().unwrap();
    let info = http
        .post(format!("{}/AP/GetUserInfo", sandbox.oms_http_url()))
        .header("aptoken", token)
        .body("{}")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let info: Value = serde_json::from_slice(&info).unwrap();
    let fields = [
        "UserId",
        "UserName",
        "Email",
        "PasswordHash",
        "PendingEmailCode",
        "EmailVerified",
        "AccountId",
        "DateTimeCreated",
        "AffiliateId",
        "RefererId",
        "OMSId",
        "Use2FA",
        "Salt",
        "PendingCodeTime",
        "Locked",
        "LockedTime",
        "NumberOfFailedAttempt",
        "MarginBorrowerEnabled",
        "MarginAcquisitionHalt",
        "OperatorId",
    ];
    for key in fields {
        assert!(info.get(key).is_some(), "GetUserInfo.{key} missing: {info}");
    }
    assert_eq!(info["AccountId"], login["User"]["AccountId"]);
}

/// RFC 6238 §5.2: a code accepted once is refused the second time within its window, unless the
/// lax-server variant is on.
#[tokio::test]
async fn a_replayed_totp_code_is_refused() {
    let sandbox = Sandbox::start().await.unwrap();
    let code = seed_code(oms::TOTP_SEED, 30);
    let mut first = Ws::open(&sandbox.oms_ws_url()).await;
    first.json("WebAuthenticateUser", password(oms::USER_TOTP)).await;
    assert_eq!(first.json("Authenticate2FA", json!({ "Code": code })).await["Authenticated"], true);
    let mut second = Ws::open(&sandbox.oms_ws_url()).await;
    second.json("WebAuthenticateUser", password(oms::USER_TOTP)).await;
    assert_eq!(second.json("Authenticate2FA", json!({ "Code": code })).await, json!({ "Authenticated": false }));

    sandbox.set_oms_variant(OmsVariant::default().allow_totp_replay(true));
    assert_eq!(second.json("Authenticate2FA", json!({ "Code": code })).await["Authenticated"], true);
}

/// The TOTP period knob: a short step, announced in the enrolment URI.
#[tokio::test]
async fn a_short_totp_period_is_announced_and_checked() {
    let sandbox = Sandbox::builder().oms_totp_period(Duration::from_secs(2)).start().await.unwrap();
    let mut ws = Ws::open(&sandbox.oms_ws_url()).await;
    let reply = ws.json("WebAuthenticateUser", password(oms::USER_ENROLLING)).await;
    assert!(reply["twoFAToken"].as_str().unwrap().ends_with("&period=2"), "{reply}");
    let code = seed_code(oms::ENROLLING_SEED, 2);
    assert_eq!(ws.json("Authenticate2FA", json!({ "Code": code })).await["Authenticated"], true);
}

/// docs/protocols/oms.md#generic-response: logical errors are HTTP 200 with the generic body, byte for
/// byte; `m:5` frames carry it too.
#[tokio::test]
async fn logical_errors_are_200_and_error_frames_are_m5() {
    let sandbox = Sandbox::start().await.unwrap();
    let http = reqwest::Client::new();
    let refused = http.post(format!("{}/AP/GetUserInfo", sandbox.oms_http_url())).body("{}").send().await.unwrap();
    assert_eq!(refused.status(), 200);
    assert_eq!(refused.text().await.unwrap(), oms::NOT_AUTHORIZED);
    let ws_only = http.post(format!("{}/AP/WebAuthenticateUser", sandbox.oms_http_url())).send().await.unwrap();
    assert_eq!(ws_only.status(), 200);
    assert_eq!(ws_only.text().await.unwrap(), oms::NOT_SUPPORTED);
    let no_ticket = http.post(format!("{}/AP/Authenticate2FA", sandbox.oms_http_url())).body(r#"{"Code":"1"}"#);
    assert_eq!(no_ticket.send().await.unwrap().text().await.unwrap(), oms::NOT_AUTHORIZED);

    let mut ws = Ws::open(&sandbox.oms_ws_url()).await;
    assert_eq!(ws.call("GetUserInfo", json!({})).await, (1, oms::NOT_AUTHORIZED.to_owned()));
    assert_eq!(ws.call("NoSuchCall", json!({})).await, (1, oms::NOT_SUPPORTED.to_owned()));
    sandbox.set_oms_error_frames(true);
    assert_eq!(ws.call("Ping", json!({})).await, (5, oms::SERVER_ERROR.to_owned()));
}

/// docs/protocols/oms.md#resume: a session token re-establishes a session on a new socket, by
/// WebAuthenticateUser or (as foxbit-client does) Authenticate2FA; an unknown one gets the observed
/// refusal.
#[tokio::test]
async fn session_tokens_resume_on_a_new_socket() {
    let sandbox = Sandbox::start().await.unwrap();
    let mut ws = Ws::open(&sandbox.oms_ws_url()).await;
    let token = ws.json("WebAuthenticateUser", password(oms::USER_NO_2FA)).await["SessionToken"].clone();
    for call in ["WebAuthenticateUser", "Authenticate2FA"] {
        let mut again = Ws::open(&sandbox.oms_ws_url()).await;
        let reply = again.json(call, json!({ "SessionToken": token })).await;
        assert_eq!((reply["Authenticated"].clone(), reply["SessionToken"].clone()), (json!(true), token.clone()));
        assert_eq!(again.json("GetUserInfo", json!({})).await["UserId"], 1);
    }
    let mut stranger = Ws::open(&sandbox.oms_ws_url()).await;
    let refused = stranger.json("WebAuthenticateUser", json!({ "SessionToken": "nope" })).await;
    assert_eq!(refused, json!({ "Authenticated": false, "errormsg": "Invalid session token" }));
    sandbox.set_oms_variant(OmsVariant::default().user_id_as_string(true));
    let mut again = Ws::open(&sandbox.oms_ws_url()).await;
    assert_eq!(again.json("WebAuthenticateUser", json!({ "SessionToken": token })).await["UserId"], "1");
}
