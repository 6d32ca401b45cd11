//! The harness of the CLI tests: the built `twofa` against an in-process sandbox, with a private
//! `TWOFA_HOME` and only the variables the tests name.
#![allow(dead_code)] // not every helper is used on every platform

use std::{
    io::Write as _,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;
use twofa_sandbox::{Outbox, Sandbox, etna, oms, oms_api_key, onlineordering};

/// An API secret the sandbox refuses, distinctive enough to search outputs for.
pub const WRONG_API_SECRET: &str = "wrong-api-secret-value";
pub const BIN: &str = env!("CARGO_BIN_EXE_twofa");
/// A PIN the sandbox refuses, distinctive enough to search outputs for.
pub const WRONG_PIN: &str = "97531";

pub struct Env {
    pub sandbox: Sandbox,
    pub home: tempfile::TempDir,
}

pub async fn env() -> Env {
    Env { sandbox: Sandbox::start().await.unwrap(), home: tempfile::tempdir().unwrap() }
}

impl Env {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TWOFA_HOME", self.home.path())
            .env("ET_APP_KEY", etna::APP_KEY)
            .env("TWOFA_PASSWORD", etna::PASSWORD)
            .env("WRONG_PASSWORD", "not-the-password")
            .env("ETNA_PIN", etna::PIN)
            .env("WRONG_PIN", WRONG_PIN)
            .env("OMS_SEED", oms::TOTP_SEED)
            .env("NCR_API", format!("{}:{}", onlineordering::API_USER, onlineordering::API_PASSWORD))
            .env("OMS_API_KEY", oms_api_key::API_KEY)
            .env("OMS_API_SECRET", oms_api_key::API_SECRET)
            .env("WRONG_API_SECRET", WRONG_API_SECRET)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `twofa login oms` over the sandbox's WebSocket as the TOTP user (password and seed
    /// from `TWOFA_PASSWORD` and `OMS_SEED`), then `extra`.
    pub async fn login_oms(&self, extra: &[&str]) -> Output {
        let mut cmd = self.oms_login(extra);
        tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
    }

    /// The command [`Env::login_oms`] runs, to add variables to it.
    pub fn oms_login(&self, extra: &[&str]) -> Command {
        let url = self.sandbox.oms_ws_url();
        let mut args = vec![
            "login",
            "oms",
            "--url",
            &url,
            "--username",
            oms::USER_TOTP,
            "--password-env",
            "TWOFA_PASSWORD",
            "--totp-secret-env",
            "OMS_SEED",
        ];
        args.extend_from_slice(extra);
        self.command(&args)
    }

    pub fn etna_login(&self, user: &str) -> Vec<String> {
        etna_login_at(&self.sandbox.etna_base_url(), user)
    }

    /// Runs `args`, answering each code prompt on standard input with `answer(code)` once the
    /// sandbox has mailed the code to `recipient`; `first_line` goes before it (a password).
    pub async fn run_with_mail(
        &self,
        args: Vec<String>,
        first_line: Option<&str>,
        recipient: &str,
        answers: fn(&str) -> Vec<String>,
    ) -> Output {
        let mut child = self
            .command(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (outbox, recipient, first_line) =
            (self.sandbox.outbox(), recipient.to_owned(), first_line.map(str::to_owned));
        tokio::task::spawn_blocking(move || {
            let mut stdin = child.stdin.take().unwrap();
            if let Some(line) = first_line {
                writeln!(stdin, "{line}").unwrap();
            }
            let code = wait_for_code(&outbox, &recipient);
            for line in answers(&code) {
                let _ = writeln!(stdin, "{line}");
            }
            drop(stdin);
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap()
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
    }
}

pub fn wait_for_code(outbox: &Outbox, recipient: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(code) = outbox.latest_code(recipient) {
            return code;
        }
        assert!(Instant::now() < deadline, "no code was mailed to {recipient}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn json(output: &Output) -> Value {
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `twofa login etna` at `base` for `user`, the password from `TWOFA_PASSWORD`.
pub fn etna_login_at(base: &str, user: &str) -> Vec<String> {
    ["login", "etna", "--base-url", base, "--app-key-env", "ET_APP_KEY", "--username", user]
        .into_iter()
        .chain(["--password-env", "TWOFA_PASSWORD"])
        .map(String::from)
        .collect()
}

/// `twofa login onlineordering` at `base` for the customer `email`, the password from `TWOFA_PASSWORD`.
pub fn onlineordering_login_at(base: &str, email: &str) -> Vec<String> {
    ["login", "onlineordering", "--base-url", base, "--company-code", onlineordering::COMPANY_CODE]
        .into_iter()
        .chain(["--api-credentials-env", "NCR_API", "--email", email, "--password-env", "TWOFA_PASSWORD"])
        .map(String::from)
        .collect()
}
