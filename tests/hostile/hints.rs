//! A hint is server text of any length: clipped once where the answer is read (issue 22, item 6),
//! so a 900 KB ETNA `Reason` is neither printed whole at every prompt, nor kept in a pending file,
//! nor refused by the console (which takes hints of at most `Challenge::MAX_HINT_CHARS`).

use mockito::Server;
use twofa::Challenge;

use super::*;

#[tokio::test]
async fn a_huge_etna_reason_is_clipped_where_the_answer_is_read() {
    let mut server = Server::new_async().await;
    let reason = format!("\u{1b}]0;title\u{7}{}", "R".repeat(900_000));
    let body =
        serde_json::json!({"State": "Expecting", "Step": "VerificationCode", "Token": "interim-1", "Reason": reason});
    let token = server.mock("POST", "/api/token").with_status(202).with_body(body.to_string()).create_async().await;
    let flow = EtnaFlow::builder()
        .base_url(format!("{}/api", server.url()))
        .app_key("k")
        .username("u")
        .password("p")
        .http(http())
        .build()
        .unwrap();
    let twofa::Step::Challenge(challenge) = flow.start().await.unwrap() else { panic!("a code is expected") };
    token.assert_async().await;
    let hint = challenge.hint().unwrap();
    assert_eq!(hint.chars().count(), Challenge::MAX_HINT_CHARS, "clipped to the one limit");
    assert!(hint.ends_with('…'));
    // What a pending file keeps is the clipped hint, not 900 KB.
    let kept = serde_json::to_vec(&challenge.expose_secrets()).unwrap();
    assert!(kept.len() < 2_000, "{} bytes kept", kept.len());
    // The console takes it: its limit is the same constant.
    assert_eq!(twofa::console::wire::MAX_HINT_CHARS, Challenge::MAX_HINT_CHARS);
}
