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
    /// Print the link a bot of this profile takes (`export TWOFA_CONSOLE=…`): it registers and
    /// answers that profile's logins only and holds no access token. Repeat for several bots
    #[arg(long = "bot", value_name = "PROFILE")]
    pub bots: Vec<String>,
    /// Write the console's access link to this new file (0600; refused if it exists or is a
    /// symbolic link) instead of printing it, so it stays out of terminal scrollback and logs.
    /// The file is removed when the console stops
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
}

pub async fn run(ctx: &Context, args: ServeArgs) -> Result<(), Failure> {
    #[cfg(feature = "sandbox")]
    if args.sandbox {
        return demo::run(&args).await;
    }
    let accounts = Arc::new(profiles::ProfileAccounts::new(ctx));
    let console = start(&args, accounts).await?;
    let written = announce(&console, &args)?;
    wait_for_ctrl_c().await;
    if let Some(path) = written {
        // The token dies with the console: leave no live-looking link behind.
        let _ = std::fs::remove_file(path);
    }
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

/// Prints (or writes to `--token-file`) the one link that opens the console, and each `--bot`
/// profile's link; returns the token file written, to remove at exit.
fn announce(console: &Console, args: &ServeArgs) -> Result<Option<PathBuf>, Failure> {
    let url = console.access_url();
    let written = match &args.token_file {
        Some(path) => {
            write_token_file(path, url.expose_secret())?;
            println!("twofa console: {} (the access link is in {}, mode 0600)", console.base_url(), path.display());
            Some(path.clone())
        }
        None => {
            println!("twofa console: {}", url.expose_secret());
            None
        }
    };
    println!("  Open it in a browser; it holds the console's access token, so share it with nobody.");
    for profile in &args.bots {
        let link = console.bot_url(profile)?;
        println!("  Bot {profile}: export {}='{}'", twofa_console::CONSOLE_ENV, link.expose_secret());
    }
    if args.bots.is_empty() {
        println!("  Bots: `twofa serve --bot PROFILE` prints a link that serves one profile (see docs/console.md)");
    }
    println!("  Ctrl-C stops the console.");
    Ok(written)
}

/// Creates `path` 0600 with `link` in it: never over an existing file, never through a symbolic
/// link (`O_CREAT|O_EXCL` refuses both), so no other account's file or link receives the token.
fn write_token_file(path: &std::path::Path, link: &str) -> Result<(), Failure> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let refused = |e: std::io::Error| {
        Failure::usage(format!(
            "cannot create the token file {}: {e} (it must not exist yet; a symbolic link is never followed)",
            path.display()
        ))
    };
    let mut file = options.open(path).map_err(refused)?;
    writeln!(file, "{link}").and_then(|()| file.sync_all()).map_err(refused)
}

async fn wait_for_ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handling on this platform: serve until killed.
        std::future::pending::<()>().await;
    }
    println!("\nstopped");
}
