//! A Redis [`SessionStore`] for fleets: many processes, on many hosts, one 2FA session.
//!
//! Every process that shares a profile reads the session from Redis, and exactly one of them
//! renews it: the renewal takes a lease (`SET lock token NX PX ttl`, released only by its holder
//! through a compare-and-delete script); the others wait, then read the renewed session. A holder
//! that dies frees the lease when it expires. Sessions expire in Redis with the access token
//! (`PX`), and can be encrypted at rest with ChaCha20-Poly1305 and a key from the environment.
//!
//! ```no_run
//! # async fn demo(flow: std::sync::Arc<dyn twofa_core::TwoFactorFlow>) -> Result<(), twofa_core::Error> {
//! use std::sync::Arc;
//! use twofa_core::Authenticator;
//! use twofa_redis::RedisStore;
//!
//! let store = RedisStore::connect("redis://127.0.0.1/").await?
//!     .with_encryption_key_from_env("TWOFA_SESSION_KEY")?; // optional: 32 bytes, base64
//! let auth = Authenticator::builder(flow).store(Arc::new(store)).profile("desk-1").build();
//! let token = auth.token().await?; // one login for the whole fleet
//! # drop(token); Ok(()) }
//! ```
//!
//! If Redis is unreachable, the renewal lock is an error ([`twofa_core::Error::Store`]) unless
//! [`RedisStore::fall_back_to_local_renewal`] is set, in which case each process renews on its own
//! (and a provider that allows one session per account may log the others out).

mod seal;

/// Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`); not a stable API.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing {
    use std::sync::OnceLock;

    use crate::seal::Seal;

    /// A fixed key (test data, not a secret): the fuzzer plays a Redis that returns any value.
    fn seal() -> &'static Seal {
        static SEAL: OnceLock<Seal> = OnceLock::new();
        SEAL.get_or_init(|| Seal::from_key(&[7; 32]))
    }

    /// The first byte chooses: 0, the rest is a stored value read with encryption on; 1, read without;
    /// otherwise the rest is sealed, must open to itself, and is read as an encrypted stored session
    /// (the fuzzer cannot forge an authentication tag, so this is how it reaches the JSON behind one).
    pub fn stored(data: &[u8]) {
        let Some((mode, rest)) = data.split_first() else { return };
        match mode {
            0 | 1 => {
                // Redis values reach the store as strings: redis-rs refuses what is not UTF-8.
                let Ok(stored) = std::str::from_utf8(rest) else { return };
                let seal = (*mode == 0).then(seal);
                if let Ok((session, _)) = super::decode(seal, "twofa:session:fuzz", stored) {
                    twofa_core::fuzzing::use_session(&session);
                }
            }
            _ => {
                let key = "twofa:session:fuzz";
                let Ok(sealed) = seal().seal(key, 1, rest) else { return };
                let opened = seal().open(key, &sealed).map(|(_, plain)| plain.to_vec()).ok();
                assert_eq!(opened.as_deref(), Some(rest), "a sealed value opens to itself");
                assert!(seal().open("twofa:session:other", &sealed).is_err(), "and only under its own key");
                if let Ok((session, _)) = super::decode(Some(seal()), key, &sealed) {
                    twofa_core::fuzzing::use_session(&session);
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn sealed_session_corpus_replays_without_panic() {
            twofa_core::fuzzing::replay("redis_sealed_session", super::stored);
        }
    }
}

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use chacha20poly1305::aead::{OsRng, rand_core::RngCore as _};
use redis::{AsyncCommands as _, aio::ConnectionManager};
use twofa_core::{
    Error, Session,
    store::{RenewalLease, SessionStore, check_profile},
};

use crate::seal::Seal;

/// Releases a lease only if it still holds the caller's token.
const UNLOCK: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// Sessions in Redis, shared by every process that uses the same prefix and profile.
#[derive(Clone)]
pub struct RedisStore {
    redis: ConnectionManager,
    prefix: String,
    seal: Option<Seal>,
    local_fallback: bool,
    /// The highest generation of a sealed session seen (loaded or saved) per Redis key, shared by
    /// clones: an older one read later is a rollback and is refused. In this process only.
    seen: Arc<Mutex<HashMap<String, u64>>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("encrypted", &self.seal.is_some())
            .field("local_fallback", &self.local_fallback)
            .finish_non_exhaustive()
    }
}

fn redis_error(e: redis::RedisError) -> Error {
    Error::Store { path: None, detail: format!("Redis: {e}") }
}

impl RedisStore {
    /// Connects (with automatic reconnection) to `url`, e.g. `redis://127.0.0.1/`.
    ///
    /// Calls give up after about 2 s when Redis does not answer: a dead Redis must not stall every
    /// request of the bot that asked for a token.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let client = redis::Client::open(url).map_err(|e| Error::Config(format!("invalid Redis URL: {e}")))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let redis = client.get_connection_manager_with_config(config).await.map_err(redis_error)?;
        Ok(Self { redis, prefix: "twofa".into(), seal: None, local_fallback: false, seen: Arc::default() })
    }

    /// The key prefix (default `twofa`): keys are `{prefix}:session:{profile}` and `{prefix}:lock:{profile}`.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Encrypts sessions at rest with a 32-byte key, base64 in the environment variable `var`.
    pub fn with_encryption_key_from_env(mut self, var: &str) -> Result<Self, Error> {
        self.seal = Some(Seal::from_env(var)?);
        Ok(self)
    }

    /// When Redis cannot be reached for the renewal lock, renew locally instead of failing.
    pub fn fall_back_to_local_renewal(mut self, fall_back: bool) -> Self {
        self.local_fallback = fall_back;
        self
    }

    fn key(&self, kind: &str, profile: &str) -> Result<String, Error> {
        check_profile(profile)?;
        Ok(format!("{}:{kind}:{profile}", self.prefix))
    }

    /// Records `generation` as seen for `key`; an older one than already seen is a rollback.
    fn see(&self, key: &str, generation: u64) -> Result<(), Error> {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let highest = seen.entry(key.to_owned()).or_insert(0);
        if generation < *highest {
            return Err(Error::Store {
                path: None,
                detail: format!("the stored session at {key} is older than one this process has already seen"),
            });
        }
        *highest = generation;
        Ok(())
    }

    /// The generation of the next save under `key`: the time in nanoseconds, and always above the
    /// highest seen, so that a clock behind another host's still counts up.
    fn next_generation(&self, key: &str) -> u64 {
        let now = u64::try_from(twofa_core::time::OffsetDateTime::now_utc().unix_timestamp_nanos()).unwrap_or(0);
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        now.max(seen.get(key).map_or(0, |g| g.saturating_add(1)))
    }
}

/// The session in a stored value: opened with `seal` (for this `key`) when sessions are
/// encrypted, then parsed; with its generation when sealed.
fn decode(seal: Option<&Seal>, key: &str, stored: &str) -> Result<(Session, Option<u64>), Error> {
    let (generation, json) = match seal {
        Some(seal) => seal.open(key, stored).map(|(g, json)| (Some(g), json))?,
        None => (None, zeroize::Zeroizing::new(stored.as_bytes().to_vec())),
    };
    let session = serde_json::from_slice(&json).map_err(|e| Error::Store {
        path: None,
        detail: format!("corrupt session at {key}: {}", twofa_core::json::describe_error(&e)),
    })?;
    Ok((session, generation))
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn load(&self, profile: &str) -> Result<Option<Session>, Error> {
        let key = self.key("session", profile)?;
        let stored: Option<String> = self.redis.clone().get(&key).await.map_err(redis_error)?;
        let Some(stored) = stored.map(zeroize::Zeroizing::new) else { return Ok(None) };
        let (session, generation) = decode(self.seal.as_ref(), &key, &stored)?;
        if let Some(generation) = generation {
            self.see(&key, generation)?;
        }
        Ok(Some(session))
    }

    async fn save(&self, profile: &str, session: &Session) -> Result<(), Error> {
        let key = self.key("session", profile)?;
        let json = zeroize::Zeroizing::new(
            serde_json::to_vec(&session.expose_secrets())
                .map_err(|e| Error::Store { path: None, detail: e.to_string() })?,
        );
        let value = zeroize::Zeroizing::new(match &self.seal {
            Some(seal) => {
                let generation = self.next_generation(&key);
                let sealed = seal.seal(&key, generation, &json)?;
                self.see(&key, generation)?;
                sealed
            }
            None => String::from_utf8_lossy(&json).into_owned(),
        });
        let mut set = redis::cmd("SET");
        set.arg(&key).arg(value.as_str());
        // The session leaves Redis with its access token; sessions without an expiry stay.
        if let Some(expires_at) = session.expires_at() {
            let left = (expires_at - twofa_core::time::OffsetDateTime::now_utc()).whole_milliseconds();
            set.arg("PX").arg(left.clamp(1, i128::from(i64::MAX)) as i64);
        }
        set.query_async::<()>(&mut self.redis.clone()).await.map_err(redis_error)
    }

    async fn delete(&self, profile: &str) -> Result<(), Error> {
        let key = self.key("session", profile)?;
        self.redis.clone().del::<_, ()>(&key).await.map_err(redis_error)
    }

    async fn profiles(&self) -> Result<Vec<String>, Error> {
        let pattern = format!("{}:session:*", self.prefix);
        let mut redis = self.redis.clone();
        let mut names = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .query_async(&mut redis)
                .await
                .map_err(redis_error)?;
            names.extend(keys.iter().filter_map(|k| k.rsplit_once(":session:").map(|(_, p)| p.to_owned())));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn try_lock_renewal(&self, profile: &str, ttl: Duration) -> Result<Option<RenewalLease>, Error> {
        let key = self.key("lock", profile)?;
        let mut bytes = [0u8; 16];
        OsRng.fill_bytes(&mut bytes);
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let set: Result<Option<String>, _> = redis::cmd("SET")
            .arg(&key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut self.redis.clone())
            .await;
        match set {
            Ok(Some(_)) => Ok(Some(RenewalLease::new(token))),
            Ok(None) => Ok(None),
            Err(e) if self.local_fallback => {
                tracing::warn!(profile, error = %e, "Redis is unreachable; renewing without the fleet's lock");
                Ok(Some(RenewalLease::local()))
            }
            Err(e) => Err(redis_error(e)),
        }
    }

    async fn unlock_renewal(&self, profile: &str, lease: RenewalLease) -> Result<(), Error> {
        if lease.token().is_empty() {
            return Ok(());
        }
        let key = self.key("lock", profile)?;
        redis::Script::new(UNLOCK)
            .key(&key)
            .arg(lease.token())
            .invoke_async::<i64>(&mut self.redis.clone())
            .await
            .map(drop)
            .map_err(redis_error)
    }
}

#[cfg(test)]
mod origin_tests {
    #![allow(clippy::unwrap_used)]
    use twofa_core::{AccessToken, Origin, Session, TokenPlacement, reqwest::Url, time::OffsetDateTime};

    use super::{decode, seal::Seal};

    /// Red team of issue 22 item 1: a session's origin survives a Redis round trip, sealed or
    /// not, so a Redis-backed `Authenticator` does not take its own session for a foreign one.
    #[test]
    fn the_origin_survives_a_round_trip() {
        let origin = Origin::new(&Url::parse("https://trader.example/api/").unwrap(), ["alice"]);
        let session = Session::new("etna", AccessToken::new("t"), TokenPlacement::Bearer, OffsetDateTime::UNIX_EPOCH)
            .with_origin(origin.clone());
        let json = serde_json::to_vec(&session.expose_secrets()).unwrap();
        let seal = Seal::from_key(&[7; 32]);
        let key = "twofa:session:desk";
        let sealed = seal.seal(key, 1, &json).unwrap();
        for (seal, stored) in [(Some(&seal), sealed.as_str()), (None, std::str::from_utf8(&json).unwrap())] {
            let (back, _) = decode(seal, key, stored).unwrap();
            assert_eq!(back.origin(), Some(&origin));
        }
    }
}
