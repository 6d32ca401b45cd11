//! Stored state is data an attacker may have written: a planted or corrupted session file is
//! checked on load as strictly as a server's answer on receipt, so `status` and `token` never
//! print raw escapes and `token --header` never prints an injected header line.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use serde_json::Value;
use twofa_sandbox::etna;

use crate::common::{Env, env, json, text};

impl Env {
    fn session_file(&self, profile: &str) -> std::path::PathBuf {
        self.home.path().join("sessions").join(format!("{profile}.json"))
    }

    /// Logs the ETNA user without a second factor in as profile `etna`.
    async fn etna_plain_login(&self) -> Value {
        let mut args = self.etna_login(etna::USER_NO_2FA);
        args.extend(["--format", "json"].map(String::from));
        json(&self.run(&args.iter().map(String::as_str).collect::<Vec<_>>()).await)
    }

    /// Rewrites the stored session of `profile` with `edit` applied (in place, keeping its 0600 mode).
    fn plant(&self, profile: &str, edit: impl Fn(&mut Value)) {
        let path = self.session_file(profile);
        let mut file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        edit(&mut file["session"]);
        std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
    }
}

/// Whether `out` holds a byte a terminal acts on (ESC, CR, LF inside a line, BEL, C1).
fn has_control(out: &str) -> bool {
    out.trim_end_matches('\n').chars().any(|c| c != '\n' && c.is_control())
}

/// A change an attacker makes to a stored session's JSON.
type Plant = Box<dyn Fn(&mut Value)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_session_file_never_reaches_the_terminal_raw() {
    let e = env().await;
    let login = e.etna_plain_login().await;
    let good = std::fs::read(e.session_file("etna")).unwrap();
    let plants: [(&str, Plant); 6] = [
        ("access token with an OSC title", Box::new(|s| s["access_token"] = "tok\u{1b}]0;pwned\u{7}".into())),
        ("access token with CR/LF", Box::new(|s| s["access_token"] = "tok\r\nX-Injected: 1".into())),
        (
            "placement header name with CR/LF",
            Box::new(|s| s["placement"] = serde_json::json!({"kind": "header", "name": "X-A\r\nX-Injected: 1"})),
        ),
        (
            "extra header value with CR/LF",
            Box::new(|s| s["headers"] = serde_json::json!([{"name": "Et-App-Key", "value": "k\r\nX-Injected: 1"}])),
        ),
        (
            "extra header name with a space",
            Box::new(|s| s["headers"] = serde_json::json!([{"name": "Et App Key", "value": "k"}])),
        ),
        ("provider name with CSI", Box::new(|s| s["provider"] = "etna\u{1b}[2J\u{9b}31m".into())),
    ];
    for (what, plant) in plants {
        for args in [
            &["status"][..],
            &["status", "--format", "json"],
            &["token", "--profile", "etna"],
            &["token", "--profile", "etna", "--header"],
        ] {
            std::fs::write(e.session_file("etna"), &good).unwrap();
            e.plant("etna", &plant);
            let out = e.run(args).await;
            let shown = format!("{}{}", text(&out.stdout), text(&out.stderr));
            let command = args.join(" ");
            assert!(!has_control(&shown), "{what}: `{command}` printed a control character: {shown:?}");
            assert!(!shown.contains("X-Injected") && !shown.contains("pwned"), "{what}: `{command}`: {shown:?}");
            if args[0] == "token" {
                // Refused as a corrupt store, like any unreadable file: a fresh login replaces it.
                assert!(out.status.success(), "{what}: {shown}");
                assert_ne!(text(&out.stdout).trim(), login["access_token"], "{what}: a new session");
            } else {
                assert!(shown.contains("no session") || shown.contains("\"session\":null"), "{what}: {shown}");
            }
        }
    }
    // The untouched file still serves.
    std::fs::write(e.session_file("etna"), &good).unwrap();
    let token = e.run(&["token", "--profile", "etna"]).await;
    assert_eq!(text(&token.stdout).trim(), login["access_token"], "{}", text(&token.stderr));
}
