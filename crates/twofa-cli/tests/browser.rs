//! The console in a real browser: `twofa serve --sandbox` driven through headless Chromium
//! (chromedriver, WebDriver). A person opens the printed link, sees the demo bot's challenge,
//! types a wrong code and then the one the sandbox mailed, sees the session turn valid, opens the
//! authenticator enrolment QR code, and logs out.
//!
//! Skipped unless `TWOFA_BROWSER_TEST=1` (`.ci/browser-test` sets it, after installing Debian's
//! `chromium` and `chromium-driver`); with it, a missing Chromium fails the test. With
//! `TWOFA_SCREENSHOTS=DIR` it saves the three pages there (`docs/img/` holds the committed ones).
#![cfg(feature = "sandbox")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator};

const BIN: &str = env!("CARGO_BIN_EXE_twofa");

/// Chromium as root, headless, and silent towards the outside world.
const CHROMIUM_FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1180,800",
];

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `twofa serve --sandbox`; its stdout lines arrive on the channel.
fn serve(home: &Path) -> (Killed, mpsc::Receiver<String>, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .args(["serve", "--sandbox"])
        .env("TWOFA_HOME", home)
        .env("NO_COLOR", "1")
        // Everything logged, so the search for secrets below means something.
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = |stream: Box<dyn std::io::Read + Send>| {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        rx
    };
    let out = lines(Box::new(child.stdout.take().unwrap()));
    let err = lines(Box::new(child.stderr.take().unwrap()));
    (Killed(child), out, err)
}

/// The rest of the line that starts with `prefix`, waiting for it.
fn line_after(lines: &mpsc::Receiver<String>, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if let Some(rest) = line.strip_prefix(prefix) {
            return rest.split_whitespace().next().unwrap().to_owned();
        }
    }
    panic!("`twofa serve --sandbox` never printed `{prefix}`");
}

async fn browser(chromium: &Path, chromedriver: &Path, profile_dir: &Path) -> (Killed, Client) {
    let port = free_port();
    let driver = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Killed(driver);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut args: Vec<String> = CHROMIUM_FLAGS.map(String::from).to_vec();
    args.push(format!("--user-data-dir={}", profile_dir.display()));
    let capabilities = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": chromium, "args": args },
    });
    let serde_json::Value::Object(capabilities) = capabilities else { unreachable!() };
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session through chromedriver");
    (driver, client)
}

/// Waits until the page (reloaded from `url` each time when given) holds `css`.
async fn wait_for(client: &Client, url: Option<&str>, css: &str) -> fantoccini::elements::Element {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(url) = url {
            client.goto(url).await.unwrap();
        }
        if let Ok(found) = client.find(Locator::Css(css)).await {
            return found;
        }
        assert!(Instant::now() < deadline, "no `{css}` on {}", client.current_url().await.unwrap());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn screenshot(client: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("TWOFA_SCREENSHOTS") {
        let png = client.screenshot().await.unwrap();
        std::fs::write(PathBuf::from(dir).join(name), png).unwrap();
    }
}

/// The page's source, checked to hold none of `secrets`.
async fn page_without(client: &Client, secrets: &[&str]) -> String {
    let source = client.source().await.unwrap();
    for secret in secrets {
        assert!(!source.contains(secret), "a secret shows on {}", client.current_url().await.unwrap());
    }
    source
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_hands_the_demo_bots_code_over_in_chromium() {
    if std::env::var("TWOFA_BROWSER_TEST").as_deref() != Ok("1") {
        eprintln!("skipped: the browser test runs with TWOFA_BROWSER_TEST=1 (.ci/browser-test)");
        return;
    }
    let chromium = PathBuf::from(std::env::var("TWOFA_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    let chromedriver =
        PathBuf::from(std::env::var("TWOFA_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into()));
    assert!(chromium.exists() && chromedriver.exists(), "Chromium and chromedriver are needed: run .ci/browser-test");

    let scratch = tempfile::tempdir().unwrap();
    let (_serve, out, err) = serve(&scratch.path().join("home"));
    let sandbox = line_after(&out, "twofa sandbox: ");
    let link = line_after(&out, "twofa console: ");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let base = link.split('?').next().unwrap().to_owned();
    let (_driver, client) = browser(&chromium, &chromedriver, &scratch.path().join("chromium")).await;

    // The printed link sets the cookie and leaves the address bar without the token.
    client.goto(&link).await.unwrap();
    let landed = client.current_url().await.unwrap();
    assert_eq!((landed.path(), landed.query()), ("/", None));
    page_without(&client, &[&token]).await;

    // The demo bot's challenge waits; a wrong code is refused on the page, and a new field comes.
    let field = wait_for(&client, Some(&format!("{base}pending")), "#pending-etna-bot input[name=code]").await;
    let source = page_without(&client, &[&token]).await;
    assert!(source.contains("e-mail or SMS") && source.contains("1 of 3"), "{source}");
    screenshot(&client, "console-pending.png").await;
    field.send_keys("000000").await.unwrap();
    client.find(Locator::Css("#pending-etna-bot button")).await.unwrap().click().await.unwrap();
    let refusal = wait_for(&client, None, "#pending-etna-bot p.error").await;
    assert!(refusal.text().await.unwrap().contains("rejected"), "{}", refusal.text().await.unwrap());

    // The code the sandbox mailed to alice, typed in.
    let outbox = format!("{sandbox}/_sandbox/outbox/latest?recipient={}", twofa_sandbox::etna::USER_2FA);
    let code = twofa_core::reqwest::get(&outbox).await.unwrap().text().await.unwrap();
    let field = wait_for(&client, None, "#pending-etna-bot input[name=code]").await;
    field.send_keys(&code).await.unwrap();
    client.find(Locator::Css("#pending-etna-bot button")).await.unwrap().click().await.unwrap();

    // The bot's session turns valid on the Sessions page.
    wait_for(&client, Some(&base), "#profile-etna-bot .state.valid").await;

    // The enrolling OMS user logs in from the page: its QR code shows on the enrolment page.
    client.find(Locator::Css("#profile-oms-enrolling button")).await.unwrap().click().await.unwrap();
    wait_for(&client, Some(&format!("{base}enrolment")), "#enrol-oms-enrolling svg").await;
    screenshot(&client, "console-enrolment.png").await;
    client.goto(&base).await.unwrap();
    page_without(&client, &[&token, &code, twofa_sandbox::oms::ENROLLING_SEED]).await;
    screenshot(&client, "console-sessions.png").await;

    // Log out: the session leaves the store.
    let logout = "#profile-etna-bot form[action$='/logout'] button";
    client.find(Locator::Css(logout)).await.unwrap().click().await.unwrap();
    wait_for(&client, Some(&base), "#profile-etna-bot .state.none").await;
    client.close().await.unwrap();

    // The console's log (standard error) holds no secret.
    drop(_serve);
    let log: Vec<String> = err.try_iter().collect();
    let log = log.join("\n");
    for secret in [token.as_str(), code.as_str(), twofa_sandbox::oms::ENROLLING_SEED, twofa_sandbox::etna::PASSWORD] {
        assert!(!log.contains(secret), "a secret in the log:\n{log}");
    }
}
