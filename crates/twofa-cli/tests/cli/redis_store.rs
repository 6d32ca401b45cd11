//! `--store redis`: a fleet shares one login through Redis. Against a real `redis-server`
//! (`bash .ci/run` starts one and sets `TWOFA_TEST_REDIS`; without it these tests say so and pass,
//! unless `TWOFA_REQUIRE_REDIS` is set).

use std::process::Output;

use serde_json::Value;
use twofa_sandbox::etna;

use crate::common::{Env, env, json, text};

/// A sealing key (32 bytes, base64), as `openssl rand -base64 32` prints one.
pub const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

pub fn redis_url() -> Option<String> {
    match std::env::var("TWOFA_TEST_REDIS") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("TWOFA_REQUIRE_REDIS").is_none(),
                "TWOFA_REQUIRE_REDIS is set, TWOFA_TEST_REDIS not"
            );
            eprintln!("skipped: no Redis (set TWOFA_TEST_REDIS=redis://127.0.0.1:PORT, as bash .ci/run does)");
            None
        }
    }
}

/// Runs `args` in `e`'s home with the Redis variables (`key` unset when `None`).
async fn run(e: &Env, args: &[String], url: &str, prefix: &str, key: Option<&str>) -> Output {
    let mut cmd = e.command(&args.iter().map(String::as_str).collect::<Vec<_>>());
    cmd.env("TWOFA_REDIS_URL", url).env("TWOFA_REDIS_PREFIX", prefix);
    if let Some(key) = key {
        cmd.env("TWOFA_REDIS_KEY", key);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}

fn login_args(e: &Env) -> Vec<String> {
    let mut args = e.etna_login(etna::USER_NO_2FA);
    args.extend(["--store", "redis", "--format", "json"].map(String::from));
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_machine_gets_the_first_machines_session_from_redis_sealed() {
    let Some(url) = redis_url() else { return };
    let prefix = format!("twofa-cli-test-{}", std::process::id());
    let first = env().await;
    let login = run(&first, &login_args(&first), &url, &prefix, Some(KEY)).await;
    assert!(login.status.success(), "{}", text(&login.stderr));
    let token = json(&login)["access_token"].as_str().unwrap().to_owned();
    assert!(!first.home.path().join("sessions/etna.json").exists(), "the session went to Redis, not a file");

    // Another machine: its own TWOFA_HOME with the same profile file, the same Redis and key.
    let second = Env { sandbox: first.sandbox, home: tempfile::tempdir().unwrap() };
    std::fs::create_dir_all(second.home.path().join("profiles")).unwrap();
    std::fs::copy(first.home.path().join("profiles/etna.json"), second.home.path().join("profiles/etna.json")).unwrap();
    let args = ["token", "--profile", "etna", "--format", "json"].map(String::from);
    let out = run(&second, &args, &url, &prefix, Some(KEY)).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let contract: Value = json(&out);
    assert_eq!(contract["access_token"], token.as_str(), "the same login, not a new one");

    // Redis holds it sealed: the token is not in the stored bytes.
    let stored = std::process::Command::new("redis-cli")
        .args(["-u", &url, "--no-raw", "GET", &format!("{prefix}:session:etna")])
        .output()
        .unwrap();
    let stored = text(&stored.stdout);
    assert!(stored.len() > 40 && !stored.contains(&token), "{stored}");

    // A machine with another key cannot read it, and says so rather than logging in silently.
    let other_key = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
    let out = run(&second, &args, &url, &prefix, Some(other_key)).await;
    assert_ne!(json(&out).get("access_token").and_then(Value::as_str), Some(token.as_str()));
    let _ =
        std::process::Command::new("redis-cli").args(["-u", &url, "DEL", &format!("{prefix}:session:etna")]).output();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_without_a_sealing_key_is_refused_before_logging_in() {
    let e = env().await;
    let out = run(&e, &login_args(&e), "redis://127.0.0.1:1/", "unused", None).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let error = serde_json::from_slice::<Value>(&out.stderr).unwrap();
    assert_eq!(error["error"]["kind"], "usage");
    assert!(error["error"]["message"].as_str().unwrap().contains("TWOFA_REDIS_KEY"), "{error}");
    assert!(!e.home.path().join("profiles/etna.json").exists(), "a refused login saves no profile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_without_a_url_names_the_variable() {
    let e = env().await;
    let mut cmd = e.command(&login_args(&e).iter().map(String::as_str).collect::<Vec<_>>());
    cmd.env("TWOFA_REDIS_KEY", KEY);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    let error = serde_json::from_slice::<Value>(&out.stderr).unwrap();
    assert_eq!(error["error"]["message"], "--store redis needs $TWOFA_REDIS_URL (redis://host:port/)");
}
