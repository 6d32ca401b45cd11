//! `--store keyring` and `--password-keyring`: the fallback to files where no keyring answers, and
//! (under `.ci/keyring-test`, which starts GNOME Keyring on a private bus) the real thing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{
    io::Write as _,
    path::Path,
    process::{Command, Output, Stdio},
};

use twofa_sandbox::{Sandbox, oms};

const BIN: &str = env!("CARGO_BIN_EXE_twofa");

/// `twofa args` with only the variables it needs; `bus` passes the D-Bus session bus through.
async fn twofa(home: &Path, args: Vec<String>, bus: bool, stdin: Option<&'static str>) -> Output {
    let home = home.to_owned();
    tokio::task::spawn_blocking(move || run(&home, &args, bus, stdin)).await.unwrap()
}

fn run(home: &Path, args: &[String], bus: bool, stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TWOFA_HOME", home)
        .env("TWOFA_PASSWORD", oms::PASSWORD)
        .env("OMS_SEED", oms::TOTP_SEED)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if bus {
        for var in ["DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "HOME"] {
            if let Some(value) = std::env::var_os(var) {
                cmd.env(var, value);
            }
        }
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(line) = stdin {
        writeln!(input, "{line}").unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn own(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn oms_login(url: &str, extra: &[&str]) -> Vec<String> {
    let mut args = own(&["login", "oms", "--url", url, "--username", oms::USER_TOTP, "--totp-secret-env", "OMS_SEED"]);
    args.extend(own(extra));
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_keyring_without_a_keyring_falls_back_to_a_file_with_one_warning() {
    let sandbox = Sandbox::start().await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let url = sandbox.oms_ws_url();
    let args = oms_login(&url, &["--password-env", "TWOFA_PASSWORD", "--store", "keyring"]);
    let out = twofa(home.path(), args, false, None).await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("no OS keyring answers").count(), 1, "{stderr}");
    assert!(!stderr.contains(oms::PASSWORD), "{stderr}");
    assert!(home.path().join("sessions/oms.json").exists(), "the session went to a file");
    let profile = std::fs::read_to_string(home.path().join("profiles/oms.json")).unwrap();
    assert!(profile.contains("\"store\": \"file\""), "the profile records where it went: {profile}");
    assert!(text(&out.stdout).contains("sessions/oms.json"), "{}", text(&out.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_keyring_without_a_keyring_is_a_usage_error_before_any_prompt() {
    let sandbox = Sandbox::start().await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let url = sandbox.oms_ws_url();
    let args = oms_login(&url, &["--password-stdin", "--password-keyring"]);
    let out = twofa(home.path(), args, false, Some(oms::PASSWORD)).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--password-keyring needs an OS keyring"), "{stderr}");
    assert!(!home.path().join("profiles/oms.json").exists());
    assert_eq!(sandbox.stats().requests("oms.ws.connect"), 0, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyring_keeps_the_session_and_the_password_that_token_logs_in_with() {
    if std::env::var_os("TWOFA_TEST_KEYRING").is_none() {
        assert!(std::env::var_os("TWOFA_REQUIRE_KEYRING").is_none(), "no Secret Service was started");
        eprintln!("skipped: no Secret Service (set TWOFA_TEST_KEYRING=1 under .ci/keyring-test)");
        return;
    }
    let sandbox = Sandbox::start().await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let url = sandbox.oms_ws_url();
    let cli = |args: Vec<String>, stdin: Option<&'static str>| twofa(home.path(), args, true, stdin);

    let args = oms_login(&url, &["--password-stdin", "--password-keyring", "--store", "keyring"]);
    let login = cli(args, Some(oms::PASSWORD)).await;
    assert!(login.status.success(), "{}", text(&login.stderr));
    assert!(text(&login.stdout).contains("the OS keyring (twofa/session:oms)"), "{}", text(&login.stdout));
    assert!(!home.path().join("sessions/oms.json").exists(), "no session file");

    let status = cli(own(&["status"]), None).await;
    assert!(text(&status.stdout).contains("oms"), "{}", text(&status.stdout));

    // Without its session, `token` logs in again: the password comes from the keyring (there is
    // no variable and no terminal to prompt on), the code from the TOTP seed.
    tokio::task::spawn_blocking(|| twofa_keyring::keyring::Entry::new("twofa", "session:oms")?.delete_credential())
        .await
        .unwrap()
        .unwrap();
    let token = cli(own(&["token", "--profile", "oms"]), None).await;
    assert!(token.status.success(), "{}", text(&token.stderr));
    assert!(!text(&token.stdout).trim().is_empty());

    let logout = cli(own(&["logout", "--profile", "oms"]), None).await;
    assert!(logout.status.success(), "{}", text(&logout.stderr));
    let password =
        tokio::task::spawn_blocking(|| twofa_keyring::keyring::Entry::new("twofa", "password:oms")?.get_password())
            .await
            .unwrap();
    assert!(matches!(password, Err(twofa_keyring::keyring::Error::NoEntry)), "logout forgets the password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_over_several_keyring_profiles_probes_and_warns_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let url = sandbox.oms_ws_url();
    for profile in ["one", "two"] {
        let args = oms_login(&url, &["--password-env", "TWOFA_PASSWORD", "--profile", profile]);
        let out = twofa(home.path(), args, false, None).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        // As if logged in where a keyring ran, now looked at where none does.
        let path = home.path().join(format!("profiles/{profile}.json"));
        let json = std::fs::read_to_string(&path).unwrap().replace("\"store\": \"file\"", "\"store\": \"keyring\"");
        std::fs::write(&path, json).unwrap();
    }
    let status = twofa(home.path(), own(&["status"]), false, None).await;
    let stderr = text(&status.stderr);
    assert!(status.status.success(), "{stderr}");
    assert_eq!(stderr.matches("no OS keyring answers").count(), 1, "{stderr}");
    assert!(text(&status.stdout).contains("one") && text(&status.stdout).contains("two"));
}

/// `oms api-key create` from a keyring profile keeps the new pair in the keyring (no file), the
/// API-key profile logs in from it with no code, and `logout` forgets it (docs/protocols/oms.md#api-keys).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_made_from_a_keyring_profile_lives_in_the_keyring_until_logout() {
    if std::env::var_os("TWOFA_TEST_KEYRING").is_none() {
        assert!(std::env::var_os("TWOFA_REQUIRE_KEYRING").is_none(), "no Secret Service was started");
        eprintln!("skipped: no Secret Service (set TWOFA_TEST_KEYRING=1 under .ci/keyring-test)");
        return;
    }
    let sandbox = Sandbox::start().await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let url = sandbox.oms_ws_url();
    let cli = |args: Vec<String>| twofa(home.path(), args, true, None);
    let entry = |name: &'static str| {
        tokio::task::spawn_blocking(move || twofa_keyring::keyring::Entry::new("twofa", name)?.get_password())
    };

    let login = cli(oms_login(&url, &["--password-env", "TWOFA_PASSWORD", "--store", "keyring"])).await;
    assert!(login.status.success(), "{}", text(&login.stderr));
    let create = cli(own(&["oms", "api-key", "create", "--profile", "oms", "--permissions", "Trading"])).await;
    assert!(create.status.success(), "{}", text(&create.stderr));
    assert!(text(&create.stdout).contains("the OS keyring (twofa/api-key:oms-api-key"), "{}", text(&create.stdout));
    assert!(!home.path().join("api-keys").join("oms-api-key.json").exists(), "no key file");
    let profile = std::fs::read_to_string(home.path().join("profiles/oms-api-key.json")).unwrap();
    assert!(profile.contains("\"api_key_store\": \"keyring\""), "{profile}");
    let secret = entry("api-secret:oms-api-key").await.unwrap().unwrap();
    assert!(!profile.contains(&secret) && !text(&create.stdout).contains(&secret));

    let token = cli(own(&["token", "--profile", "oms-api-key"])).await;
    assert!(token.status.success(), "{}", text(&token.stderr));
    let logout = cli(own(&["logout", "--profile", "oms-api-key"])).await;
    assert!(logout.status.success(), "{}", text(&logout.stderr));
    for name in ["api-key:oms-api-key", "api-secret:oms-api-key"] {
        let gone = entry(name).await.unwrap();
        assert!(matches!(gone, Err(twofa_keyring::keyring::Error::NoEntry)), "{name}: logout forgets it");
    }
}
