//! The built `twofa` binary against an in-process sandbox: output, exit codes, secrets in and out.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{
    io::Write as _,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;
use twofa_sandbox::{etna, oms, onlineordering};

use crate::common::{Env, WRONG_PIN, env, json, text, wait_for_code};

fn right(code: &str) -> Vec<String> {
    vec![code.to_owned()]
}

fn three_wrong(code: &str) -> Vec<String> {
    let wrong = if code == "000000" { "111111" } else { "000000" };
    vec![wrong.to_owned(); 3]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etna_login_prints_one_json_object() {
    let e = env().await;
    let mut args = e.etna_login(etna::USER_2FA);
    args.extend(["--format", "json"].map(String::from));
    let out = json(&e.run_with_mail(args, None, etna::USER_2FA, right).await);
    assert_eq!(out["provider"], "etna");
    assert_eq!(out["profile"], "etna");
    assert_eq!(out["header_name"], "Authorization");
    let token = out["access_token"].as_str().unwrap();
    assert_eq!(out["header_value"], format!("Bearer {token}"));
    assert!(
        twofa_core::time::OffsetDateTime::parse(
            out["expires_at"].as_str().unwrap(),
            &twofa_core::time::format_description::well_known::Rfc3339
        )
        .is_ok()
    );
    assert_eq!(out["subject"]["username"], etna::USER_2FA);
}

fn code_then_pin(code: &str) -> Vec<String> {
    vec![code.to_owned(), etna::PIN.to_owned()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etna_1_4_cli_logs_in_with_code_then_the_pin_from_pin_env() {
    let e = env().await;
    let mut args = e.etna_login(etna::USER_CODE_THEN_PIN);
    args.extend(["--pin-env", "ETNA_PIN", "--format", "json"].map(String::from));
    let output = e.run_with_mail(args, None, etna::USER_CODE_THEN_PIN, right).await;
    let out = json(&output);
    assert_eq!(out["subject"]["username"], etna::USER_CODE_THEN_PIN);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("Verification code for etna") && !stderr.contains("Security PIN"), "{stderr}");
    assert!(!text(&output.stdout).contains(etna::PIN) && !stderr.contains(etna::PIN));
    // The profile names the variable, never the PIN; `token` reuses the session.
    let profile = std::fs::read_to_string(e.home.path().join("profiles/etna.json")).unwrap();
    assert!(profile.contains("\"pin_env\": \"ETNA_PIN\"") && !profile.contains(etna::PIN), "{profile}");
    let token = e.run(&["token", "--profile", "etna"]).await;
    assert_eq!(text(&token.stdout).trim(), out["access_token"].as_str().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etna_1_4_cli_prompts_for_the_pin_after_the_code_when_none_is_given() {
    let e = env().await;
    let output =
        e.run_with_mail(e.etna_login(etna::USER_CODE_THEN_PIN), None, etna::USER_CODE_THEN_PIN, code_then_pin).await;
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let (code_prompt, pin_prompt) =
        (stderr.find("Verification code for etna").unwrap(), stderr.find("Security PIN for etna").unwrap());
    assert!(code_prompt < pin_prompt, "the code is asked for first: {stderr}");
    assert_eq!(e.sandbox.stats().requests("etna.token"), 3, "credentials, code, PIN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etna_1_5_cli_wrong_pin_exits_4_naming_the_pin_never_its_value() {
    let e = env().await;
    let mut args = e.etna_login(etna::USER_CODE_THEN_PIN);
    args.extend(["--pin-env", "WRONG_PIN"].map(String::from));
    let out = e.run_with_mail(args, None, etna::USER_CODE_THEN_PIN, right).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("error: the security PIN was rejected\nhint: check the security PIN"), "{stderr}");
    assert!(!stderr.contains(WRONG_PIN) && !text(&out.stdout).contains(WRONG_PIN), "{stderr}");
    assert!(!e.home.path().join("sessions/etna.json").exists(), "nothing stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_mode_prints_a_summary_without_the_token_and_stores_0600() {
    let e = env().await;
    let out = e.run_with_mail(e.etna_login(etna::USER_2FA), None, etna::USER_2FA, right).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Logged in to etna as profile `etna`"), "{stdout}");
    let stored = e.home.path().join("sessions/etna.json");
    let token: Value = serde_json::from_slice(&std::fs::read(&stored).unwrap()).unwrap();
    let token = token["session"]["access_token"].as_str().unwrap().to_owned();
    let code = e.sandbox.outbox().latest_code(etna::USER_2FA).unwrap();
    for secret in [token.as_str(), code.as_str(), etna::PASSWORD, etna::APP_KEY] {
        assert!(!stdout.contains(secret) && !text(&out.stderr).contains(secret), "{secret} was printed");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&stored).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_and_code_from_standard_input() {
    let e = env().await;
    let base = e.sandbox.etna_base_url();
    let args = [
        "login",
        "etna",
        "--base-url",
        &base,
        "--app-key-env",
        "ET_APP_KEY",
        "--username",
        etna::USER_2FA,
        "--password-stdin",
        "--code-stdin",
        "--format",
        "json",
    ];
    let out = e.run_with_mail(args.map(String::from).to_vec(), Some(etna::PASSWORD), etna::USER_2FA, right).await;
    assert_eq!(json(&out)["provider"], "etna");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_stdin_reads_one_line_and_the_next_is_never_taken_as_the_code() {
    let e = env().await;
    let base = e.sandbox.etna_base_url();
    let args = [
        "login",
        "etna",
        "--base-url",
        &base,
        "--app-key-env",
        "ET_APP_KEY",
        "--username",
        etna::USER_2FA,
        "--password-stdin",
    ];
    // The right code follows the password on standard input, yet no flag said it is a code.
    let out = e.run_with_mail(args.map(String::from).to_vec(), Some(etna::PASSWORD), etna::USER_2FA, right).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("standard input is not a terminal"), "{}", text(&out.stderr));
    assert_eq!(e.sandbox.stats().requests("etna.token"), 1, "the password was sent, never a code");
    assert!(!e.home.path().join("sessions/etna.json").exists());

    // One line, bounded: a 5000-byte "password" is refused before anything is sent.
    let mut child = e.command(&args).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = writeln!(stdin, "{}", "x".repeat(5000));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("longer than 4096 bytes"), "{}", text(&out.stderr));
    assert_eq!(e.sandbox.stats().requests("etna.token"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_reuses_the_stored_session_without_a_code() {
    let e = env().await;
    let mut args = e.etna_login(etna::USER_2FA);
    args.extend(["--format", "json"].map(String::from));
    let login = json(&e.run_with_mail(args, None, etna::USER_2FA, right).await);
    let requests = e.sandbox.stats().requests("etna.token");
    let token = e.run(&["token", "--profile", "etna"]).await;
    assert!(token.status.success(), "{}", text(&token.stderr));
    assert_eq!(text(&token.stdout).trim(), login["access_token"]);
    let header = e.run(&["token", "--profile", "etna", "--header"]).await;
    // Every header the API needs, one a line: the token's, then ETNA's app key.
    assert_eq!(
        text(&header.stdout),
        format!("Authorization: {}\nEt-App-Key: {}\n", login["header_value"].as_str().unwrap(), etna::APP_KEY)
    );
    assert_eq!(e.sandbox.stats().requests("etna.token"), requests, "no request, no code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_profiles_and_never_a_secret() {
    let e = env().await;
    let mut args = e.etna_login(etna::USER_2FA);
    args.extend(["--format", "json"].map(String::from));
    let login = json(&e.run_with_mail(args, None, etna::USER_2FA, right).await);
    let oms = json(&e.login_oms(&["--format", "json"]).await);
    let status = e.run(&["status"]).await;
    let shown = text(&status.stdout);
    assert!(shown.contains("etna") && shown.contains("oms") && shown.contains("UserId=2"), "{shown}");
    for secret in [
        login["access_token"].as_str().unwrap(),
        oms["access_token"].as_str().unwrap(),
        etna::PASSWORD,
        etna::APP_KEY,
        oms::TOTP_SEED,
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oms_token_resumes_the_idle_session_without_a_code() {
    let e = env().await;
    let login = json(&e.login_oms(&["--format", "json"]).await);
    let connects = e.sandbox.stats().requests("oms.ws.connect");
    let token = e.run(&["token", "--profile", "oms"]).await;
    assert!(token.status.success(), "{}", text(&token.stderr));
    assert_eq!(text(&token.stdout).trim(), login["access_token"]);
    assert_eq!(e.sandbox.stats().requests("oms.ws.connect"), connects + 1, "one resume");
}

/// `twofa login onlineordering` against the sandbox with the integrator from `NCR_API`, then `extra`.
fn ncr_login(e: &Env, extra: &[&str]) -> Vec<String> {
    let base = e.sandbox.base_url();
    let mut args = vec![
        "login",
        "onlineordering",
        "--base-url",
        &base,
        "--company-code",
        onlineordering::COMPANY_CODE,
        "--api-credentials-env",
        "NCR_API",
    ];
    args.extend_from_slice(extra);
    args.into_iter().map(String::from).collect()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onlineordering_login_with_an_emailed_code() {
    let e = env().await;
    let customer = ["--email", onlineordering::CUSTOMER_EMAIL_2FA, "--password-env", "TWOFA_PASSWORD"];
    let args = ncr_login(&e, &[&customer[..], &["--remember-device", "ci box", "--format", "json"]].concat());
    let out = json(&e.run_with_mail(args, None, onlineordering::CUSTOMER_EMAIL_2FA, right).await);
    assert_eq!(out["provider"], "onlineordering");
    assert!(out["subject"]["CustomerId"].is_string());
    let mails = e.sandbox.outbox().deliveries().len();
    let again = json(&e.run(&strs(&ncr_login(&e, &[&customer[..], &["--format", "json"]].concat()))).await);
    assert_eq!(again["provider"], "onlineordering");
    assert_eq!(e.sandbox.outbox().deliveries().len(), mails, "the remembered device skipped the code");
}

fn guest_login(e: &Env, extra: &[&str]) -> Vec<String> {
    ncr_login(e, &[&["--guest", "--email", onlineordering::GUEST_EMAIL], extra].concat())
}

/// The stored session file of the default Online Ordering profile.
fn guest_session_file(e: &Env) -> Vec<u8> {
    std::fs::read(e.home.path().join("sessions").join("onlineordering.json")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oo_3_8_cli_guest_login_with_emailed_code_and_no_password() {
    let e = env().await;
    let args = guest_login(&e, &["--format", "json"]);
    let out = e.run_with_mail(args, None, onlineordering::GUEST_EMAIL, right).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("Password"), "no password prompt: {}", text(&out.stderr));
    let login = json(&out);
    assert_eq!(login["provider"], "onlineordering");
    assert!(login["subject"]["CustomerId"].is_string());
    assert_eq!(e.sandbox.stats().requests("onlineordering.guest"), 1);
    assert_eq!(e.sandbox.stats().requests("onlineordering.login"), 0, "never the password login");
    let token = e.run(&["token", "--profile", "onlineordering"]).await;
    assert!(token.status.success(), "{}", text(&token.stderr));
    assert_eq!(text(&token.stdout).trim(), login["access_token"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oo_3_5_cli_failed_guest_verification_keeps_the_stored_session() {
    let e = env().await;
    let first = e.run_with_mail(guest_login(&e, &["--format", "json"]), None, onlineordering::GUEST_EMAIL, right).await;
    let good = json(&first);
    let stored = guest_session_file(&e);
    let mails = e.sandbox.outbox().deliveries().len();
    let recipient = onlineordering::GUEST_EMAIL;
    let outbox = e.sandbox.outbox();
    // Wait for the second login's own code before answering it wrongly three times.
    let args = guest_login(&e, &[]);
    let mut child =
        e.command(&strs(&args)).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let failed = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        while outbox.deliveries().len() == mails {
            assert!(Instant::now() < deadline, "no second code was mailed to {recipient}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut stdin = child.stdin.take().unwrap();
        for line in three_wrong(&outbox.latest_code(recipient).unwrap()) {
            let _ = writeln!(stdin, "{line}");
        }
        drop(stdin);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(failed.status.code(), Some(4), "{}", text(&failed.stderr));
    assert_eq!(guest_session_file(&e), stored, "the stored session is byte for byte the same");
    let token = e.run(&["token", "--profile", "onlineordering"]).await;
    assert_eq!(text(&token.stdout).trim(), good["access_token"], "{}", text(&token.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oo_3_8_cli_guest_takes_no_password_flag() {
    let e = env().await;
    let mut args = guest_login(&e, &["--password-env", "TWOFA_PASSWORD"]);
    let out = e.run(&strs(&args)).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    args.truncate(args.len() - 2);
    for flag in ["--password-stdin", "--password-keyring"] {
        args.push(flag.into());
        let out = e.run(&strs(&args)).await;
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", text(&out.stderr));
        args.pop();
    }
    assert_eq!(e.sandbox.stats().requests("onlineordering.guest"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_code_3_for_rejected_credentials() {
    let e = env().await;
    let base = e.sandbox.etna_base_url();
    let out = e
        .run(&[
            "login",
            "etna",
            "--base-url",
            &base,
            "--app-key-env",
            "ET_APP_KEY",
            "--username",
            etna::USER_2FA,
            "--password-env",
            "WRONG_PASSWORD",
        ])
        .await;
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stderr).lines().next(), Some("error: the username or password was rejected"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_code_4_when_every_code_is_rejected() {
    let e = env().await;
    let out = e.run_with_mail(e.etna_login(etna::USER_2FA), None, etna::USER_2FA, three_wrong).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: the verification code was rejected") && stderr.contains("attempt 3 of 3"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_code_5_for_network_failures() {
    let e = env().await;
    let out = e
        .run(&[
            "login",
            "etna",
            "--base-url",
            "http://127.0.0.1:1/api",
            "--app-key-env",
            "ET_APP_KEY",
            "--username",
            "u",
            "--password-env",
            "TWOFA_PASSWORD",
        ])
        .await;
    assert_eq!(out.status.code(), Some(5));
    assert!(text(&out.stderr).starts_with("error: transport error"), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_code_6_when_rate_limited_says_when_to_retry() {
    let e = env().await;
    e.sandbox.set_etna_rate_limit(Some(1));
    let first = e.run(&e.etna_login(etna::USER_NO_2FA).iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert!(first.status.success(), "{}", text(&first.stderr));
    let second = e.run(&e.etna_login(etna::USER_NO_2FA).iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(second.status.code(), Some(6));
    assert!(text(&second.stderr).contains("hint: retry in"), "{}", text(&second.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_prompts_fail_clearly_instead_of_hanging() {
    let e = env().await;
    let base = e.sandbox.etna_base_url();
    let no_password = e
        .run(&["login", "etna", "--base-url", &base, "--app-key-env", "ET_APP_KEY", "--username", etna::USER_2FA])
        .await;
    assert_eq!(no_password.status.code(), Some(2));
    assert!(text(&no_password.stderr).contains("standard input is not a terminal"), "{}", text(&no_password.stderr));
    let no_code = e.run(&e.etna_login(etna::USER_2FA).iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(no_code.status.code(), Some(2));
    assert!(
        text(&no_code.stderr).contains("standard input closed before a code was entered"),
        "{}",
        text(&no_code.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_off_loopback_needs_the_opt_in() {
    let e = env().await;
    let out = e
        .run(&[
            "login",
            "etna",
            "--base-url",
            "http://etna.example/api",
            "--app-key-env",
            "ET_APP_KEY",
            "--username",
            "u",
            "--password-env",
            "TWOFA_PASSWORD",
        ])
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("only allowed for loopback"), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_at_the_provider_and_locally() {
    let e = env().await;
    let login = e.run(&e.etna_login(etna::USER_NO_2FA).iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert!(login.status.success());
    let out = e.run(&["logout", "--profile", "etna"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(e.sandbox.stats().requests("etna.logout"), 1);
    assert!(!e.home.path().join("sessions/etna.json").exists());
    let token = e.run(&["token", "--profile", "etna"]).await;
    assert_eq!(token.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_prints_the_code_and_its_validity() {
    let e = env().await;
    let out = e.run(&["totp", "--secret-env", "OMS_SEED"]).await;
    let shown = text(&out.stdout);
    let (code, rest) = shown.trim().split_once(' ').unwrap();
    assert!(code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()), "{shown}");
    assert!(rest.starts_with("(valid for "), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2_and_help_documents_exit_codes() {
    let e = env().await;
    assert_eq!(e.run(&["login", "etna"]).await.status.code(), Some(2));
    let help = text(&e.run(&["login", "--help"]).await.stdout);
    assert!(help.contains("6  rate limited"), "{help}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_at_a_terminal_answers_both_prompts() {
    let e = env().await;
    let mut cmd = e.command(&[
        "login",
        "etna",
        "--base-url",
        &e.sandbox.etna_base_url(),
        "--app-key-env",
        "ET_APP_KEY",
        "--username",
        etna::USER_2FA,
    ]);
    cmd.stdin(Stdio::inherit());
    let outbox = e.sandbox.outbox();
    tokio::task::spawn_blocking(move || {
        let mut term = rexpect::session::spawn_command(cmd, Some(20_000)).unwrap();
        term.exp_string("Password for alice: ").unwrap();
        term.send_line(etna::PASSWORD).unwrap();
        term.exp_string("Verification code for etna (code sent by email or SMS").unwrap();
        term.send_line(&wait_for_code(&outbox, etna::USER_2FA)).unwrap();
        term.exp_string("Logged in to etna as profile `etna`").unwrap();
        term.exp_eof().unwrap();
    })
    .await
    .unwrap();
}

/// The bash completion script, sourced in a real bash, completes the subcommands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bash_completion_completes_a_subcommand() {
    let e = env().await;
    let script = e.run(&["completions", "bash"]).await;
    assert!(script.status.success(), "{}", text(&script.stderr));
    let file = e.home.path().join("twofa.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let probe = format!(
        "source {}; COMP_WORDS=(twofa lo); COMP_CWORD=1; COMP_LINE='twofa lo'; COMP_POINT=8; _twofa twofa lo twofa; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let out = Command::new("bash").args(["--norc", "-c", &probe]).output().unwrap();
    let words: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(words, ["login", "logout"], "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manual_page_documents_every_subcommand() {
    let e = env().await;
    let out = e.run(&["manpage"]).await;
    let roff = text(&out.stdout);
    assert!(roff.starts_with(".ie") || roff.contains(".TH twofa"), "{roff}");
    for word in ["login", "token", "status", "logout", "completions"] {
        assert!(roff.contains(word), "{word} missing from the manual page");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_as_json_lists_profiles_without_a_secret() {
    let e = env().await;
    let mut args = e.etna_login(etna::USER_2FA);
    args.extend(["--format", "json"].map(String::from));
    let login = json(&e.run_with_mail(args, None, etna::USER_2FA, right).await);
    let out = e.run(&["status", "--format", "json"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let profile = &status["profiles"][0];
    assert_eq!(profile["profile"], "etna");
    assert_eq!(profile["provider"], "etna");
    assert!(profile["session"]["expires_in_seconds"].as_i64().unwrap() > 0);
    assert_eq!(profile["session"]["renewable_without_code"], false);
    let shown = text(&out.stdout);
    assert!(!shown.contains(login["access_token"].as_str().unwrap()) && !shown.contains(etna::PASSWORD));
}

/// With `--format json` every error is one JSON object on standard error, with the documented exit code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_in_json_mode_are_one_object_on_stderr() {
    let e = env().await;
    let mut args = e.etna_login(etna::USER_2FA);
    args.truncate(args.len() - 1);
    args.extend(["WRONG_PASSWORD", "--format", "json"].map(String::from));
    let out = e.run(&strs(&args)).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    let error: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"]["kind"], "invalid_credentials");
    assert_eq!(error["error"]["retryable"], false);
    assert_eq!(error["error"]["exit_code"], 3);
    assert!(!text(&out.stderr).contains("not-the-password"));

    let usage = e.run(&["--format", "json", "token"]).await;
    assert_eq!(usage.status.code(), Some(2));
    let error: Value = serde_json::from_slice(&usage.stderr).unwrap();
    assert_eq!(error["error"]["kind"], "usage");

    let missing = e.run(&["token", "--profile", "nobody", "--format", "json"]).await;
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(serde_json::from_slice::<Value>(&missing.stderr).unwrap()["error"]["kind"], "usage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_of_an_unknown_profile_fails_with_exit_2() {
    let e = env().await;
    let out = e.run(&["logout", "--profile", "typo"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no profile `typo`"), "{}", text(&out.stderr));
}

/// Logs go to stderr only, without colour when stderr is not a terminal; `-q` silences warnings;
/// `RUST_LOG` wins over the flags. No spinner is drawn into a pipe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_verbosity_flags_and_never_colour_a_pipe() {
    let e = env().await;
    let login = e.etna_login(etna::USER_NO_2FA);
    let with = |extra: &[&str]| {
        let mut args: Vec<&str> = login.iter().map(String::as_str).collect();
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let verbose = e.run(&with(&["-vv"]).iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert!(verbose.status.success(), "{}", text(&verbose.stderr));
    let log = text(&verbose.stderr);
    assert!(log.contains("DEBUG") || log.contains("TRACE"), "{log}");
    assert!(!log.contains('\u{1b}') && !text(&verbose.stdout).contains('\u{1b}'), "escape codes in a pipe: {log:?}");
    for spinner in ['⠁', '⠂', '⠄', '⡀', '⢀', '⠠', '⠐', '⠈'] {
        assert!(!log.contains(spinner), "a spinner was drawn into a pipe");
    }
    assert!(!log.contains(etna::PASSWORD) && !log.contains(etna::APP_KEY));

    let quiet = e.run(&with(&["-q"]).iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert!(quiet.status.success());
    assert_eq!(text(&quiet.stderr), "");

    let mut cmd = e.command(&with(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    cmd.env("RUST_LOG", "debug");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert!(text(&out.stderr).contains("DEBUG"), "RUST_LOG=debug ignored: {}", text(&out.stderr));
}

/// Runs `cmd`, killing it (and failing) if it has not ended after 30 s: a hang fails the test
/// instead of blocking it.
async fn run_guarded(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                child.kill().unwrap();
                panic!("the command hung: {:?}", child.wait_with_output().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_are_0600_and_never_read_or_written_through_a_symlink() {
    use std::os::unix::fs::PermissionsExt as _;
    let e = env().await;
    let out = e.run_with_mail(e.etna_login(etna::USER_2FA), None, etna::USER_2FA, right).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let profiles = e.home.path().join("profiles");
    let profile = profiles.join("etna.json");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&profile), 0o600);
    assert_eq!(mode(&profiles), 0o700);

    // A link planted where the profile was, pointing at a file the attacker wants read or overwritten.
    let victim = e.home.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    std::fs::remove_file(&profile).unwrap();
    std::os::unix::fs::symlink(&victim, &profile).unwrap();
    let token = run_guarded(e.command(&["token", "--profile", "etna"])).await;
    assert!(!token.status.success());
    assert!(text(&token.stderr).contains("symbolic link"), "{}", text(&token.stderr));
    let login = e.run(&e.etna_login(etna::USER_NO_2FA).iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert!(!login.status.success());
    assert!(text(&login.stderr).contains("symbolic link"), "{}", text(&login.stderr));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let stored: Value =
        serde_json::from_slice(&std::fs::read(e.home.path().join("sessions/etna.json")).unwrap()).unwrap();
    assert_eq!(stored["session"]["subject"]["username"], etna::USER_2FA, "the refused login kept the stored session");
}

/// Red team of issue 22 item 7: `logout` deleted `pending/<name>.json` and `profiles/<name>.json`
/// through a planted `pending` (or `profiles`) symbolic link, removing a file of the user's where
/// the link points. The delete is refused, and the file stays.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_never_deletes_through_a_symlinked_store_subdirectory() {
    let e = env().await;
    let out = e.run(&e.etna_login(etna::USER_NO_2FA).iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let victim = tempfile::tempdir().unwrap();
    let precious = victim.path().join("etna.json");
    std::fs::write(&precious, b"precious").unwrap();
    let pending = e.home.path().join("pending");
    let _ = std::fs::remove_dir_all(&pending);
    std::os::unix::fs::symlink(victim.path(), &pending).unwrap();
    let out = e.run(&["logout", "--profile", "etna"]).await;
    assert!(!out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("symbolic link"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&precious).unwrap(), b"precious", "logout deleted a file where the link points");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_in_place_of_a_profile_fails_instead_of_hanging() {
    let e = env().await;
    let profiles = e.home.path().join("profiles");
    std::fs::create_dir(&profiles).unwrap();
    let fifo = profiles.join("p.json");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for args in [&["token", "--profile", "p"][..], &["status"]] {
        let out = run_guarded(e.command(args)).await;
        if args[0] == "token" {
            assert!(!out.status.success());
            assert!(text(&out.stderr).contains("not a regular file"), "{}", text(&out.stderr));
        } else {
            assert!(out.status.success(), "{}", text(&out.stderr));
            assert!(text(&out.stdout).contains("No stored profiles"), "a FIFO is not a profile: {}", text(&out.stdout));
        }
    }
}

/// A server that accepts and never answers: `--deadline` ends the login before `--timeout` would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_ends_a_login_that_the_server_never_answers() {
    let e = env().await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}/api", silent.local_addr().unwrap());
    let _held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket); // read nothing, answer nothing
        }
    });
    let out = e
        .run(&[
            "--timeout",
            "600",
            "--deadline",
            "1",
            "login",
            "etna",
            "--base-url",
            &base_url,
            "--app-key-env",
            "ET_APP_KEY",
            "--username",
            "u",
            "--password-env",
            "TWOFA_PASSWORD",
        ])
        .await;
    assert_eq!(out.status.code(), Some(5));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: transport error (timeout)") && stderr.contains("1000 ms deadline"), "{stderr}");
}
