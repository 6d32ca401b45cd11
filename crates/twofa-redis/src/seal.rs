//! Optional encryption of stored sessions: ChaCha20-Poly1305 with a key from the environment.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    AeadCore, ChaCha20Poly1305, KeyInit, Nonce,
    aead::{Aead, OsRng, Payload},
};
use twofa_core::Error;

/// The prefix of a sealed value: the nonce and ciphertext follow, in base64. The format version is
/// in the associated data: a version 1 value (sealed without associated data, so it could be
/// copied under another key and opened there) no longer opens; it reads as unreadable, and the
/// next login replaces it.
const PREFIX: &str = "chacha20poly1305:";

/// The associated data a value is sealed with: the format version and the Redis key it is stored
/// under, so a value opens only under its own key.
fn associated_data(key: &str) -> Vec<u8> {
    [b"twofa-redis-session:v2\n".as_slice(), key.as_bytes()].concat()
}

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

    /// Seals `plain` with its `generation` (ahead of it, inside the seal) for the Redis `key`.
    pub(crate) fn seal(&self, key: &str, generation: u64, plain: &[u8]) -> Result<String, Error> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let message = zeroize::Zeroizing::new([generation.to_be_bytes().as_slice(), plain].concat());
        let aad = associated_data(key);
        let sealed = self
            .0
            .encrypt(&nonce, Payload { msg: &message, aad: &aad })
            .map_err(|_| Error::Store { path: None, detail: "cannot encrypt the session".into() })?;
        Ok(format!("{PREFIX}{}", STANDARD.encode([nonce.as_slice(), &sealed].concat())))
    }

    /// Opens a value stored under `key`: its generation and its plain text.
    pub(crate) fn open(&self, key: &str, stored: &str) -> Result<(u64, zeroize::Zeroizing<Vec<u8>>), Error> {
        let unreadable = |what: &str| Error::Store { path: None, detail: format!("the stored session {what}") };
        let encoded =
            stored.strip_prefix(PREFIX).ok_or_else(|| unreadable("is not encrypted, but a key is configured"))?;
        let bytes = STANDARD.decode(encoded).map_err(|_| unreadable("is corrupt"))?;
        if bytes.len() < 12 {
            return Err(unreadable("is corrupt"));
        }
        let (nonce, sealed) = bytes.split_at(12);
        let aad = associated_data(key);
        let plain = self
            .0
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &aad })
            .map(zeroize::Zeroizing::new)
            .map_err(|_| unreadable("cannot be decrypted with this key under this key name"))?;
        let (generation, json) = plain.split_at_checked(8).ok_or_else(|| unreadable("is corrupt"))?;
        let generation = u64::from_be_bytes(generation.try_into().map_err(|_| unreadable("is corrupt"))?);
        Ok((generation, zeroize::Zeroizing::new(json.to_vec())))
    }
}
