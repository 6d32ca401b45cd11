//! `twofa`: log in to ETNA Trader, an exchange OMS or NCR Aloha Online Ordering from a terminal or
//! a shell script, and hand the token to `curl` and friends.
//!
//! Prompts where a person is, flags and environment variables where a script is, never a secret
//! on the command line (a one-time `--code` aside). See `twofa --help` and the README.

mod cli;
mod commands;
mod input;
mod output;
mod profile;
#[cfg(feature = "sandbox")]
mod sandbox;

use std::{process::ExitCode, time::Duration};

use clap::Parser as _;

use crate::{
    cli::{Cli, Command},
    commands::Context,
    output::Failure,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(if cli.verbose { tracing::Level::DEBUG } else { tracing::Level::WARN })
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return report(Failure::usage(format!("cannot start the async runtime: {e}"))),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => report(failure),
    }
}

fn report(failure: Failure) -> ExitCode {
    eprintln!("error: {}", failure.message);
    if let Some(hint) = failure.hint {
        eprintln!("hint: {hint}");
    }
    ExitCode::from(failure.code)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let store_dir = cli
        .store_dir
        .or_else(commands::default_store_dir)
        .ok_or_else(|| Failure::usage("no data directory found; pass --store-dir DIR or set TWOFA_HOME"))?;
    commands::check_dir(&store_dir)?;
    let ctx = Context { store_dir, timeout: Duration::from_secs(cli.timeout.max(1)) };
    match cli.command {
        Command::Login { provider } => commands::login(&ctx, *provider).await,
        Command::Token { profile, header } => commands::token(&ctx, &profile, header).await,
        Command::Status => commands::status(&ctx).await,
        Command::Logout { profile, all } => commands::logout(&ctx, profile, all).await,
        #[cfg(feature = "sandbox")]
        Command::Sandbox { port } => sandbox::run(port).await,
        Command::Totp { secret_env } => commands::totp(&secret_env),
    }
}
