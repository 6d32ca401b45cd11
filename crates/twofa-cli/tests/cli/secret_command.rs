//! `--password-command` and `--code-command` (issue 24 item 4): secrets from another tool, the
//! profile keeping the command and never its output; a failing or slow command exits 2 without
//! echoing what it printed.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{os::unix::fs::PermissionsExt, path::PathBuf};

use twofa_sandbox::oms;

use crate::common::{BIN, Env, env, text};

/// A script in the test's home, so nothing depends on what the machine has installed.
fn script(e: &Env, name: &str, body: &str) -> PathBuf {
    let path = e.home.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
    path
}

fn oms_login(e: &Env, password: &str, code: &[&str]) -> Vec<String> {
    let mut args =
        ["login", "oms", "--url", &e.sandbox.oms_ws_url(), "--username", oms::USER_TOTP, "--password-command"]
            .map(String::from)
            .to_vec();
    args.push(password.to_owned());
    args.extend(code.iter().map(|s| (*s).to_owned()));
    args
}

async fn run(e: &Env, args: &[String]) -> std::process::Output {
    e.run(&args.iter().map(String::as_str).collect::<Vec<_>>()).await
}

#[tokio::test]
async fn a_password_and_a_code_printed_by_commands_log_in_and_the_profile_keeps_only_the_commands() {
    let e = env().await;
    // Quoted words arrive as one argument, with no shell in between: `$1` is the whole item name.
    let vault = script(&e, "vault", &format!("test \"$1\" = 'op://Private/OMS item' && echo {}", oms::PASSWORD));
    let otp = script(&e, "otp", &format!("{BIN} totp --secret-env OMS_SEED | cut -d' ' -f1"));
    let password_command = format!("{} 'op://Private/OMS item'", vault.display());
    let login = oms_login(&e, &password_command, &["--code-command", &otp.display().to_string()]);
    let out = run(&e, &login).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let profile = std::fs::read_to_string(e.home.path().join("profiles/oms.json")).unwrap();
    assert!(profile.contains("op://Private/OMS item") && profile.contains("otp"), "{profile}");
    assert!(!profile.contains(oms::PASSWORD), "{profile}");
}

#[tokio::test]
async fn token_runs_the_password_command_again_when_it_must_log_in_again() {
    let e = env().await;
    let counter = e.home.path().join("runs");
    let vault = script(&e, "vault", &format!("echo run >> {}; echo {}", counter.display(), oms::PASSWORD));
    let url = e.sandbox.oms_http_url();
    let vault = vault.display().to_string();
    let login = ["login", "oms", "--url", &url, "--username", oms::USER_NO_2FA, "--password-command", &vault];
    let out = e.run(&login).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Session gone: `token` logs in again by running the command (no variable holds the password).
    std::fs::remove_file(e.home.path().join("sessions/oms.json")).unwrap();
    let out = e.run(&["token", "--profile", "oms"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).trim().is_empty());
    assert_eq!(std::fs::read_to_string(&counter).unwrap().lines().count(), 2);
}

#[tokio::test]
async fn a_failing_command_exits_2_naming_the_program_but_not_its_output() {
    let e = env().await;
    let bad = script(&e, "vault", "echo hunter2-on-stdout; echo hunter2-on-stderr >&2; exit 1");
    let out = run(&e, &oms_login(&e, &bad.display().to_string(), &["--totp-secret-env", "OMS_SEED"])).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("vault") && stderr.contains("exited with status 1"), "{stderr}");
    assert!(!stderr.contains("hunter2") && !stdout.contains("hunter2"), "{stdout}{stderr}");
    assert!(!e.home.path().join("profiles/oms.json").exists(), "a failed login saved its profile");
}

#[tokio::test]
async fn unbalanced_quotes_are_a_usage_error() {
    let e = env().await;
    let out = run(&e, &oms_login(&e, "pass show 'etna", &["--totp-secret-env", "OMS_SEED"])).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--password-command"), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_etna_security_pin_comes_from_pin_command_and_is_never_stored() {
    let e = env().await;
    let pin = script(&e, "pin", &format!("echo {}", twofa_sandbox::etna::PIN));
    let mut args = e.etna_login(twofa_sandbox::etna::USER_CODE_THEN_PIN);
    args.extend(["--pin-command".to_owned(), pin.display().to_string()]);
    let user = twofa_sandbox::etna::USER_CODE_THEN_PIN;
    let out = e.run_with_mail(args, None, user, |code| vec![code.to_owned()]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // The command answered the PIN step: no PIN prompt.
    assert!(stderr.contains("Verification code for etna") && !stderr.contains("Security PIN"), "{stderr}");
    let profile = std::fs::read_to_string(e.home.path().join("profiles/etna.json")).unwrap();
    assert!(profile.contains("pin_command") && !profile.contains(twofa_sandbox::etna::PIN), "{profile}");
}
