//! Logs in to every backend of the embedded sandbox through one `dyn TwoFactorFlow` loop.
//!
//! Run it with `cargo run --example quickstart`: no network and no accounts needed. The codes
//! the sandbox "sends" are read from its outbox, as a person would read their email.

use std::error::Error;

use twofa::{LoginOptions, TwoFactorFlow, code_source, etna::EtnaFlow, login};
use twofa_sandbox::{Outbox, Sandbox, etna as demo};

/// A code source that reads the newest code the sandbox mailed to `user`.
fn outbox_reader(outbox: Outbox, user: &'static str) -> impl twofa::CodeSource {
    code_source::from_fn(move |request| {
        let outbox = outbox.clone();
        async move {
            println!("  challenge: {} ({})", request.method, request.hint.as_deref().unwrap_or("no hint"));
            outbox.latest_code(user).ok_or_else(|| twofa::Error::CodeSource("nothing in the outbox".into()))
        }
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let sandbox = Sandbox::start().await?;
    println!("sandbox listening on {}", sandbox.base_url());

    let logins: Vec<(Box<dyn TwoFactorFlow>, Box<dyn twofa::CodeSource>)> = vec![(
        Box::new(
            EtnaFlow::builder()
                .base_url(sandbox.etna_base_url())
                .app_key(demo::APP_KEY)
                .username(demo::USER_2FA)
                .password(demo::PASSWORD)
                .build()?,
        ),
        Box::new(outbox_reader(sandbox.outbox(), demo::USER_2FA)),
    )];

    for (flow, codes) in &logins {
        println!("{}: logging in", flow.provider());
        let session = login(flow.as_ref(), codes.as_ref(), &LoginOptions::default()).await?;
        println!(
            "  logged in: provider={} expires_at={} {}: {}",
            session.provider(),
            session.expires_at().map_or_else(|| "never".into(), |t| t.to_string()),
            session.header_name(),
            session.header_value(), // prints [REDACTED]: secrets never print
        );
    }
    println!("{} logins, {} TCP connections to the sandbox", logins.len(), sandbox.stats().connections());
    Ok(())
}
