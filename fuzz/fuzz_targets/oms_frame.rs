#![no_main]
//! APEX WebSocket messages, and the reply payload each carries.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    twofa_oms::fuzzing::frame(data);
});
