#![no_main]
//! APEX HTTP gateway answers, mapped for every kind of call.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    twofa_oms::fuzzing::reply(data);
});
