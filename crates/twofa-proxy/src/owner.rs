//! The owner's handshake on `/_twofa/session`, for the [owner token](crate::ProxyBuilder::owner_token).
//!
//! The caller never sends the owner token itself, and the proxy proves that it holds it: a
//! process that took the port of a proxy that died (a local user racing for it) learns nothing it
//! could use, and cannot hand the caller a session of its own choosing.
//!
//! - The caller sends [`OWNER_HEADER`]: the SHA-256 of the owner token, in hex ([`request_value`]).
//! - The proxy answers the session with [`PROOF_HEADER`]: an HMAC-SHA256 of the answer's body keyed
//!   with the owner token, in hex ([`proof`]), which the caller checks ([`verify`]).

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use twofa_core::{Secret, local::constant_time_eq};

/// The request header carrying [`request_value`].
pub const OWNER_HEADER: &str = "x-twofa-owner";
/// The answer header carrying [`proof`].
pub const PROOF_HEADER: &str = "x-twofa-proof";

/// What the owner sends in [`OWNER_HEADER`]: the SHA-256 of `owner`, lower-case hex.
pub fn request_value(owner: &Secret) -> String {
    hex(&Sha256::digest(owner.expose_secret().as_bytes()))
}

/// The proxy's proof that it holds `owner`, over the answer's `body`: HMAC-SHA256, lower-case hex.
pub fn proof(owner: &Secret, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(owner.expose_secret().as_bytes()) else { return String::new() };
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

/// Whether `given` is the proof of `body` under `owner` (compared in constant time).
pub fn verify(owner: &Secret, body: &[u8], given: &str) -> bool {
    constant_time_eq(proof(owner, body).as_bytes(), given.as_bytes())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_never_carries_the_owner_token_and_the_proof_binds_the_body() {
        let owner = Secret::new("owner-token");
        let sent = request_value(&owner);
        assert_eq!(sent.len(), 64);
        assert!(!sent.contains("owner-token"));
        let proof = proof(&owner, br#"{"a":1}"#);
        assert!(verify(&owner, br#"{"a":1}"#, &proof));
        assert!(!verify(&owner, br#"{"a":2}"#, &proof), "another body");
        assert!(!verify(&Secret::new("other"), br#"{"a":1}"#, &proof), "another owner");
        assert!(!verify(&owner, br#"{"a":1}"#, &sent), "the request value is no proof");
    }
}
