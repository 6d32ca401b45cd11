//! Optional encryption of stored sessions: ChaCha20-Poly1305 with a key from the environment.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    AeadCore, ChaCha20Poly1305, KeyInit, Nonce,
    aead::{Aead, OsRng},
};
use twofa_core::Error;

const PREFIX: &str = "chacha20poly1305:";

/// Seals and opens stored sessions.
#[derive(Clone)]
pub(crate) struct Seal(ChaCha20Poly1305);

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seal([REDACTED])")
    }
}

impl Seal {
    /// A 32-byte key, base64 in `var`.
    pub(crate) fn from_env(var: &str) -> Result<Self, Error> {
        let encoded = zeroize::Zeroizing::new(
            std::env::var(var)
                .map_err(|_| Error::Config(format!("the environment variable {var} (the session key) is not set")))?,
        );
        let key = zeroize::Zeroizing::new(
            STANDARD.decode(encoded.trim()).map_err(|_| Error::Config(format!("{var} must hold a base64 key")))?,
        );
        let key: &[u8; 32] = key
            .as_slice()
            .try_into()
            .map_err(|_| Error::Config(format!("{var} must hold 32 bytes (base64), not {}", key.len())))?;
        Ok(Self::from_key(key))
    }

    /// A seal with a 32-byte key.
    pub(crate) fn from_key(key: &[u8; 32]) -> Self {
        Self(ChaCha20Poly1305::new(key.into()))
    }

    pub(crate) fn seal(&self, plain: &[u8]) -> Result<String, Error> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .0
            .encrypt(&nonce, plain)
            .map_err(|_| Error::Store { path: None, detail: "cannot encrypt the session".into() })?;
        Ok(format!("{PREFIX}{}", STANDARD.encode([nonce.as_slice(), &sealed].concat())))
    }

    pub(crate) fn open(&self, stored: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
        let unreadable = |what: &str| Error::Store { path: None, detail: format!("the stored session {what}") };
        let encoded =
            stored.strip_prefix(PREFIX).ok_or_else(|| unreadable("is not encrypted, but a key is configured"))?;
        let bytes = STANDARD.decode(encoded).map_err(|_| unreadable("is corrupt"))?;
        if bytes.len() < 12 {
            return Err(unreadable("is corrupt"));
        }
        let (nonce, sealed) = bytes.split_at(12);
        self.0
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map(zeroize::Zeroizing::new)
            .map_err(|_| unreadable("cannot be decrypted with this key"))
    }
}
