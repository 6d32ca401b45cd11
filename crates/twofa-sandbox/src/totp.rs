//! TOTP checks for the seeded authenticator users (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step).

/// Whether `code` is the current code (or the one before or after) for a base32 `seed`.
pub(crate) fn matches(seed: &str, code: &str) -> bool {
    let Ok(secret) = totp_rs::Secret::try_from_base32(seed) else { return false };
    let totp = totp_rs::Builder::new().with_secret(secret.as_bytes().to_vec()).build_noncompliant();
    // TOTP runs on wall time: the sandbox clock's offset only ages tickets and tokens.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    totp.check(code, now).is_some()
}
