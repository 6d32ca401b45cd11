use std::{
    fmt,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;

use super::{CodeRequest, CodeSource};
use crate::{Clock, Error, OneTimeCode, Secret, SystemClock, TotpSeed};

/// The HMAC of a TOTP generator (RFC 6238 allows all three).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TotpAlgorithm {
    /// HMAC-SHA-1, what nearly every authenticator uses.
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

/// An RFC 6238 code generator: the code an authenticator app would show.
///
/// It wraps `totp-rs` so the seed never reaches a `Debug` output.
///
/// As a [`CodeSource`] it never hands out two codes for the same time step: RFC 6238 §5.2 lets a
/// server refuse a code it has already accepted, so a second login within one step waits (at most
/// one period, announced by a `tracing` info event) for the next step's code. Clones share that
/// memory. [`Totp::current`] and [`Totp::code_at`] are plain computations and never wait.
///
/// ```
/// use twofa_core::{code_source::Totp, TotpSeed};
/// let totp = Totp::from_base32(&TotpSeed::new("JBSWY3DPEHPK3PXP"))?;
/// assert_eq!(totp.code_at(0).expose_secret().len(), 6);
/// assert!(!format!("{totp:?}").contains("JBSW"));
/// # Ok::<(), twofa_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Totp {
    generator: totp_rs::Totp,
    clock: Arc<dyn Clock>,
    /// The time step of the last code handed out as a code source.
    last_step: Arc<Mutex<Option<u64>>>,
}

impl Totp {
    /// The usual generator (SHA-1, 6 digits, 30 s) for a base32 seed; spaces, case and padding are forgiven.
    pub fn from_base32(seed: &TotpSeed) -> Result<Self, Error> {
        let cleaned: zeroize::Zeroizing<String> = zeroize::Zeroizing::new(
            seed.expose_secret()
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '=')
                .collect::<String>()
                .to_ascii_uppercase(),
        );
        let secret = totp_rs::Secret::try_from_base32(cleaned.as_str())
            .map_err(|_| Error::InvalidInput("the TOTP seed is not valid base32".into()))?;
        Self::new(TotpAlgorithm::Sha1, 6, 30, secret.as_bytes().to_vec())
    }

    /// A generator from an `otpauth://totp/...` URI (80-bit seeds, as GitHub issues, are accepted).
    pub fn from_otpauth_uri(uri: &Secret) -> Result<Self, Error> {
        let totp = totp_rs::Totp::from_url_unchecked(uri.expose_secret())
            .map_err(|_| Error::InvalidInput("the otpauth URI is not a valid TOTP URI".into()))?;
        if !(6..=8).contains(&totp.digits()) || totp.step() == 0 {
            return Err(Error::InvalidInput("the otpauth URI has unusable digits or period".into()));
        }
        Ok(Self::wrap(totp))
    }

    /// A generator with explicit parameters: 6 to 8 digits, a step of at least one second.
    pub fn new(algorithm: TotpAlgorithm, digits: u8, step_secs: u64, secret: Vec<u8>) -> Result<Self, Error> {
        if !(6..=8).contains(&digits) {
            return Err(Error::InvalidInput("a TOTP code has 6 to 8 digits".into()));
        }
        if step_secs == 0 || secret.is_empty() {
            return Err(Error::InvalidInput("a TOTP generator needs a seed and a step of at least 1 s".into()));
        }
        let algorithm = match algorithm {
            TotpAlgorithm::Sha1 => totp_rs::Algorithm::SHA1,
            TotpAlgorithm::Sha256 => totp_rs::Algorithm::SHA256,
            TotpAlgorithm::Sha512 => totp_rs::Algorithm::SHA512,
        };
        // build_noncompliant: RFC 4226 asks for 128-bit seeds but real services issue 80-bit ones.
        let totp = totp_rs::Builder::new()
            .with_algorithm(algorithm)
            .with_digits(digits)
            .with_step_duration(step_secs)
            .with_secret(secret)
            .build_noncompliant();
        Ok(Self::wrap(totp))
    }

    fn wrap(generator: totp_rs::Totp) -> Self {
        Self { generator, clock: Arc::new(SystemClock), last_step: Arc::default() }
    }

    /// The same generator reading time from `clock` (default: the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The code at a Unix time in seconds.
    pub fn code_at(&self, unix_secs: u64) -> OneTimeCode {
        OneTimeCode(secrecy::SecretString::from(self.generator.generate(unix_secs).to_string()))
    }

    /// The length of one time step (30 s unless the URI or [`Totp::new`] said otherwise).
    pub fn period(&self) -> Duration {
        Duration::from_secs(self.generator.step())
    }

    /// The current code and how long it stays valid.
    pub fn current(&self) -> (OneTimeCode, Duration) {
        let now = self.unix_secs();
        let remaining = self.generator.next_step(now) - now;
        (self.code_at(now), Duration::from_secs(remaining))
    }

    fn unix_secs(&self) -> u64 {
        u64::try_from(self.clock.now().unix_timestamp()).unwrap_or(0)
    }

    /// Reserves the step of the next code: the current one if no code was handed out for it, else
    /// the next one, with how long to wait until it starts.
    fn reserve_step(&self) -> Result<(u64, Duration), Error> {
        let period = self.generator.step().max(1);
        let now = self.clock.now();
        let now_nanos = u128::try_from(now.unix_timestamp_nanos()).unwrap_or(0);
        let current = u64::try_from(now_nanos / 1_000_000_000).unwrap_or(0) / period;
        let mut last = self.last_step.lock().unwrap_or_else(|e| e.into_inner());
        let step = match *last {
            Some(last) if last >= current => last + 1,
            _ => current,
        };
        if step > current + 1 {
            // Only concurrent logins get here: one period of waiting would not be enough.
            return Err(Error::CodeSource(
                "the next authenticator time step is already taken by another login; try again".into(),
            ));
        }
        let starts_nanos = u128::from(step) * u128::from(period) * 1_000_000_000;
        let wait = Duration::from_nanos(u64::try_from(starts_nanos.saturating_sub(now_nanos)).unwrap_or(0));
        *last = Some(step);
        Ok((step, wait))
    }
}

impl fmt::Debug for Totp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Totp")
            .field("algorithm", &self.generator.algorithm().to_string())
            .field("digits", &self.generator.digits())
            .field("step", &self.generator.step())
            .field("seed", &"[REDACTED]")
            .finish()
    }
}

#[async_trait]
impl CodeSource for Totp {
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, Error> {
        // Before reserving a time step: a refused PIN request must not use one up.
        super::refuse_pin(request, "a TOTP seed")?;
        let (step, wait) = self.reserve_step()?;
        if !wait.is_zero() {
            tracing::info!(
                provider = %request.provider,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "waiting for the next authenticator time step: this one's code was already used"
            );
            tokio::time::sleep(wait).await;
        }
        Ok(self.code_at(step * self.generator.step().max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B: seeds are the ASCII digits repeated to the hash size.
    fn rfc(algorithm: TotpAlgorithm, len: usize) -> Totp {
        let seed = b"1234567890".iter().copied().cycle().take(len).collect();
        Totp::new(algorithm, 8, 30, seed).unwrap()
    }

    #[test]
    fn rfc6238_appendix_b_vectors() {
        let table: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        let (sha1, sha256, sha512) =
            (rfc(TotpAlgorithm::Sha1, 20), rfc(TotpAlgorithm::Sha256, 32), rfc(TotpAlgorithm::Sha512, 64));
        for (t, c1, c256, c512) in table {
            assert_eq!(sha1.code_at(t).expose_secret(), c1, "SHA1 at {t}");
            assert_eq!(sha256.code_at(t).expose_secret(), c256, "SHA256 at {t}");
            assert_eq!(sha512.code_at(t).expose_secret(), c512, "SHA512 at {t}");
        }
    }

    #[test]
    fn base32_seed_is_forgiving() {
        let a = Totp::from_base32(&TotpSeed::new("JBSWY3DPEHPK3PXP")).unwrap();
        let b = Totp::from_base32(&TotpSeed::new("jbsw y3dp ehpk 3pxp")).unwrap();
        assert_eq!(a.code_at(1_700_000_000).expose_secret(), b.code_at(1_700_000_000).expose_secret());
        assert!(matches!(Totp::from_base32(&TotpSeed::new("not base32!")), Err(Error::InvalidInput(_))));
        assert!(matches!(Totp::from_base32(&TotpSeed::new("")), Err(Error::InvalidInput(_))));
    }

    #[test]
    fn otpauth_uri_matches_the_seed() {
        let uri = Secret::new("otpauth://totp/Sandbox:alice?secret=JBSWY3DPEHPK3PXP&issuer=Sandbox");
        let from_uri = Totp::from_otpauth_uri(&uri).unwrap();
        let from_seed = Totp::from_base32(&TotpSeed::new("JBSWY3DPEHPK3PXP")).unwrap();
        assert_eq!(from_uri.code_at(59).expose_secret(), from_seed.code_at(59).expose_secret());
        assert!(matches!(Totp::from_otpauth_uri(&Secret::new("https://x")), Err(Error::InvalidInput(_))));
    }

    #[test]
    fn bad_parameters_are_errors_not_panics() {
        assert!(matches!(Totp::new(TotpAlgorithm::Sha1, 10, 30, vec![1; 20]), Err(Error::InvalidInput(_))));
        assert!(matches!(Totp::new(TotpAlgorithm::Sha1, 6, 0, vec![1; 20]), Err(Error::InvalidInput(_))));
        assert!(matches!(Totp::new(TotpAlgorithm::Sha1, 6, 30, vec![]), Err(Error::InvalidInput(_))));
    }

    #[test]
    fn debug_hides_the_seed() {
        let t = Totp::from_base32(&TotpSeed::new("JBSWY3DPEHPK3PXP")).unwrap();
        let shown = format!("{t:?}");
        assert!(shown.contains("[REDACTED]") && !shown.contains("JBSW"));
        let (code, left) = t.current();
        assert_eq!(code.expose_secret().len(), 6);
        assert!(left <= Duration::from_secs(30));
    }

    /// A manual clock `before_ns` nanoseconds before the start of step `step` (30 s steps).
    fn clock_before(step: u64, before_ns: i128) -> crate::ManualClock {
        let at = i128::from(step) * 30 * 1_000_000_000 - before_ns;
        crate::ManualClock::new(time::OffsetDateTime::from_unix_timestamp_nanos(at).unwrap())
    }

    fn request() -> CodeRequest {
        let c = crate::Challenge::portable(
            "oms",
            crate::Method::Authenticator { setup: None },
            time::OffsetDateTime::UNIX_EPOCH,
            Secret::new("s"),
        );
        CodeRequest::new(&c, 1, 3)
    }

    /// RFC 6238 §5.2: a strict server refuses a code twice; the source must not offer one twice.
    #[tokio::test]
    async fn never_hands_out_two_codes_for_one_time_step() {
        let step = 56_666_667;
        let clock = clock_before(step, 20_000_000); // 20 ms before step `step` starts
        let totp = Totp::from_base32(&TotpSeed::new("JBSWY3DPEHPK3PXP")).unwrap().with_clock(Arc::new(clock.clone()));
        let first = totp.code(&request()).await.unwrap();
        assert_eq!(first.expose_secret(), totp.code_at((step - 1) * 30).expose_secret(), "no wait in a fresh step");
        // A clone shares the memory: the second code is the next step's, after a wait of 20 ms.
        let second = totp.clone().code(&request()).await.unwrap();
        assert_eq!(second.expose_secret(), totp.code_at(step * 30).expose_secret());
        assert_ne!(first.expose_secret(), second.expose_secret());
        // The clock has not moved: a third code would need more than one period of waiting.
        assert!(matches!(totp.code(&request()).await, Err(Error::CodeSource(_))));
        clock.advance(Duration::from_secs(30));
        let third = totp.code(&request()).await.unwrap();
        assert_eq!(third.expose_secret(), totp.code_at((step + 1) * 30).expose_secret());
        // `current` stays a plain computation.
        assert_eq!(totp.current().0.expose_secret(), totp.code_at(step * 30).expose_secret());
    }

    #[tokio::test]
    async fn a_new_step_needs_no_wait_and_separate_generators_do_not_share() {
        let clock = clock_before(1000, 10_000_000_000);
        let seed = TotpSeed::new("JBSWY3DPEHPK3PXP");
        let a = Totp::from_base32(&seed).unwrap().with_clock(Arc::new(clock.clone()));
        let b = Totp::from_base32(&seed).unwrap().with_clock(Arc::new(clock.clone()));
        let first = a.code(&request()).await.unwrap();
        assert_eq!(b.code(&request()).await.unwrap().expose_secret(), first.expose_secret());
        clock.advance(Duration::from_secs(30));
        assert_eq!(a.code(&request()).await.unwrap().expose_secret(), a.code_at(1000 * 30).expose_secret());
        assert_eq!(a.period(), Duration::from_secs(30));
    }
}
