#![no_main]
//! APEX WebSocket frames.
libfuzzer_sys::fuzz_target!(|text: &str| {
    let _ = twofa_oms::fuzzing::frame(text);
});
