//! `twofa-bench`: one table, every row measured side by side in the same run, against the
//! embedded sandbox on loopback with no injected latency. Run it with `bash .ci/bench`.
//!
//! Rows: library login vs the same requests written by hand (per provider); vs the vendor's
//! published Python approach; concurrent logins; 500 simultaneous OMS WebSocket logins;
//! `Authenticator::token()` on a fresh cache; single-flight at expiry; TCP connections per login;
//! peak RSS and size of the release `twofa` binary; and instructions per login counted by
//! callgrind, library and raw client side by side; a request through `twofa proxy` vs direct and
//! vs nginx, and the CPU of `twofa token`. `twofa-bench ratios` prints only the login-vs-raw rows,
//! `twofa-bench instructions` only the callgrind ones, `twofa-bench proxy` only the proxy's.

mod instructions;
mod proxy;
mod raw;
mod stats;

use std::{
    error::Error,
    future::Future,
    hint::black_box,
    path::PathBuf,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::{StreamExt as _, future::join_all, stream};
use stats::{median, ms, quantile};
use twofa_core::{
    Authenticator, CodeSource, LoginOptions, ManualClock, Step, TotpSeed, TwoFactorFlow, code_source,
    code_source::Totp, http::HttpOptions, login,
};
use twofa_etna::EtnaFlow;
use twofa_oms::OmsFlow;
use twofa_onlineordering::OnlineOrderingFlow;
use twofa_sandbox::{Outbox, Sandbox, etna, oms, onlineordering};

type BoxError = Box<dyn Error + Send + Sync>;
type Result<T> = std::result::Result<T, BoxError>;

/// Logins per side of a ratio row (interleaved); the Python row runs as many.
const LOGINS: usize = 1000;

struct Table(Vec<[String; 5]>);

impl Table {
    fn row(&mut self, what: &str, twofa: String, baseline: String, result: String, target: &str) {
        println!("  measured: {what}: {result}");
        self.0.push([what.into(), twofa, baseline, result, target.into()]);
    }

    fn print(&self) {
        let header = ["measurement", "twofa", "baseline", "result", "target"].map(String::from);
        let rows: Vec<&[String; 5]> = std::iter::once(&header).chain(&self.0).collect();
        let widths: Vec<usize> = (0..5).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
        println!();
        for (i, row) in rows.iter().enumerate() {
            let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            println!("| {} |", cells.join(" | "));
            if i == 0 {
                println!("|{}|", widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("|"));
            }
        }
    }
}

async fn timed<F: Future<Output = Result<()>>>(f: F) -> Result<Duration> {
    let start = Instant::now();
    f.await?;
    Ok(start.elapsed())
}

/// `n` runs of `a` and `b`, interleaved (alternating which goes first) after a warm-up.
async fn side_by_side<A, FA, B, FB>(n: usize, mut a: A, mut b: B) -> Result<(Vec<Duration>, Vec<Duration>)>
where
    A: FnMut() -> FA,
    FA: Future<Output = Result<()>>,
    B: FnMut() -> FB,
    FB: Future<Output = Result<()>>,
{
    for _ in 0..20 {
        a().await?;
        b().await?;
    }
    let (mut ta, mut tb) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        if i % 2 == 0 {
            ta.push(timed(a()).await?);
            tb.push(timed(b()).await?);
        } else {
            tb.push(timed(b()).await?);
            ta.push(timed(a()).await?);
        }
    }
    Ok((ta, tb))
}

fn ratio_row(table: &mut Table, what: &str, lib: &[Duration], raw: &[Duration]) {
    let ratio = median(lib).as_secs_f64() / median(raw).as_secs_f64();
    let verdict = if ratio <= 1.05 { "met" } else { "MISSED" };
    table.row(
        what,
        ms(median(lib)),
        format!("{} (raw)", ms(median(raw))),
        format!("ratio {ratio:.3} ({verdict})"),
        "≤ 1.05",
    );
}

fn mailbox(outbox: Outbox, user: String) -> impl CodeSource {
    code_source::from_fn(move |_| {
        let code = outbox.latest_code(&user);
        async move { code.ok_or_else(|| twofa_core::Error::CodeSource("no mail".into())) }
    })
}

fn etna_flow(base: &str, user: &str, http: HttpOptions) -> Result<EtnaFlow> {
    Ok(EtnaFlow::builder()
        .base_url(base)
        .app_key(etna::APP_KEY)
        .username(user)
        .password(etna::PASSWORD)
        .http(http)
        .build()?)
}

fn oms_flow(url: String) -> Result<OmsFlow> {
    Ok(OmsFlow::builder().endpoint(url).username(oms::USER_TOTP).password(oms::PASSWORD).build()?)
}

fn online_flow(base: &str, email: &str) -> Result<OnlineOrderingFlow> {
    Ok(OnlineOrderingFlow::builder()
        .base_url(base)
        .company_code(onlineordering::COMPANY_CODE)
        .integrator(onlineordering::API_USER, onlineordering::API_PASSWORD)
        .email(email)
        .password(onlineordering::PASSWORD)
        .build()?)
}

fn totp(seed: &str) -> Result<Totp> {
    Ok(Totp::from_base32(&TotpSeed::new(seed))?)
}

/// The current code on every call, replays included: `Totp` as a code source waits for a fresh
/// time step (RFC 6238 §5.2), which would make these runs measure the clock. The bench sandbox
/// accepts replays (`OmsVariant::allow_totp_replay`).
fn replaying(seed: &str) -> Result<impl CodeSource> {
    let totp = totp(seed)?;
    Ok(code_source::from_fn(move |_| {
        let code = totp.current().0.expose_secret().to_owned();
        async move { Ok(code) }
    }))
}

async fn library_vs_raw(sandbox: &Sandbox, table: &mut Table) -> Result<()> {
    let options = LoginOptions::default();

    let flow: Box<dyn TwoFactorFlow> =
        Box::new(etna_flow(&sandbox.etna_base_url(), etna::USER_2FA, HttpOptions::default())?);
    let codes = mailbox(sandbox.outbox(), etna::USER_2FA.into());
    let client = raw::client()?;
    let url = format!("{}/token", sandbox.etna_base_url());
    let outbox = sandbox.outbox();
    let (lib, raw) = side_by_side(
        LOGINS,
        || async { login(flow.as_ref(), &codes, &options).await.map(drop).map_err(Into::into) },
        || async {
            let code =
                async || outbox.latest_code(etna::USER_2FA).ok_or(twofa_core::Error::CodeSource("no mail".into()));
            raw::etna_login(&client, &url, etna::USER_2FA, code).await.map(drop)
        },
    )
    .await?;
    ratio_row(table, "ETNA 2FA login, dyn TwoFactorFlow vs raw reqwest", &lib, &raw);

    let flow: Box<dyn TwoFactorFlow> = Box::new(oms_flow(sandbox.oms_ws_url())?);
    let (codes, generator) = (replaying(oms::TOTP_SEED)?, totp(oms::TOTP_SEED)?);
    let url = sandbox.oms_ws_url();
    let (lib, raw) = side_by_side(
        LOGINS,
        || async { login(flow.as_ref(), &codes, &options).await.map(drop).map_err(Into::into) },
        || async { raw::oms_login(&url, generator.current().0.expose_secret()).await.map(drop) },
    )
    .await?;
    ratio_row(table, "OMS 2FA login (WebSocket), vs raw tokio-tungstenite", &lib, &raw);

    let flow: Box<dyn TwoFactorFlow> = Box::new(online_flow(&sandbox.base_url(), onlineordering::CUSTOMER_TOTP)?);
    let (codes, generator) = (replaying(onlineordering::TOTP_SEED)?, totp(onlineordering::TOTP_SEED)?);
    let client = raw::client()?;
    let base = sandbox.base_url();
    let (lib, raw) = side_by_side(
        LOGINS,
        || async { login(flow.as_ref(), &codes, &options).await.map(drop).map_err(Into::into) },
        || async { raw::onlineordering_login(&client, &base, generator.current().0.expose_secret()).await.map(drop) },
    )
    .await?;
    ratio_row(table, "Online Ordering 2FA login, vs raw reqwest", &lib, &raw);
    Ok(())
}

async fn versus_python(sandbox: &Sandbox, table: &mut Table) -> Result<()> {
    let user = "alice.python";
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/vendor_baseline.py");
    let outbox_url = format!("{}/_sandbox/outbox/latest", sandbox.base_url());
    let base = format!("{}/", sandbox.etna_base_url());
    let n = LOGINS.to_string();
    let args: Vec<String> =
        [script, &base, &outbox_url, etna::APP_KEY, user, etna::PASSWORD, &n].map(String::from).into();
    let python = tokio::task::spawn_blocking(move || Command::new("python3").args(args).output()).await??;
    if !python.status.success() {
        let why = String::from_utf8_lossy(&python.stderr).lines().last().unwrap_or_default().to_owned();
        table.row(
            "ETNA 2FA login vs the vendor's Python `requests` sample",
            "-".into(),
            "-".into(),
            format!("skipped: {why}"),
            "far ahead",
        );
        return Ok(());
    }
    let seconds: Vec<f64> = serde_json::from_slice(&python.stdout)?;
    let py: Vec<Duration> = seconds.into_iter().map(Duration::from_secs_f64).collect();
    // The library fetches the code the same way, over HTTP from the outbox.
    let flow = etna_flow(&sandbox.etna_base_url(), user, HttpOptions::default())?;
    let client = reqwest::Client::new();
    let code_url = reqwest::Url::parse_with_params(&outbox_url, [("recipient", user)])?;
    let codes = code_source::from_fn(|_| {
        let request = client.get(code_url.clone());
        async move {
            let response = request.send().await.map_err(twofa_core::http::transport_error)?;
            response.text().await.map_err(twofa_core::http::transport_error)
        }
    });
    let mut lib = Vec::with_capacity(LOGINS);
    for _ in 0..LOGINS {
        lib.push(
            timed(async { login(&flow, &codes, &LoginOptions::default()).await.map(drop).map_err(Into::into) }).await?,
        );
    }
    let speedup = median(&py).as_secs_f64() / median(&lib).as_secs_f64();
    table.row(
        "ETNA 2FA login vs the vendor's Python `requests` sample",
        ms(median(&lib)),
        format!("{} (Python)", ms(median(&py))),
        format!("{speedup:.1}× faster"),
        "far ahead",
    );
    Ok(())
}

async fn concurrent<F, Fut>(what: &str, total: usize, in_flight: usize, table: &mut Table, login_one: F) -> Result<()>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let start = Instant::now();
    let results: Vec<(Duration, bool)> = stream::iter(0..total)
        .map(|i| {
            let fut = login_one(i);
            async move {
                let t = Instant::now();
                let ok = fut.await.is_ok();
                (t.elapsed(), ok)
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let elapsed = start.elapsed();
    let errors = results.iter().filter(|(_, ok)| !ok).count();
    let times: Vec<Duration> = results.iter().map(|(t, _)| *t).collect();
    table.row(
        what,
        format!("{:.0} logins/s", total as f64 / elapsed.as_secs_f64()),
        format!("p50 {} p99 {}", ms(median(&times)), ms(quantile(&times, 0.99))),
        format!("{errors} errors"),
        "0 errors",
    );
    Ok(())
}

async fn load(sandbox: &Sandbox, table: &mut Table) -> Result<()> {
    let shared = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    concurrent("1,000 ETNA 2FA logins, 64 in flight", 1000, 64, table, |i| {
        let user = format!("alice.load{i}");
        let flow = etna_flow(&sandbox.etna_base_url(), &user, HttpOptions::default().client(shared.clone()));
        let outbox = sandbox.outbox();
        async move { login(&flow?, &mailbox(outbox, user), &LoginOptions::default()).await.map(drop).map_err(Into::into) }
    })
    .await?;
    let flow = oms_flow(sandbox.oms_ws_url())?;
    let codes = replaying(oms::TOTP_SEED)?;
    concurrent("1,000 OMS 2FA logins over WebSocket, 64 in flight", 1000, 64, table, |_| async {
        login(&flow, &codes, &LoginOptions::default()).await.map(drop).map_err(Into::into)
    })
    .await?;
    let codes = totp(oms::TOTP_SEED)?;

    // 500 pending logins at once: 500 open sockets, each waiting for its code.
    let start = Instant::now();
    let steps = join_all((0..500).map(|_| flow.start())).await;
    let code = codes.current().0;
    let verified = join_all(steps.iter().map(|step| async {
        match step {
            Ok(Step::Challenge(c)) => flow.verify(c, &code).await.map(drop),
            Ok(Step::Authenticated(_)) => Ok(()),
            Err(e) => Err(e.clone()),
        }
    }))
    .await;
    let errors = verified.iter().filter(|r| r.is_err()).count();
    table.row(
        "500 simultaneous OMS WebSocket logins",
        ms(start.elapsed()),
        "500 sockets open at once".into(),
        format!("{errors} errors"),
        "0 errors",
    );
    Ok(())
}

async fn token_hot_path(sandbox: &Sandbox, table: &mut Table) -> Result<()> {
    let auth = Authenticator::builder(Arc::new(etna_flow(
        &sandbox.etna_base_url(),
        etna::USER_NO_2FA,
        HttpOptions::default(),
    )?))
    .build();
    auth.token().await?;
    let mut per_call = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let start = Instant::now();
        for _ in 0..1000 {
            black_box(auth.token().await?);
        }
        per_call.push(start.elapsed() / 1000);
    }
    let ns = median(&per_call).as_nanos();
    let verdict = if ns <= 100 { "met" } else { "MISSED" };
    table.row(
        "Authenticator::token(), fresh cache, one task",
        format!("{ns} ns/call"),
        "-".into(),
        format!("median ({verdict})"),
        "≤ 100 ns",
    );

    let calls_per_task = 200_000;
    let start = Instant::now();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move {
                for _ in 0..calls_per_task {
                    black_box(auth.token().await?);
                }
                Ok::<_, twofa_core::Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let rate = (64 * calls_per_task) as f64 / start.elapsed().as_secs_f64();
    table.row(
        "Authenticator::token(), 64 tasks on 2 threads",
        format!("{:.1} M calls/s", rate / 1e6),
        "-".into(),
        "aggregate".into(),
        "no global lock",
    );
    Ok(())
}

async fn single_flight(sandbox: &Sandbox, table: &mut Table) -> Result<()> {
    let clock = ManualClock::new(twofa_core::time::OffsetDateTime::now_utc());
    let flow = Arc::new(
        OnlineOrderingFlow::builder()
            .base_url(sandbox.base_url())
            .company_code(onlineordering::COMPANY_CODE)
            .integrator(onlineordering::API_USER, onlineordering::API_PASSWORD)
            .email(onlineordering::CUSTOMER_NO_2FA)
            .password(onlineordering::PASSWORD)
            .clock(Arc::new(clock.clone()))
            .build()?,
    );
    // One renewal round trip, on a session of its own.
    let Step::Authenticated(other) = flow.start().await? else { return Err("challenged".into()) };
    let mut trips = Vec::new();
    let mut session = other;
    for _ in 0..50 {
        let start = Instant::now();
        session = flow.resume(&session).await?;
        trips.push(start.elapsed());
    }
    let auth = Authenticator::builder(flow).clock(Arc::new(clock.clone())).build();
    auth.token().await?;
    let fresh = burst(&auth).await?; // the same 10,000 callers when nothing needs renewing
    clock.advance(Duration::from_secs(onlineordering::TOKEN_LIFETIME_SECS));
    let before = sandbox.stats().requests("onlineordering.refresh");
    let at_expiry = burst(&auth).await?;
    let renewals = sandbox.stats().requests("onlineordering.refresh") - before;
    let (p99, p99_fresh) = (quantile(&at_expiry, 0.99), quantile(&fresh, 0.99));
    table.row(
        "10,000 concurrent token() at expiry",
        format!("{renewals} renewal(s)"),
        format!("one renewal {}; p99 fresh cache {}", ms(median(&trips)), ms(p99_fresh)),
        format!("p99 wait {} (+{} for the renewal)", ms(p99), ms(p99.saturating_sub(p99_fresh))),
        "1 renewal; p99 ≈ 1 round trip",
    );
    Ok(())
}

/// 10,000 tasks call `token()` at once; each wait runs from the common start until its answer,
/// so it includes the time the task spent in the run queue behind the others.
async fn burst(auth: &Authenticator) -> Result<Vec<Duration>> {
    let go = Arc::new(tokio::sync::Notify::new());
    let ready = Arc::new(tokio::sync::Barrier::new(10_001));
    let start = Arc::new(std::sync::OnceLock::<Instant>::new());
    let tasks: Vec<_> = (0..10_000)
        .map(|_| {
            let (auth, go, ready, start) = (auth.clone(), Arc::clone(&go), Arc::clone(&ready), Arc::clone(&start));
            tokio::spawn(async move {
                let released = go.notified();
                ready.wait().await;
                released.await;
                auth.token().await?;
                Ok::<_, twofa_core::Error>(start.get().map_or(Duration::ZERO, Instant::elapsed))
            })
        })
        .collect();
    ready.wait().await;
    let _ = start.set(Instant::now());
    go.notify_waiters();
    let mut waits = Vec::with_capacity(tasks.len());
    for task in tasks {
        waits.push(task.await??);
    }
    Ok(waits)
}

/// Runs on a sandbox of its own: the shared one's connection counter also counts whatever the
/// earlier rows' clients still do (runs on the shared sandbox read 2 for Online Ordering where
/// 40 logins on fresh sandboxes all read 1).
async fn connections_per_login(table: &mut Table) -> Result<()> {
    let sandbox = &bench_sandbox().await?;
    let mut counts = Vec::new();
    let before = sandbox.stats().connections();
    let flow = etna_flow(&sandbox.etna_base_url(), "alice.tcp", HttpOptions::default())?;
    login(&flow, &mailbox(sandbox.outbox(), "alice.tcp".into()), &LoginOptions::default()).await?;
    counts.push(("ETNA", sandbox.stats().connections() - before));
    let before = sandbox.stats().connections();
    login(
        &online_flow(&sandbox.base_url(), onlineordering::CUSTOMER_TOTP)?,
        &replaying(onlineordering::TOTP_SEED)?,
        &LoginOptions::default(),
    )
    .await?;
    counts.push(("Online Ordering", sandbox.stats().connections() - before));
    let before = sandbox.stats().connections();
    login(&oms_flow(sandbox.oms_http_url())?, &replaying(oms::TOTP_SEED)?, &LoginOptions::default()).await?;
    counts.push(("OMS HTTP", sandbox.stats().connections() - before));
    let all_one = counts.iter().all(|(_, n)| *n == 1);
    let shown = counts.iter().map(|(p, n)| format!("{p} {n}")).collect::<Vec<_>>().join(", ");
    table.row(
        "TCP connections per 2FA login",
        shown,
        "-".into(),
        (if all_one { "met" } else { "MISSED" }).into(),
        "1 per HTTP provider",
    );
    Ok(())
}

/// The release `twofa` (`TWOFA_BIN`, else the workspace's `target/release/twofa`).
fn release_binary() -> PathBuf {
    std::env::var_os("TWOFA_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/release/twofa")))
}

/// The rows of [`proxy::rows`], or one saying they were skipped without the release binary.
async fn proxy_rows(sandbox: &Sandbox, table: &mut Table) -> Result<()> {
    let bin = release_binary();
    if !bin.exists() {
        table.row(
            "`twofa proxy` and `twofa token` rows",
            "-".into(),
            "-".into(),
            "skipped: no release `twofa`".into(),
            "-",
        );
        return Ok(());
    }
    proxy::rows(sandbox, &bin, table).await
}

async fn binary(sandbox: &Sandbox, table: &mut Table) -> Result<()> {
    let bin = release_binary();
    let Ok(meta) = std::fs::metadata(&bin) else {
        table.row(
            "release `twofa`: size, peak RSS of a login",
            "-".into(),
            "-".into(),
            "skipped: build it with `cargo build --release -p twofa-cli`".into(),
            "-",
        );
        return Ok(());
    };
    let home = std::env::temp_dir().join(format!("twofa-bench-{}", std::process::id()));
    let url = sandbox.oms_ws_url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("/usr/bin/time")
            .args(["-f", "%M"])
            .arg(&bin)
            .args(["--store-dir"])
            .arg(&home)
            .args([
                "login",
                "oms",
                "--url",
                &url,
                "--username",
                oms::USER_TOTP,
                "--password-env",
                "P",
                "--totp-secret-env",
                "S",
                "--format",
                "json",
            ])
            .env("P", oms::PASSWORD)
            .env("S", oms::TOTP_SEED)
            .output()
    })
    .await??;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let peak_kb: u64 = stderr.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
    let status = if output.status.success() { "login ok" } else { "login FAILED" };
    table.row(
        "release `twofa`: size, peak RSS of an OMS 2FA login",
        format!("{:.1} MiB binary", meta.len() as f64 / 1048576.0),
        format!("{:.1} MiB peak RSS", peak_kb as f64 / 1024.0),
        status.into(),
        "report",
    );
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        // A side of an instructions row, run under callgrind by `instructions::rows`.
        [mode, side, n, base] if mode == "logins" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(instructions::logins(side, n.parse()?, base)),
        [] => runtime()?.block_on(table()),
        [mode] if mode == "instructions" || mode == "ratios" || mode == "proxy" => runtime()?.block_on(async {
            let (sandbox, mut table) = (bench_sandbox().await?, Table(Vec::new()));
            match mode.as_str() {
                "ratios" => library_vs_raw(&sandbox, &mut table).await?,
                "proxy" => proxy_rows(&sandbox, &mut table).await?,
                _ => instructions::rows(&sandbox, &mut table).await?,
            }
            table.print();
            Ok(())
        }),
        _ => Err("usage: twofa-bench [instructions | ratios | proxy]".into()),
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
}

/// The sandbox every row runs against: challenges that outlive the run, codes without a retry
/// limit, and TOTP codes that may be replayed (the ratio rows log in a thousand times a second).
async fn bench_sandbox() -> std::io::Result<Sandbox> {
    Sandbox::builder()
        .ticket_ttl(Duration::from_secs(3600))
        .max_code_attempts(1000)
        .oms_variant(oms::OmsVariant::default().allow_totp_replay(true))
        .start()
        .await
}

async fn table() -> Result<()> {
    let sandbox = bench_sandbox().await?;
    println!(
        "twofa-bench: sandbox on {} (loopback, no injected latency), {LOGINS} logins per ratio row",
        sandbox.base_url()
    );
    let mut table = Table(Vec::new());
    library_vs_raw(&sandbox, &mut table).await?;
    instructions::rows(&sandbox, &mut table).await?;
    versus_python(&sandbox, &mut table).await?;
    load(&sandbox, &mut table).await?;
    token_hot_path(&sandbox, &mut table).await?;
    single_flight(&sandbox, &mut table).await?;
    connections_per_login(&mut table).await?;
    binary(&sandbox, &mut table).await?;
    proxy_rows(&sandbox, &mut table).await?;
    table.print();
    Ok(())
}
