//! Credentials a server hands out (tokens, pending-2FA state, authenticator setup data, device ids)
//! are later sent in headers and printed by the CLI: one with CR/LF, spaces, control bytes,
//! non-ASCII or an absurd length is refused where it is parsed, with an error naming the field
//! and never quoting the value, and it never replaces a good stored session.

use std::{net::SocketAddr, sync::Arc};

use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use twofa::{
    AccessToken, Authenticator, Error, RenewalToken, Session, TokenPlacement, TwoFactorFlow,
    oms::OmsFlow,
    onlineordering::OnlineOrderingFlow,
    store::{FileStore, MemoryStore, SessionStore},
};

use super::{Script, Step, http, response, serve};

/// Values no credential may hold; each carries the marker so a leak into a message is visible.
fn hostile_values() -> Vec<String> {
    vec![
        "LEAKED\r\nX-Injected: yes".into(),
        "LEAKED\nsecond-line".into(),
        "LEAKED with-a-space".into(),
        "LEAKED\u{1b}]0;owned\u{7}".into(),
        "LEAKED\u{0}nul".into(),
        "LEAKED\u{7f}del".into(),
        "LEAKED\tTab".into(),
        "LEAKED-n\u{f6}n-ascii".into(),
        "LEAKED\u{202e}bidi".into(),
        format!("LEAKED{}", "a".repeat(16 * 1024)),
    ]
}

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(value.to_string())
}

/// Where the hostile credential sits, and which step reads it.
#[derive(Debug, Clone, Copy)]
enum Place {
    EtnaToken,
    EtnaInterimToken,
    EtnaVerifiedToken,
    OmsHttpSessionToken,
    OmsHttpPendingToken,
    OmsHttpSetupToken,
    OmsHttpVerifiedSessionToken,
    OnlineAccessToken,
    OnlineRefreshToken,
    OnlineVerifiedAccessToken,
    OnlineRefreshedAccessToken,
    OnlineRefreshedRefreshToken,
    OnlineAuthCode,
    OnlineManualEntryKey,
    OnlineQrCodeData,
    OnlineDeviceId,
}

const PLACES: [Place; 16] = [
    Place::EtnaToken,
    Place::EtnaInterimToken,
    Place::EtnaVerifiedToken,
    Place::OmsHttpSessionToken,
    Place::OmsHttpPendingToken,
    Place::OmsHttpSetupToken,
    Place::OmsHttpVerifiedSessionToken,
    Place::OnlineAccessToken,
    Place::OnlineRefreshToken,
    Place::OnlineVerifiedAccessToken,
    Place::OnlineRefreshedAccessToken,
    Place::OnlineRefreshedRefreshToken,
    Place::OnlineAuthCode,
    Place::OnlineManualEntryKey,
    Place::OnlineQrCodeData,
    Place::OnlineDeviceId,
];

impl Place {
    /// The field the error must name.
    fn field(self) -> &'static str {
        match self {
            Place::EtnaToken | Place::EtnaInterimToken | Place::EtnaVerifiedToken => "Token",
            Place::OmsHttpSessionToken | Place::OmsHttpVerifiedSessionToken => "SessionToken",
            Place::OmsHttpPendingToken => "Pending2FaToken",
            Place::OmsHttpSetupToken => "TwoFAToken",
            Place::OnlineAccessToken | Place::OnlineVerifiedAccessToken | Place::OnlineRefreshedAccessToken => {
                "access_token"
            }
            Place::OnlineRefreshToken | Place::OnlineRefreshedRefreshToken => "refresh_token",
            Place::OnlineAuthCode => "auth_code",
            Place::OnlineManualEntryKey => "ManualEntryKey",
            Place::OnlineQrCodeData => "QrCodeData",
            Place::OnlineDeviceId => "DeviceId",
        }
    }

    fn script(self, bad: &str) -> Script {
        let ok = |body: Value| response("200 OK", "application/json", body.to_string().as_bytes());
        let tokens = |access: &str, refresh: &str| {
            ok(json!({ "access_token": access, "refresh_token": refresh, "expires_in_seconds": 1800.0 }))
        };
        match self {
            Place::EtnaToken | Place::EtnaVerifiedToken => ok(json!({ "State": "Succeeded", "Token": bad })),
            Place::EtnaInterimToken => response(
                "202 Accepted",
                "application/json",
                json!({ "State": "Expecting", "Step": "VerificationCode", "Token": bad }).to_string().as_bytes(),
            ),
            Place::OmsHttpSessionToken | Place::OmsHttpVerifiedSessionToken => {
                ok(json!({ "Authenticated": true, "SessionToken": bad, "UserId": 7 }))
            }
            Place::OmsHttpPendingToken => {
                ok(json!({ "Authenticated": false, "Requires2FA": true, "AuthType": "Google", "Pending2FaToken": bad }))
            }
            Place::OmsHttpSetupToken => ok(
                json!({ "Authenticated": false, "Requires2FA": true, "AuthType": "Google", "TwoFAToken": bad, "Pending2FaToken": "p" }),
            ),
            Place::OnlineAccessToken | Place::OnlineVerifiedAccessToken | Place::OnlineRefreshedAccessToken => {
                tokens(bad, "good-refresh")
            }
            Place::OnlineRefreshToken | Place::OnlineRefreshedRefreshToken => tokens("good-access", bad),
            Place::OnlineAuthCode => response(
                "303 See Other",
                "application/json",
                json!({ "auth_code": bad, "id_token": b64(&json!({ "AuthenticationMethod": "Email" })) })
                    .to_string()
                    .as_bytes(),
            ),
            Place::OnlineManualEntryKey | Place::OnlineQrCodeData => {
                let key = if matches!(self, Place::OnlineManualEntryKey) { "ManualEntryKey" } else { "QrCodeData" };
                let claims = json!({ "AuthenticationMethod": "Authenticator", key: bad });
                response(
                    "303 See Other",
                    "application/json",
                    json!({ "auth_code": "c", "id_token": b64(&claims) }).to_string().as_bytes(),
                )
            }
            Place::OnlineDeviceId => ok(json!({
                "access_token": "good-access",
                "refresh_token": "good-refresh",
                "id_token": b64(&json!({ "CustomerId": "c-1", "DeviceId": bad })),
            })),
        }
    }

    fn step(self) -> Step {
        match self {
            Place::EtnaToken | Place::EtnaInterimToken => Step::EtnaStart,
            Place::EtnaVerifiedToken => Step::EtnaVerify,
            Place::OmsHttpSessionToken | Place::OmsHttpPendingToken | Place::OmsHttpSetupToken => Step::OmsHttpStart,
            Place::OmsHttpVerifiedSessionToken => Step::OmsHttpVerify,
            Place::OnlineAccessToken
            | Place::OnlineRefreshToken
            | Place::OnlineAuthCode
            | Place::OnlineManualEntryKey
            | Place::OnlineQrCodeData => Step::OnlineStart,
            Place::OnlineVerifiedAccessToken | Place::OnlineDeviceId => Step::OnlineVerify,
            Place::OnlineRefreshedAccessToken | Place::OnlineRefreshedRefreshToken => Step::OnlineResume,
        }
    }
}

/// The refusal every hostile credential must get: the typed error, naming the field, not the value.
fn assert_refused(result: Result<(), Error>, field: &str, bad: &str, context: &str) {
    let err = result.expect_err(&format!("{context}: a hostile {field} was accepted"));
    assert!(
        matches!(&err, Error::MalformedCredential { field: f } if *f == field),
        "{context}: expected MalformedCredential {{ field: {field} }}, got {err:?}"
    );
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(text.contains(field), "{context}: the error does not name {field}: {text}");
        assert!(!text.contains("LEAKED"), "{context}: the error quotes the value: {text}");
        assert!(!text.contains(bad), "{context}: the error quotes the value");
    }
}

#[tokio::test]
async fn hostile_credentials_over_http_are_refused_naming_the_field() {
    for place in PLACES {
        for bad in hostile_values() {
            let server = serve(place.script(&bad)).await;
            let result = place.step().run(server.addr).await;
            assert_refused(result, place.field(), &bad, &format!("{place:?} with {:?}", &bad[..bad.len().min(30)]));
        }
    }
}

#[tokio::test]
async fn the_longest_allowed_credential_is_accepted() {
    let longest = "t".repeat(16 * 1024);
    for place in [Place::EtnaToken, Place::OmsHttpSessionToken, Place::OnlineAccessToken] {
        let server = serve(place.script(&longest)).await;
        place.step().run(server.addr).await.unwrap_or_else(|e| panic!("{place:?}: {e:?}"));
    }
}

/// A WebSocket gateway that answers every request with `payload`.
async fn gateway(payload: Value) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let payload = payload.to_string();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(Message::Text(text))) = ws.next().await {
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    let reply = json!({ "m": 1, "i": frame["i"], "n": frame["n"], "o": payload });
                    if ws.send(Message::text(reply.to_string())).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("ws://{addr}/WSGateway")
}

fn ws_flow(url: &str) -> OmsFlow {
    OmsFlow::builder().endpoint(url).username("u").password("p").http(http()).build().unwrap()
}

#[tokio::test]
async fn hostile_credentials_over_the_websocket_are_refused_naming_the_field() {
    let now = twofa::time::OffsetDateTime::now_utc();
    let placement = TokenPlacement::Header { name: "aptoken".into() };
    let stored =
        Session::new("oms", AccessToken::new("good"), placement, now).with_renewal_token(RenewalToken::new("good"));
    for bad in hostile_values() {
        let session = json!({ "Authenticated": true, "SessionToken": bad, "UserId": 7 });
        let flow = ws_flow(&gateway(session).await);
        assert_refused(flow.start().await.map(drop), "SessionToken", &bad, "WebSocket login");
        // A session this flow issued (its origin), so the resume reaches the hostile gateway.
        let own = stored.clone().with_origin(flow.origin().cloned().unwrap());
        assert_refused(flow.resume(&own).await.map(drop), "SessionToken", &bad, "WebSocket resume");
        let pending = json!({ "Authenticated": true, "Requires2FA": true, "AuthType": "Google", "TwoFAToken": bad });
        let flow = ws_flow(&gateway(pending).await);
        assert_refused(flow.start().await.map(drop), "TwoFAToken", &bad, "WebSocket setup data");
    }
}

/// A session whose access token has expired but whose refresh token is good.
fn stored_session() -> Session {
    let issued = twofa::time::OffsetDateTime::now_utc() - std::time::Duration::from_secs(7200);
    Session::new("onlineordering", AccessToken::new("good-access"), TokenPlacement::Bearer, issued)
        .with_expires_at(Some(issued + std::time::Duration::from_secs(1800)))
        .with_renewal_token(RenewalToken::new("good-refresh"))
}

fn online(addr: SocketAddr) -> Arc<dyn TwoFactorFlow> {
    Arc::new(
        OnlineOrderingFlow::builder()
            .base_url(format!("http://{addr}"))
            .company_code("C")
            .integrator("i", "p")
            .email("e@x")
            .password("p")
            .http(http())
            .build()
            .unwrap(),
    )
}

#[tokio::test]
async fn a_refused_token_never_replaces_the_stored_session() {
    let dir = tempfile::tempdir().unwrap();
    let stores: [Arc<dyn SessionStore>; 2] = [Arc::new(MemoryStore::new()), Arc::new(FileStore::new(dir.path()))];
    for store in stores {
        for place in [Place::OnlineRefreshedAccessToken, Place::OnlineRefreshedRefreshToken] {
            let bad = "LEAKED\r\nX-Injected: yes";
            store.save("shop", &stored_session()).await.unwrap();
            let server = serve(place.script(bad)).await;
            let auth = Authenticator::builder(online(server.addr)).store(Arc::clone(&store)).profile("shop").build();
            let err = auth.token().await.expect_err("a hostile refresh must not succeed");
            assert!(matches!(err, Error::MalformedCredential { .. }), "{place:?}: {err:?}");
            let kept = store.load("shop").await.unwrap().expect("the good session is still stored");
            assert_eq!(kept.access_token().expose_secret(), "good-access", "{place:?}");
            assert_eq!(kept.renewal_token().unwrap().expose_secret(), "good-refresh", "{place:?}");
            assert!(auth.peek().is_none_or(|s| s.access_token().expose_secret() == "good-access"));
        }
    }
}
