//! Instructions per login, counted by callgrind: unlike wall-clock ratios they barely move from
//! run to run on a busy 2-core machine. Each side of a row runs in its own process under
//! `valgrind --tool=callgrind` against the bench's sandbox, which stays outside (its work is not
//! counted); a short and a long run are subtracted, so start-up and first-use costs cancel.

use std::{future::Future, process::Command};

use reqwest::Url;
use twofa_core::{LoginOptions, code_source, http, login};
use twofa_sandbox::{Sandbox, oms, onlineordering};

use crate::{Result, Table, etna_flow, oms_flow, online_flow, raw, replaying, totp};

/// The logins of the short and the long run of each side.
const RUNS: (u64, u64) = (10, 110);

/// What one side of a row runs, named on the child's command line.
const SIDES: [(&str, &str, &str); 3] = [
    ("ETNA 2FA login, instructions per login", "etna", "etna-raw"),
    ("OMS 2FA login (WebSocket), instructions per login", "oms", "oms-raw"),
    ("Online Ordering 2FA login, instructions per login", "oo", "oo-raw"),
];

/// The user whose ETNA codes the child reads from the sandbox's HTTP outbox.
const ETNA_USER: &str = "alice.callgrind";

/// The child: `n` logins of `side` against the sandbox at `base`, in one thread.
pub async fn logins(side: &str, n: u64, base: &str) -> Result<()> {
    let options = LoginOptions::default();
    let client = raw::client()?;
    let etna_base = format!("{base}/api");
    let code_url = Url::parse_with_params(&format!("{base}/_sandbox/outbox/latest"), [("recipient", ETNA_USER)])?;
    // ETNA mails its code: both sides fetch it with this one request, so it adds the same to both.
    let mail = || async {
        let response = client.get(code_url.clone()).send().await.map_err(http::transport_error)?;
        response.text().await.map_err(http::transport_error)
    };
    let ws = format!("{}/WSGateway", base.replacen("http", "ws", 1));
    let (oms_totp, oo_totp) = (totp(oms::TOTP_SEED)?, totp(onlineordering::TOTP_SEED)?);
    let token_url = format!("{etna_base}/token");
    match side {
        "etna" => {
            let (flow, codes) =
                (etna_flow(&etna_base, ETNA_USER, http::HttpOptions::default())?, code_source::from_fn(|_| mail()));
            times(n, || login(&flow, &codes, &options)).await
        }
        "oms" => {
            let (flow, codes) = (oms_flow(ws.clone())?, replaying(oms::TOTP_SEED)?);
            times(n, || login(&flow, &codes, &options)).await
        }
        "oo" => {
            let (flow, codes) =
                (online_flow(base, onlineordering::CUSTOMER_TOTP)?, replaying(onlineordering::TOTP_SEED)?);
            times(n, || login(&flow, &codes, &options)).await
        }
        "etna-raw" => times(n, || raw::etna_login(&client, &token_url, ETNA_USER, mail)).await,
        "oms-raw" => times(n, || async { raw::oms_login(&ws, oms_totp.current().0.expose_secret()).await }).await,
        "oo-raw" => {
            times(n, || async { raw::onlineordering_login(&client, base, oo_totp.current().0.expose_secret()).await })
                .await
        }
        other => Err(format!("no side `{other}`").into()),
    }
}

/// Runs `f` `n` times, stopping at the first error.
async fn times<F, Fut, T, E>(n: u64, mut f: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
    E: Into<crate::BoxError>,
{
    for _ in 0..n {
        f().await.map_err(Into::into)?;
    }
    Ok(())
}

/// The instructions callgrind counted in a child running `n` logins of `side`.
fn count(side: &str, n: u64, base: &str) -> Result<u64> {
    let out = std::env::temp_dir().join(format!("twofa-bench-{}-{side}-{n}.callgrind", std::process::id()));
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--trace-children=no"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(std::env::current_exe()?)
        .args(["logins", side, &n.to_string(), base])
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("callgrind run of {side} failed: {}", stderr.lines().last().unwrap_or_default()).into());
    }
    // Keep the long run of each side for `callgrind_annotate`.
    if n != RUNS.1 {
        let _ = std::fs::remove_file(&out);
    }
    stderr
        .lines()
        .find_map(|l| l.split_once("Collected :").and_then(|(_, v)| v.trim().parse().ok()))
        .ok_or_else(|| "callgrind printed no instruction count".into())
}

/// Instructions per login of `side`: the long run minus the short one, per extra login.
fn per_login(side: &str, base: &str) -> Result<u64> {
    let (short, long) = (count(side, RUNS.0, base)?, count(side, RUNS.1, base)?);
    Ok(long.saturating_sub(short) / (RUNS.1 - RUNS.0))
}

/// One row per provider: twofa's instructions per login beside the raw client's.
pub async fn rows(sandbox: &Sandbox, table: &mut Table) -> Result<()> {
    if Command::new("valgrind").arg("--version").output().is_err() {
        table.row("instructions per login", "-".into(), "-".into(), "skipped: no valgrind".into(), "report");
        return Ok(());
    }
    for (what, lib, raw) in SIDES {
        let base = sandbox.base_url();
        let (lib, raw) = tokio::task::spawn_blocking(move || {
            Ok::<_, crate::BoxError>((per_login(lib, &base)?, per_login(raw, &base)?))
        })
        .await??;
        table.row(
            what,
            format!("{} k", lib / 1000),
            format!("{} k (raw)", raw / 1000),
            format!("ratio {:.3}, +{} k", lib as f64 / raw as f64, lib.saturating_sub(raw) / 1000),
            "report",
        );
    }
    Ok(())
}
