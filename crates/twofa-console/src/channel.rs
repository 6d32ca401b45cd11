//! The bot channel: how a [`ConsoleCodeSource`](crate::ConsoleCodeSource) and the console prove
//! themselves to each other before anything sensitive travels, and seal every call after that.
//!
//! Whatever listens on the console's address is not trusted until it proves it knows the bot's
//! key (a console restarted on another port leaves its old one to any local user). Neither side
//! ever sends a key:
//!
//! 1. **Keys.** A bot's key is [`bot_key`]: HMAC-SHA256 of the console's access token over the
//!    profile's name. It serves that profile only; the console computes it from its token.
//! 2. **Hello.** The bot sends `POST /api/hello` with [`Hello`] (its profile and a fresh random
//!    nonce, nothing secret). The console answers [`HelloAnswer`]: its own fresh nonce, a session
//!    id and a proof, an HMAC under the bot key over a domain-separated transcript (the profile and
//!    both nonces). The bot checks the proof in constant time; a process without the key cannot
//!    make it, and a proof made for another nonce does not match.
//! 3. **Sealed calls.** Both ends derive a [`SessionKey`] from the bot key and the transcript.
//!    Every request body is sealed with ChaCha20-Poly1305 under it, the session, a sequence number,
//!    the method and the path bound as associated data; every answer is sealed with the request's
//!    sequence number, its status inside (the HTTP status is always `200`). The console's first opened request is the
//!    bot's proof (it needed the key); a replayed or reordered request (an old sequence number) is
//!    refused. The bot acts on no answer it cannot open: not a code, not a refusal, not a "gone".
//!
//! Sealing rather than only authenticating matters: a process on the old port can pass every byte
//! on to the real console (any local user can find its new port), and would read the challenge,
//! the enrolment seed and the typed code if they travelled in clear.

use std::fmt;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chacha20poly1305::{
    ChaCha20Poly1305, KeyInit as _, Nonce,
    aead::{Aead as _, OsRng, Payload, rand_core::RngCore as _},
};
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use twofa_core::Secret;
use zeroize::Zeroizing;

/// The console's path of the hello, relative to its base URL.
pub const HELLO_PATH: &str = "api/hello";

/// The header that names the session of a sealed call.
pub const SESSION_HEADER: &str = "x-twofa-session";

/// The header that carries a sealed call's sequence number (1, 2, … within a session).
pub const SEQ_HEADER: &str = "x-twofa-seq";

/// The length of a nonce and of a session id: 32 random bytes, base64url without padding.
pub const NONCE_CHARS: usize = 43;

/// The most bytes sealing adds to a body (the Poly1305 tag).
pub const SEAL_OVERHEAD: usize = 16;

/// What binds every derivation to this protocol and its version.
const DOMAIN: &[u8] = b"twofa-console/v1";

type HmacSha256 = Hmac<Sha256>;

/// A bot's first request: who it is, and its fresh nonce. Nothing secret.
#[derive(Debug, Serialize, Deserialize)]
pub struct Hello {
    /// The profile the bot logs in (its key serves that one only).
    pub profile: String,
    /// [`new_nonce`]: fresh for every hello.
    pub nonce: String,
}

/// The console's answer to a [`Hello`].
#[derive(Debug, Serialize, Deserialize)]
pub struct HelloAnswer {
    /// The session the sealed calls name ([`SESSION_HEADER`]).
    pub session: String,
    /// The console's fresh nonce.
    pub nonce: String,
    /// [`SessionKey::proof`]: that the console knows the bot's key and saw the bot's nonce.
    pub proof: String,
}

/// The key of a bot for `profile` on the console whose access token is `access_token`: what the
/// bot's link carries (`?profile=…&key=…`) and what it proves it knows.
pub fn bot_key(access_token: &Secret, profile: &str) -> Secret {
    let mut mac = hmac(access_token.expose_secret().as_bytes());
    mac.update(DOMAIN);
    mac.update(b"\0bot-key\0");
    mac.update(profile.as_bytes());
    Secret::new(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// 32 fresh random bytes from the operating system, base64url ([`NONCE_CHARS`] characters).
pub fn new_nonce() -> String {
    let mut bytes = Zeroizing::new([0_u8; 32]);
    OsRng.fill_bytes(bytes.as_mut());
    URL_SAFE_NO_PAD.encode(bytes.as_ref())
}

/// Whether `text` has the shape of a nonce or session id: [`NONCE_CHARS`] base64url characters.
pub fn is_nonce(text: &str) -> bool {
    text.len() == NONCE_CHARS && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

pub use twofa_core::local::constant_time_eq;

fn hmac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: this cannot fail.
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts every key length"))
}

/// Feeds `part` with its length first, so no two transcripts read alike.
fn framed(mac: &mut HmacSha256, part: &[u8]) {
    mac.update(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
    mac.update(part);
}

/// The associated data of a sealed body, each part framed by its length.
fn aad(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 8).sum());
    for part in parts {
        out.extend_from_slice(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// The two directions, kept apart in the nonce: an answer never opens as a request.
#[derive(Clone, Copy)]
enum Direction {
    Request = 1,
    Answer = 2,
}

/// The keys of one bot session, derived by both ends from the bot key and the hello's transcript.
pub struct SessionKey {
    seal: Zeroizing<[u8; 32]>,
    proof: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey([REDACTED])")
    }
}

impl SessionKey {
    /// The session's keys for `profile`, after a hello with these two nonces.
    pub fn derive(bot_key: &Secret, profile: &str, bot_nonce: &str, console_nonce: &str) -> Self {
        let derive = |purpose: &[u8]| {
            let mut mac = hmac(bot_key.expose_secret().as_bytes());
            mac.update(DOMAIN);
            framed(&mut mac, purpose);
            for part in [profile, bot_nonce, console_nonce] {
                framed(&mut mac, part.as_bytes());
            }
            let mut out = Zeroizing::new([0_u8; 32]);
            out.copy_from_slice(&mac.finalize().into_bytes());
            out
        };
        Self { seal: derive(b"session-key"), proof: derive(b"console-proof") }
    }

    /// The console's proof of the hello (base64url).
    pub fn proof(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.proof.as_ref())
    }

    /// Whether `given` is the proof (constant time).
    pub fn proof_matches(&self, given: &str) -> bool {
        constant_time_eq(given.as_bytes(), self.proof().as_bytes())
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(self.seal.as_ref().into())
    }

    fn nonce(direction: Direction, seq: u64) -> Nonce {
        let mut nonce = [0_u8; 12];
        nonce[0] = direction as u8;
        nonce[4..].copy_from_slice(&seq.to_be_bytes());
        nonce.into()
    }

    /// The body of request `seq` of `session`, sealed with its method and its `path` (relative to
    /// the console's base URL, query included, no leading `/`).
    pub fn seal_request(&self, session: &str, seq: u64, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
        let aad = aad(&[b"request", session.as_bytes(), &seq.to_be_bytes(), method.as_bytes(), path.as_bytes()]);
        self.seal(Direction::Request, seq, &aad, body)
    }

    /// The body of request `seq`, if it was sealed under this key for this method and path.
    pub fn open_request(&self, session: &str, seq: u64, method: &str, path: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        let aad = aad(&[b"request", session.as_bytes(), &seq.to_be_bytes(), method.as_bytes(), path.as_bytes()]);
        self.open(Direction::Request, seq, &aad, sealed)
    }

    /// The answer to request `seq`: its status and body, sealed together. It travels as an HTTP
    /// `200` whatever the status (a `204` could carry no sealed body).
    pub fn seal_answer(&self, session: &str, seq: u64, status: u16, body: &[u8]) -> Vec<u8> {
        let aad = aad(&[b"answer", session.as_bytes(), &seq.to_be_bytes()]);
        let mut plain = Zeroizing::new(Vec::with_capacity(body.len() + 2));
        plain.extend_from_slice(&status.to_be_bytes());
        plain.extend_from_slice(body);
        self.seal(Direction::Answer, seq, &aad, &plain)
    }

    /// The status and body of the answer to request `seq`, if the console sealed it.
    pub fn open_answer(&self, session: &str, seq: u64, sealed: &[u8]) -> Option<(u16, Vec<u8>)> {
        let aad = aad(&[b"answer", session.as_bytes(), &seq.to_be_bytes()]);
        let mut plain = self.open(Direction::Answer, seq, &aad, sealed)?;
        let status = u16::from_be_bytes([*plain.first()?, *plain.get(1)?]);
        plain.drain(..2);
        Some((status, plain))
    }

    fn seal(&self, direction: Direction, seq: u64, aad: &[u8], body: &[u8]) -> Vec<u8> {
        // Encryption fails only for bodies of many GiB; the caller's bodies are a few KiB.
        self.cipher().encrypt(&Self::nonce(direction, seq), Payload { msg: body, aad }).unwrap_or_default()
    }

    fn open(&self, direction: Direction, seq: u64, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        self.cipher().decrypt(&Self::nonce(direction, seq), Payload { msg: sealed, aad }).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_profile_and_token() {
        let token = Secret::new("t");
        let alice = bot_key(&token, "alice");
        assert_ne!(alice.expose_secret(), bot_key(&token, "bob").expose_secret());
        assert_ne!(alice.expose_secret(), bot_key(&Secret::new("u"), "alice").expose_secret());
        assert_eq!(alice.expose_secret(), bot_key(&token, "alice").expose_secret());
        assert!(is_nonce(alice.expose_secret()), "a key has a nonce's shape");
    }

    #[test]
    fn nonces_are_fresh_and_checked() {
        let (a, b) = (new_nonce(), new_nonce());
        assert!(is_nonce(&a) && is_nonce(&b) && a != b);
        for bad in ["", "short", &format!("{a}x"), &format!("{}/", &a[..42]), &format!("{}%", &a[..42])] {
            assert!(!is_nonce(bad), "{bad}");
        }
    }

    #[test]
    fn a_sealed_body_opens_only_where_it_was_sealed() {
        let key = Secret::new("k");
        let session = SessionKey::derive(&key, "alice", "n1", "n2");
        let sealed = session.seal_request("s", 1, "POST", "api/challenges", b"{}");
        assert_eq!(session.open_request("s", 1, "POST", "api/challenges", &sealed).as_deref(), Some(&b"{}"[..]));
        assert!(session.open_request("s", 2, "POST", "api/challenges", &sealed).is_none(), "another seq");
        assert!(session.open_request("t", 1, "POST", "api/challenges", &sealed).is_none(), "another session");
        assert!(session.open_request("s", 1, "GET", "api/challenges", &sealed).is_none(), "another method");
        assert!(session.open_request("s", 1, "POST", "api/challenges/x", &sealed).is_none(), "another path");
        assert!(session.open_answer("s", 1, &sealed).is_none(), "a request is no answer");
        let other = SessionKey::derive(&key, "alice", "n1", "n3");
        assert!(other.open_request("s", 1, "POST", "api/challenges", &sealed).is_none(), "another hello");
        let bob = SessionKey::derive(&key, "bob", "n1", "n2");
        assert!(!bob.proof_matches(&session.proof()), "the proof names the profile");
        let answer = session.seal_answer("s", 1, 204, b"");
        assert_eq!(session.open_answer("s", 1, &answer), Some((204, Vec::new())));
        assert!(session.open_answer("s", 2, &answer).is_none(), "the answer to another request");
        assert_eq!(format!("{session:?}"), "SessionKey([REDACTED])");
    }

    #[test]
    fn equal_means_equal_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"abc", b"ab") && !constant_time_eq(b"", b"a"));
    }
}
