//! `twofa serve` over the CLI's own profiles: what it lists, logs in and out, and what it refuses.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{
    io::{BufRead as _, BufReader},
    process::{Child, Command, Stdio},
};

use twofa_sandbox::{Sandbox, etna};

const BIN: &str = env!("CARGO_BIN_EXE_twofa");

fn twofa(home: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TWOFA_HOME", home)
        .env("ET_APP_KEY", etna::APP_KEY)
        .env("TWOFA_PASSWORD", etna::PASSWORD)
        .stdin(Stdio::null());
    cmd
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_non_loopback_address_needs_tls_or_the_explicit_flag() {
    let home = tempfile::tempdir().unwrap();
    let out = twofa(home.path(), &["serve", "--listen", "0.0.0.0:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a loopback address") && err.contains("TLS"), "{err}");
    let out = twofa(home.path(), &["serve", "--tls-cert", "cert.pem"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a certificate without its key");
    let out = twofa(home.path(), &["serve", "--tls-cert", "c", "--tls-key", "k", "--allow-remote-plaintext"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "TLS and plain HTTP together");
}

// Multi-threaded: the binary runs (blocking) while the in-process sandbox answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_lists_the_cli_profiles_and_logs_them_out() {
    let sandbox = Sandbox::start().await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let base = sandbox.etna_base_url();
    let login = ["login", "etna", "--base-url", &base, "--app-key-env", "ET_APP_KEY", "--username", etna::USER_NO_2FA];
    let out = twofa(home.path(), &[&login[..], &["--password-env", "TWOFA_PASSWORD"]].concat()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A second profile whose password came from standard input: the page asks for it.
    let mut typed = twofa(home.path(), &[&login[..], &["--password-stdin", "--profile", "typed"]].concat());
    let mut child = typed.stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), format!("{}\n", etna::PASSWORD).as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());

    let mut serve = twofa(home.path(), &["serve"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let serve = Killed(serve);
    let link = lines.next().unwrap().unwrap();
    let link = link.strip_prefix("twofa console: ").unwrap().to_owned();
    let origin = link.split('?').next().unwrap().trim_end_matches('/').to_owned();
    let http =
        twofa_core::reqwest::Client::builder().redirect(twofa_core::reqwest::redirect::Policy::none()).build().unwrap();
    // The cookie's name ends with the console's port (browsers share cookies among ports).
    let port = origin.rsplit(':').next().unwrap();
    let cookie = format!("twofa_console_{port}={}", link.split("token=").nth(1).unwrap());
    let page = http.get(format!("{origin}/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let etna_row = &page[page.find("id=\"profile-etna\"").unwrap()..];
    assert!(
        etna_row
            .starts_with("id=\"profile-etna\"><td>etna</td><td>etna</td><td>bob</td><td><span class=\"state valid\">"),
        "{page}"
    );
    let typed_row = &page[page.find("id=\"profile-typed\"").unwrap()..];
    let typed_row = &typed_row[..typed_row.find("</tr>").unwrap()];
    assert!(typed_row.contains("state valid"), "{typed_row}");
    let csrf_at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = page[csrf_at..].split('"').next().unwrap().to_owned();
    let out = http
        .post(format!("{origin}/sessions/etna/logout"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert!(!home.path().join("sessions/etna.json").exists(), "the session is gone");
    assert!(home.path().join("profiles/etna.json").exists(), "the profile stays");
    assert_eq!(sandbox.stats().requests("etna.logout"), 1, "ended at the provider too");
    let page = http.get(format!("{origin}/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let typed_row = &page[page.find("id=\"profile-etna\"").unwrap()..];
    let typed_row = &typed_row[..typed_row.find("</tr>").unwrap()];
    assert!(typed_row.contains("state none") && typed_row.contains("/sessions/etna/login"), "{typed_row}");
    assert!(!typed_row.contains("type=\"password\""), "the password comes from TWOFA_PASSWORD");

    // The profile without a password source: logged out, then in again with the password typed on the page.
    let post = |path: &str, body: String| {
        http.post(format!("{origin}{path}"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    assert_eq!(post("/sessions/typed/logout", format!("csrf={csrf}")).await.unwrap().status(), 303);
    let page = http.get(format!("{origin}/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let row = &page[page.find("id=\"profile-typed\"").unwrap()..];
    assert!(row[..row.find("</tr>").unwrap()].contains("type=\"password\""), "{row}");
    let typed = format!("csrf={csrf}&password={}", etna::PASSWORD);
    assert_eq!(post("/sessions/typed/login", typed).await.unwrap().status(), 303);
    assert!(home.path().join("sessions/typed.json").exists(), "logged in with the typed password");
    drop(serve);
}

/// Issue 22 item 2: `--token-file` keeps the access token off stdout, in a new 0600 file that is
/// never an existing file or a planted symbolic link; `--bot P` prints a link that serves P only
/// and holds no access token.
#[test]
fn the_access_token_goes_to_a_new_private_file_and_a_bot_gets_a_scoped_link() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("console-link");
    let path = file.to_str().unwrap();
    let mut serve = twofa(home.path(), &["serve", "--bot", "desk", "--token-file", path])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let _serve = Killed(serve);
    let printed: Vec<String> = (0..4).map(|_| lines.next().unwrap().unwrap()).collect();
    let link = std::fs::read_to_string(&file).unwrap();
    let token = link.trim().split("token=").nth(1).unwrap().to_owned();
    assert!(token.len() >= 32, "{link}");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(printed[0].starts_with("twofa console: http://127.0.0.1:") && printed[0].contains(path), "{printed:?}");
    assert!(printed.iter().all(|line| !line.contains(&token)), "the access token reached stdout: {printed:?}");
    let bot = printed.iter().find(|l| l.starts_with("  Bot desk: export TWOFA_CONSOLE='")).expect("a bot line");
    assert!(bot.contains("?profile=desk&key="), "{bot}");
    // The bot's link takes a bot of desk, and no other profile.
    let bot_link = bot.split('\'').nth(1).unwrap();
    assert!(twofa_console::ConsoleCodeSource::new(bot_link, "desk").is_ok());
    let other = twofa_console::ConsoleCodeSource::new(bot_link, "other").unwrap_err();
    assert!(other.to_string().contains("twofa serve --bot other"), "{other}");

    // An existing file or a planted symbolic link is refused, and left as it was.
    let target = home.path().join("victim");
    std::fs::write(&target, b"keep").unwrap();
    let link_path = home.path().join("planted");
    std::os::unix::fs::symlink(&target, &link_path).unwrap();
    for taken in [&link_path, &target] {
        let out = twofa(home.path(), &["serve", "--token-file", taken.to_str().unwrap()]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot create the token file"));
        assert!(out.stdout.is_empty() || !String::from_utf8_lossy(&out.stdout).contains("token="));
    }
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
}

/// Runs `twofa -v serve`, hands `challenge` to a bot of profile `bot` that waits 2 s for a code
/// nobody types, and gives the bot's error and the console's log (standard error).
async fn bot_waits_in_a_verbose_console(challenge: twofa_core::Challenge) -> (twofa_core::Error, String) {
    use twofa_core::{CodeRequest, CodeSource as _};
    let home = tempfile::tempdir().unwrap();
    let mut serve = twofa(home.path(), &["-v", "serve"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Kept open: the console prints more after its link.
    let mut stdout = BufReader::new(serve.stdout.take().unwrap()).lines();
    let link = stdout.next().unwrap().unwrap();
    let link = link.strip_prefix("twofa console: ").unwrap().to_owned();
    let stderr = serve.stderr.take().unwrap();
    let serve = Killed(serve);
    let bot =
        twofa_console::ConsoleCodeSource::new(&link, "bot").unwrap().wait_limit(std::time::Duration::from_secs(2));
    let err = bot.code(&CodeRequest::new(&challenge, 1, 3)).await.unwrap_err();
    drop(serve);
    drop(stdout);
    let mut log = Vec::new();
    std::io::Read::read_to_end(&mut { stderr }, &mut log).unwrap();
    (err, String::from_utf8_lossy(&log).into_owned())
}

/// A bot's provider name with a window-title OSC, a screen clear, a C1 CSI and a right-to-left
/// override reaches the console's log (`twofa -v serve`) escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bots_hostile_provider_name_is_escaped_in_the_console_log() {
    use twofa_core::{Challenge, Method, Secret, time::OffsetDateTime};
    const HOSTILE: &str = "x\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\u{202e}txt";
    let challenge = Challenge::portable(HOSTILE, Method::Email, OffsetDateTime::now_utc(), Secret::new("state"));
    let (_, log) = bot_waits_in_a_verbose_console(challenge).await;
    let line = log.lines().find(|l| l.contains("a login waits for a code")).unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains("x\\u{1b}]0;owned\\u{7}"), "{line}");
    for c in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'] {
        assert!(!log.contains(c), "{c:?} reached the console's log: {log:?}");
    }
}

/// A provider's hint over the console's limit no longer makes the registration fail with 422: the
/// challenge clipped it at receipt, so the login waits in the console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_hint_still_reaches_the_console() {
    use twofa_core::{Challenge, Method, Secret, time::OffsetDateTime};
    let challenge = Challenge::portable("etna", Method::Email, OffsetDateTime::now_utc(), Secret::new("state"))
        .with_hint("a sentence ".repeat(100));
    let (err, log) = bot_waits_in_a_verbose_console(challenge).await;
    assert!(!err.to_string().contains("422") && !err.to_string().contains("too long"), "{err}");
    assert!(log.contains("a login waits for a code"), "never registered: {err}\n{log}");
}

// Multi-threaded: the binary runs (blocking) while the in-process receiver answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_ops_listen_serves_metrics_and_health_without_the_token() {
    let home = tempfile::tempdir().unwrap();
    let receiver = twofa_ops::notify::testing::Receiver::start().await.unwrap();
    let mut serve = twofa(home.path(), &["serve", "--ops-listen", "127.0.0.1:0", "--notify", "slack:env:SLACK_HOOK"])
        .env("SLACK_HOOK", format!("http://{}/services/x", receiver.addr()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let _serve = Killed(serve);
    let metrics_line = lines.map(Result::unwrap).find(|l| l.trim_start().starts_with("Metrics:")).unwrap();
    let url = metrics_line.split_whitespace().nth(1).unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/metrics"), "{metrics_line}");
    let text = twofa_core::reqwest::get(&url).await.unwrap().text().await.unwrap();
    let scrape = twofa_ops::metrics::scrape::Scrape::parse(&text).unwrap();
    assert_eq!(scrape.value("twofa_pending_codes", &[]), Some(0.0), "{text}");
    let health = twofa_core::reqwest::get(url.replace("/metrics", "/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    // A spec whose variable is unset: refused at the start, exit 2.
    let out = twofa(home.path(), &["serve", "--notify", "ntfy:env:UNSET_NTFY"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("UNSET_NTFY"), "{}", String::from_utf8_lossy(&out.stderr));
}
