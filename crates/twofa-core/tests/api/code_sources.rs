//! The code sources other than TOTP (tested beside its code): environment, callback, channel.

use std::time::Duration;

use time::OffsetDateTime;
use twofa_core::{
    Challenge, CodeRequest, CodeSource, Error, Method, Secret,
    code_source::{EnvCode, Prompt, code_channel},
};

fn request() -> CodeRequest {
    let challenge = Challenge::portable("demo", Method::Email, OffsetDateTime::UNIX_EPOCH, Secret::new("s"));
    CodeRequest::new(&challenge, 1, 3)
}

#[tokio::test]
async fn env_code_reads_and_validates_the_variable() {
    expect_env("TWOFA_TEST_CODE_OK", " 424242 ");
    assert_eq!(EnvCode::new("TWOFA_TEST_CODE_OK").code(&request()).await.unwrap().expose_secret(), "424242");
    assert!(matches!(EnvCode::new("TWOFA_TEST_CODE_UNSET").code(&request()).await, Err(Error::CodeSource(_))));
    expect_env("TWOFA_TEST_CODE_EMPTY", "");
    assert!(matches!(EnvCode::new("TWOFA_TEST_CODE_EMPTY").code(&request()).await, Err(Error::InvalidInput(_))));
}

/// `std::env::set_var` is unsafe in edition 2024 and this workspace forbids unsafe code, so the
/// variables come from `.cargo/config.toml`'s `[env]`; this checks they are there.
fn expect_env(name: &str, value: &str) {
    assert_eq!(std::env::var(name).unwrap_or_default(), value, "{name} must be set by .cargo/config.toml");
}

#[tokio::test]
async fn channel_source_announces_the_request_and_waits_for_the_code() {
    let (source, sender) = code_channel();
    let handler = tokio::spawn(async move {
        let asked = sender.next_request().await.unwrap();
        assert_eq!(asked.method.name(), "email");
        sender.send("777777").await.unwrap();
        sender
    });
    assert_eq!(source.code(&request()).await.unwrap().expose_secret(), "777777");
    drop(handler.await.unwrap());
    assert!(matches!(source.code(&request()).await, Err(Error::CodeSource(_))), "closed channel");
}

#[tokio::test]
async fn channel_source_gives_up_after_its_wait_limit() {
    let (source, _sender) = code_channel();
    let source = source.with_wait_limit(Duration::from_millis(20));
    assert!(matches!(source.code(&request()).await, Err(Error::CodeSource(_))));
}

#[tokio::test]
async fn prompt_that_requires_a_terminal_refuses_a_pipe() {
    // Under `cargo test` standard input is not a terminal.
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return;
    }
    let err = Prompt::new().require_tty().code(&request()).await.unwrap_err();
    assert!(matches!(err, Error::CodeSource(_)));
}

#[tokio::test]
async fn channel_wait_limit_names_the_real_wait_not_zero_seconds() {
    let (source, _sender) = code_channel();
    let source = source.with_wait_limit(Duration::from_millis(30));
    let Err(Error::CodeSource(message)) = source.code(&request()).await else { panic!("a code arrived from nowhere") };
    assert!(message.contains("30ms"), "{message}");
}
