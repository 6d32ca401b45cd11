//! `twofa`: log in to ETNA Trader, an exchange OMS or NCR Aloha Online Ordering from a terminal or
//! a shell script, and hand the token to `curl` and friends.
//!
//! Prompts where a person is, flags and environment variables where a script is, never a secret
//! on the command line (a one-time `--code` aside). See `twofa --help` and the README.

pub mod authenticate;
mod cli;
mod commands;
mod input;
mod output;
mod pending;
mod profile;
mod progress;
#[cfg(feature = "sandbox")]
mod sandbox;
mod secret_command;
mod serve;
mod stores;
mod token_format;

use std::{io::IsTerminal as _, process::ExitCode, time::Duration};

use clap::{CommandFactory as _, Parser as _};
use tracing_subscriber::EnvFilter;

use crate::{
    cli::{Cli, Command, Format},
    commands::Context,
    output::Failure,
};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version are "errors" to clap; they print to stdout and exit 0 as usual.
        Err(e) if !e.use_stderr() || !json_requested() => e.exit(),
        Err(e) => return output::report(Format::Json, Failure::usage(e.kind().as_str().unwrap_or("invalid usage"))),
    };
    init_logging(&cli);
    let format = cli.format;
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return output::report(format, Failure::usage(format!("cannot start the async runtime: {e}"))),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => output::report(format, failure),
    }
}

/// Whether the raw arguments ask for JSON, for reporting a command line clap could not parse.
fn json_requested() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2).any(|w| w[0] == "--format" && w[1] == "json") || args.iter().any(|a| a == "--format=json")
}

/// Logs go to standard error only: `RUST_LOG` when set, else the level of `-q`/`-v`/`-vv`.
/// Colour only on a terminal, and never with `NO_COLOR` (<https://no-color.org>).
fn init_logging(cli: &Cli) {
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_target(false)
        .init();
}

async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "twofa", &mut std::io::stdout());
            return Ok(());
        }
        Command::Manpage => {
            return clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .map_err(|e| Failure::usage(format!("cannot write the manual page: {e}")));
        }
        _ => {}
    }
    if matches!(cli.format, Format::Curl | Format::Env) && !matches!(cli.command, Command::Token { .. }) {
        return Err(Failure::usage("--format curl and --format env are for `twofa token`; use text or json"));
    }
    let store_dir = cli
        .store_dir
        .or_else(commands::default_store_dir)
        .ok_or_else(|| Failure::usage("no data directory found; pass --store-dir DIR or set TWOFA_HOME"))?;
    commands::check_dir(&store_dir)?;
    let ctx = Context {
        settings: authenticate::Settings {
            store_dir,
            timeout: Duration::from_secs(cli.timeout.max(1)),
            deadline: Duration::from_secs(cli.deadline.max(1)),
        },
        format: cli.format,
        progress: !cli.quiet,
    };
    match cli.command {
        Command::Login { provider } => commands::login(&ctx, *provider).await,
        Command::Verify { profile, code, code_stdin: _ } => commands::verify(&ctx, &profile, code).await,
        Command::Token { profile, header } => commands::token(&ctx, &profile, header).await,
        Command::Status => commands::status(&ctx).await,
        Command::Logout { profile, all } => commands::logout(&ctx, profile, all).await,
        #[cfg(feature = "sandbox")]
        Command::Sandbox { port } => sandbox::run(port).await,
        Command::Serve(args) => serve::run(&ctx, *args).await,
        Command::Totp { secret_env } => commands::totp(&secret_env),
        Command::Completions { .. } | Command::Manpage => Ok(()),
    }
}
