#![no_main]
//! APEX replies, mapped for every kind of call.
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = twofa_oms::fuzzing::reply(bytes);
});
