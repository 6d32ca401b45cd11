//! TOTP checks for the seeded authenticator users (RFC 6238: SHA-1, 6 digits, ±1 step of skew).

/// Whether `code` is the current code (or the one before or after) for a base32 `seed`, 30 s steps.
pub(crate) fn matches(seed: &str, code: &str) -> bool {
    matching_step(seed, code, 30).is_some()
}

/// The time step (Unix time / `period_secs`) whose code `code` is, among the current step and
/// one either side; `None` when it is none of them.
///
/// TOTP runs on wall time: the sandbox clock's offset only ages tickets and tokens.
pub(crate) fn matching_step(seed: &str, code: &str, period_secs: u64) -> Option<u64> {
    let secret = totp_rs::Secret::try_from_base32(seed).ok()?;
    let period = period_secs.max(1);
    let totp =
        totp_rs::Builder::new().with_secret(secret.as_bytes().to_vec()).with_step_duration(period).build_noncompliant();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let current = now / period;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .find(|step| totp.generate(step * period).to_string() == code)
}
