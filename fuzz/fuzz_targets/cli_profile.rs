#![no_main]
//! CLI profile files. The CLI is a binary crate: its profile module is compiled here as it is.
#[allow(dead_code)]
#[path = "../../crates/twofa-cli/src/profile.rs"]
mod profile;

libfuzzer_sys::fuzz_target!(|data: &[u8]| profile::fuzz_profile_file(data));
