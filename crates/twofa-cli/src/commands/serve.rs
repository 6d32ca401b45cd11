//! `twofa serve`: the web console where a person types the codes that headless bots wait for,
//! and logs the CLI's profiles in and out (see `docs/console.md`).

#[cfg(feature = "sandbox")]
mod demo;

use std::{path::PathBuf, sync::Arc};

use twofa_console::{Accounts, Console};
use twofa_ops::notify::Notifier;

use super::Context;
use crate::{
    accounts::ProfileAccounts,
    args::ServeArgs,
    link_file, ops,
    output::{Failure, Printer},
};

/// `twofa serve`: the console over the store directory's profiles until Ctrl-C.
pub async fn run(ctx: &Context, args: ServeArgs) -> Result<(), Failure> {
    #[cfg(feature = "sandbox")]
    if args.sandbox {
        return demo::run(ctx.printer, &args).await;
    }
    let accounts = Arc::new(ProfileAccounts::new(ctx.settings.clone()));
    let notifier = ops::notifier(&args.notify).map_err(Failure::usage_error)?;
    let console = start(&args, accounts, notifier).await?;
    let written = announce(ctx.printer, &console, &args)?;
    wait_for_ctrl_c(ctx.printer).await;
    if let Some(path) = written {
        // The token dies with the console: leave no live-looking link behind.
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// The console with `args`' address and TLS, over `accounts`, serving the process's metrics and
/// telling a person of its waits through `notifier`.
async fn start(
    args: &ServeArgs,
    accounts: Arc<dyn Accounts>,
    notifier: Option<Arc<Notifier>>,
) -> Result<Console, Failure> {
    let mut builder = Console::builder()
        .listen(args.listen)
        .allow_remote_plaintext(args.allow_remote_plaintext)
        .accounts(accounts)
        .metrics(ops::metrics());
    if let Some(notifier) = notifier {
        builder = builder.notifier(notifier);
    }
    if let Some(addr) = args.ops_listen {
        builder = builder.ops_listen(addr);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))
        };
        builder = builder.tls_pem(&read(cert)?, &read(key)?)?;
    }
    Ok(builder.start().await?)
}

/// Prints (or writes to `--token-file`) the one link that opens the console, and each `--bot`
/// profile's link; returns the token file written, to remove at exit.
fn announce(printer: Printer, console: &Console, args: &ServeArgs) -> Result<Option<PathBuf>, Failure> {
    let url = console.access_url();
    let written = match &args.token_file {
        Some(path) => {
            link_file::create(path, "the token file", url.expose_secret()).map_err(Failure::usage_error)?;
            printer.line(format_args!(
                "twofa console: {} (the access link is in {}, mode 0600)",
                console.base_url(),
                path.display()
            ));
            Some(path.clone())
        }
        None => {
            printer.line(format_args!("twofa console: {}", url.expose_secret()));
            None
        }
    };
    printer.line(format_args!("  Open it in a browser; it holds the console's access token, so share it with nobody."));
    for profile in &args.bots {
        let link = console.bot_url(profile)?;
        printer.line(format_args!("  Bot {profile}: export {}='{}'", twofa_console::CONSOLE_ENV, link.expose_secret()));
    }
    match console.ops_addr() {
        Some(addr) => printer.line(format_args!("  Metrics: http://{addr}/metrics (also /healthz, /readyz; no token)")),
        None => printer.line(format_args!(
            "  Metrics: {}metrics with the access token as a Bearer credential",
            console.base_url()
        )),
    }
    if args.bots.is_empty() {
        printer.line(format_args!(
            "  Bots: `twofa serve --bot PROFILE` prints a link that serves one profile (see docs/console.md)"
        ));
    }
    printer.line(format_args!("  Ctrl-C stops the console."));
    Ok(written)
}

/// Waits for Ctrl-C, then says the console stopped.
async fn wait_for_ctrl_c(printer: Printer) {
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handling on this platform: serve until killed.
        std::future::pending::<()>().await;
    }
    printer.line(format_args!("\nstopped"));
}
