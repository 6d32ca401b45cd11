//! `twofa sandbox`: the simulator on loopback, for demos and for trying the CLI.

use twofa_sandbox::{Sandbox, SandboxBuilder, Variants, etna, oms, onlineordering, variants::Assignment};

use crate::output::{Failure, Printer};

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

/// `twofa sandbox`: the simulator on loopback answering with `variants`, its accounts and a few
/// commands to try, until Ctrl-C.
pub async fn run(printer: Printer, port: u16, variants: &[Assignment]) -> Result<(), Failure> {
    let sandbox = start(Sandbox::builder().port(port).variants(Variants::from_assignments(variants))).await?;
    let base = sandbox.base_url();
    printer.line(format_args!(
        "twofa sandbox listening on {base} (Ctrl-C to stop). Every password is `{}`.",
        etna::PASSWORD
    ));
    let chosen: Vec<String> = variants.iter().map(ToString::to_string).collect();
    let chosen = if chosen.is_empty() { "the defaults (see --help)".to_owned() } else { chosen.join(" ") };
    printer.line(format_args!("Variants: {chosen}\n"));
    printer.line(format_args!("ETNA Trader      base URL {}   app key {}", sandbox.etna_base_url(), etna::APP_KEY));
    printer.line(format_args!(
        "                 users: {} (code by email), {} (no 2FA)",
        etna::USER_2FA,
        etna::USER_NO_2FA
    ));
    printer.line(format_args!(
        "                        {} (code, then security PIN {}), {} (PIN only), {} (password expired), {} (no PIN set)",
        etna::USER_CODE_THEN_PIN,
        etna::PIN,
        etna::USER_PIN,
        etna::USER_PASSWORD_EXPIRED,
        etna::USER_PIN_NOT_SET
    ));
    printer.line(format_args!(
        "                        any {}.<suffix> or {}.<suffix> too, each with its own mailbox; ids for v1.0/users/{{id}}/info: {}",
        etna::USER_2FA,
        etna::USER_CODE_THEN_PIN,
        [etna::USER_2FA, etna::USER_NO_2FA, etna::USER_PASSWORD_EXPIRED, etna::USER_PIN, etna::USER_CODE_THEN_PIN, etna::USER_PIN_NOT_SET]
            .map(|user| format!("{user} {}", etna::user_id(user).unwrap_or_default()))
            .join(", ")
    ));
    printer.line(format_args!("exchange OMS     WebSocket {}   HTTP {}", sandbox.oms_ws_url(), sandbox.oms_http_url()));
    printer.line(format_args!(
        "                 users: {} (authenticator, seed {}), {} (authenticator, seed sent until enrolled), {} (no 2FA), {} (locked)",
        oms::USER_TOTP,
        oms::TOTP_SEED,
        oms::USER_ENROLLING,
        oms::USER_NO_2FA,
        oms::USER_LOCKED
    ));
    printer.line(format_args!(
        "                 API key (no 2FA): user id {}, key {}, secret {}",
        twofa_sandbox::oms_api_key::API_USER_ID,
        twofa_sandbox::oms_api_key::API_KEY,
        twofa_sandbox::oms_api_key::API_SECRET
    ));
    printer.line(format_args!("Online Ordering  base URL {base}   company {}", onlineordering::COMPANY_CODE));
    printer.line(format_args!(
        "                 integrator {}:{}",
        onlineordering::API_USER,
        onlineordering::API_PASSWORD
    ));
    printer.line(format_args!(
        "                 customers: {} (code by email), {} (authenticator, seed {}), {} (no 2FA), {} (locked)",
        onlineordering::CUSTOMER_EMAIL_2FA,
        onlineordering::CUSTOMER_TOTP,
        onlineordering::TOTP_SEED,
        onlineordering::CUSTOMER_NO_2FA,
        onlineordering::CUSTOMER_LOCKED
    ));
    printer.line(format_args!("                 guests: any email, e.g. {}", onlineordering::GUEST_EMAIL));
    printer.line(format_args!("\nTry, in another terminal:"));
    printer.line(format_args!("  export ET_APP_KEY={} TWOFA_PASSWORD={}", etna::APP_KEY, etna::PASSWORD));
    printer.line(format_args!(
        "  twofa login etna --base-url {} --app-key-env ET_APP_KEY --username {} --password-env TWOFA_PASSWORD",
        sandbox.etna_base_url(),
        etna::USER_2FA
    ));
    printer.line(format_args!("  twofa token --profile etna"));
    printer.line(format_args!(
        "  export ETNA_PIN={}   # for {}: the code is asked for, the PIN is sent when asked",
        etna::PIN,
        etna::USER_CODE_THEN_PIN
    ));
    printer.line(format_args!(
        "  twofa login etna --base-url {} --app-key-env ET_APP_KEY --username {} --password-env TWOFA_PASSWORD --pin-env ETNA_PIN --profile etna-pin",
        sandbox.etna_base_url(),
        etna::USER_CODE_THEN_PIN
    ));
    printer.line(format_args!("\nCodes sent by email/SMS appear here:"));
    print_codes_until_stopped(printer, &sandbox).await;
    Ok(())
}

/// Prints every code the sandbox sends until Ctrl-C: the demo's stand-in for a phone.
pub async fn print_codes_until_stopped(printer: Printer, sandbox: &Sandbox) {
    let mut sent = sandbox.outbox().subscribe();
    loop {
        tokio::select! {
            delivery = sent.recv() => match delivery {
                Ok(d) => printer.line(format_args!("  [{}] {} to {}: {}", d.provider, d.channel, d.recipient, d.code)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = tokio::signal::ctrl_c() => {
                printer.line(format_args!("\nstopped"));
                return;
            }
        }
    }
}
