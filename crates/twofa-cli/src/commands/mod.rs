//! One file per command. Each resolves what it needs through the layers below (settings, session,
//! profile, input), prints through its [`Printer`], and is the only place a [`Failure`] is built:
//! everything below returns [`twofa_core::Error`].
//!
//! A new command goes here as `commands/<name>.rs`, its flags in [`crate::args::Command`], and one
//! arm in [`run`].

mod api_key;
mod audit;
mod exec;
mod login;
mod logout;
mod proxy;
#[cfg(feature = "sandbox")]
mod sandbox;
mod serve;
mod status;
mod token;
mod totp;
mod verify;

use std::process::ExitCode;

use clap::CommandFactory as _;

use crate::{
    args::{Cli, Command, Format, OmsCommand},
    output::{Failure, Printer},
    profile::Profile,
    settings::Settings,
};

/// What every command gets: the run's settings and its printer.
pub struct Context {
    /// Where things live and the limits of each request and login.
    pub settings: Settings,
    /// How the command prints.
    pub printer: Printer,
}

impl Context {
    /// The stored profile `name`, or a usage error that says how to make one.
    fn profile(&self, name: &str) -> Result<Profile, Failure> {
        Profile::load(&self.settings.profiles(), name)?
            .ok_or_else(|| Failure::usage(format!("there is no profile `{name}`; log in first with `twofa login`")))
    }
}

/// Runs the command `cli` describes; its exit code (success, or the code of `exec`'s command).
///
/// # Errors
///
/// The command's [`Failure`]: its exit code, kind, sentence and hint.
pub async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let printer = Printer::new(cli.format, !cli.quiet);
    match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "twofa", &mut std::io::stdout());
            return Ok(ExitCode::SUCCESS);
        }
        Command::Manpage => {
            return clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .map(|()| ExitCode::SUCCESS)
                .map_err(|e| Failure::usage(format!("cannot write the manual page: {e}")));
        }
        _ => {}
    }
    if matches!(cli.format, Format::Curl | Format::Env) && !matches!(cli.command, Command::Token { .. }) {
        return Err(Failure::usage("--format curl and --format env are for `twofa token`; use text or json"));
    }
    let ctx = Context { settings: Settings::from_args(&cli).map_err(Failure::usage_error)?, printer };
    let done = match cli.command {
        Command::Exec(args) => return exec::exec(&ctx, *args).await,
        Command::Login { provider } => login::login(&ctx, *provider).await,
        Command::Verify { profile, code, code_stdin: _ } => verify::verify(&ctx, &profile, code).await,
        Command::Token { profile, header } => token::token(&ctx, &profile, header).await,
        Command::Status => status::status(&ctx).await,
        Command::Logout { profile, all } => logout::logout(&ctx, profile, all).await,
        Command::Oms { command: OmsCommand::ApiKey(command) } => api_key::api_key(&ctx, command).await,
        #[cfg(feature = "sandbox")]
        Command::Sandbox { port, variants } => sandbox::run(printer, port, &variants).await,
        Command::Serve(args) => serve::run(&ctx, *args).await,
        Command::Proxy(args) => proxy::run(&ctx, *args).await,
        Command::Totp { secret_env } => totp::totp(&ctx, &secret_env),
        Command::Audit(args) => audit::audit(&ctx, args),
        Command::Completions { .. } | Command::Manpage => Ok(()),
    };
    done.map(|()| ExitCode::SUCCESS)
}

/// The `tracing` layer of this run (see `main.rs`): it counts every login, renewal, resume and
/// logout in the process's metrics registry and, with `--audit-file`, writes the renewals and
/// resumes of `token`, `exec`, `serve` and `proxy` to the audit trail as done by `cli:<command>` (`login`,
/// `verify` and `logout` write their own line, with the subject and the fingerprint).
///
/// # Errors
///
/// A usage [`Failure`] when the store directory or the audit file cannot be used.
pub fn observe(cli: &Cli) -> Result<twofa_ops::layer::OpsLayer, Failure> {
    let layer = twofa_ops::layer::OpsLayer::new().metrics(crate::ops::metrics());
    let renews =
        matches!(cli.command, Command::Token { .. } | Command::Exec(_) | Command::Serve(_) | Command::Proxy(_));
    if cli.audit_file.is_none() || !renews {
        return Ok(layer);
    }
    let settings = Settings::from_args(cli).map_err(Failure::usage_error)?;
    Ok(match crate::ops::audit(&settings).map_err(Failure::usage_error)? {
        Some(log) => layer.audit(log, format!("cli:{}", name(&cli.command))),
        None => layer,
    })
}

/// The command's name, as typed.
fn name(command: &Command) -> &'static str {
    match command {
        Command::Login { .. } => "login",
        Command::Verify { .. } => "verify",
        Command::Token { .. } => "token",
        Command::Exec(_) => "exec",
        Command::Status => "status",
        Command::Logout { .. } => "logout",
        #[cfg(feature = "sandbox")]
        Command::Sandbox { .. } => "sandbox",
        Command::Serve(_) => "serve",
        Command::Audit(_) => "audit",
        Command::Oms { .. } => "oms",
        Command::Proxy(_) => "proxy",
        Command::Completions { .. } => "completions",
        Command::Manpage => "manpage",
        Command::Totp { .. } => "totp",
    }
}

/// A command line clap refused, as a usage [`Failure`] for `--format json`.
pub fn usage_failure(e: &clap::Error) -> Failure {
    Failure::usage(e.kind().as_str().unwrap_or("invalid usage"))
}
