#![no_main]
//! CLI profile files, through the CLI library's `fuzzing` feature like every other target.

libfuzzer_sys::fuzz_target!(|data: &[u8]| twofa_cli::fuzz_profile_file(data));
