#![no_main]
//! FileStore's session files: any bytes, as a local attacker or a torn disk leaves them.
libfuzzer_sys::fuzz_target!(|data: &[u8]| twofa_core::fuzzing::session_file(data));
