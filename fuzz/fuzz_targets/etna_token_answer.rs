#![no_main]
//! ETNA `/token` answers: any status, content type, Retry-After and body.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    twofa_etna::fuzzing::token_answer(data);
});
