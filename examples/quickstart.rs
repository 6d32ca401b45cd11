//! Logs in to every backend of the embedded sandbox through one `dyn TwoFactorFlow` loop.
//!
//! Run it with `cargo run --example quickstart`: no network and no accounts needed. Emailed codes
//! are read from the sandbox's outbox, as a person would read their mail; authenticator codes are
//! computed from the seed the sandbox hands out at enrolment, as an authenticator app would.

use std::error::Error;

use twofa::{
    CodeSource, LoginOptions, Method, OneTimeCode, TwoFactorFlow, code_source, etna::EtnaFlow, login, oms::OmsFlow,
    onlineordering::OnlineOrderingFlow,
};
use twofa_sandbox::{Outbox, Sandbox, etna, oms, onlineordering};

/// Reads the newest code the sandbox mailed to `user`.
fn mailbox(outbox: Outbox, user: &'static str) -> Box<dyn CodeSource> {
    Box::new(code_source::from_fn(move |request| {
        let outbox = outbox.clone();
        async move {
            println!("  challenge: {} ({})", request.method, request.hint.as_deref().unwrap_or("no hint"));
            outbox.latest_code(user).ok_or_else(|| twofa::Error::CodeSource("nothing in the outbox".into()))
        }
    }))
}

/// Plays the authenticator app: enrols from the challenge's setup data and shows the current code.
fn authenticator_app() -> Box<dyn CodeSource> {
    Box::new(code_source::from_fn(|request| async move {
        println!("  challenge: {} ({})", request.method, request.hint.as_deref().unwrap_or("no hint"));
        let Method::Authenticator { setup: Some(setup) } = &request.method else {
            return Err(twofa::Error::CodeSource("no authenticator setup data to enrol from".into()));
        };
        let uri = setup.otpauth_uri.as_ref().ok_or_else(|| twofa::Error::CodeSource("no otpauth URI".into()))?;
        let (code, _valid_for): (OneTimeCode, _) = code_source::Totp::from_otpauth_uri(uri)?.current();
        Ok(code.expose_secret().to_owned())
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let sandbox = Sandbox::start().await?;
    println!("sandbox listening on {}", sandbox.base_url());

    let logins: Vec<(Box<dyn TwoFactorFlow>, Box<dyn CodeSource>)> = vec![
        (
            Box::new(
                EtnaFlow::builder()
                    .base_url(sandbox.etna_base_url())
                    .app_key(etna::APP_KEY)
                    .username(etna::USER_2FA)
                    .password(etna::PASSWORD)
                    .build()?,
            ),
            mailbox(sandbox.outbox(), etna::USER_2FA),
        ),
        (
            Box::new(
                OmsFlow::builder()
                    .endpoint(sandbox.oms_ws_url()) // the WebSocket gateway
                    .username(oms::USER_ENROLLING) // gets its authenticator seed at this first login
                    .password(oms::PASSWORD)
                    .build()?,
            ),
            authenticator_app(),
        ),
        (
            Box::new(
                OnlineOrderingFlow::builder()
                    .base_url(sandbox.onlineordering_base_url())
                    .company_code(onlineordering::COMPANY_CODE)
                    .integrator(onlineordering::API_USER, onlineordering::API_PASSWORD)
                    .email(onlineordering::CUSTOMER_TOTP)
                    .password(onlineordering::PASSWORD)
                    .build()?,
            ),
            authenticator_app(),
        ),
    ];

    for (flow, codes) in &logins {
        println!("{}: logging in", flow.provider());
        let session = login(flow.as_ref(), codes.as_ref(), &LoginOptions::default()).await?;
        let rfc3339 = &twofa::time::format_description::well_known::Rfc3339;
        let expires = match (session.expires_at(), session.idle_timeout()) {
            (Some(at), _) => format!("expires {}", at.format(rfc3339)?),
            (None, Some(idle)) => format!("expires after {} min without activity", idle.as_secs() / 60),
            (None, None) => "never expires".to_owned(),
        };
        println!("  logged in to {}: {expires}", session.provider());
        // Secrets have no Display and Debug-print as [REDACTED]: expose_secret() is the only way to read one.
        println!("  {}: {:?}", session.header_name(), session.header_value());
    }
    println!("{} logins, {} TCP connections to the sandbox", logins.len(), sandbox.stats().connections());
    Ok(())
}
