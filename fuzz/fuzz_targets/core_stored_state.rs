#![no_main]
//! What core reads from outside: stored sessions and challenges, tolerant JSON, codes, TOTP seeds.
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = serde_json::from_slice::<twofa_core::Session>(bytes);
    let _ = serde_json::from_slice::<twofa_core::Challenge>(bytes);
    let _ = twofa_core::json::from_slice_ci::<serde_json::Value>(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = twofa_core::OneTimeCode::new(text);
        let _ = twofa_core::code_source::Totp::from_base32(&twofa_core::TotpSeed::new(text));
        let _ = twofa_core::code_source::Totp::from_otpauth_uri(&twofa_core::Secret::new(text));
    }
});
