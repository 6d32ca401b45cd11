//! `twofa login oms --api-key-env … --api-secret-env … --user-id N` through the built binary, against the
//! in-process sandbox, over both gateways (docs/protocols/oms.md#api-key-login: API-key
//! `AuthenticateUser`, no second factor).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{os::unix::fs::PermissionsExt as _, process::Output};

use serde_json::Value;
use twofa_sandbox::oms_api_key::{API_KEY, API_SECRET, API_USER_ID};

use crate::common::{Env, WRONG_API_SECRET as WRONG_SECRET, env, text};

impl Env {
    /// `twofa login oms` at `url` as the TOTP user (password and seed from `TWOFA_PASSWORD` and
    /// `OMS_SEED`), under `profile`.
    async fn login_oms_at(&self, url: &str, profile: &str) -> Output {
        let user = twofa_sandbox::oms::USER_TOTP;
        let seed = ["--totp-secret-env", "OMS_SEED", "--profile", profile];
        self.run(
            &[&["login", "oms", "--url", url, "--username", user, "--password-env", "TWOFA_PASSWORD"][..], &seed]
                .concat(),
        )
        .await
    }

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

/// Runs `args` with every log on (`RUST_LOG=trace`), so a test can search the logs for secrets.
fn traced(e: &Env, args: &[&str]) -> Output {
    e.command(args).env("RUST_LOG", "trace").output().unwrap()
}

/// Issue 26 item 3, "2FA once, then an API key" (docs/protocols/oms.md#api-keys), end to end over
/// both gateways: a 2FA login, `oms api-key create` (the pair in a 0600 file, an API-key profile
/// written, neither key nor secret printed), a login with the key and no code, `list`, `remove`,
/// and the key refused — no key or secret in any output, trace logs included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oms_api_key_create_log_in_with_it_list_remove_and_it_is_refused() {
    let e = env().await;
    // One TOTP user logs in over both gateways within one time step.
    e.sandbox.set_oms_variant(twofa_sandbox::oms::OmsVariant::default().allow_totp_replay(true));
    for (url, profile, bot) in
        [(e.sandbox.oms_ws_url(), "oms-ws", "bot-ws"), (e.sandbox.oms_http_url(), "oms-http", "bot-http")]
    {
        let login = e.login_oms_at(&url, profile).await;
        assert!(login.status.success(), "{profile}: {}", text(&login.stderr));

        let create = traced(
            &e,
            &["oms", "api-key", "create", "--profile", profile, "--permissions", "Trading,AccountReadOnly"]
                .into_iter()
                .chain(["--key-profile", bot, "--format", "json"])
                .collect::<Vec<_>>(),
        );
        assert!(create.status.success(), "{profile}: {}", text(&create.stderr));
        let made: Value = serde_json::from_slice(&create.stdout).unwrap();
        assert_eq!(made["profile"], bot);
        assert_eq!(made["user_id"], API_USER_ID);
        assert_eq!(made["permissions"], serde_json::json!(["Trading", "AccountReadOnly"]));
        assert!(made.get("api_key").is_none() && made.get("api_secret").is_none(), "{made}");
        let file = e.home.path().join("api-keys").join(format!("{bot}.json"));
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "{bot}");
        let pair: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let (key, secret) =
            (pair["api_key"].as_str().unwrap().to_owned(), pair["api_secret"].as_str().unwrap().to_owned());
        assert!(key.len() >= 16 && secret.len() >= 16 && key != API_KEY, "a new key");
        let saved = std::fs::read_to_string(e.home.path().join("profiles").join(format!("{bot}.json"))).unwrap();
        assert!(!saved.contains(&key) && !saved.contains(&secret), "the profile holds neither: {saved}");
        let mut outputs = vec![create];

        // The new profile logs in with the key: no password, no code (standard input is closed).
        let token = traced(&e, &["token", "--profile", bot]);
        assert!(token.status.success(), "{bot}: {}", text(&token.stderr));
        assert!(!text(&token.stdout).trim().is_empty());
        assert!(text(&token.stderr).contains("finished"), "the logs are on: {}", text(&token.stderr));
        outputs.push(token);

        let list = traced(&e, &["oms", "api-key", "list", "--profile", profile, "--format", "json"]);
        assert!(list.status.success(), "{profile}: {}", text(&list.stderr));
        let listed: Value = serde_json::from_slice(&list.stdout).unwrap();
        let entry = listed["keys"].as_array().unwrap().iter().find(|k| k["api_key"] == key.as_str()).cloned();
        assert_eq!(entry.unwrap()["permissions"], serde_json::json!(["Trading", "AccountReadOnly"]), "{listed}");
        assert!(!text(&list.stdout).contains(&secret));

        let remove = traced(&e, &["oms", "api-key", "remove", "--profile", profile, "--key-profile", bot]);
        assert!(remove.status.success(), "{profile}: {}", text(&remove.stderr));
        outputs.push(remove);
        let again = traced(&e, &["oms", "api-key", "list", "--profile", profile, "--format", "json"]);
        assert!(!text(&again.stdout).contains(&key), "removed: {}", text(&again.stdout));

        // With no session left, the next login uses the removed key: refused, exit 3.
        std::fs::remove_file(e.home.path().join("sessions").join(format!("{bot}.json"))).unwrap();
        let refused = traced(&e, &["token", "--profile", bot, "--format", "json"]);
        assert_eq!(refused.status.code(), Some(3), "{bot}: {}", text(&refused.stderr));
        // The logs come first; the error is the last line.
        let error: Value = serde_json::from_str(text(&refused.stderr).lines().last().unwrap()).unwrap();
        assert_eq!(error["error"]["kind"], "invalid_api_key", "{error}");
        outputs.push(refused);

        for out in &outputs {
            let shown = format!("{}{}", text(&out.stdout), text(&out.stderr));
            assert!(!shown.contains(&key) && !shown.contains(&secret), "{profile}: a key or secret was shown: {shown}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oms_api_key_create_shows_the_pair_only_when_asked_and_refuses_bad_permissions() {
    let e = env().await;
    let url = e.sandbox.oms_http_url();
    assert!(e.login_oms_at(&url, "oms").await.status.success());
    let hidden = e.run(&["oms", "api-key", "create", "--profile", "oms", "--permissions", "Trading"]).await;
    assert!(hidden.status.success(), "{}", text(&hidden.stderr));
    let pair: Value =
        serde_json::from_slice(&std::fs::read(e.home.path().join("api-keys").join("oms-api-key.json")).unwrap())
            .unwrap();
    let (key, secret) = (pair["api_key"].as_str().unwrap(), pair["api_secret"].as_str().unwrap());
    let shown = text(&hidden.stdout);
    assert!(shown.contains("`oms-api-key`") && !shown.contains(key) && !shown.contains(secret), "{shown}");

    let args = ["oms", "api-key", "create", "--profile", "oms", "--permissions", "Trading", "--key-profile", "bot"];
    let asked = e.run(&[&args[..], &["--show-secret"]].concat()).await;
    assert!(asked.status.success(), "{}", text(&asked.stderr));
    let pair: Value =
        serde_json::from_slice(&std::fs::read(e.home.path().join("api-keys").join("bot.json")).unwrap()).unwrap();
    let shown = text(&asked.stdout);
    assert!(shown.contains(pair["api_key"].as_str().unwrap()) && shown.contains(pair["api_secret"].as_str().unwrap()));

    let exists = e.run(&args).await;
    assert_eq!(exists.status.code(), Some(2), "the profile `bot` exists: {}", text(&exists.stderr));
    let bad = e.run(&["oms", "api-key", "create", "--profile", "oms", "--permissions", "Trading,Operator"]).await;
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    assert!(text(&bad.stderr).contains("`Operator`"), "{}", text(&bad.stderr));
    let listed = e.run(&["oms", "api-key", "list", "--profile", "oms", "--format", "json"]).await;
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["keys"].as_array().unwrap().len(), 3, "the seeded key and two made, none for refusals: {listed}");
    // Removed by the KEY `list` printed; an unknown key is the gateway's refusal (exit 5), never echoed.
    let key = key.to_owned();
    let removed = e.run(&["oms", "api-key", "remove", "--profile", "oms", &key]).await;
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    let again = e.run(&["oms", "api-key", "remove", "--profile", "oms", &key]).await;
    assert_eq!(again.status.code(), Some(5), "{}", text(&again.stderr));
    assert!(text(&again.stderr).contains("Resource Not Found") && !text(&again.stderr).contains(&key));
    let etna = e.run(&["oms", "api-key", "list", "--profile", "nothing-here"]).await;
    assert_eq!(etna.status.code(), Some(2), "{}", text(&etna.stderr));
}
