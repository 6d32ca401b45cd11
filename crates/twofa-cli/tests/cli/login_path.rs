//! One login path: `token` asks for nothing while a stored session serves, and a code that arrives
//! by email after the login started is given to a second invocation (`login --no-wait`, `verify`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{
    io::Write as _,
    process::{Output, Stdio},
};

use serde_json::Value;
use twofa_sandbox::{etna, oms, onlineordering};

use crate::common::{Env, env, json, text, wait_for_code};

impl Env {
    /// Runs `args` without the variables named in `unset`.
    async fn run_without(&self, args: &[&str], unset: &[&str]) -> Output {
        let mut cmd = self.command(args);
        for var in unset {
            cmd.env_remove(var);
        }
        tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
    }

    /// `twofa login onlineordering` for the customer whose codes are emailed, and `extra`.
    fn emailed_login(&self, extra: &[&str]) -> Vec<String> {
        let base = self.sandbox.base_url();
        let mut args = [
            "login",
            "onlineordering",
            "--base-url",
            &base,
            "--company-code",
            onlineordering::COMPANY_CODE,
            "--api-credentials-env",
            "NCR_API",
            "--email",
            onlineordering::CUSTOMER_EMAIL_2FA,
            "--password-env",
            "TWOFA_PASSWORD",
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args
    }

    fn pending(&self, profile: &str) -> std::path::PathBuf {
        self.home.path().join("pending").join(format!("{profile}.json"))
    }
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_with_a_fresh_stored_session_never_asks_for_the_password() {
    let e = env().await;
    let mut args = e.etna_login(etna::USER_2FA);
    args.extend(["--format", "json"].map(String::from));
    let login = json(&e.run_with_mail(args, None, etna::USER_2FA, |code| vec![code.to_owned()]).await);
    let requests = e.sandbox.stats().requests("etna.token");
    // Neither the password's variable nor the app key's: the stored session is all `token` reads.
    let token = e.run_without(&["token", "--profile", "etna"], &["TWOFA_PASSWORD", "ET_APP_KEY"]).await;
    assert!(token.status.success(), "{}", text(&token.stderr));
    assert_eq!(text(&token.stdout).trim(), login["access_token"]);
    assert_eq!(e.sandbox.stats().requests("etna.token"), requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_resumes_an_idle_session_without_the_password() {
    let e = env().await;
    assert!(e.login_oms(&[]).await.status.success());
    let token = e.run_without(&["token", "--profile", "oms"], &["TWOFA_PASSWORD", "OMS_SEED"]).await;
    assert!(token.status.success(), "{}", text(&token.stderr));
    assert_eq!(e.sandbox.stats().requests("oms.ws.connect"), 2, "the login, then one resume");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emailed_code_finishes_the_login_in_a_second_invocation() {
    let e = env().await;
    let started = e.run(&strs(&e.emailed_login(&["--no-wait", "--format", "json"]))).await;
    let waiting = json(&started);
    assert_eq!(waiting["waiting_for"], "email", "{waiting}");
    assert_eq!(waiting["next"], "twofa verify --profile onlineordering --code CODE");
    assert!(!e.home.path().join("sessions/onlineordering.json").exists(), "no session yet");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(e.pending("onlineordering")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let code = wait_for_code(&e.sandbox.outbox(), onlineordering::CUSTOMER_EMAIL_2FA);
    let pending = std::fs::read_to_string(e.pending("onlineordering")).unwrap();
    assert!(!pending.contains(onlineordering::PASSWORD) && !pending.contains(&code), "{pending}");

    let verified = e.run(&["verify", "--profile", "onlineordering", "--code", &code, "--format", "json"]).await;
    let session = json(&verified);
    assert_eq!(session["provider"], "onlineordering");
    assert!(!e.pending("onlineordering").exists(), "the pending login is gone");
    assert_eq!(e.sandbox.stats().requests("onlineordering.login"), 1, "one login, one code");
    let token = e.run(&["token", "--profile", "onlineordering"]).await;
    assert_eq!(text(&token.stdout).trim(), session["access_token"], "{}", text(&token.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_code_keeps_the_login_waiting_and_the_code_may_come_on_standard_input() {
    let e = env().await;
    let mut args = e.etna_login(etna::USER_2FA);
    args.push("--no-wait".into());
    let started = e.run(&strs(&args)).await;
    assert!(started.status.success(), "{}", text(&started.stderr));
    assert!(text(&started.stdout).contains("twofa verify --profile etna --code CODE"), "{}", text(&started.stdout));
    let code = wait_for_code(&e.sandbox.outbox(), etna::USER_2FA);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = e.run(&["verify", "--profile", "etna", "--code", wrong]).await;
    assert_eq!(refused.status.code(), Some(4), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("the login still waits"), "{}", text(&refused.stderr));
    assert!(e.pending("etna").exists(), "still waiting");

    let mut child = e
        .command(&["verify", "--profile", "etna", "--code-stdin", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{code}").unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert_eq!(json(&out)["provider"], "etna");
    assert!(!e.pending("etna").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_on_an_open_connection_cannot_wait_for_a_second_invocation() {
    let e = env().await;
    let url = e.sandbox.oms_ws_url();
    let args =
        ["login", "oms", "--url", &url, "--username", oms::USER_TOTP, "--password-env", "TWOFA_PASSWORD", "--no-wait"];
    let out = e.run(&args).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("open connection") && stderr.contains("one invocation"), "{stderr}");
    assert!(!e.pending("oms").exists());
    assert!(!e.home.path().join("profiles/oms.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_without_a_waiting_login_and_no_wait_with_a_code_flag_are_usage_errors() {
    let e = env().await;
    let none = e.run(&["verify", "--profile", "etna", "--code", "123456"]).await;
    assert_eq!(none.status.code(), Some(2), "{}", text(&none.stderr));
    let mut args = e.emailed_login(&["--no-wait", "--code", "123456"]);
    let both = e.run(&strs(&args)).await;
    assert_eq!(both.status.code(), Some(2), "{}", text(&both.stderr));
    args.truncate(args.len() - 2);
    args.extend(["--format", "json"].map(String::from));
    json(&e.run(&strs(&args)).await);
    let missing: Value =
        serde_json::from_slice(&e.run(&["verify", "--profile", "onlineordering", "--format", "json"]).await.stderr)
            .unwrap();
    assert_eq!(missing["error"]["kind"], "usage", "{missing}");
    assert_eq!(e.sandbox.stats().requests("onlineordering.verify"), 0);
}

/// A pending login file that is not what `login --no-wait` wrote — truncated, of another shape, or
/// holding something that looks like a token — is refused as corrupt, without quoting it, before
/// anything is sent; the file stays for the person to look at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_pending_login_is_refused_without_quoting_it() {
    let e = env().await;
    let mut args = e.etna_login(etna::USER_2FA);
    args.push("--no-wait".into());
    assert!(e.run(&strs(&args)).await.status.success());
    let logins = e.sandbox.stats().requests("etna.token");
    for hostile in [
        r#"{"provider":"etna","state":"tok-S3CRET"#.to_owned(),
        r#"{"provider":["tok-S3CRET"],"method":"tok-S3CRET"}"#.to_owned(),
        "tok-S3CRET\u{1b}[2J".to_owned(),
    ] {
        std::fs::write(e.pending("etna"), &hostile).unwrap();
        let out = e.run(&["verify", "--profile", "etna", "--code", "123456"]).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{hostile}: {stderr}");
        assert!(stderr.contains("corrupt pending login") && !stderr.contains("S3CRET"), "{hostile}: {stderr}");
        assert!(e.pending("etna").exists());
    }
    assert_eq!(e.sandbox.stats().requests("etna.token"), logins, "nothing was sent");
}

/// Issue 22 item 10: a pending login expires locally (at its challenge's expiry, or ten minutes
/// after it started), and `verify` on an expired one says so without contacting the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_on_an_expired_pending_login_sends_nothing_and_drops_it() {
    let e = env().await;
    let started = e.run(&strs(&e.emailed_login(&["--no-wait", "--format", "json"]))).await;
    let waiting = json(&started);
    let pending: Value = serde_json::from_slice(&std::fs::read(e.pending("onlineordering")).unwrap()).unwrap();
    assert_eq!(pending["expires_at"], waiting["expires_at"], "the file keeps the expiry it printed");
    let code = wait_for_code(&e.sandbox.outbox(), onlineordering::CUSTOMER_EMAIL_2FA);
    // Time passes beyond the expiry: the file says so, as the clock would.
    let mut aged = pending.clone();
    aged["expires_at"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(e.pending("onlineordering"), serde_json::to_vec(&aged).unwrap()).unwrap();
    let out = e.run(&["verify", "--profile", "onlineordering", "--code", &code, "--format", "json"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "challenge_expired", "{err}");
    assert_eq!(e.sandbox.stats().requests("onlineordering.verify"), 0, "nothing was sent");
    assert!(!e.pending("onlineordering").exists(), "the expired login is dropped");
}
