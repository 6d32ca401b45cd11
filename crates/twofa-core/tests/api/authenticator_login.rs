//! What a command-line tool needs of the authenticator: a profile name checked at build time, a
//! forced login, a login split over two processes, and stored idle sessions resumed before use.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use time::OffsetDateTime;
use twofa_core::{
    AccessToken, Authenticator, Challenge, Clock, Error, ManualClock, Method, OneTimeCode, RenewalToken, Secret,
    Session, Step, TokenPlacement, TwoFactorFlow, code_source,
    store::{FileStore, MemoryStore, SessionStore},
};

/// A flow with an SMS challenge and an idle timeout; it resumes when `resumes`, else it has no
/// resume call (as the OMS over HTTP).
#[derive(Debug)]
struct Idle {
    clock: ManualClock,
    resumes: bool,
    starts: AtomicU32,
    verified: AtomicU32,
    resumed: AtomicU32,
}

impl Idle {
    fn new(resumes: bool) -> Self {
        Self {
            clock: ManualClock::new(OffsetDateTime::now_utc()),
            resumes,
            starts: AtomicU32::new(0),
            verified: AtomicU32::new(0),
            resumed: AtomicU32::new(0),
        }
    }

    fn session(&self, token: &str) -> Session {
        Session::new("idle", AccessToken::new(token), TokenPlacement::Bearer, self.clock.now())
            .with_expires_at(Some(self.clock.now() + Duration::from_secs(24 * 3600)))
            .with_idle_timeout(Duration::from_secs(900))
            .with_renewal_token(RenewalToken::new("renew"))
    }

    fn count(counter: &AtomicU32) -> u32 {
        counter.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TwoFactorFlow for Idle {
    fn provider(&self) -> &'static str {
        "idle"
    }

    async fn start(&self) -> Result<Step, Error> {
        self.starts.fetch_add(1, Ordering::SeqCst);
        Ok(Step::Challenge(Challenge::portable("idle", Method::Sms, self.clock.now(), Secret::new("ticket"))))
    }

    async fn verify(&self, challenge: &Challenge, code: &OneTimeCode) -> Result<Step, Error> {
        assert_eq!(challenge.portable_state("idle")?.expose_secret(), "ticket");
        if code.expose_secret() != "123456" {
            return Err(Error::InvalidCode);
        }
        let n = self.verified.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Step::Authenticated(self.session(&format!("login-{n}"))))
    }

    async fn resume(&self, _: &Session) -> Result<Session, Error> {
        if !self.resumes {
            return Err(Error::Unsupported { operation: "resume" });
        }
        let n = self.resumed.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(self.session(&format!("resumed-{n}")))
    }
}

/// An authenticator over `flow` and `store`, on the flow's clock, that answers every code right.
fn auth(flow: &Arc<Idle>, store: &Arc<dyn SessionStore>) -> twofa_core::AuthenticatorBuilder {
    Authenticator::builder(Arc::clone(flow) as Arc<dyn TwoFactorFlow>)
        .store(Arc::clone(store))
        .clock(Arc::new(flow.clock.clone()))
        .code_source(Arc::new(code_source::from_fn(|_| std::future::ready(Ok("123456".to_owned())))))
}

fn memory() -> Arc<dyn SessionStore> {
    Arc::new(MemoryStore::new())
}

#[tokio::test]
async fn a_path_like_profile_is_refused_at_build_time() {
    let flow = Arc::new(Idle::new(true));
    for name in ["../escape", ".hidden", "a/b", ""] {
        let refused = auth(&flow, &memory()).profile(name).try_build();
        assert!(matches!(refused, Err(Error::InvalidInput(_))), "{name}: {refused:?}");
    }
    assert_eq!(auth(&flow, &memory()).profile("work.etna-2").try_build().unwrap().profile(), "work.etna-2");
    // `build()` stays infallible: every call then fails the same way, before the store or the provider.
    let dir = tempfile::tempdir().unwrap();
    let files: Arc<dyn SessionStore> = Arc::new(FileStore::new(dir.path().join("sessions")));
    let poisoned = auth(&flow, &files).profile("../escape").build();
    assert!(matches!(poisoned.token().await, Err(Error::InvalidInput(_))));
    assert!(matches!(poisoned.login().await, Err(Error::InvalidInput(_))));
    assert!(matches!(poisoned.logout().await, Err(Error::InvalidInput(_))));
    assert_eq!(Idle::count(&flow.starts), 0);
    assert!(!dir.path().join("sessions").exists(), "nothing was written");
}

#[tokio::test]
async fn login_logs_in_afresh_even_with_a_fresh_session() {
    let (flow, store) = (Arc::new(Idle::new(true)), memory());
    let auth = auth(&flow, &store).build();
    let first = auth.session().await.unwrap();
    let forced = auth.login().await.unwrap();
    assert_eq!((first.access_token().expose_secret(), forced.access_token().expose_secret()), ("login-1", "login-2"));
    assert_eq!((Idle::count(&flow.starts), Idle::count(&flow.resumed)), (2, 0), "no resume");
    assert_eq!(store.load("idle").await.unwrap().unwrap().access_token().expose_secret(), "login-2", "saved");
    assert_eq!(auth.token().await.unwrap().expose_secret(), "login-2", "and served");
}

#[tokio::test]
async fn a_login_started_in_one_process_is_finished_in_another() {
    let (flow, store) = (Arc::new(Idle::new(true)), memory());
    let Step::Challenge(challenge) = auth(&flow, &store).build().start_login().await.unwrap() else {
        panic!("the flow challenges")
    };
    // What the first process saves and the second reads back.
    let saved = serde_json::to_string(&challenge.expose_secrets()).unwrap();
    let restored: Challenge = serde_json::from_str(&saved).unwrap();
    let second = auth(&flow, &store).build();
    let session = second.finish_login(restored).await.unwrap();
    assert_eq!(session.access_token().expose_secret(), "login-1");
    assert_eq!(store.load("idle").await.unwrap().unwrap().access_token().expose_secret(), "login-1");
    assert_eq!(Idle::count(&flow.starts), 1, "one start, one code");
}

#[tokio::test]
async fn a_wrong_code_for_a_saved_challenge_is_refused() {
    let (flow, store) = (Arc::new(Idle::new(true)), memory());
    let challenge = Challenge::portable("idle", Method::Sms, flow.clock.now(), Secret::new("ticket"));
    let wrong = auth(&flow, &store)
        .code_source(Arc::new(code_source::from_fn(|_| std::future::ready(Ok("000000".to_owned())))))
        .login_options(twofa_core::LoginOptions::default().max_code_attempts(1))
        .build();
    assert!(matches!(wrong.finish_login(challenge).await, Err(Error::InvalidCode)));
    assert!(store.load("idle").await.unwrap().is_none());
}

#[tokio::test]
async fn a_stored_idle_session_is_resumed_before_use_when_asked() {
    let (flow, store) = (Arc::new(Idle::new(true)), memory());
    auth(&flow, &store).build().session().await.unwrap();
    // Trusted as stored by default, inside the idle window counted from its issue.
    assert_eq!(auth(&flow, &store).build().token().await.unwrap().expose_secret(), "login-1");
    assert_eq!(Idle::count(&flow.resumed), 0);
    // Resumed first when asked, and the renewed session saved.
    let resuming = auth(&flow, &store).resume_stored_idle_sessions(true).build();
    assert_eq!(resuming.token().await.unwrap().expose_secret(), "resumed-1");
    assert_eq!(store.load("idle").await.unwrap().unwrap().access_token().expose_secret(), "resumed-1");
    assert_eq!((Idle::count(&flow.starts), Idle::count(&flow.resumed)), (1, 1));
}

#[tokio::test]
async fn without_a_resume_call_a_stored_idle_session_is_kept_inside_its_window_only() {
    let (flow, store) = (Arc::new(Idle::new(false)), memory());
    auth(&flow, &store).build().session().await.unwrap();
    flow.clock.advance(Duration::from_secs(600));
    let inside = auth(&flow, &store).resume_stored_idle_sessions(true).build();
    assert_eq!(inside.token().await.unwrap().expose_secret(), "login-1");
    assert_eq!(Idle::count(&flow.starts), 1, "kept, no login");
    flow.clock.advance(Duration::from_secs(300));
    let past = auth(&flow, &store).resume_stored_idle_sessions(true).build();
    assert_eq!(past.token().await.unwrap().expose_secret(), "login-2", "past the window: a login");
    assert_eq!(Idle::count(&flow.starts), 2);
}

#[tokio::test]
async fn an_unreadable_stored_session_is_replaced_by_a_login() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idle.json");
    std::fs::write(&path, b"{ not a session").unwrap();
    let store: Arc<dyn SessionStore> = Arc::new(FileStore::new(dir.path()));
    assert!(matches!(store.load("idle").await, Err(Error::Store { .. })), "unreadable");
    let flow = Arc::new(Idle::new(true));
    let auth = auth(&flow, &store).resume_stored_idle_sessions(true).build();
    assert_eq!(auth.token().await.unwrap().expose_secret(), "login-1");
    assert_eq!(store.load("idle").await.unwrap().unwrap().access_token().expose_secret(), "login-1", "replaced");
}
