//! The `twofa` command as a library: the binary (`main.rs`) parses, sets up logging and the
//! runtime, calls [`run`] and turns its [`Failure`] into an exit code. `docs/architecture.md`
//! draws the layers; each imports only those below it:
//!
//! - [`commands`]: one file per command; the only builder of a [`Failure`].
//! - `settings`, `session`, `accounts`, `stores`, `api_key_store`, `profile`, `pending`, `input`,
//!   `secret_command`, `contract` (the token contract), `ops` (metrics, audit trail,
//!   notifiers): resolving flags and files into an
//!   [`Authenticator`](twofa_core::Authenticator); they return [`twofa_core::Error`].
//! - [`output`]: the [`Printer`](output::Printer) every command prints through, errors, the spinner.
//! - [`args`]: the command line as clap reads it.
//!
//! ```
//! use clap::Parser as _;
//! use twofa_cli::args::{Cli, Command};
//!
//! let cli = Cli::try_parse_from(["twofa", "--store-dir", "/tmp/s", "token", "--profile", "etna"]).unwrap();
//! assert!(matches!(cli.command, Command::Token { header: false, .. }));
//! ```

pub mod args;
pub mod commands;
pub mod output;

mod accounts;
mod api_key_store;
mod contract;
mod input;
mod link_file;
mod ops;
mod pending;
mod profile;
mod running_proxy;
mod secret_command;
mod session;
mod settings;
mod stores;

pub use commands::{observe, run};
pub use output::Failure;

/// The `cli_profile` fuzz target's body: a profile file that loads saves and loads as itself.
#[cfg(feature = "fuzzing")]
pub fn fuzz_profile_file(bytes: &[u8]) {
    profile::fuzz_profile_file(bytes);
}
