#![no_main]
//! Online Ordering answers (JSON and WCF XML) read as sessions, challenges and errors; `id_token`s.
libfuzzer_sys::fuzz_target!(|data: &[u8]| twofa_onlineordering::fuzzing::answer(data));
