//! `twofa sandbox`: the simulator on loopback, for demos and for trying the CLI.

use twofa_sandbox::{Sandbox, SandboxBuilder, etna, oms, onlineordering};

use crate::output::Failure;

/// Starts the sandbox `builder` describes, or says why it cannot.
pub async fn start(builder: SandboxBuilder) -> Result<Sandbox, Failure> {
    builder.start().await.map_err(|e| Failure {
        code: crate::output::exit::NETWORK,
        kind: "sandbox",
        retryable: false,
        message: format!("cannot start the sandbox: {e}"),
        hint: None,
    })
}

pub async fn run(port: u16) -> Result<(), Failure> {
    let sandbox = start(Sandbox::builder().port(port)).await?;
    let base = sandbox.base_url();
    println!("twofa sandbox listening on {base} (Ctrl-C to stop). Every password is `{}`.\n", etna::PASSWORD);
    println!("ETNA Trader      base URL {}   app key {}", sandbox.etna_base_url(), etna::APP_KEY);
    println!("                 users: {} (code by email), {} (no 2FA)", etna::USER_2FA, etna::USER_NO_2FA);
    println!(
        "                        {} (code, then security PIN {}), {} (PIN only), {} (password expired), {} (no PIN set)",
        etna::USER_CODE_THEN_PIN,
        etna::PIN,
        etna::USER_PIN,
        etna::USER_PASSWORD_EXPIRED,
        etna::USER_PIN_NOT_SET
    );
    println!("exchange OMS     WebSocket {}   HTTP {}", sandbox.oms_ws_url(), sandbox.oms_http_url());
    println!(
        "                 users: {} (authenticator, seed {}), {} (authenticator, seed sent until enrolled), {} (no 2FA)",
        oms::USER_TOTP,
        oms::TOTP_SEED,
        oms::USER_ENROLLING,
        oms::USER_NO_2FA
    );
    println!(
        "                 API key (no 2FA): user id {}, key {}, secret {}",
        twofa_sandbox::oms_api_key::API_USER_ID,
        twofa_sandbox::oms_api_key::API_KEY,
        twofa_sandbox::oms_api_key::API_SECRET
    );
    println!("Online Ordering  base URL {base}   company {}", onlineordering::COMPANY_CODE);
    println!("                 integrator {}:{}", onlineordering::API_USER, onlineordering::API_PASSWORD);
    println!(
        "                 customers: {} (code by email), {} (authenticator, seed {}), {} (no 2FA)",
        onlineordering::CUSTOMER_EMAIL_2FA,
        onlineordering::CUSTOMER_TOTP,
        onlineordering::TOTP_SEED,
        onlineordering::CUSTOMER_NO_2FA
    );
    println!("\nTry, in another terminal:");
    println!("  export ET_APP_KEY={} TWOFA_PASSWORD={}", etna::APP_KEY, etna::PASSWORD);
    println!(
        "  twofa login etna --base-url {} --app-key-env ET_APP_KEY --username {} --password-env TWOFA_PASSWORD",
        sandbox.etna_base_url(),
        etna::USER_2FA
    );
    println!("  twofa token --profile etna");
    println!(
        "  export ETNA_PIN={}   # for {}: the code is asked for, the PIN is sent when asked",
        etna::PIN,
        etna::USER_CODE_THEN_PIN
    );
    println!(
        "  twofa login etna --base-url {} --app-key-env ET_APP_KEY --username {} --password-env TWOFA_PASSWORD --pin-env ETNA_PIN --profile etna-pin",
        sandbox.etna_base_url(),
        etna::USER_CODE_THEN_PIN
    );
    println!("\nCodes sent by email/SMS appear here:");
    print_codes_until_stopped(&sandbox).await;
    Ok(())
}

/// Prints every code the sandbox sends until Ctrl-C: the demo's stand-in for a phone.
pub async fn print_codes_until_stopped(sandbox: &Sandbox) {
    let mut sent = sandbox.outbox().subscribe();
    loop {
        tokio::select! {
            delivery = sent.recv() => match delivery {
                Ok(d) => println!("  [{}] {} to {}: {}", d.provider, d.channel, d.recipient, d.code),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = tokio::signal::ctrl_c() => {
                println!("\nstopped");
                return;
            }
        }
    }
}
