//! `CommandSource`: a secret read from another program, bounded in time and output, whose
//! failures never echo what it printed.
#![cfg(all(unix, feature = "command"))]

use std::{os::unix::fs::PermissionsExt, path::PathBuf, time::Duration};

use twofa_core::{CodeRequest, CodeSource, Error, PasswordSource, command::CommandSource};

/// A script the test writes, so no test depends on what the machine has installed.
fn script(dir: &tempfile::TempDir, name: &str, body: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
    path
}

fn source(path: &std::path::Path, args: &[&str]) -> CommandSource {
    let mut argv = vec![path.display().to_string()];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    CommandSource::new(argv).unwrap()
}

fn config_message(e: Error) -> String {
    match e {
        Error::Config(m) => m,
        other => panic!("expected Error::Config, got {other:?}"),
    }
}

#[tokio::test]
async fn the_first_line_is_the_password_and_arguments_are_not_shell_interpreted() {
    let dir = tempfile::tempdir().unwrap();
    // Prints its first argument: `$(…)` in it must arrive as text, not run.
    let echo = script(&dir, "vault", "printf '%s\\nsecond line\\n' \"$1\"");
    let password = source(&echo, &["pass word $(id)"]).password().await.unwrap();
    assert_eq!(password.expose_secret(), "pass word $(id)");
}

#[tokio::test]
async fn a_failing_command_names_the_program_but_never_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let bad = script(&dir, "vault", "echo hunter2-stdout; echo hunter2-stderr >&2; exit 1");
    let message = config_message(source(&bad, &[]).password().await.unwrap_err());
    assert!(message.contains("vault") && message.contains("exited with status 1"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    let debug = format!("{:?}", source(&bad, &["op://private/item"]));
    assert!(!debug.contains("op://private"), "{debug}");
}

#[tokio::test]
async fn a_slow_command_is_killed_at_its_timeout_with_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("survived");
    let slow = script(&dir, "vault", &format!("(sleep 2; touch {}) & sleep 60", marker.display()));
    let started = std::time::Instant::now();
    let e = source(&slow, &[]).timeout(Duration::from_millis(300)).password().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(config_message(e).contains("did not finish within"));
    // The background child was in the killed process group: it never gets to write its marker.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(!marker.exists(), "a child of the timed-out command survived");
}

#[tokio::test]
async fn endless_output_is_read_only_up_to_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let endless = script(&dir, "vault", "while :; do printf xxxxxxxxxxxxxxxx; done");
    let e = source(&endless, &[]).password().await.unwrap_err();
    let message = config_message(e);
    assert!(message.contains("more than 4096 bytes"), "{message}");
    assert!(!message.contains("xxxx"), "{message}");
    // A long stream after a good first line is not read: the first line wins.
    let long = script(&dir, "vault2", "echo 123456; yes");
    let challenge = twofa_core::Challenge::portable(
        "etna",
        twofa_core::Method::EmailOrSms,
        twofa_core::time::OffsetDateTime::UNIX_EPOCH,
        twofa_core::Secret::new("s"),
    );
    let code = source(&long, &[]).code(&CodeRequest::new(&challenge, 1, 3)).await;
    // `yes` dies of SIGPIPE once the pipe closes, so the script's status is its last command's.
    match code {
        Ok(code) => assert_eq!(code.expose_secret(), "123456"),
        Err(e) => assert!(config_message(e).contains("vault2")),
    }
}

#[tokio::test]
async fn a_missing_program_or_empty_output_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = source(&dir.path().join("nope"), &[]).password().await.unwrap_err();
    assert!(config_message(missing).contains("cannot be started"));
    let empty = script(&dir, "vault", "true");
    assert!(config_message(source(&empty, &[]).password().await.unwrap_err()).contains("printed nothing"));
    assert!(matches!(CommandSource::new(Vec::<String>::new()), Err(Error::Config(_))));
}
