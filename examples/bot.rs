//! A long-running client: calls an API every tick for hours of simulated time and never asks for a
//! code the provider lets it avoid.
//!
//! `cargo run --example bot [TICKS]` runs against the embedded sandbox. Each tick moves the
//! sandbox's clock (and the bot's) forward 20 minutes, so a day passes in seconds:
//! - Online Ordering sessions live 30 minutes and are renewed with the refresh token — no code;
//! - ETNA tokens live 24 hours (here: 1 hour) with no refresh — the bot logs in again, and its code
//!   source reads the sandbox outbox, as a mail-reading bot would.

use std::{error::Error, sync::Arc, time::Duration};

use twofa::{Authenticator, ManualClock, code_source, etna::EtnaFlow, onlineordering::OnlineOrderingFlow};
use twofa_sandbox::{Sandbox, etna, onlineordering};

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

    let client = reqwest::Client::new();
    let etna_url = format!("{}/v1.0/users/me", sandbox.etna_base_url());
    let ordering_url = format!("{}/v1/Customers/me", sandbox.base_url());
    for tick in 0..ticks {
        let a = etna.send_with_retry_on_401(|| client.get(&etna_url)).await?.status();
        let b = ordering.send_with_retry_on_401(|| client.get(&ordering_url)).await?.status();
        let stats = sandbox.stats();
        println!(
            "t+{:>3} min  etna {a} (logins so far: {})  onlineordering {b} (logins: {}, refreshes: {})",
            tick * 20,
            stats.requests("etna.token") / 2,
            stats.requests("onlineordering.login"),
            stats.requests("onlineordering.refresh"),
        );
        clock.advance(TICK);
        sandbox.clock().advance(TICK);
    }
    Ok(())
}
