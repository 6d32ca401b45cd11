//! `twofa serve`: the web console where a person types the codes that headless bots wait for,
//! and logs the CLI's profiles in and out (see `docs/console.md`).

#[cfg(feature = "sandbox")]
mod demo;
mod profiles;

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use clap::Args;
use twofa_console::{Accounts, Console};

use crate::{commands::Context, output::Failure};

/// The flags of `twofa serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on; a port of 0 takes any free one. An address other than loopback
    /// needs --tls-cert/--tls-key or --allow-remote-plaintext
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on an address other than loopback: the access token, codes and typed
    /// passwords then cross the network in clear (a trusted network, or a TLS proxy in front)
    #[arg(long, conflicts_with = "tls_cert")]
    pub allow_remote_plaintext: bool,
    /// Start the sandbox too, with demo profiles and a demo bot waiting for a code: the whole flow
    /// in one command (sessions live in a temporary directory, removed at exit)
    #[cfg(feature = "sandbox")]
    #[arg(long)]
    pub sandbox: bool,
}

pub async fn run(ctx: &Context, args: ServeArgs) -> Result<(), Failure> {
    #[cfg(feature = "sandbox")]
    if args.sandbox {
        return demo::run(&args).await;
    }
    let accounts = Arc::new(profiles::ProfileAccounts::new(ctx));
    let console = start(&args, accounts).await?;
    announce(&console);
    wait_for_ctrl_c().await;
    Ok(())
}

/// The console with `args`' address and TLS, over `accounts`.
async fn start(args: &ServeArgs, accounts: Arc<dyn Accounts>) -> Result<Console, Failure> {
    let mut builder =
        Console::builder().listen(args.listen).allow_remote_plaintext(args.allow_remote_plaintext).accounts(accounts);
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))
        };
        builder = builder.tls_pem(&read(cert)?, &read(key)?)?;
    }
    Ok(builder.start().await?)
}

/// Prints the one link that opens the console, and how bots find it.
fn announce(console: &Console) {
    let url = console.access_url();
    println!("twofa console: {}", url.expose_secret());
    println!("  Open it in a browser; it holds the console's access token, so share it with nobody.");
    println!("  Bots: export {}='{}' (see docs/console.md)", twofa_console::CONSOLE_ENV, url.expose_secret());
    println!("  Ctrl-C stops the console.");
}

async fn wait_for_ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handling on this platform: serve until killed.
        std::future::pending::<()>().await;
    }
    println!("\nstopped");
}
