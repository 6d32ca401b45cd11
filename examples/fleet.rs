//! N worker processes, one 2FA session: a Redis store makes them log in once and renew once.
//!
//! ```sh
//! redis-server --port 6379 --daemonize yes        # or any Redis you have
//! cargo run --example fleet --features redis -- 4  # REDIS_URL defaults to redis://127.0.0.1:6379/
//! ```
//!
//! The example starts the sandbox, runs N copies of itself as workers, and prints how many logins
//! and renewals the sandbox saw. Each worker asks for a token 50 times, jumps its clock past the
//! token's expiry halfway through, and asks 50 times more.

use std::{error::Error, process::Command, sync::Arc, time::Duration};

use twofa::{
    Authenticator, ManualClock, TotpSeed, code_source::Totp, onlineordering::OnlineOrderingFlow, redis::RedisStore,
};
use twofa_sandbox::{Sandbox, onlineordering as demo};

async fn worker(id: &str, base_url: String, redis_url: &str, prefix: String) -> Result<(), Box<dyn Error>> {
    let clock = ManualClock::new(twofa::time::OffsetDateTime::now_utc());
    let flow = OnlineOrderingFlow::builder()
        .base_url(base_url)
        .company_code(demo::COMPANY_CODE)
        .integrator(demo::API_USER, demo::API_PASSWORD)
        .email(demo::CUSTOMER_TOTP)
        .password(demo::PASSWORD)
        .clock(Arc::new(clock.clone()))
        .build()?;
    let auth = Authenticator::builder(Arc::new(flow))
        .code_source(Arc::new(Totp::from_base32(&TotpSeed::new(demo::TOTP_SEED))?))
        .store(Arc::new(RedisStore::connect(redis_url).await?.with_prefix(prefix)))
        .profile("desk")
        .clock(Arc::new(clock.clone()))
        .build();
    for call in 0..100 {
        if call == 50 {
            clock.advance(Duration::from_secs(demo::TOKEN_LIFETIME_SECS));
        }
        auth.token().await?;
    }
    println!("worker {id}: 100 tokens");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    if let (Ok(id), Ok(base), Ok(prefix)) =
        (std::env::var("FLEET_WORKER"), std::env::var("FLEET_SANDBOX"), std::env::var("FLEET_PREFIX"))
    {
        return worker(&id, base, &redis_url, prefix).await;
    }
    let workers: usize = std::env::args().nth(1).map_or(Ok(4), |n| n.parse())?;
    if let Err(e) = RedisStore::connect(&redis_url).await {
        eprintln!("error: {e}\nhint: start a Redis server or set REDIS_URL");
        std::process::exit(1);
    }
    let sandbox = Sandbox::start().await?;
    let prefix = format!("twofa-fleet-example:{}", std::process::id());
    let children = (0..workers)
        .map(|id| {
            Command::new(std::env::current_exe()?)
                .env("FLEET_WORKER", id.to_string())
                .env("FLEET_SANDBOX", sandbox.base_url())
                .env("FLEET_PREFIX", &prefix)
                .env("REDIS_URL", &redis_url)
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ok = tokio::task::spawn_blocking(move || children.into_iter().all(|mut c| c.wait().is_ok_and(|s| s.success())))
        .await?;
    let stats = sandbox.stats();
    println!(
        "{workers} workers × 100 tokens: {} login(s), {} code(s), {} renewal(s) at the sandbox",
        stats.requests("onlineordering.login"),
        stats.requests("onlineordering.verify"),
        stats.requests("onlineordering.refresh")
    );
    if !ok {
        return Err("a worker failed".into());
    }
    Ok(())
}
