#![no_main]
//! What core reads from outside: stored sessions and challenges, tolerant JSON, codes, TOTP seeds.
libfuzzer_sys::fuzz_target!(|data: &[u8]| twofa_core::fuzzing::stored_state(data));
