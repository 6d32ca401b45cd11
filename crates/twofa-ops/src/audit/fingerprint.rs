//! [`FingerprintKey`]: tells tokens apart in the audit trail without writing them down.

use std::path::Path;

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::{OpsError, private_file};

/// How many bytes of the HMAC a fingerprint keeps: 8 bytes (16 hex digits) tell a store's tokens
/// apart, and are far too few to test guesses of a token against.
pub const FINGERPRINT_BYTES: usize = 8;

/// A per-store HMAC-SHA256 key: the fingerprint of a token is the HMAC of the token under it, cut
/// to [`FINGERPRINT_BYTES`], in hex. Without the key a fingerprint says nothing about the token;
/// with it, an operator holding a token can tell which audit lines used it.
#[derive(Clone)]
pub struct FingerprintKey([u8; 32]);

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintKey([redacted])")
    }
}

impl FingerprintKey {
    /// A new random key.
    pub fn random() -> Self {
        Self(rand::random())
    }

    /// The key stored at `path` (32 bytes), made and written there `0600` if there is none.
    ///
    /// # Errors
    ///
    /// [`OpsError::Io`] when it cannot be read or made, [`OpsError::OpenPermissions`] when others
    /// may read it, [`OpsError::Config`] when it is not 32 bytes long.
    pub fn load_or_create(path: &Path) -> Result<Self, OpsError> {
        if !path.exists() {
            let key = Self::random();
            match private_file::create_new(path, &key.0) {
                Ok(()) => return Ok(key),
                // Another process made it first: read theirs.
                Err(OpsError::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        let bytes = private_file::read_private(path)?;
        let key = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
            OpsError::Config(format!(
                "{} is not a fingerprint key (32 bytes); remove it to make a new one",
                path.display()
            ))
        })?;
        Ok(Self(key))
    }

    /// The fingerprint of `token`: [`FINGERPRINT_BYTES`] of its HMAC, in lowercase hex.
    pub fn fingerprint(&self, token: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("any key length"));
        mac.update(token.as_bytes());
        mac.finalize().into_bytes()[..FINGERPRINT_BYTES].iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_stable_per_key_and_short() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("audit.key");
        let key = FingerprintKey::load_or_create(&path).unwrap_or_else(|e| panic!("{e}"));
        let again = FingerprintKey::load_or_create(&path).unwrap_or_else(|e| panic!("{e}"));
        let print = key.fingerprint("token-1");
        assert_eq!(print.len(), 2 * FINGERPRINT_BYTES);
        assert!(print.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(print, again.fingerprint("token-1"));
        assert_ne!(print, key.fingerprint("token-2"));
        assert_ne!(print, FingerprintKey::random().fingerprint("token-1"), "another store, another fingerprint");
        assert_eq!(format!("{key:?}"), "FingerprintKey([redacted])");
    }
}
