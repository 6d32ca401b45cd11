//! OMS replies are matched on the sequence number *and* the function name: a reply numbered like
//! our request but naming another function is a protocol error, not our answer.

use twofa::{Error, Step, TwoFactorFlow};

use crate::{Socket, websocket, ws_flow};

#[tokio::test]
async fn a_reply_with_our_number_but_another_function_is_a_protocol_error() {
    let err = ws_flow(&websocket(Socket::ReplyNamed("GetL2Snapshot")).await).start().await.unwrap_err();
    assert!(
        matches!(&err, Error::UnexpectedResponse { status: None, detail } if detail.contains("WebAuthenticateUser")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("GetL2Snapshot"), "the server's text is not echoed: {err}");
}

#[tokio::test]
async fn the_same_reply_naming_our_function_is_accepted() {
    let step = ws_flow(&websocket(Socket::ReplyNamed("WebAuthenticateUser")).await).start().await.unwrap();
    assert!(matches!(step, Step::Authenticated(_)), "{step:?}");
}
