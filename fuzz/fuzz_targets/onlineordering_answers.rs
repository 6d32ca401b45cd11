#![no_main]
//! Online Ordering token results (JSON and XML) and base64 `id_token`s.
libfuzzer_sys::fuzz_target!(|input: (bool, &[u8], &str)| {
    let _ = twofa_onlineordering::fuzzing::token_result(input.1, input.0);
    let _ = twofa_onlineordering::fuzzing::id_token(input.2);
});
