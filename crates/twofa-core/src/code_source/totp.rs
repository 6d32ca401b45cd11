use std::{fmt, time::Duration};

use async_trait::async_trait;

use super::{CodeRequest, CodeSource};
use crate::{Error, OneTimeCode, Secret, TotpSeed};

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
/// ```
/// use twofa_core::{code_source::Totp, TotpSeed};
/// let totp = Totp::from_base32(&TotpSeed::new("JBSWY3DPEHPK3PXP"))?;
/// assert_eq!(totp.code_at(0).expose_secret().len(), 6);
/// assert!(!format!("{totp:?}").contains("JBSW"));
/// # Ok::<(), twofa_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Totp(totp_rs::Totp);

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
        Ok(Self(totp))
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
        Ok(Self(totp))
    }

    /// The code at a Unix time in seconds.
    pub fn code_at(&self, unix_secs: u64) -> OneTimeCode {
        OneTimeCode(secrecy::SecretString::from(self.0.generate(unix_secs).to_string()))
    }

    /// The current code and how long it stays valid.
    pub fn current(&self) -> (OneTimeCode, Duration) {
        let now = time::OffsetDateTime::now_utc().unix_timestamp().max(0) as u64;
        let remaining = self.0.next_step(now) - now;
        (self.code_at(now), Duration::from_secs(remaining))
    }
}

impl fmt::Debug for Totp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Totp")
            .field("algorithm", &self.0.algorithm().to_string())
            .field("digits", &self.0.digits())
            .field("step", &self.0.step())
            .field("seed", &"[REDACTED]")
            .finish()
    }
}

#[async_trait]
impl CodeSource for Totp {
    async fn code(&self, _request: &CodeRequest) -> Result<OneTimeCode, Error> {
        Ok(self.current().0)
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
}
