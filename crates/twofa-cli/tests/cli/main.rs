//! The `twofa` binary, driven as a user drives it: one test binary for the CLI (linking one binary
//! instead of one per file is most of a test run on 2 cores). The browser and keyring suites stay
//! apart: they need Chromium or a Secret Service, and `.ci` runs them on their own.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

mod audit;
mod cli;
mod exec;
mod login_path;
mod oms_api_key;
mod origin;
mod proxy;
mod redis_store;
mod sandbox_command;
mod secret_command;
mod serve;
mod server_text;
mod stored_state;
mod token;
