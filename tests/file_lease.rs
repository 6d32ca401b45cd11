//! `FileStore`'s renewal lease across OS processes on one host: N processes sharing one session
//! directory log in once (one code for one person), and a holder killed with SIGKILL hands the lease
//! over at once — the kernel drops the dead process's lock.
#![cfg(all(unix, feature = "onlineordering"))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use twofa::{
    Authenticator, CodeSource, Error, ManualClock, Session, TotpSeed,
    code_source::{self, Totp},
    onlineordering::OnlineOrderingFlow,
    store::{FileStore, RenewalLease, SessionStore},
};
use twofa_sandbox::{Sandbox, onlineordering as demo};

const SANDBOX: &str = "TWOFA_LEASE_SANDBOX";
const DIR: &str = "TWOFA_LEASE_DIR";
const MARKS: &str = "TWOFA_LEASE_MARKS";

/// Held while a child process is being started, and by a test that checks the lock is free: a
/// child spawned by a test running alongside gets a copy of every open file, locked lease files
/// included, until its `exec` closes them (they are close-on-exec) — for that instant the lock is
/// still held, by the copy.
static SPAWNING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Re-runs this test binary as a child process running only the ignored helper `name`.
fn child(name: &str, envs: &[(&str, &Path)], sandbox: Option<&Sandbox>) -> Child {
    let _spawning = SPAWNING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--ignored", "--exact", name, "--test-threads", "1"]).stdout(Stdio::null());
    for (key, value) in envs {
        cmd.env(key, value);
    }
    if let Some(sandbox) = sandbox {
        cmd.env(SANDBOX, sandbox.base_url());
    }
    cmd.spawn().unwrap()
}

/// Waits until the file `mark` exists (a child reached a point), failing after 60 s.
async fn wait_for(mark: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !mark.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", mark.display());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn env_path(key: &str) -> Option<PathBuf> {
    std::env::var_os(key).map(PathBuf::from)
}

fn authenticator(
    base: String,
    store: Arc<dyn SessionStore>,
    codes: Arc<dyn CodeSource>,
    clock: &ManualClock,
) -> Authenticator {
    let flow = OnlineOrderingFlow::builder()
        .base_url(base)
        .company_code(demo::COMPANY_CODE)
        .integrator(demo::API_USER, demo::API_PASSWORD)
        .email(demo::CUSTOMER_TOTP)
        .password(demo::PASSWORD)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    Authenticator::builder(Arc::new(flow))
        .code_source(codes)
        .store(store)
        .profile("desk")
        .clock(Arc::new(clock.clone()))
        .build()
}

fn totp() -> Arc<dyn CodeSource> {
    Arc::new(Totp::from_base32(&TotpSeed::new(demo::TOTP_SEED)).unwrap())
}

/// Run by `eight_processes_on_one_host_log_in_once` in child processes.
#[tokio::test]
#[ignore = "a helper: run as a child process"]
async fn lease_worker() {
    let (Ok(base), Some(dir)) = (std::env::var(SANDBOX), env_path(DIR)) else { return };
    let clock = ManualClock::new(twofa::time::OffsetDateTime::now_utc());
    let auth = authenticator(base, Arc::new(FileStore::new(dir)), totp(), &clock);
    for call in 0..200 {
        if call == 100 {
            // The forced expiry: every worker's clock jumps past the token's lifetime.
            clock.advance(Duration::from_secs(demo::TOKEN_LIFETIME_SECS));
        }
        auth.token().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_on_one_host_log_in_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let workers: Vec<_> = (0..8).map(|_| child("lease_worker", &[(DIR, dir.path())], Some(&sandbox))).collect();
    let statuses =
        tokio::task::spawn_blocking(move || workers.into_iter().map(|mut w| w.wait().unwrap()).collect::<Vec<_>>())
            .await
            .unwrap();
    let stats = sandbox.stats();
    assert_eq!(stats.requests("onlineordering.login"), 1, "one login for 8 processes × 200 calls");
    assert_eq!(stats.requests("onlineordering.verify"), 1, "one code for one person");
    assert_eq!(stats.requests("onlineordering.refresh"), 1, "one renewal across the forced expiry");
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");
}

/// Run by `a_lease_holder_killed_with_sigkill_frees_the_lease`: takes the lease, says so, sleeps.
#[tokio::test]
#[ignore = "a helper: run as a child process"]
async fn lease_holder() {
    let (Some(dir), Some(marks)) = (env_path(DIR), env_path(MARKS)) else { return };
    let lease = FileStore::new(dir).try_lock_renewal("desk", Duration::from_secs(300)).await.unwrap();
    assert!(lease.is_some());
    std::fs::write(marks.join("held"), b"").unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
    drop(lease);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::await_holding_lock, reason = "each test has its own runtime; `child` never awaits")]
async fn a_lease_holder_killed_with_sigkill_frees_the_lease() {
    let (dir, marks) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut holder = child("lease_holder", &[(DIR, dir.path()), (MARKS, marks.path())], None);
    wait_for(&marks.path().join("held")).await;
    let store = FileStore::new(dir.path());
    let ttl = Duration::from_secs(300);
    assert!(store.try_lock_renewal("desk", ttl).await.unwrap().is_none(), "another process holds it");
    holder.kill().unwrap(); // SIGKILL: no destructor runs
    holder.wait().unwrap();
    let _no_spawn = SPAWNING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let lease = store.try_lock_renewal("desk", ttl).await.unwrap();
    assert!(lease.is_some(), "the kernel released the dead holder's lock");
    assert!(store.try_lock_renewal("desk", ttl).await.unwrap().is_none(), "one holder at a time, in one process too");
    store.unlock_renewal("desk", lease.unwrap()).await.unwrap();
    assert!(store.try_lock_renewal("desk", ttl).await.unwrap().is_some(), "given back");
}

/// A `FileStore` that leaves a mark the first time the lease is refused (so a test knows this
/// process is waiting on another).
#[derive(Debug)]
struct MarkContention {
    inner: FileStore,
    mark: PathBuf,
}

#[async_trait]
impl SessionStore for MarkContention {
    async fn load(&self, profile: &str) -> Result<Option<Session>, Error> {
        self.inner.load(profile).await
    }
    async fn save(&self, profile: &str, session: &Session) -> Result<(), Error> {
        self.inner.save(profile, session).await
    }
    async fn delete(&self, profile: &str) -> Result<(), Error> {
        self.inner.delete(profile).await
    }
    async fn profiles(&self) -> Result<Vec<String>, Error> {
        self.inner.profiles().await
    }
    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }
    async fn try_lock_renewal(&self, profile: &str, ttl: Duration) -> Result<Option<RenewalLease>, Error> {
        let lease = self.inner.try_lock_renewal(profile, ttl).await?;
        if lease.is_none() {
            std::fs::write(&self.mark, b"").unwrap();
        }
        Ok(lease)
    }
    async fn unlock_renewal(&self, profile: &str, lease: RenewalLease) -> Result<(), Error> {
        self.inner.unlock_renewal(profile, lease).await
    }
}

/// Run by `a_process_killed_mid_login_hands_the_login_over`: logs in, and when asked for the code
/// leaves a mark and waits forever (a person who walked away, then a `kill -9`).
#[tokio::test]
#[ignore = "a helper: run as a child process"]
async fn stuck_at_the_code() {
    let (Ok(base), Some(dir), Some(marks)) = (std::env::var(SANDBOX), env_path(DIR), env_path(MARKS)) else {
        return;
    };
    let codes = Arc::new(code_source::from_fn(move |_| {
        let mark = marks.join("asked");
        async move {
            std::fs::write(mark, b"").unwrap();
            std::future::pending::<()>().await;
            Ok(String::new())
        }
    }));
    let clock = ManualClock::new(twofa::time::OffsetDateTime::now_utc());
    let _ = authenticator(base, Arc::new(FileStore::new(dir)), codes, &clock).token().await;
}

/// Run by `a_process_killed_mid_login_hands_the_login_over`: logs in after waiting for the lease.
#[tokio::test]
#[ignore = "a helper: run as a child process"]
async fn waits_for_the_lease() {
    let (Ok(base), Some(dir), Some(marks)) = (std::env::var(SANDBOX), env_path(DIR), env_path(MARKS)) else {
        return;
    };
    let store = MarkContention { inner: FileStore::new(dir), mark: marks.join("contended") };
    let clock = ManualClock::new(twofa::time::OffsetDateTime::now_utc());
    authenticator(base, Arc::new(store), totp(), &clock).token().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_login_hands_the_login_over() {
    let sandbox = Sandbox::start().await.unwrap();
    let (dir, marks) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let envs = [(DIR, dir.path()), (MARKS, marks.path())];
    let mut stuck = child("stuck_at_the_code", &envs, Some(&sandbox));
    wait_for(&marks.path().join("asked")).await;
    let mut waiting = child("waits_for_the_lease", &envs, Some(&sandbox));
    wait_for(&marks.path().join("contended")).await;
    assert_eq!(sandbox.stats().requests("onlineordering.login"), 1, "the second process waits, it does not log in");
    stuck.kill().unwrap();
    stuck.wait().unwrap();
    let status = tokio::task::spawn_blocking(move || waiting.wait().unwrap()).await.unwrap();
    assert!(status.success(), "{status:?}");
    let stats = sandbox.stats();
    assert_eq!(stats.requests("onlineordering.login"), 2, "the waiting process took over");
    assert_eq!(stats.requests("onlineordering.verify"), 1);
}
