//! `twofa proxy`: a client with no credential of its own reaches the profile's API through the
//! printed base URL; the URL file is private and goes with the proxy; two proxies on one store
//! renew once; a non-loopback address is refused.

use std::{
    io::{BufRead as _, BufReader},
    os::unix::fs::PermissionsExt as _,
    process::{Child, ChildStdout, Command, Stdio},
    time::Duration,
};

use twofa_core::reqwest;
use twofa_sandbox::etna;

use crate::{
    common::{Env, env, text},
    redis_store::{self, redis_url},
};

async fn login(e: &Env, flags: &[&str]) {
    let mut args = e.etna_login(etna::USER_NO_2FA);
    args.extend(flags.iter().map(|f| (*f).to_owned()));
    let out = e.run(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A running `twofa proxy`, killed if a test fails before stopping it.
struct Running {
    child: Option<Child>,
    stdout: BufReader<ChildStdout>,
}

impl Running {
    fn start(e: &Env, args: &[&str]) -> Self {
        Self::start_profile(e, "etna", args)
    }

    fn start_profile(e: &Env, profile: &str, args: &[&str]) -> Self {
        Self::spawn(e.command(&[&["proxy", "--profile", profile], args].concat()))
    }

    fn spawn(mut command: Command) -> Self {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self { child: Some(child), stdout }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim_end().to_owned()
    }

    /// The base URL of the first line (`twofa proxy: URL`).
    fn base_url(&mut self) -> String {
        let first = self.line();
        first.strip_prefix("twofa proxy: ").unwrap_or_else(|| panic!("{first}")).to_owned()
    }

    /// SIGTERM, then the exit status and what was left on standard output.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(kill.success());
        let status = child.wait().unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest).unwrap();
        (status, rest)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_no_credentials_reaches_the_api_through_the_printed_base_url() {
    let e = env().await;
    login(&e, &[]).await;
    let mut proxy = Running::start(&e, &[]);
    let base = proxy.base_url();
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with('/'), "{base}");
    let http = reqwest::Client::new();
    // The vendor sample's own placeholders are dropped; the session's headers are added.
    let me = http
        .get(format!("{base}v1.0/users/me"))
        .header("Authorization", "Bearer uninitialized")
        .header("Et-App-Key", "Et App Key from the BO Companies widget")
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let body: serde_json::Value = serde_json::from_str(&me.text().await.unwrap()).unwrap();
    assert_eq!(body["Username"], etna::USER_NO_2FA, "{body}");
    // Without the access token in the path, nothing is said.
    let origin = base.rsplitn(3, '/').nth(2).unwrap();
    let guessed = http.get(format!("{origin}/v1.0/users/me")).send().await.unwrap();
    assert_eq!(guessed.status(), 404);
    let (status, rest) = proxy.stop();
    assert!(status.success(), "{status:?}");
    assert!(rest.contains("stopping: finishing the requests in flight"), "{rest}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_url_file_is_private_never_printed_and_goes_with_the_proxy() {
    let e = env().await;
    login(&e, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("etna-url");
    let mut proxy = Running::start(&e, &["--url-file", file.to_str().unwrap()]);
    let first = proxy.line();
    assert!(first.contains("(the base URL is in") && first.contains("mode 0600"), "{first}");
    let base = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let token = base.trim_end_matches('/').rsplit('/').next().unwrap().to_owned();
    assert!(token.len() >= 40, "{base}");
    assert!(!first.contains(&token), "the access token reached stdout: {first}");
    let me = reqwest::get(format!("{base}v1.0/users/me")).await.unwrap();
    assert_eq!(me.status(), 200);
    let (status, rest) = proxy.stop();
    assert!(status.success());
    assert!(!rest.contains(&token));
    assert!(!file.exists(), "the URL file goes with the proxy");

    // An existing file (or a planted link) is never written through.
    std::fs::write(&file, b"keep").unwrap();
    let out = e.run(&["proxy", "--profile", "etna", "--url-file", file.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot create the URL file"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&file).unwrap(), b"keep");
    assert!(!e.home.path().join("run/etna.proxy.json").exists(), "no note of a proxy that did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unix_socket_proxy_needs_no_token() {
    let e = env().await;
    login(&e, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("etna.sock");
    let mut proxy = Running::start(&e, &["--unix", socket.to_str().unwrap()]);
    let first = proxy.line();
    assert!(first.contains("the Unix socket"), "{first}");
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o600);
    let curl = Command::new("curl")
        .args([
            "-sS",
            "--unix-socket",
            socket.to_str().unwrap(),
            "-w",
            "\n%{http_code}",
            "http://localhost/v1.0/users/me",
        ])
        .output()
        .unwrap();
    let out = text(&curl.stdout);
    assert!(out.ends_with("\n200"), "{out} {}", text(&curl.stderr));
    assert!(out.contains(etna::USER_NO_2FA), "{out}");
    let (status, _) = proxy.stop();
    assert!(status.success());
    assert!(!socket.exists(), "the socket goes with the proxy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_proxies_on_one_file_store_renew_once() {
    let e = env().await;
    // Fresh for about a second (the renewal margin is 60 s), then renewed by whoever asks first.
    login(&e, &["--token-lifetime", "61"]).await;
    let (mut one, mut two) = (Running::start(&e, &[]), Running::start(&e, &[]));
    let bases = [one.base_url(), two.base_url()];
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = e.sandbox.stats().requests("etna.token");
    twenty_gets_across(&bases).await;
    assert_eq!(e.sandbox.stats().requests("etna.token") - before, 1, "one login across the two proxies");
    assert!(one.stop().0.success() && two.stop().0.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_proxies_on_two_machines_sharing_redis_renew_once() {
    let Some(url) = redis_url() else { return };
    let prefix = format!("twofa-cli-proxy-test-{}", std::process::id());
    let with_redis = |mut command: Command| {
        command
            .env("TWOFA_REDIS_URL", &url)
            .env("TWOFA_REDIS_PREFIX", &prefix)
            .env("TWOFA_REDIS_KEY", redis_store::KEY);
        command
    };
    let first = env().await;
    let mut args = first.etna_login(etna::USER_NO_2FA);
    args.extend(["--store", "redis", "--token-lifetime", "61"].map(String::from));
    let login = with_redis(first.command(&args.iter().map(String::as_str).collect::<Vec<_>>())).output().unwrap();
    assert!(login.status.success(), "{}", text(&login.stderr));
    // Another machine: its own home with the same profile file, the same Redis and sealing key.
    let second = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(second.path().join("profiles")).unwrap();
    std::fs::copy(first.home.path().join("profiles/etna.json"), second.path().join("profiles/etna.json")).unwrap();
    let mut one = Running::spawn(with_redis(first.command(&["proxy", "--profile", "etna"])));
    let mut elsewhere = first.command(&["proxy", "--profile", "etna"]);
    elsewhere.env("TWOFA_HOME", second.path());
    let mut two = Running::spawn(with_redis(elsewhere));
    let bases = [one.base_url(), two.base_url()];
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = first.sandbox.stats().requests("etna.token");
    twenty_gets_across(&bases).await;
    assert_eq!(first.sandbox.stats().requests("etna.token") - before, 1, "one login across the two machines");
    assert!(one.stop().0.success() && two.stop().0.success());
}

/// Twenty concurrent `GET v1.0/users/me`, alternating between the proxies' base URLs; each a 200.
async fn twenty_gets_across(bases: &[String; 2]) {
    let http = reqwest::Client::new();
    let requests: Vec<_> = (0..20)
        .map(|i| {
            let (http, url) = (http.clone(), format!("{}v1.0/users/me", bases[i % 2]));
            tokio::spawn(async move { http.get(url).send().await.unwrap().status() })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_other_than_loopback_is_refused() {
    let e = env().await;
    login(&e, &[]).await;
    let out = e.run(&["proxy", "--profile", "etna", "--listen", "0.0.0.0:0"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("the proxy listens on loopback only"), "{}", text(&out.stderr));
    let out = e.run(&["proxy", "--profile", "nobody"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("there is no profile `nobody`"), "{}", text(&out.stderr));
}

/// Every request the sandbox's OMS answered, over both gateways.
fn oms_requests(e: &Env) -> u64 {
    ["oms.ws.connect", "oms.ws.request", "oms.http.authenticate", "oms.http.authenticate2fa", "oms.http.userinfo"]
        .iter()
        .map(|name| e.sandbox.stats().requests(name))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_takes_the_running_proxys_session_with_no_call_to_the_api() {
    let e = env().await;
    let login = e.login_oms(&[]).await;
    assert!(login.status.success(), "{}", text(&login.stderr));
    // Without a proxy, each `token` of an OMS session resumes it at the gateway.
    let before = oms_requests(&e);
    let alone = e.run(&["token", "--profile", "oms"]).await;
    assert!(alone.status.success(), "{}", text(&alone.stderr));
    assert!(oms_requests(&e) > before, "a token without a proxy went to the gateway");

    let mut proxy = Running::start_profile(&e, "oms", &[]);
    proxy.base_url();
    let note = e.home.path().join("run/oms.proxy.json");
    assert_eq!(std::fs::metadata(&note).unwrap().permissions().mode() & 0o777, 0o600);
    let first = e.run(&["token", "--profile", "oms"]).await;
    assert!(first.status.success(), "{}", text(&first.stderr));
    let before = oms_requests(&e);
    for _ in 0..3 {
        let again = e.run(&["token", "--profile", "oms"]).await;
        assert!(again.status.success(), "{}", text(&again.stderr));
        assert_eq!(again.stdout, first.stdout, "the proxy's one session");
    }
    assert_eq!(oms_requests(&e), before, "no call to the gateway while the proxy runs");
    assert!(proxy.stop().0.success());
    assert!(!note.exists(), "the note goes with the proxy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_naming_another_host_never_gets_the_owner_token() {
    let e = env().await;
    login(&e, &[]).await;
    // A listener that records whatever reaches it, named in a planted note as a non-loopback host.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let run = e.home.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    for url in [format!("http://localhost.example:{port}/x/"), format!("https://127.0.0.1:{port}/x/")] {
        let note = serde_json::json!({ "url": url, "owner": "planted-owner" }).to_string();
        std::fs::write(run.join("etna.proxy.json"), note).unwrap();
        std::fs::set_permissions(run.join("etna.proxy.json"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let out = e.run(&["token", "--profile", "etna"]).await;
        assert!(out.status.success(), "the stored session still answers: {}", text(&out.stderr));
        assert!(listener.accept().is_err(), "{url}: the note's host was contacted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oms_client_with_no_credentials_talks_to_the_gateway_through_the_proxys_websocket() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    let e = env().await;
    let login = e.login_oms(&[]).await;
    assert!(login.status.success(), "{}", text(&login.stderr));
    let mut proxy = Running::start_profile(&e, "oms", &[]);
    let url = format!("{}WSGateway/", proxy.base_url().replacen("http://", "ws://", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
    // The client's own login is answered by the proxy, then a private call goes to the gateway.
    let logins = e.sandbox.stats().requests("oms.ws.AuthenticateUser");
    for (i, function, payload) in
        [(0, "AuthenticateUser", r#"{"UserName":"someone","Password":"not-sent"}"#), (2, "GetUserInfo", "{}")]
    {
        let frame = serde_json::json!({ "m": 0, "i": i, "n": function, "o": payload }).to_string();
        socket.send(Message::text(frame)).await.unwrap();
        let reply = loop {
            match socket.next().await.unwrap().unwrap() {
                Message::Text(text) => break serde_json::from_str::<serde_json::Value>(&text).unwrap(),
                _ => continue,
            }
        };
        assert_eq!((reply["i"].as_u64(), reply["n"].as_str()), (Some(i), Some(function)), "{reply}");
        let answer: serde_json::Value = serde_json::from_str(reply["o"].as_str().unwrap()).unwrap();
        if function == "GetUserInfo" {
            assert_eq!(answer["UserName"], twofa_sandbox::oms::USER_TOTP, "{answer}");
        } else {
            assert_eq!(answer["Authenticated"], true, "{answer}");
        }
    }
    assert_eq!(e.sandbox.stats().requests("oms.ws.AuthenticateUser"), logins, "the client's login stayed here");
    assert_eq!(e.sandbox.stats().requests("oms.ws.GetUserInfo"), 1);
    socket.close(None).await.unwrap();
    assert!(proxy.stop().0.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_on_a_dead_proxys_port_learns_no_owner_token_and_hands_out_no_session() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let e = env().await;
    login(&e, &[]).await;
    // A real proxy's answer, as a squatter would like to forge it: its body, with another token.
    let mut proxy = Running::start(&e, &[]);
    let base = proxy.base_url();
    let note_path = e.home.path().join("run/etna.proxy.json");
    let note: serde_json::Value = serde_json::from_slice(&std::fs::read(&note_path).unwrap()).unwrap();
    let owner = note["owner"].as_str().unwrap().to_owned();
    let real = reqwest::Client::new()
        .get(format!("{base}_twofa/session"))
        .header(twofa_proxy::OWNER_HEADER, twofa_proxy::owner::request_value(&twofa_core::Secret::new(owner.as_str())))
        .send()
        .await
        .unwrap();
    let real_body = real.text().await.unwrap();
    let stored_token = {
        let body: serde_json::Value = serde_json::from_str(&real_body).unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    };
    let again = e.run(&["token", "--profile", "etna"]).await;
    assert_eq!(text(&again.stdout).trim(), stored_token, "the proxy's session, through its note");
    assert!(proxy.stop().0.success());

    // The proxy is gone; a squatter on loopback answers with the forged session, its proof made up.
    let forged = real_body.replace(&stored_token, "squatter-token");
    let squatter = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = squatter.local_addr().unwrap().port();
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-twofa-proof: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{forged}",
        "0".repeat(64),
        forged.len()
    );
    let heard = tokio::spawn(async move {
        let (mut stream, _) = squatter.accept().await.unwrap();
        let mut request = vec![0; 8192];
        let n = stream.read(&mut request).await.unwrap();
        stream.write_all(answer.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&request[..n]).into_owned()
    });
    let planted = serde_json::json!({ "url": format!("http://127.0.0.1:{port}/x/"), "owner": owner }).to_string();
    std::fs::write(&note_path, planted).unwrap();
    let out = e.run(&["token", "--profile", "etna"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), stored_token, "the forged session was not handed out");
    let request = heard.await.unwrap();
    assert!(request.contains("/x/_twofa/session"), "{request}");
    assert!(!request.contains(&owner), "the owner token reached the squatter: {request}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_takes_the_running_proxys_session_with_no_call_to_the_api() {
    let e = env().await;
    let login = e.login_oms(&[]).await;
    assert!(login.status.success(), "{}", text(&login.stderr));
    let mut proxy = Running::start_profile(&e, "oms", &[]);
    proxy.base_url();
    let first = e.run(&["token", "--profile", "oms"]).await;
    assert!(first.status.success(), "{}", text(&first.stderr));
    let before = oms_requests(&e);
    let out = e.run(&["exec", "--profile", "oms", "--", "sh", "-c", r#"printf %s "$TWOFA_ACCESS_TOKEN""#]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), text(&first.stdout).trim(), "the proxy's session");
    assert_eq!(oms_requests(&e), before, "no call to the gateway while the proxy runs");
    assert!(proxy.stop().0.success());
}
