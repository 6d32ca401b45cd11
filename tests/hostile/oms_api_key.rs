//! The OMS API-key login over WebSocket (docs/protocols/oms.md#api-key-login) against a gateway scripted
//! here: the frame we send is checked key by key, its signature against Python's `hmac`, and each hostile
//! answer yields its own typed error.

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::{net::TcpListener, sync::mpsc};
use tokio_tungstenite::tungstenite::Message;
use twofa::{Error, Step, TwoFactorFlow, oms::OmsFlow};

#[path = "../../crates/twofa-oms/tests/support/python_hmac.rs"]
mod python;
use python::python_hmac;

const KEY: &str = "ws-key-96";
const SECRET: &str = "ws-secret-96";

/// A gateway that answers the first frame with `m` and `payload` (echoing `i` and `n`) and hands
/// the frame it received to the test.
async fn gateway(m: u8, payload: &'static str) -> (String, mpsc::UnboundedReceiver<serde_json::Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                let Some(Ok(Message::Text(first))) = ws.next().await else { return };
                let frame: serde_json::Value = serde_json::from_str(&first).unwrap();
                let reply = serde_json::json!({ "m": m, "i": frame["i"], "n": frame["n"], "o": payload });
                let _ = tx.send(frame);
                let _ = ws.send(Message::text(reply.to_string())).await;
                let _ = ws.next().await;
            });
        }
    });
    (format!("ws://{addr}/WSGateway"), rx)
}

fn flow(url: &str) -> OmsFlow {
    OmsFlow::builder().endpoint(url).api_key(96, KEY, SECRET).http(crate::http()).build().unwrap()
}

#[tokio::test]
async fn oms_2_3_api_key_login_over_websocket_sends_the_documented_payload() {
    let (url, mut frames) = gateway(1, r#"{"Authenticated":true,"SessionToken":"ws-tok","User":{"UserId":96}}"#).await;
    let Step::Authenticated(session) = flow(&url).start().await.unwrap() else { panic!("no 2FA for an API key") };
    assert_eq!(session.access_token().expose_secret(), "ws-tok");
    let frame = frames.recv().await.unwrap();
    assert_eq!((frame["m"].as_u64(), frame["n"].as_str()), (Some(0), Some("AuthenticateUser")));
    // `o` is JSON as a string, with exactly the four documented keys, ids as strings as in the sample.
    let o: serde_json::Value = serde_json::from_str(frame["o"].as_str().unwrap()).unwrap();
    let mut keys: Vec<&str> = o.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["APIKey", "Nonce", "Signature", "UserId"]);
    assert_eq!((o["APIKey"].as_str(), o["UserId"].as_str()), (Some(KEY), Some("96")));
    let nonce = o["Nonce"].as_str().unwrap();
    assert!(!nonce.is_empty() && nonce.bytes().all(|b| b.is_ascii_digit()), "{nonce}");
    assert_eq!(o["Signature"].as_str().unwrap(), python_hmac(SECRET, &format!("{nonce}96{KEY}")));
    assert!(!frame.to_string().contains(SECRET), "the secret never travels");
}

/// What an answer must yield.
type Expect = fn(&Error) -> bool;

#[tokio::test]
async fn oms_2_3_api_key_login_over_websocket_hostile_answers() {
    let refused = r#"{"authenticated": false, "locked": false, "errormsg": "Invalid username or password"}"#;
    let cases: [(u8, &'static str, Expect); 6] = [
        (1, refused, |e| matches!(e, Error::InvalidApiKey)),
        // The slate sample of the WebSocket reply has no session token: nothing to hand out.
        (1, r#"{"authenticated":true,"user":{"userId":96},"requires2FA":false}"#, |e| {
            matches!(e, Error::UnexpectedResponse { .. })
        }),
        (1, "<html>gateway</html>", |e| matches!(e, Error::UnexpectedResponse { .. })),
        (1, r#"{"Authenticated":true,"SessionToken":"a b\u0001"}"#, |e| {
            matches!(e, Error::MalformedCredential { field: "SessionToken" })
        }),
        (5, r#"{"result":false,"errormsg":"Operation Not Supported","errorcode":106,"detail":null}"#, |e| {
            matches!(e, Error::Provider { code: 106, .. })
        }),
        (1, r#"{"Authenticated":false,"Locked":true}"#, |e| matches!(e, Error::AccountLocked)),
    ];
    for (m, payload, expected) in cases {
        let (url, _frames) = gateway(m, payload).await;
        let err = flow(&url).start().await.unwrap_err();
        assert!(expected(&err), "m:{m} {payload}: {err:?}");
        assert!(!format!("{err} {err:?}").contains(SECRET));
    }
}
