//! The token contract of `twofa token` (`docs/token.schema.json`): JSON checked against the schema
//! file, curl config lines that `curl -K -` sends to the sandbox's protected endpoints, and shell
//! assignments that survive `eval`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{
    io::Write as _,
    process::{Command, Stdio},
};

use serde_json::Value;
use twofa_core::time::{OffsetDateTime, format_description::well_known::Rfc3339};
use twofa_sandbox::{etna, onlineordering};

use crate::common::{Env, env, json, text};

fn right(code: &str) -> Vec<String> {
    vec![code.to_owned()]
}

/// Checks `value` against the subset of JSON Schema `docs/token.schema.json` uses; panics naming
/// the path of the first mismatch.
fn validate(schema: &Value, value: &Value, path: &str) {
    if let Some(c) = schema.get("const") {
        assert_eq!(value, c, "{path}: const");
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
            _ => panic!("bad schema type at {path}"),
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        assert!(types.contains(&actual), "{path}: {actual} is not one of {types:?}");
    }
    if let (Some(values), Some(_)) = (schema.get("enum").and_then(Value::as_array), value.as_str()) {
        assert!(values.contains(value), "{path}: {value} not in {values:?}");
    }
    if let Some(s) = value.as_str() {
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            assert!(s.len() as u64 >= min, "{path}: shorter than {min}");
        }
        if schema.get("format").and_then(Value::as_str) == Some("date-time") {
            assert!(OffsetDateTime::parse(s, &Rfc3339).is_ok(), "{path}: {s} is not RFC 3339");
        }
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_u64), value.as_u64()) {
        assert!(n >= min, "{path}: below {min}");
    }
    let Some(object) = value.as_object() else { return };
    if let Some(min) = schema.get("minProperties").and_then(Value::as_u64) {
        assert!(object.len() as u64 >= min, "{path}: fewer than {min} properties");
    }
    for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
        assert!(object.contains_key(required.as_str().unwrap()), "{path}: {required} is missing");
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    for (key, item) in object {
        match properties.and_then(|p| p.get(key)) {
            Some(sub) => validate(sub, item, &format!("{path}.{key}")),
            None => match schema.get("additionalProperties") {
                Some(Value::Bool(false)) => panic!("{path}: unexpected {key}"),
                Some(sub @ Value::Object(_)) => validate(sub, item, &format!("{path}.{key}")),
                _ => {}
            },
        }
    }
}

fn schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/token.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn etna_logged_in(e: &Env) -> Value {
    let mut args = e.etna_login(etna::USER_2FA);
    args.extend(["--format", "json"].map(String::from));
    json(&e.run_with_mail(args, None, etna::USER_2FA, right).await)
}

/// `curl -K -` with `config` on its standard input, against `url`: the status and the body.
fn curl(config: &[u8], url: &str) -> (String, String) {
    let mut child = Command::new("curl")
        .args(["-sS", "-K", "-", "-o", "-", "-w", "\n%{http_code}", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("curl is on the machine");
    child.stdin.take().unwrap().write_all(config).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = text(&out.stdout);
    let (body, status) = stdout.rsplit_once('\n').unwrap();
    (status.to_owned(), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_token_matches_the_schema_and_carries_every_header() {
    let e = env().await;
    let login = etna_logged_in(&e).await;
    let out = json(&e.run(&["token", "--profile", "etna", "--format", "json"]).await);
    validate(&schema(), &out, "$");
    assert_eq!(out["version"], 1);
    assert_eq!(out["provider"], "etna");
    assert_eq!(out["profile"], "etna");
    assert_eq!(out["access_token"], login["access_token"]);
    let expected = serde_json::json!({
        "Authorization": format!("Bearer {}", login["access_token"].as_str().unwrap()),
        "Et-App-Key": etna::APP_KEY,
    });
    assert_eq!(out["headers"], expected);
    assert_eq!(out["expires_at"], login["expires_at"]);
    assert_eq!(out["idle_timeout_seconds"], Value::Null);
    assert_eq!(out["subject"]["username"], etna::USER_2FA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oms_json_token_has_an_idle_timeout_and_matches_the_schema() {
    let e = env().await;
    assert!(e.login_oms(&[]).await.status.success());
    let out = json(&e.run(&["token", "--profile", "oms", "--format", "json"]).await);
    validate(&schema(), &out, "$");
    assert_eq!(out["provider"], "oms");
    assert!(out["idle_timeout_seconds"].as_u64().is_some_and(|s| s > 0), "{out}");
    assert_eq!(out["headers"]["aptoken"], out["access_token"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_config_from_format_curl_reaches_the_etna_protected_endpoint() {
    let e = env().await;
    etna_logged_in(&e).await;
    let out = e.run(&["token", "--profile", "etna", "--format", "curl"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config = text(&out.stdout);
    assert!(config.lines().all(|l| l.starts_with("header = \"")), "{config}");
    let url = format!("{}/v1.0/users/me", e.sandbox.etna_base_url());
    let (status, body) = curl(&out.stdout, &url);
    assert_eq!(status, "200", "{body}");
    assert!(body.contains(etna::USER_2FA), "{body}");
    // Without the app-key line the endpoint refuses: the line is what got us in.
    let bearer_only: String = config.lines().filter(|l| !l.contains("Et-App-Key")).map(|l| format!("{l}\n")).collect();
    assert_ne!(curl(bearer_only.as_bytes(), &url).0, "200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_config_carries_online_orderings_company_and_custom_auth_headers() {
    let e = env().await;
    let base = e.sandbox.base_url();
    let args = [
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
    let login = e.run_with_mail(args, None, onlineordering::CUSTOMER_EMAIL_2FA, right).await;
    assert!(login.status.success(), "{}", text(&login.stderr));
    let out = e.run(&["token", "--profile", "onlineordering", "--format", "curl"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config = text(&out.stdout);
    assert!(config.contains("X-Api-CompanyCode: ") && config.lines().count() >= 3, "{config}");
    let (status, body) = curl(&out.stdout, &format!("{}/v1/Customers/me", base.trim_end_matches('/')));
    assert_eq!(status, "200", "{body}");
    assert!(body.contains(onlineordering::CUSTOMER_EMAIL_2FA), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_format_round_trips_through_a_posix_shell() {
    let e = env().await;
    let login = etna_logged_in(&e).await;
    let out = e.run(&["token", "--profile", "etna", "--format", "env"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shell = Command::new("sh")
        .args([
            "-c",
            "eval \"$1\"; printf '%s\\n%s\\n%s\\n' \"$TWOFA_ACCESS_TOKEN\" \"$TWOFA_HEADERS\" \"$TWOFA_EXPIRES_AT\"",
            "sh",
        ])
        .arg(text(&out.stdout))
        .output()
        .unwrap();
    assert!(shell.status.success(), "{}", text(&shell.stderr));
    let printed = text(&shell.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines[0], login["access_token"]);
    let headers: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(headers["Et-App-Key"], etna::APP_KEY);
    assert_eq!(lines[2], login["expires_at"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_and_env_formats_are_refused_outside_token_and_header_outside_text() {
    let e = env().await;
    let status = e.run(&["status", "--format", "curl"]).await;
    assert_eq!(status.status.code(), Some(2));
    assert!(text(&status.stderr).contains("are for `twofa token`"), "{}", text(&status.stderr));
    etna_logged_in(&e).await;
    let both = e.run(&["token", "--profile", "etna", "--format", "json", "--header"]).await;
    assert_eq!(both.status.code(), Some(2));
    assert!(both.stdout.is_empty(), "no secret printed with a usage error");
    let error: Value = serde_json::from_slice(&both.stderr).unwrap();
    assert_eq!(error["error"]["kind"], "usage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_etna_profiles_token_lifetime_sets_the_contracts_expiry() {
    let e = env().await;
    let mut args = e.etna_login(etna::USER_NO_2FA);
    args.extend(["--format", "json", "--token-lifetime", "3600"].map(String::from));
    let before = OffsetDateTime::now_utc();
    let login = json(&e.run(&args.iter().map(String::as_str).collect::<Vec<_>>()).await);
    let out = json(&e.run(&["token", "--profile", "etna", "--format", "json"]).await);
    assert_eq!(out["expires_at"], login["expires_at"]);
    let expires = OffsetDateTime::parse(out["expires_at"].as_str().unwrap(), &Rfc3339).unwrap();
    let life = (expires - before).whole_seconds();
    assert!((3595..=3601).contains(&life), "{life} s, not the profile's 3600");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_lifetime_of_zero_is_refused() {
    let e = env().await;
    let mut args = e.etna_login(etna::USER_NO_2FA);
    args.extend(["--token-lifetime", "0"].map(String::from));
    let out = e.run(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("0 is not in 1.."), "{}", text(&out.stderr));
}
