//! A long-running client: calls an API every tick for hours of simulated time and never asks for a
//! code the provider lets it avoid.
//!
//! `cargo run --example bot [TICKS]` runs against the embedded sandbox. Each tick moves the
//! sandbox's clock (and the bot's) forward 20 minutes, so a day passes in seconds:
//! - Online Ordering sessions live 30 minutes and are renewed with the refresh token — no code;
//! - ETNA tokens live 24 hours (here: 1 hour) with no refresh — the bot logs in again, and its code
//!   source reads the sandbox outbox, as a mail-reading bot would;
//! - the exchange OMS session dies after 1 hour without activity; the bot calls it every 40 minutes
//!   and renews when 35 minutes have passed idle, so the session is re-established with its session
//!   token before the server forgets it — no code after the first.

use std::{
    error::Error,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use twofa::{
    Authenticator, ManualClock, TotpSeed,
    code_source::{self, Totp},
    etna::EtnaFlow,
    oms::OmsFlow,
    onlineordering::OnlineOrderingFlow,
};
use twofa_sandbox::{Sandbox, etna, oms, onlineordering};

const TICK: Duration = Duration::from_secs(20 * 60);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let ticks: u32 = std::env::args().nth(1).map_or(Ok(9), |n| n.parse())?;
    let sandbox = Sandbox::builder().etna_token_lifetime(Duration::from_secs(3600)).start().await?;
    let clock = ManualClock::new(twofa::time::OffsetDateTime::now_utc());

    let outbox = sandbox.outbox();
    let etna = Authenticator::builder(Arc::new(
        EtnaFlow::builder()
            .base_url(sandbox.etna_base_url())
            .app_key(etna::APP_KEY)
            .username(etna::USER_2FA)
            .password(etna::PASSWORD)
            .token_lifetime(Duration::from_secs(3600))
            .clock(Arc::new(clock.clone()))
            .build()?,
    ))
    .code_source(Arc::new(code_source::from_fn(move |_| {
        let code = outbox.latest_code(etna::USER_2FA);
        async move { code.ok_or_else(|| twofa::Error::CodeSource("no mail yet".into())) }
    })))
    .clock(Arc::new(clock.clone()))
    .build();

    let ordering = Authenticator::builder(Arc::new(
        OnlineOrderingFlow::builder()
            .base_url(sandbox.onlineordering_base_url())
            .company_code(onlineordering::COMPANY_CODE)
            .integrator(onlineordering::API_USER, onlineordering::API_PASSWORD)
            .email(onlineordering::CUSTOMER_NO_2FA)
            .password(onlineordering::PASSWORD)
            .clock(Arc::new(clock.clone()))
            .build()?,
    ))
    .clock(Arc::new(clock.clone()))
    .build();

    let totp = Totp::from_base32(&TotpSeed::new(oms::TOTP_SEED))?;
    let codes_asked = Arc::new(AtomicU32::new(0));
    let asked = Arc::clone(&codes_asked);
    let exchange = Authenticator::builder(Arc::new(
        OmsFlow::builder()
            .endpoint(sandbox.oms_ws_url())
            .username(oms::USER_TOTP)
            .password(oms::PASSWORD)
            .clock(Arc::new(clock.clone()))
            .build()?,
    ))
    .code_source(Arc::new(code_source::from_fn(move |_| {
        asked.fetch_add(1, Ordering::SeqCst);
        let code = totp.current().0.expose_secret().to_owned();
        async move { Ok(code) }
    })))
    // Renew once idle for 35 of the 60 minutes: a session idle past the timeout is gone at the server.
    .refresh_margin(Duration::from_secs(25 * 60))
    .clock(Arc::new(clock.clone()))
    .build();

    let client = reqwest::Client::new();
    let etna_url = format!("{}/v1.0/users/me", sandbox.etna_base_url());
    let ordering_url = format!("{}/v1/Customers/me", sandbox.base_url());
    let oms_url = format!("{}/AP/GetUserInfo", sandbox.oms_http_url());
    for tick in 0..ticks {
        let a = etna.send_with_retry_on_401(|| client.get(&etna_url)).await?.status();
        let b = ordering.send_with_retry_on_401(|| client.get(&ordering_url)).await?.status();
        if tick % 2 == 0 {
            exchange.send_with_retry_on_401(|| client.post(&oms_url).body("{}")).await?;
        }
        let stats = sandbox.stats();
        println!(
            "t+{:>3} min  etna {a} (logins: {})  onlineordering {b} (logins: {}, refreshes: {})  oms (codes asked: {}, re-establishments: {})",
            tick * 20,
            stats.requests("etna.token") / 2,
            stats.requests("onlineordering.login"),
            stats.requests("onlineordering.refresh"),
            codes_asked.load(Ordering::SeqCst),
            stats.requests("oms.ws.connect").saturating_sub(1),
        );
        clock.advance(TICK);
        sandbox.clock().advance(TICK);
    }
    Ok(())
}
