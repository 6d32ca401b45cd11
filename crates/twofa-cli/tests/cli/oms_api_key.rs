//! `twofa login oms --api-key-env … --api-secret-env … --user-id N` through the built binary,
//! against the in-process sandbox, over both gateways (§2.3 of the provider reference: API-key
//! `AuthenticateUser`, no second factor).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::process::Output;

use serde_json::Value;
use twofa_sandbox::oms_api_key::{API_KEY, API_SECRET, API_USER_ID};

use crate::common::{Env, WRONG_API_SECRET as WRONG_SECRET, env, text};

impl Env {
    /// `twofa login oms` with the API-key flags, the secret read from `secret_env`.
    async fn login(&self, url: &str, profile: &str, secret_env: &str) -> Output {
        let user_id = API_USER_ID.to_string();
        self.run(&[
            "login",
            "oms",
            "--url",
            url,
            "--api-key-env",
            "OMS_API_KEY",
            "--api-secret-env",
            secret_env,
            "--user-id",
            &user_id,
            "--profile",
            profile,
            "--format",
            "json",
        ])
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oms_2_3_cli_api_key_login_over_both_transports() {
    let e = env().await;
    for (url, profile) in [(e.sandbox.oms_http_url(), "bot-http"), (e.sandbox.oms_ws_url(), "bot-ws")] {
        let out = e.login(&url, profile, "OMS_API_SECRET").await;
        assert!(out.status.success(), "{profile}: {}", text(&out.stderr));
        let login: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(!login["access_token"].as_str().unwrap().is_empty());
        // The profile keeps the variables' names, never their values.
        let saved = std::fs::read_to_string(e.home.path().join("profiles").join(format!("{profile}.json"))).unwrap();
        assert!(saved.contains("OMS_API_KEY") && saved.contains("OMS_API_SECRET"), "{saved}");
        assert!(!saved.contains(API_KEY) && !saved.contains(API_SECRET), "{saved}");
        // `token` later works from the profile alone, with no password and no code.
        let logins = e.sandbox.stats().requests("oms.http.authenticate");
        let token = e.run(&["token", "--profile", profile]).await;
        assert!(token.status.success(), "{profile}: {}", text(&token.stderr));
        assert_eq!(text(&token.stdout).trim(), login["access_token"], "{profile}: the session is still fresh");
        assert_eq!(e.sandbox.stats().requests("oms.http.authenticate"), logins, "{profile}: no second login");
        let logout = e.run(&["logout", "--profile", profile]).await;
        assert!(logout.status.success(), "{profile}: {}", text(&logout.stderr));
    }
    assert_eq!(e.sandbox.stats().requests("oms.http.logout"), 1, "the HTTP profile logged out at /AP/Logout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oms_2_3_cli_a_wrong_api_secret_exits_3_and_names_what_was_wrong() {
    let e = env().await;
    for url in [e.sandbox.oms_http_url(), e.sandbox.oms_ws_url()] {
        let out = e.login(&url, "bot", "WRONG_API_SECRET").await;
        assert_eq!(out.status.code(), Some(3), "{url}: {}", text(&out.stderr));
        let error: Value = serde_json::from_slice(&out.stderr).unwrap();
        assert_eq!(error["error"]["kind"], "invalid_api_key", "{error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains("API key") && message.contains("API secret"), "{message}");
        let shown = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!shown.contains(WRONG_SECRET) && !shown.contains(API_KEY), "{shown}");
        assert!(!e.home.path().join("profiles").join("bot.json").exists(), "a refused login saves no profile");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oms_2_3_cli_api_key_flags_are_an_alternative_to_a_username() {
    let e = env().await;
    let url = e.sandbox.oms_http_url();
    let unset = e.login(&url, "bot", "NOT_SET_ANYWHERE").await;
    assert_eq!(unset.status.code(), Some(2), "{}", text(&unset.stderr));
    assert!(text(&unset.stderr).contains("NOT_SET_ANYWHERE"), "names the variable: {}", text(&unset.stderr));
    let both = e
        .run(&[
            "login",
            "oms",
            "--url",
            &url,
            "--username",
            "u",
            "--api-key-env",
            "OMS_API_KEY",
            "--api-secret-env",
            "OMS_API_SECRET",
            "--user-id",
            "2",
        ])
        .await;
    assert_eq!(both.status.code(), Some(2), "{}", text(&both.stderr));
    let half = e.run(&["login", "oms", "--url", &url, "--api-key-env", "OMS_API_KEY"]).await;
    assert_eq!(half.status.code(), Some(2), "{}", text(&half.stderr));
    let neither = e.run(&["login", "oms", "--url", &url]).await;
    assert_eq!(neither.status.code(), Some(2), "{}", text(&neither.stderr));
}

/// Issue 22 item 11: a fresh session needs none of the profile's variables, so a cron job or a
/// systemd unit without `OMS_API_KEY` gets its token; only a real re-login asks for the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_with_a_fresh_session_needs_no_api_key_variable() {
    let e = env().await;
    for (url, profile) in [(e.sandbox.oms_http_url(), "bot-http"), (e.sandbox.oms_ws_url(), "bot-ws")] {
        let out = e.login(&url, profile, "OMS_API_SECRET").await;
        assert!(out.status.success(), "{profile}: {}", text(&out.stderr));
        let login: Value = serde_json::from_slice(&out.stdout).unwrap();
        let run_bare = |args: Vec<String>| {
            let mut cmd = e.command(&args.iter().map(String::as_str).collect::<Vec<_>>());
            cmd.env_remove("OMS_API_KEY").env_remove("OMS_API_SECRET");
            cmd.output().unwrap()
        };
        let token = run_bare(vec!["token".into(), "--profile".into(), profile.into()]);
        assert!(token.status.success(), "{profile}: {}", text(&token.stderr));
        assert_eq!(text(&token.stdout).trim(), login["access_token"], "{profile}");
        // No session left: a real login needs the key, and says which variable is missing.
        std::fs::remove_file(e.home.path().join("sessions").join(format!("{profile}.json"))).unwrap();
        let relogin = run_bare(vec!["token".into(), "--profile".into(), profile.into()]);
        assert_eq!(relogin.status.code(), Some(2), "{profile}: {}", text(&relogin.stderr));
        assert!(text(&relogin.stderr).contains("OMS_API_KEY"), "{profile}: {}", text(&relogin.stderr));
    }
}
