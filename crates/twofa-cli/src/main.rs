//! `twofa`: log in to ETNA Trader, an exchange OMS or NCR Aloha Online Ordering from a terminal or
//! a shell script, and hand the token to `curl` and friends.
//!
//! Prompts where a person is, flags and environment variables where a script is, never a secret
//! on the command line (a one-time `--code` aside). See `twofa --help` and the README.

use std::{io::IsTerminal as _, process::ExitCode};

use clap::Parser as _;
use tracing_subscriber::{EnvFilter, Layer as _, layer::SubscriberExt as _, util::SubscriberInitExt as _};
use twofa_cli::{
    args::{Cli, Format},
    output,
};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version are "errors" to clap; they print to stdout and exit 0 as usual.
        Err(e) if !e.use_stderr() || !json_requested() => e.exit(),
        Err(e) => return output::report(Format::Json, twofa_cli::commands::usage_failure(&e)),
    };
    let format = cli.format;
    let ops = match twofa_cli::observe(&cli) {
        Ok(ops) => ops,
        Err(failure) => return output::report(format, failure),
    };
    init_logging(&cli, ops);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            return output::report(format, twofa_cli::Failure::usage(format!("cannot start the async runtime: {e}")));
        }
    };
    match runtime.block_on(twofa_cli::run(cli)) {
        Ok(code) => code,
        Err(failure) => output::report(format, failure),
    }
}

/// Whether the raw arguments ask for JSON, for reporting a command line clap could not parse.
fn json_requested() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2).any(|w| w[0] == "--format" && w[1] == "json") || args.iter().any(|a| a == "--format=json")
}

/// Logs go to standard error only: `RUST_LOG` when set, else the level of `-q`/`-v`/`-vv`.
/// Colour only on a terminal, and never with `NO_COLOR` (<https://no-color.org>). The ops layer
/// (metrics, audit trail) has a filter of its own: it sees the operations whatever the log level.
fn init_logging(cli: &Cli, ops: twofa_ops::layer::OpsLayer) {
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .with_filter(filter);
    tracing_subscriber::registry().with(logs).with(ops.filtered()).init();
}
