//! Rows of the release `twofa` as other languages use it: a request through `twofa proxy` vs the
//! same request sent directly and vs Debian's nginx doing the same `proxy_pass` with the headers
//! fixed in its configuration (each proxy a process of its own, the same upstream, the same
//! client); and the CPU of one `twofa token` on a fresh session.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use twofa_sandbox::{Sandbox, etna};

use crate::{
    Result, Table, side_by_side,
    stats::{median, ms},
};

/// Sequential requests per side of the latency rows.
const REQUESTS: usize = 2000;
/// Connections of the throughput row, each sending its next request when the last is answered.
const CONNECTIONS: usize = 64;
/// How long each throughput round lasts; the sides alternate over [`ROUNDS`] rounds.
const ROUND: Duration = Duration::from_secs(2);
const ROUNDS: usize = 3;
/// `twofa token` runs whose CPU is summed.
const TOKEN_RUNS: usize = 200;

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The rows; skipped (with a row saying why) without the release binary or nginx.
pub async fn rows(sandbox: &Sandbox, bin: &Path, table: &mut Table) -> Result<()> {
    let home = tempfile::tempdir()?;
    let twofa = |args: &[&str]| {
        let mut command = Command::new(bin);
        command
            .args(args)
            .env_clear()
            .env("TWOFA_HOME", home.path())
            .env("K", etna::APP_KEY)
            .env("P", etna::PASSWORD)
            .stdin(Stdio::null());
        command
    };
    let base = sandbox.etna_base_url();
    let login = twofa(&[
        "login",
        "etna",
        "--base-url",
        &base,
        "--app-key-env",
        "K",
        "--username",
        etna::USER_NO_2FA,
        "--password-env",
        "P",
    ])
    .output()?;
    if !login.status.success() {
        return Err(format!("twofa login: {}", String::from_utf8_lossy(&login.stderr)).into());
    }
    token_cpu(&twofa(&["token", "--profile", "etna"]), table)?;

    let url_file = home.path().join("proxy-url");
    let _proxy = Killed(
        twofa(&["proxy", "--profile", "etna", "--url-file", url_file.to_str().unwrap_or_default()])
            .stdout(Stdio::null())
            .spawn()?,
    );
    let via_twofa = format!("{}v1.0/users/me", wait_for_file(&url_file).await?.trim());
    let direct = format!("{base}/v1.0/users/me");
    let token = String::from_utf8(twofa(&["token", "--profile", "etna"]).output()?.stdout)?.trim().to_owned();
    let headers =
        [("Authorization".to_owned(), format!("Bearer {token}")), ("Et-App-Key".to_owned(), etna::APP_KEY.into())];

    let client = reqwest::Client::new();
    let get = |url: String, with: bool| {
        let mut request = client.get(url);
        if with {
            for (name, value) in &headers {
                request = request.header(name, value);
            }
        }
        async move {
            let response = request.send().await?;
            if !response.status().is_success() {
                return Err(format!("status {}", response.status()).into());
            }
            response.bytes().await?;
            Ok(())
        }
    };
    let (through, straight) =
        side_by_side(REQUESTS, || get(via_twofa.clone(), false), || get(direct.clone(), true)).await?;
    table.row(
        "a GET through `twofa proxy` vs the same GET direct (p50)",
        ms(median(&through)),
        format!("{} (direct)", ms(median(&straight))),
        format!("+{:.3} ms per request", (median(&through).as_secs_f64() - median(&straight).as_secs_f64()) * 1e3),
        "report",
    );

    let Some(nginx) = Nginx::start(sandbox, &token)? else {
        table.row("`twofa proxy` vs nginx proxy_pass", "-".into(), "-".into(), "skipped: no nginx".into(), "-");
        return Ok(());
    };
    let via_nginx = format!("{}/api/v1.0/users/me", nginx.base);
    let (through, by_nginx) =
        side_by_side(REQUESTS, || get(via_twofa.clone(), false), || get(via_nginx.clone(), false)).await?;
    let ratio = median(&through).as_secs_f64() / median(&by_nginx).as_secs_f64();
    table.row(
        "p50 latency, `twofa proxy` vs nginx proxy_pass (1 connection)",
        ms(median(&through)),
        format!("{} (nginx)", ms(median(&by_nginx))),
        format!("ratio {ratio:.3} ({})", if ratio <= 1.10 { "met" } else { "MISSED" }),
        "≤ 1.10",
    );
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        // Alternating which goes first, so neither always runs on a warmer machine.
        if round % 2 == 0 {
            ours.push(throughput(&via_twofa).await?);
            theirs.push(throughput(&via_nginx).await?);
        } else {
            theirs.push(throughput(&via_nginx).await?);
            ours.push(throughput(&via_twofa).await?);
        }
    }
    let (ours, theirs) = (median_of(&mut ours), median_of(&mut theirs));
    let ratio = ours / theirs;
    table.row(
        &format!("throughput at {CONNECTIONS} connections, `twofa proxy` vs nginx"),
        format!("{ours:.0} req/s"),
        format!("{theirs:.0} req/s (nginx)"),
        format!("{ratio:.2}× ({})", if ratio >= 0.9 { "met" } else { "MISSED" }),
        "≥ 0.9×",
    );
    Ok(())
}

/// CPU (user + system) of one `command` run, over [`TOKEN_RUNS`] runs in a shell loop, less the
/// same loop running `true`: GNU time's children's times, 10 ms resolution over the whole loop.
fn token_cpu(command: &Command, table: &mut Table) -> Result<()> {
    let program = command.get_program().to_string_lossy().into_owned();
    let args: Vec<String> = command.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
    let quoted = std::iter::once(program).chain(args).map(|a| format!("'{a}'")).collect::<Vec<_>>().join(" ");
    let home = command
        .get_envs()
        .find(|(k, _)| *k == "TWOFA_HOME")
        .and_then(|(_, v)| v)
        .map(PathBuf::from)
        .ok_or("no TWOFA_HOME")?;
    let cpu = |body: &str| -> Result<f64> {
        let script = format!("for i in $(seq {TOKEN_RUNS}); do {body} >/dev/null; done");
        let out = Command::new("/usr/bin/time")
            .args(["-f", "%U %S", "sh", "-c", &script])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("TWOFA_HOME", &home)
            .output()?;
        if !out.status.success() {
            return Err(format!("token loop: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        let times = String::from_utf8_lossy(&out.stderr);
        let last = times.lines().last().unwrap_or_default();
        let secs: f64 = last.split_whitespace().filter_map(|t| t.parse::<f64>().ok()).sum();
        Ok(secs)
    };
    let (with_token, empty) = (cpu(&quoted)?, cpu("true")?);
    let per_call = (with_token - empty).max(0.0) / TOKEN_RUNS as f64 * 1e3;
    table.row(
        "`twofa token`, fresh ETNA session: CPU per call",
        format!("{per_call:.2} ms"),
        format!("{:.2} ms (`true`, subtracted)", empty / TOKEN_RUNS as f64 * 1e3),
        if per_call <= 2.0 { "met".into() } else { "MISSED".into() },
        "≤ 2 ms",
    );
    Ok(())
}

/// Requests per second over one [`ROUND`], [`CONNECTIONS`] connections each keeping one request in flight.
async fn throughput(url: &str) -> Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (url, done, stop) = (url.to_owned(), Arc::clone(&done), Arc::clone(&stop));
            tokio::spawn(async move {
                let client = reqwest::Client::builder().pool_max_idle_per_host(1).build()?;
                while !stop.load(Ordering::Relaxed) {
                    let response = client.get(&url).send().await?;
                    if !response.status().is_success() {
                        return Err::<(), crate::BoxError>(format!("status {}", response.status()).into());
                    }
                    response.bytes().await?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    let start = Instant::now();
    tokio::time::sleep(ROUND).await;
    stop.store(true, Ordering::Relaxed);
    let counted = done.load(Ordering::Relaxed);
    let elapsed = start.elapsed();
    for worker in workers {
        worker.await??;
    }
    Ok(counted as f64 / elapsed.as_secs_f64())
}

fn median_of(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

async fn wait_for_file(path: &Path) -> Result<String> {
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return Ok(text);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err(format!("{} never appeared", path.display()).into())
}

/// nginx with two workers, `proxy_pass` to the sandbox over pooled keep-alive connections, the
/// session's headers written into its configuration.
struct Nginx {
    base: String,
    _process: Killed,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(sandbox: &Sandbox, token: &str) -> Result<Option<Self>> {
        let Some(binary) = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().map(PathBuf::from).find(|p| p.exists())
        else {
            return Ok(None);
        };
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let upstream = sandbox.base_url().trim_end_matches('/').trim_start_matches("http://").to_owned();
        let d = dir.path().display();
        let conf = format!(
            "daemon off; worker_processes 2; pid {d}/nginx.pid; error_log {d}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  upstream api {{ server {upstream}; keepalive {CONNECTIONS}; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Authorization \"Bearer {token}\";
      proxy_set_header Et-App-Key \"{key}\";
    }}
  }}
}}
",
            key = etna::APP_KEY
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf)?;
        let process = Killed(
            Command::new(binary)
                .args(["-e", &format!("{d}/error.log"), "-p"])
                .arg(dir.path())
                .arg("-c")
                .arg(&path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Some(Self { base: format!("http://127.0.0.1:{port}"), _process: process, _dir: dir }));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err(format!(
            "nginx did not start: {}",
            std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
        )
        .into())
    }
}
