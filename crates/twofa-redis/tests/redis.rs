//! `RedisStore` against a real `redis-server` (`bash .ci/run` installs and starts one and sets
//! `TWOFA_TEST_REDIS`; without it these tests say so and pass, unless `TWOFA_REQUIRE_REDIS` is set).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use redis::AsyncCommands as _;
use twofa_core::{
    AccessToken, Authenticator, Error, ManualClock, RenewalToken, Session, TokenPlacement, TotpSeed,
    code_source::Totp,
    store::{RenewalLease, SessionStore},
};
use twofa_onlineordering::OnlineOrderingFlow;
use twofa_redis::RedisStore;
use twofa_sandbox::{Sandbox, onlineordering};

fn redis_url() -> Option<String> {
    match std::env::var("TWOFA_TEST_REDIS") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("TWOFA_REQUIRE_REDIS").is_none(),
                "TWOFA_REQUIRE_REDIS is set but TWOFA_TEST_REDIS is not"
            );
            eprintln!("skipped: no Redis (set TWOFA_TEST_REDIS=redis://127.0.0.1:PORT, as bash .ci/run does)");
            None
        }
    }
}

/// A key prefix no other test run uses.
fn prefix(test: &str) -> String {
    format!("twofa-test:{}:{test}:{}", std::process::id(), Instant::now().elapsed().as_nanos())
}

fn session(token: &str, lifetime: Duration) -> Session {
    let now = twofa_core::time::OffsetDateTime::now_utc();
    Session::new("p", AccessToken::new(token), TokenPlacement::Bearer, now)
        .with_expires_at(Some(now + lifetime))
        .with_renewal_token(RenewalToken::new("refresh-value"))
}

#[tokio::test]
async fn round_trip_ttl_listing_and_delete() {
    let Some(url) = redis_url() else { return };
    let prefix = prefix("round-trip");
    let store = RedisStore::connect(&url).await.unwrap().with_prefix(&prefix);
    assert!(store.load("a").await.unwrap().is_none());
    store.save("a", &session("tok-a", Duration::from_secs(60))).await.unwrap();
    store.save("b", &session("tok-b", Duration::from_secs(60))).await.unwrap();
    let back = store.load("a").await.unwrap().unwrap();
    assert_eq!(back.access_token().expose_secret(), "tok-a");
    assert_eq!(back.renewal_token().unwrap().expose_secret(), "refresh-value");
    let mut raw = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = raw.pttl(format!("{prefix}:session:a")).await.unwrap();
    assert!((55_000..=60_000).contains(&ttl), "TTL follows the expiry: {ttl} ms");
    assert_eq!(store.profiles().await.unwrap(), ["a", "b"]);
    store.delete("a").await.unwrap();
    assert_eq!(store.profiles().await.unwrap(), ["b"]);
    assert!(matches!(store.load("../x").await, Err(Error::InvalidInput(_))));
}

#[tokio::test]
async fn sessions_can_be_encrypted_at_rest() {
    let Some(url) = redis_url() else { return };
    let prefix = prefix("sealed");
    let sealed = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_prefix(&prefix)
        .with_encryption_key_from_env("TWOFA_TEST_SESSION_KEY")
        .unwrap();
    sealed.save("p", &session("secret-token-value", Duration::from_secs(60))).await.unwrap();
    let mut raw = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let at_rest: String = raw.get(format!("{prefix}:session:p")).await.unwrap();
    assert!(
        at_rest.starts_with("chacha20poly1305:")
            && !at_rest.contains("secret-token-value")
            && !at_rest.contains("refresh-value")
    );
    assert_eq!(sealed.load("p").await.unwrap().unwrap().access_token().expose_secret(), "secret-token-value");
    let unkeyed = RedisStore::connect(&url).await.unwrap().with_prefix(&prefix);
    assert!(matches!(unkeyed.load("p").await, Err(Error::Store { .. })), "ciphertext is not a session");
    assert!(matches!(
        RedisStore::connect(&url).await.unwrap().with_encryption_key_from_env("TWOFA_TEST_NO_SUCH_VAR"),
        Err(Error::Config(_))
    ));
}

fn sealed_store_url() -> Option<String> {
    redis_url()
}

async fn sealed(url: &str, prefix: &str) -> RedisStore {
    RedisStore::connect(url)
        .await
        .unwrap()
        .with_prefix(prefix)
        .with_encryption_key_from_env("TWOFA_TEST_SESSION_KEY")
        .unwrap()
}

#[tokio::test]
async fn a_sealed_session_copied_under_another_key_does_not_open() {
    let Some(url) = sealed_store_url() else { return };
    let prefix = prefix("copied");
    let store = sealed(&url, &prefix).await;
    store.save("desk-a", &session("desk-a-token", Duration::from_secs(60))).await.unwrap();
    let mut raw = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let a: String = raw.get(format!("{prefix}:session:desk-a")).await.unwrap();
    raw.set::<_, _, ()>(format!("{prefix}:session:desk-b"), &a).await.unwrap();
    let err = sealed(&url, &prefix).await.load("desk-b").await.unwrap_err();
    assert!(
        matches!(&err, Error::Store { detail, .. } if detail.contains("cannot be decrypted with this key under this key name")),
        "desk A's session opened under desk B: {err:?}"
    );
    assert_eq!(store.load("desk-a").await.unwrap().unwrap().access_token().expose_secret(), "desk-a-token");
}

#[tokio::test]
async fn an_older_sealed_session_put_back_is_refused() {
    let Some(url) = sealed_store_url() else { return };
    let prefix = prefix("rollback");
    let store = sealed(&url, &prefix).await;
    let key = format!("{prefix}:session:p");
    let mut raw = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    store.save("p", &session("old-token", Duration::from_secs(60))).await.unwrap();
    let old: String = raw.get(&key).await.unwrap();
    // Another process of the fleet renews; this one reads the renewed session.
    sealed(&url, &prefix).await.save("p", &session("new-token", Duration::from_secs(60))).await.unwrap();
    assert_eq!(store.load("p").await.unwrap().unwrap().access_token().expose_secret(), "new-token");
    raw.set::<_, _, ()>(&key, &old).await.unwrap();
    let err = store.load("p").await.unwrap_err();
    assert!(
        matches!(&err, Error::Store { detail, .. } if detail.contains("older than one this process has already seen")),
        "a rolled-back session was taken: {err:?}"
    );
    // A clone shares what was seen.
    assert!(store.clone().load("p").await.is_err());
}

#[tokio::test]
async fn a_value_sealed_without_associated_data_is_not_opened() {
    use base64::Engine as _;
    use chacha20poly1305::{AeadCore as _, ChaCha20Poly1305, KeyInit as _, aead::Aead as _};
    let Some(url) = sealed_store_url() else { return };
    let prefix = prefix("v1");
    let key =
        base64::engine::general_purpose::STANDARD.decode(std::env::var("TWOFA_TEST_SESSION_KEY").unwrap()).unwrap();
    let cipher = ChaCha20Poly1305::new_from_slice(&key).unwrap();
    let json = serde_json::to_vec(&session("v1-token", Duration::from_secs(60)).expose_secrets()).unwrap();
    let nonce = ChaCha20Poly1305::generate_nonce(&mut chacha20poly1305::aead::OsRng);
    let sealed_v1 = cipher.encrypt(&nonce, json.as_slice()).unwrap();
    let value = format!(
        "chacha20poly1305:{}",
        base64::engine::general_purpose::STANDARD.encode([nonce.as_slice(), &sealed_v1].concat())
    );
    let mut raw = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    raw.set::<_, _, ()>(format!("{prefix}:session:p"), &value).await.unwrap();
    assert!(
        matches!(sealed(&url, &prefix).await.load("p").await, Err(Error::Store { .. })),
        "a version 1 value was opened"
    );
}

#[tokio::test]
async fn the_renewal_lock_has_one_holder_and_only_the_holder_releases_it() {
    let Some(url) = redis_url() else { return };
    let prefix = prefix("lock");
    let (a, b) = (
        RedisStore::connect(&url).await.unwrap().with_prefix(&prefix),
        RedisStore::connect(&url).await.unwrap().with_prefix(&prefix),
    );
    let lease = a.try_lock_renewal("p", Duration::from_secs(30)).await.unwrap().expect("free");
    assert!(b.try_lock_renewal("p", Duration::from_secs(30)).await.unwrap().is_none(), "contended");
    b.unlock_renewal("p", RenewalLease::new("not-the-token")).await.unwrap();
    assert!(b.try_lock_renewal("p", Duration::from_secs(30)).await.unwrap().is_none(), "a stranger cannot release it");
    a.unlock_renewal("p", lease).await.unwrap();
    assert!(b.try_lock_renewal("p", Duration::from_secs(30)).await.unwrap().is_some(), "released by its holder");
}

#[tokio::test]
async fn a_lock_holder_that_dies_frees_the_lock_by_expiry() {
    let Some(url) = redis_url() else { return };
    let prefix = prefix("crash");
    let store = RedisStore::connect(&url).await.unwrap().with_prefix(&prefix);
    let _crashed = store.try_lock_renewal("p", Duration::from_millis(200)).await.unwrap().unwrap(); // never released
    assert!(store.try_lock_renewal("p", Duration::from_secs(30)).await.unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(store.try_lock_renewal("p", Duration::from_secs(30)).await.unwrap().is_some());
}

#[tokio::test]
async fn redis_down_is_a_clear_error_or_a_local_renewal_when_configured() {
    if redis_url().is_none() || Command::new("redis-server").arg("--version").output().is_err() {
        return;
    }
    assert!(matches!(RedisStore::connect("redis://127.0.0.1:1/").await, Err(Error::Store { .. })));
    // A server of our own, stopped under the store's feet.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("redis://127.0.0.1:{port}/");
    let mut store = None;
    for _ in 0..100 {
        if let Ok(s) = RedisStore::connect(&url).await {
            store = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let store = store.expect("the private redis-server started");
    let fallback = store.clone().fall_back_to_local_renewal(true);
    server.kill().unwrap();
    server.wait().unwrap();
    let err = store.try_lock_renewal("p", Duration::from_secs(1)).await.unwrap_err();
    assert!(matches!(&err, Error::Store { detail, .. } if detail.starts_with("Redis")), "{err:?}");
    let lease = fallback.try_lock_renewal("p", Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!(lease.token(), "", "a local lease");
}

/// Run by `eight_processes_share_one_login_and_one_renewal` in child processes.
#[tokio::test]
#[ignore = "a helper: run as a child process"]
async fn fleet_worker() {
    let (Ok(base), Ok(url), Ok(prefix)) =
        (std::env::var("TWOFA_FLEET_SANDBOX"), std::env::var("TWOFA_TEST_REDIS"), std::env::var("TWOFA_FLEET_PREFIX"))
    else {
        return;
    };
    let clock = ManualClock::new(twofa_core::time::OffsetDateTime::now_utc());
    let flow = OnlineOrderingFlow::builder()
        .base_url(base)
        .company_code(onlineordering::COMPANY_CODE)
        .integrator(onlineordering::API_USER, onlineordering::API_PASSWORD)
        .email(onlineordering::CUSTOMER_TOTP)
        .password(onlineordering::PASSWORD)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let store = RedisStore::connect(&url).await.unwrap().with_prefix(prefix);
    let auth = Authenticator::builder(Arc::new(flow))
        .code_source(Arc::new(Totp::from_base32(&TotpSeed::new(onlineordering::TOTP_SEED)).unwrap()))
        .store(Arc::new(store))
        .profile("fleet")
        .clock(Arc::new(clock.clone()))
        .build();
    for call in 0..200 {
        if call == 100 {
            // The forced expiry: every worker's clock jumps past the token's lifetime.
            clock.advance(Duration::from_secs(onlineordering::TOKEN_LIFETIME_SECS));
        }
        auth.token().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_share_one_login_and_one_renewal() {
    let Some(url) = redis_url() else { return };
    let sandbox = Sandbox::start().await.unwrap();
    let prefix = prefix("fleet");
    let workers: Vec<_> = (0..8)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--ignored", "--exact", "fleet_worker", "--test-threads", "1"])
                .env("TWOFA_FLEET_SANDBOX", sandbox.base_url())
                .env("TWOFA_TEST_REDIS", &url)
                .env("TWOFA_FLEET_PREFIX", &prefix)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let statuses =
        tokio::task::spawn_blocking(move || workers.into_iter().map(|mut w| w.wait().unwrap()).collect::<Vec<_>>())
            .await
            .unwrap();
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");
    let stats = sandbox.stats();
    assert_eq!(stats.requests("onlineordering.login"), 1, "one login for 8 × 200 calls");
    assert_eq!(stats.requests("onlineordering.verify"), 1, "one code");
    assert_eq!(stats.requests("onlineordering.refresh"), 1, "one renewal across the forced expiry");
}
