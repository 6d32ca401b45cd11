//! The core's public API from outside: the login driver, the Authenticator and its knobs, code and
//! password sources, secrets, and the stores under faults. One test binary (linking one per file
//! is most of a test run on 2 cores).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod authenticator_knobs;
mod authenticator_login;
mod code_sources;
mod command;
mod login;
mod secrets;
mod store_faults;
