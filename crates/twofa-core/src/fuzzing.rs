//! Entry points for the cargo-fuzz targets in `fuzz/` (feature `fuzzing`); not a stable API.
//!
//! Every target takes raw bytes and calls one function here or in a provider's `fuzzing` module,
//! so that a plain `cargo test` can replay the committed corpus through exactly the code the fuzzer
//! ran ([`replay`]). The byte layouts below are what the corpus files hold.

use std::{path::Path, time::Duration};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};

use crate::{Challenge, OneTimeCode, Secret, Session, TotpSeed, code_source::Totp, http::Answer};

/// An HTTP answer from fuzz input: two bytes of status (big-endian), one byte choosing the
/// content type (none, JSON, XML, WCF's `text/xml; charset=utf-8`), then a `Retry-After` value up
/// to the first `\n`, then the body. Short input yields an empty 200 answer.
pub fn answer(data: &[u8]) -> Answer {
    let status = match data {
        [hi, lo, ..] => u16::from_be_bytes([*hi, *lo]),
        _ => 200,
    };
    let rest = data.get(2..).unwrap_or_default();
    let (kind, rest) = rest.split_first().map_or((0, rest), |(k, r)| (*k, r));
    let (retry_after, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (&[][..], rest),
    };
    let mut headers = HeaderMap::new();
    let content_type = ["", "application/json", "application/xml", "text/xml; charset=utf-8"][usize::from(kind % 4)];
    if !content_type.is_empty() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    if let Ok(value) = HeaderValue::from_bytes(retry_after)
        && !retry_after.is_empty()
    {
        headers.insert(RETRY_AFTER, value);
    }
    Answer { status, headers, body: body.to_vec() }
}

/// What core reads from outside: a stored session or challenge (JSON), tolerant JSON, a typed code,
/// a TOTP seed or `otpauth://` URI. A session that parses is also used as a loaded one would be.
pub fn stored_state(data: &[u8]) {
    if let Ok(session) = serde_json::from_slice::<Session>(data) {
        use_session(&session);
    }
    if let Ok(challenge) = serde_json::from_slice::<Challenge>(data) {
        let _ = serde_json::to_vec(&challenge.expose_secrets());
    }
    let _ = crate::json::from_slice_ci::<serde_json::Value>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = OneTimeCode::new(text);
        // A seed or URI that parses must also produce codes: a login generates one at once.
        for totp in
            [Totp::from_base32(&TotpSeed::new(text)), Totp::from_otpauth_uri(&Secret::new(text))].into_iter().flatten()
        {
            let _ = totp.code_at(0);
            let _ = totp.code_at(u64::MAX);
            let _ = totp.current();
        }
    }
}

/// A session file as [`FileStore`](crate::store::FileStore) reads it (any bytes: the file is
/// the attacker's). A session that loads is then used as the authenticator would use it.
pub fn session_file(data: &[u8]) {
    if let Ok(session) = crate::store::decode_session_file(Path::new("fuzz.json"), data) {
        use_session(&session);
    }
}

/// What the session manager and the CLI do with a session loaded from a store.
pub fn use_session(session: &Session) {
    let _ = session.headers();
    let _ = session.is_expired(Duration::from_secs(60));
    let _ = session.is_expired_at(time::OffsetDateTime::UNIX_EPOCH, Duration::ZERO);
    let _ = serde_json::to_vec(&session.expose_secrets());
    let _ = format!("{session:?}");
}

/// Runs `entry` on every file of the committed corpus of `target` (`fuzz/corpus/<target>/`),
/// and panics naming the file whose input panicked. An empty or missing corpus is a failure too:
/// the replay would prove nothing.
pub fn replay(target: &str, entry: impl Fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("the corpus {} is missing: {e}", dir.display()));
    let mut replayed = 0;
    for entry_ in entries {
        let path = entry_.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())).path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| entry(&data))).is_err() {
            panic!("the corpus input {} panicked", path.display());
        }
        replayed += 1;
    }
    assert!(replayed > 0, "the corpus {} is empty", dir.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_state_corpus_replays_without_panic() {
        replay("core_stored_state", stored_state);
    }

    #[test]
    fn session_file_corpus_replays_without_panic() {
        replay("core_session_file", session_file);
    }

    #[test]
    #[should_panic(expected = "panicked")]
    fn replay_fails_on_an_input_that_panics() {
        replay("core_stored_state", |_| panic!("boom"));
    }

    #[test]
    #[should_panic(expected = "is missing")]
    fn replay_fails_without_a_corpus() {
        replay("no_such_target", |_| ());
    }

    #[test]
    fn answers_decode_status_content_type_retry_after_and_body() {
        let a = answer(b"\x01\xad\x01120\n{\"a\":1}");
        assert_eq!(a.status, 429);
        assert_eq!(a.content_type(), Some("application/json"));
        assert_eq!(a.retry_after(), Some(Duration::from_secs(120)));
        assert_eq!(a.body, b"{\"a\":1}");
        let short = answer(b"");
        assert_eq!((short.status, short.body.len(), short.content_type()), (200, 0, None));
    }
}
