//! API-key login (no second factor, for trading bots): `AuthenticateUser` with `APIKey`,
//! `Signature`, `UserId` and `Nonce`, the signature being HMAC-SHA256 over `Nonce + UserId + APIKey`
//! keyed with the API secret, sent as lower-case hex (as the Notbank SDK does).

use std::{
    fmt::Write as _,
    sync::atomic::{AtomicU64, Ordering},
};

use hmac::{Hmac, KeyInit as _, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;
use twofa_core::{ApiKey, ApiSecret, Error, Secret, time::OffsetDateTime};
use zeroize::Zeroizing;

/// An API key, its secret and the user id they belong to (`Debug` shows the user id only: the key
/// and the secret are redacted by their types).
#[derive(Debug, Clone)]
pub(crate) struct ApiKeyLogin {
    pub(crate) user_id: u64,
    pub(crate) key: ApiKey,
    pub(crate) secret: ApiSecret,
}

/// One signed login: the four values `AuthenticateUser` takes, as headers or payload keys.
pub(crate) struct Signed {
    pub(crate) user_id: String,
    pub(crate) nonce: String,
    pub(crate) signature: Secret,
}

/// The last nonce handed out in this process: nonces only grow, so two logins with the same key
/// in the same microsecond (or under a clock that stands still) still differ.
static LAST_NONCE: AtomicU64 = AtomicU64::new(0);

/// A fresh nonce: microseconds since the Unix epoch, or one more than the last nonce when the clock
/// has not moved. A server that refuses a replayed nonce, and one that wants increasing nonces,
/// both accept the sequence.
fn next_nonce(now: OffsetDateTime) -> u64 {
    let micros = u64::try_from(now.unix_timestamp_nanos() / 1000).unwrap_or(0);
    let mut last = LAST_NONCE.load(Ordering::Relaxed);
    loop {
        let next = micros.max(last.saturating_add(1));
        match LAST_NONCE.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// Lower-case hex HMAC-SHA256 of `Nonce + UserId + APIKey`, keyed with the API secret.
pub(crate) fn signature(secret: &ApiSecret, nonce: &str, user_id: &str, api_key: &ApiKey) -> Result<Secret, Error> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .map_err(|_| Error::Config("the OMS API secret cannot key HMAC-SHA256".into()))?;
    mac.update(nonce.as_bytes());
    mac.update(user_id.as_bytes());
    mac.update(api_key.expose_secret().as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut hex = Zeroizing::new(String::with_capacity(digest.len() * 2));
    for byte in digest.iter() {
        let _ = write!(hex, "{byte:02x}");
    }
    Ok(Secret::new(hex.as_str()))
}

impl ApiKeyLogin {
    /// The values of one login attempt, with a nonce never used before in this process.
    pub(crate) fn sign(&self, now: OffsetDateTime) -> Result<Signed, Error> {
        let user_id = self.user_id.to_string();
        let nonce = next_nonce(now).to_string();
        let signature = signature(&self.secret, &nonce, &user_id, &self.key)?;
        Ok(Signed { user_id, nonce, signature })
    }
}

impl Signed {
    /// The WebSocket `AuthenticateUser` payload, with ids as strings as in the documented sample.
    pub(crate) fn payload(&self, key: &ApiKey) -> Value {
        json!({
            "APIKey": key.expose_secret(),
            "Signature": self.signature.expose_secret(),
            "UserId": self.user_id,
            "Nonce": self.nonce,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// The same HMAC computed by Python's standard library, not by the code under test.
    fn python_hmac(secret: &str, message: &str) -> Option<String> {
        let script = "import hmac,hashlib,sys; \
                      print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())";
        let out = std::process::Command::new("python3").args(["-c", script, secret, message]).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    #[test]
    fn oms_2_3_signature_is_lowercase_hex_hmac_sha256_of_nonce_user_id_api_key() {
        let (secret, key) = (ApiSecret::new("sandbox-api-secret"), ApiKey::new("a4b1c2d3e4f5"));
        let ours = signature(&secret, "2247733562", "96", &key).unwrap();
        // RFC 4231 test case 2, an independent fixed vector for the primitive itself.
        let rfc = signature(&ApiSecret::new("Jefe"), "what do ya want ", "for nothing?", &ApiKey::new("")).unwrap();
        assert_eq!(rfc.expose_secret(), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let expected = python_hmac("sandbox-api-secret", "224773356296a4b1c2d3e4f5")
            .expect("python3 computes the vector independently");
        assert_eq!(ours.expose_secret(), expected);
        assert!(ours.expose_secret().bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn nonces_are_fresh_even_when_the_clock_stands_still() {
        let now = OffsetDateTime::now_utc();
        let (a, b) = (next_nonce(now), next_nonce(now));
        assert!(b > a);
        let login = ApiKeyLogin { user_id: 96, key: ApiKey::new("k"), secret: ApiSecret::new("s") };
        let (x, y) = (login.sign(now).unwrap(), login.sign(now).unwrap());
        assert_ne!(x.nonce, y.nonce);
        assert_ne!(x.signature.expose_secret(), y.signature.expose_secret());
    }

    #[test]
    fn debug_redacts_the_key_and_the_secret() {
        let login =
            ApiKeyLogin { user_id: 96, key: ApiKey::new("key-value-1"), secret: ApiSecret::new("secret-value-2") };
        let shown = format!("{login:?}");
        assert!(shown.contains("96") && !shown.contains("key-value-1") && !shown.contains("secret-value-2"), "{shown}");
    }
}
