#![no_main]
//! ETNA `/token` answers: any status, any body.
libfuzzer_sys::fuzz_target!(|input: (u16, &[u8])| {
    let _ = twofa_etna::fuzzing::token_answer(input.0, input.1);
});
