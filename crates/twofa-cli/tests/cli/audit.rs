//! `--audit-file`: one line per login, token hand-out and logout, with fingerprints and never a
//! token; `twofa audit` prints and filters it; `login --notify` tells a webhook of the wait.

use std::process::Output;

use serde_json::Value;
use twofa_sandbox::{etna, oms};

use crate::common::{env, json, text};

fn lines(out: &Output) -> Vec<Value> {
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_tokens_and_logouts_are_audited_with_fingerprints_only() {
    let e = env().await;
    let audit = e.home.path().join("audit.log");
    let run = |args: Vec<String>| {
        let mut cmd = e.command(&args.iter().map(String::as_str).collect::<Vec<_>>());
        cmd.env("TWOFA_AUDIT_FILE", &audit);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };
    let owned = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let out = run(e.etna_login(etna::USER_NO_2FA)).await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = json(&run(owned(&["token", "--profile", "etna", "--format", "json"])).await.unwrap());
    let token = token["access_token"].as_str().unwrap().to_owned();
    let mut bad = e.etna_login(etna::USER_NO_2FA);
    bad.iter_mut().filter(|a| *a == "TWOFA_PASSWORD").for_each(|a| *a = "WRONG_PASSWORD".into());
    bad.extend(owned(&["--profile", "bad"]));
    assert_eq!(run(bad).await.unwrap().status.code(), Some(3));
    assert!(run(owned(&["logout", "--profile", "etna"])).await.unwrap().status.success());

    let all = lines(&run(owned(&["audit", "--format", "json"])).await.unwrap());
    let seen: Vec<_> = all
        .iter()
        .map(|l| {
            (
                l["action"].as_str().unwrap(),
                l["profile"].as_str().unwrap(),
                l["outcome"].as_str().unwrap(),
                l["actor"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("login", "etna", "ok", "cli:login"),
            ("token", "etna", "ok", "cli:token"),
            ("login", "bad", "invalid_credentials", "cli:login"),
            ("logout", "etna", "ok", "cli:logout"),
        ]
    );
    let fingerprint = all[0]["token"].as_str().unwrap();
    assert_eq!(fingerprint.len(), 16);
    assert_eq!(all[1]["token"], fingerprint, "the token handed out is the one the login made");
    assert_eq!(all[0]["subject"]["username"], etna::USER_NO_2FA, "{}", all[0]);
    let file = std::fs::read_to_string(&audit).unwrap();
    for secret in [token.as_str(), etna::PASSWORD, "not-the-password"] {
        assert!(!file.contains(secret), "a secret in the audit file");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for path in [audit.clone(), e.home.path().join("audit.key")] {
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "{}", path.display());
        }
    }

    let failures = run(owned(&["audit", "--outcome", "error"])).await.unwrap();
    let shown = text(&failures.stdout);
    assert_eq!(shown.lines().count(), 1, "{shown}");
    assert!(shown.contains("login") && shown.contains("bad") && shown.contains("invalid_credentials"), "{shown}");
    let etna_tokens =
        lines(&run(owned(&["audit", "--profile", "etna", "--action", "token", "--format", "json"])).await.unwrap());
    assert_eq!(etna_tokens.len(), 1);
    assert!(
        lines(&run(owned(&["audit", "--since", "2099-01-01T00:00:00Z", "--format", "json"])).await.unwrap()).is_empty()
    );
    assert_eq!(lines(&run(owned(&["audit", "--since", "1h", "--format", "json"])).await.unwrap()).len(), 4);
    let mut no_file = e.command(&["audit"]);
    let out = tokio::task::spawn_blocking(move || no_file.output().unwrap()).await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("TWOFA_AUDIT_FILE"), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_notify_tells_a_webhook_of_the_wait_and_its_outcome() {
    let e = env().await;
    let receiver = twofa_ops::notify::testing::Receiver::start().await.unwrap();
    let hook = format!("http://{}/twofa", receiver.addr());
    let mut cmd = e.oms_login(&["--notify", "webhook:env:HOOK"]);
    cmd.env("HOOK", &hook);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        receiver.events(),
        [("oms".to_owned(), "waiting".to_owned()), ("oms".to_owned(), "answered".to_owned())]
    );
    let bodies: Vec<String> = receiver.got().iter().map(|r| r.body.to_string()).collect();
    for secret in [oms::TOTP_SEED, etna::PASSWORD] {
        assert!(!bodies.iter().any(|b| b.contains(secret)), "{bodies:?}");
    }
    let profile = std::fs::read_to_string(e.home.path().join("profiles/oms.json")).unwrap();
    assert!(profile.contains("webhook:env:HOOK") && !profile.contains(&hook), "the spec is kept, never the URL");
    // A spec that names no variable is refused before anything is sent.
    let mut cmd = e.oms_login(&["--profile", "other", "--notify", "webhook:https://hooks.example/x"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not a notify spec"), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_inside_token_is_audited_before_the_hand_out() {
    let e = env().await;
    let audit = e.home.path().join("audit.log");
    let run = |args: &[&str]| {
        let mut cmd = e.command(args);
        cmd.env("TWOFA_AUDIT_FILE", &audit);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };
    let login = e.etna_login(etna::USER_NO_2FA);
    assert!(run(&login.iter().map(String::as_str).collect::<Vec<_>>()).await.unwrap().status.success());
    // The session is gone (its file removed): `token` renews by logging in again from the profile.
    std::fs::remove_file(e.home.path().join("sessions/etna.json")).unwrap();
    let token = json(&run(&["token", "--profile", "etna", "--format", "json"]).await.unwrap());
    let all = lines(&run(&["audit", "--format", "json"]).await.unwrap());
    let seen: Vec<_> = all.iter().map(|l| (l["action"].as_str().unwrap(), l["actor"].as_str().unwrap())).collect();
    assert_eq!(seen, [("login", "cli:login"), ("renewal", "cli:token"), ("token", "cli:token")]);
    assert_eq!(all[1]["outcome"], "ok");
    assert_ne!(all[0]["token"], all[2]["token"], "the new token has another fingerprint");
    assert!(!std::fs::read_to_string(&audit).unwrap().contains(token["access_token"].as_str().unwrap()));
}
