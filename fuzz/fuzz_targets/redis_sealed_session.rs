#![no_main]
//! Values of the Redis session store: sealed (ChaCha20-Poly1305) or plain, as a Redis returns them.
libfuzzer_sys::fuzz_target!(|data: &[u8]| twofa_redis::fuzzing::stored(data));
