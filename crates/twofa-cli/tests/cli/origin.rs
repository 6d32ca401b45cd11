//! A session is used only with the endpoint that issued it (issue 22, item 1). The attack: a
//! second login under an existing profile name, pointed at another endpoint and left waiting
//! (`--no-wait`), used to save the new profile at once and keep the old session, so the next
//! `logout` or `token` sent the old account's live token (or refresh token) to the new endpoint,
//! which no longer needed that account's second factor.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use twofa_sandbox::{Sandbox, etna, oms, onlineordering};

use crate::common;
use crate::common::{Env, env, etna_login_at, json, onlineordering_login_at, text};

impl Env {
    fn profile_file(&self, name: &str) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.home.path().join("profiles").join(format!("{name}.json"))).unwrap())
            .unwrap()
    }

    /// Marks the stored session of `name` as expired an hour ago (as time passing would).
    fn expire_session(&self, name: &str) {
        let path = self.home.path().join("sessions").join(format!("{name}.json"));
        let mut file: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let past = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
        file["session"]["expires_at"] = past.format(&time::format_description::well_known::Rfc3339).unwrap().into();
        std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
    }
}

/// `login` as profile `desk`, in JSON, with `extra`.
fn as_desk(mut args: Vec<String>, extra: &[&str]) -> Vec<String> {
    args.extend(["--profile", "desk", "--format", "json"].iter().chain(extra).map(|a| (*a).to_owned()));
    args
}

fn etna_args(base: &str, user: &str, extra: &[&str]) -> Vec<String> {
    as_desk(etna_login_at(base, user), extra)
}

fn oo_args(base: &str, email: &str, extra: &[&str]) -> Vec<String> {
    as_desk(onlineordering_login_at(base, email), extra)
}

/// An Online Ordering profile `desk` logged in at the first sandbox, then a login under the same name
/// at a second one, waiting for its code.
async fn oo_waiting_elsewhere() -> (Env, Sandbox) {
    let e = env().await;
    let other = Sandbox::start().await.unwrap();
    json(&e.run(&strs(&oo_args(&e.sandbox.base_url(), onlineordering::CUSTOMER_NO_2FA, &[]))).await);
    let extra = ["--no-wait", "--replace"];
    let started = e.run(&strs(&oo_args(&other.base_url(), onlineordering::CUSTOMER_EMAIL_2FA, &extra))).await;
    assert!(json(&started)["waiting_for"].is_string(), "{}", text(&started.stdout));
    (e, other)
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etna_logout_after_a_waiting_login_elsewhere_never_sends_the_old_token_there() {
    let e = env().await;
    let other = Sandbox::start().await.unwrap();
    json(&e.run(&strs(&etna_args(&e.sandbox.etna_base_url(), etna::USER_NO_2FA, &[]))).await);
    // The second login at another endpoint sends its password and waits for a code.
    let started = e.run(&strs(&etna_args(&other.etna_base_url(), etna::USER_2FA, &["--no-wait", "--replace"]))).await;
    assert!(json(&started)["waiting_for"].is_string(), "{}", text(&started.stdout));
    assert_eq!(other.stats().requests("etna.token"), 1);
    // The stored profile is still the first one until the waiting login completes.
    assert_eq!(e.profile_file("desk")["base_url"], e.sandbox.etna_base_url());
    let out = e.run(&["logout", "--profile", "desk"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        other.stats().requests("etna.logout"),
        0,
        "the old bearer token and Et-App-Key went to the new endpoint"
    );
    assert_eq!(e.sandbox.stats().requests("etna.logout"), 1, "the first endpoint ends its own session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onlineordering_token_after_a_waiting_login_elsewhere_never_sends_the_refresh_token_there() {
    let (e, other) = oo_waiting_elsewhere().await;
    // The first session's access token has expired: `token` renews it with its refresh token.
    e.expire_session("desk");
    let out = e.run(&["token", "--profile", "desk"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(e.sandbox.stats().requests("onlineordering.refresh"), 1, "renewed where it was issued");
    assert_eq!(other.stats().requests("onlineordering.refresh"), 0, "the old refresh token went to the new endpoint");
    assert_eq!(other.stats().requests("onlineordering.login"), 1, "only the waiting login's start reached it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oms_logout_after_a_waiting_login_elsewhere_never_sends_the_old_session_token_there() {
    let e = env().await;
    let other = Sandbox::start().await.unwrap();
    let login = |url: String, user: &str, extra: &[&str]| {
        let args = ["login", "oms", "--url", &url, "--username", user, "--password-env", "TWOFA_PASSWORD"];
        as_desk(args.map(String::from).to_vec(), extra)
    };
    json(&e.run(&strs(&login(e.sandbox.oms_http_url(), oms::USER_NO_2FA, &[]))).await);
    let started = e.run(&strs(&login(other.oms_http_url(), oms::USER_TOTP, &["--no-wait", "--replace"]))).await;
    assert!(json(&started)["waiting_for"].is_string(), "{}", text(&started.stdout));
    let out = e.run(&["logout", "--profile", "desk"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(other.stats().requests("oms.http.logout"), 0, "the old SessionToken went to the new endpoint");
    assert_eq!(e.sandbox.stats().requests("oms.http.logout"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_login_replaces_the_profile_only_when_verified() {
    let (e, other) = oo_waiting_elsewhere().await;
    assert_eq!(e.profile_file("desk")["email"], onlineordering::CUSTOMER_NO_2FA);
    let code = common::wait_for_code(&other.outbox(), onlineordering::CUSTOMER_EMAIL_2FA);
    let done = e.run(&["verify", "--profile", "desk", "--code", &code, "--format", "json"]).await;
    assert_eq!(json(&done)["provider"], "onlineordering");
    assert_eq!(e.profile_file("desk")["email"], onlineordering::CUSTOMER_EMAIL_2FA);
    assert_eq!(e.profile_file("desk")["base_url"], other.base_url());
    // The new session serves from the store: no request to the first endpoint.
    let before = e.sandbox.stats().requests("onlineordering.refresh");
    let token = e.run(&["token", "--profile", "desk"]).await;
    assert!(token.status.success(), "{}", text(&token.stderr));
    assert_eq!(e.sandbox.stats().requests("onlineordering.refresh"), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_login_under_a_taken_name_at_another_endpoint_needs_replace() {
    let e = env().await;
    let other = Sandbox::start().await.unwrap();
    json(&e.run(&strs(&etna_args(&e.sandbox.etna_base_url(), etna::USER_NO_2FA, &[]))).await);
    for args in [
        etna_args(&other.etna_base_url(), etna::USER_NO_2FA, &[]),
        etna_args(&e.sandbox.etna_base_url(), etna::USER_2FA, &["--no-wait"]),
    ] {
        let out = e.run(&strs(&args)).await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(stderr.contains("--replace") && stderr.contains("profile `desk` already logs in to"), "{stderr}");
    }
    assert_eq!(other.stats().requests("etna.token"), 0, "nothing was sent before the refusal");
    assert_eq!(e.sandbox.stats().requests("etna.token"), 1);
    // The same endpoint and account logs in again without asking.
    json(&e.run(&strs(&etna_args(&e.sandbox.etna_base_url(), etna::USER_NO_2FA, &[]))).await);
    // With --replace, the other endpoint's login completes and takes the name.
    json(&e.run(&strs(&etna_args(&other.etna_base_url(), etna::USER_NO_2FA, &["--replace"]))).await);
    assert_eq!(e.profile_file("desk")["base_url"], other.etna_base_url());
}

/// Red team of issue 22 item 1: Online Ordering's remembered device id (which lets a login skip
/// the emailed code) is taken from the stored session. A login under the same name at another
/// endpoint must not send it there: that endpoint already gets the password, and with the device
/// id it could log in at the first endpoint without the account's second factor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onlineordering_never_sends_the_remembered_device_id_to_another_endpoint() {
    use std::io::{Read as _, Write as _};
    let e = env().await;
    let args = oo_args(&e.sandbox.base_url(), onlineordering::CUSTOMER_EMAIL_2FA, &["--remember-device", "ci box"]);
    let out = e.run_with_mail(args, None, onlineordering::CUSTOMER_EMAIL_2FA, |code| vec![code.to_owned()]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(e.home.path().join("sessions").join("desk.json")).unwrap()).unwrap();
    let device = stored["session"]["extras"]["DeviceId"].as_str().expect("a remembered device id").to_owned();
    // The other endpoint: records what it is sent, then refuses.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let seen = std::thread::spawn(move || {
        let mut seen = Vec::new();
        listener.set_nonblocking(false).unwrap();
        if let Ok((mut conn, _)) = listener.accept() {
            conn.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
            let mut buf = [0u8; 65536];
            while let Ok(n) = conn.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                if String::from_utf8_lossy(&seen).contains("Email") {
                    break;
                }
            }
            let _ =
                conn.write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    let args = oo_args(&base, onlineordering::CUSTOMER_EMAIL_2FA, &["--no-wait", "--replace"]);
    let _ = e.run(&strs(&args)).await;
    let seen = seen.join().unwrap();
    assert!(seen.contains("Email"), "the other endpoint got the login: {seen}");
    assert!(!seen.contains(&device), "the first endpoint's device id went to the other endpoint");
}
