//! `twofa exec`: the child gets the token contract as variables, signals reach it, its exit code
//! is `exec`'s, and long runs get renewed tokens through a headers file or a restart.
#![cfg(unix)]

use std::{
    io::{BufRead as _, BufReader},
    os::unix::fs::PermissionsExt as _,
    process::{Output, Stdio},
    time::Duration,
};

use serde_json::Value;
use twofa_sandbox::{Sandbox, etna};

use crate::common::{Env, env, json, text};

/// Logs the ETNA user without a second factor in as `profile`; the login's JSON.
async fn login(e: &Env, profile: &str) -> Value {
    login_with(e, profile, &[]).await
}

/// A login whose sessions live 58 s (ETNA's answer carries no lifetime: the profile says it),
/// against a sandbox whose tokens live as long.
async fn login_short_lived(e: &Env, profile: &str) -> Value {
    login_with(e, profile, &["--token-lifetime", "58"]).await
}

async fn login_with(e: &Env, profile: &str, flags: &[&str]) -> Value {
    let mut args = e.etna_login(etna::USER_NO_2FA);
    args.extend(["--profile", profile, "--format", "json"].map(String::from));
    args.extend(flags.iter().map(|f| (*f).to_owned()));
    let out = e.run(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    json(&out)
}

async fn exec(e: &Env, args: &[&str]) -> Output {
    e.run(&[&["exec"], args].concat()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_gets_the_token_contract_as_variables() {
    let e = env().await;
    let login = login(&e, "etna").await;
    let script = r#"printf '%s\n%s\n%s\n%s\n%s' "$TWOFA_ACCESS_TOKEN" "$TWOFA_HEADERS" "$TWOFA_EXPIRES_AT" "$TWOFA_PROFILE" "$TWOFA_FORMAT_VERSION""#;
    let out = exec(&e, &["--profile", "etna", "--", "sh", "-c", script]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let lines: Vec<&str> = printed.split('\n').collect();
    assert_eq!(lines[0], login["access_token"].as_str().unwrap());
    let headers: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(headers["Authorization"], format!("Bearer {}", lines[0]));
    assert_eq!(headers["Et-App-Key"], etna::APP_KEY, "every header, not only the token's");
    assert_eq!(lines[2], login["expires_at"].as_str().unwrap());
    assert_eq!(&lines[3..], ["etna", "1"]);
    assert!(!text(&out.stderr).contains(lines[0]), "no token on standard error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_profiles_get_variables_named_after_each() {
    let e = env().await;
    let (a, b) = (login(&e, "etna-live").await, login(&e, "etna2").await);
    let script = r#"printf '%s\n%s\n%s' "$TWOFA_ETNA_LIVE_ACCESS_TOKEN" "$TWOFA_ETNA2_ACCESS_TOKEN" "${TWOFA_ACCESS_TOKEN-unset}""#;
    let out = exec(&e, &["--profile", "etna-live", "--profile", "etna2", "--", "sh", "-c", script]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("{}\n{}\nunset", a["access_token"].as_str().unwrap(), b["access_token"].as_str().unwrap())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_profiles_with_one_variable_prefix_are_refused() {
    let e = env().await;
    login(&e, "etna-a").await;
    login(&e, "etna.a").await;
    let out = exec(&e, &["--profile", "etna-a", "--profile", "etna.a", "--", "true"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("the same variable names (TWOFA_ETNA_A_…)"), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_exits_with_the_commands_code_or_128_plus_its_signal() {
    let e = env().await;
    login(&e, "etna").await;
    assert_eq!(exec(&e, &["--profile", "etna", "--", "sh", "-c", "exit 7"]).await.status.code(), Some(7));
    assert_eq!(exec(&e, &["--profile", "etna", "--", "sh", "-c", "kill -TERM $$"]).await.status.code(), Some(143));
    let missing = exec(&e, &["--profile", "etna", "--", "/nonexistent/twofa-test-command"]).await;
    assert_eq!(missing.status.code(), Some(127), "{}", text(&missing.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_without_a_profile_session_runs_nothing() {
    let e = env().await;
    let marker = e.home.path().join("ran");
    let script = format!("touch {}", marker.display());
    let out = exec(&e, &["--profile", "nobody", "--", "sh", "-c", &script]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(!marker.exists(), "the command ran without its token");
}

/// Starts `twofa exec … -- sh -c script` with piped stdout and waits for its `ready` line.
fn start(e: &Env, exec_args: &[&str], script: &str) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let mut args = vec!["exec"];
    args.extend_from_slice(exec_args);
    args.extend(["--", "sh", "-c", script]);
    let mut child = e.command(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    (child, stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_sighup_and_sigint_are_forwarded_to_the_command() {
    let e = env().await;
    login(&e, "etna").await;
    for (signal, name) in [("TERM", "TERM"), ("HUP", "HUP"), ("INT", "INT")] {
        let script = format!("trap 'echo got-{name}; exit 42' {name}; echo ready; while :; do sleep 0.05; done");
        let (child, mut stdout) = start(&e, &["--profile", "etna"], &script);
        let kill = std::process::Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status();
        assert!(kill.unwrap().success());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, format!("got-{name}\n"));
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(42), "exec exits with the command's code after a forwarded {signal}");
    }
}

/// An environment whose ETNA tokens live 58 s: inside the 60 s refresh margin at once, so `exec`
/// renews them at its first round (5 s).
async fn short_lived() -> Env {
    let sandbox = Sandbox::builder().etna_token_lifetime(Duration::from_secs(58)).start().await.unwrap();
    Env { sandbox, home: tempfile::tempdir().unwrap() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_headers_file_is_private_rewritten_on_renewal_and_signalled() {
    let e = short_lived().await;
    login_short_lived(&e, "etna").await;
    let run = tempfile::tempdir().unwrap();
    let file = run.path().join("headers.json");
    let (first, second) = (run.path().join("first.json"), run.path().join("second.json"));
    let script = format!(
        "trap 'cp \"$TWOFA_HEADERS_FILE\" {second}; exit 0' USR1; cp \"$TWOFA_HEADERS_FILE\" {first}; \
         stat -c %a \"$TWOFA_HEADERS_FILE\" > {first}.mode; echo ready; while :; do sleep 0.05; done",
        first = first.display(),
        second = second.display()
    );
    let exec_args = ["--profile", "etna", "--headers-file", file.to_str().unwrap(), "--signal-on-renew", "usr1"];
    let (child, _stdout) = start(&e, &exec_args, &script);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(format!("{}.mode", first.display())).unwrap().trim(), "600");
    let before: Value = serde_json::from_slice(&std::fs::read(&first).unwrap()).unwrap();
    let after: Value = serde_json::from_slice(&std::fs::read(&second).unwrap()).unwrap();
    assert_eq!(before["version"], 1);
    assert_eq!(before["headers"]["Et-App-Key"], etna::APP_KEY);
    assert_ne!(before["access_token"], after["access_token"], "the file holds the renewed token");
    assert_eq!(after["headers"]["Authorization"], format!("Bearer {}", after["access_token"].as_str().unwrap()));
    assert!(!file.exists(), "the headers file goes with the run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_on_renew_restarts_the_command_with_the_new_token() {
    let e = short_lived().await;
    login_short_lived(&e, "etna").await;
    let run = tempfile::tempdir().unwrap();
    let (marker, tokens) = (run.path().join("started"), run.path().join("tokens"));
    // The first run waits to be stopped; the second prints its token and ends the run.
    let script = format!(
        "echo \"$TWOFA_ACCESS_TOKEN\" >> {tokens}; if [ -e {marker} ]; then exit 5; fi; touch {marker}; \
         trap 'exit 0' TERM; echo ready; while :; do sleep 0.05; done",
        tokens = tokens.display(),
        marker = marker.display()
    );
    let (child, _stdout) = start(&e, &["--profile", "etna", "--restart-on-renew"], &script);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    assert_eq!(out.status.code(), Some(5), "the last command's code: {}", text(&out.stderr));
    let tokens = std::fs::read_to_string(&tokens).unwrap();
    let tokens: Vec<&str> = tokens.lines().collect();
    assert_eq!(tokens.len(), 2);
    assert_ne!(tokens[0], tokens[1], "the restarted command got the renewed token");
}

#[test]
fn a_headers_file_in_a_shared_directory_is_refused() {
    // private_fs refuses a directory others can write (without the sticky bit): checked here on a
    // directory made group-writable.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o770)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let e = env().await;
        login(&e, "etna").await;
        let file = dir.path().join("h.json");
        let out = exec(&e, &["--profile", "etna", "--headers-file", file.to_str().unwrap(), "--", "true"]).await;
        assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("writable"), "{}", text(&out.stderr));
        assert!(!file.exists());
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_proxy_the_command_reaches_the_api_with_no_credential_and_the_proxy_goes_with_it() {
    let e = env().await;
    login(&e, "etna").await;
    let script = r#"echo "$TWOFA_PROXY_URL"; curl -sS -w '\n%{http_code}\n' "${TWOFA_PROXY_URL}v1.0/users/me""#;
    let out = exec(&e, &["--profile", "etna", "--proxy", "--", "sh", "-c", script]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    let base = lines[0];
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with('/'), "{printed}");
    assert_eq!(lines.last(), Some(&"200"), "{printed}");
    assert!(printed.contains(etna::USER_NO_2FA), "{printed}");
    // The proxy lived as long as the command.
    let after = std::process::Command::new("curl").args(["-sS", &format!("{base}v1.0/users/me")]).output().unwrap();
    assert!(!after.status.success(), "the proxy still answers after the run");
}
