//! The exchange OMS against the sandbox, over both gateways: the shared conformance suite, and the
//! WebSocket guarantees (sequence matching among events, resume on a new socket, idle expiry).
#![cfg(feature = "oms")]

use std::{sync::Arc, time::Duration};

use crate::conformance::{Account, Harness};
use twofa::{
    Authenticator, Error, LoginOptions, ManualClock, OneTimeCode, Session, Step, TotpSeed, TwoFactorFlow,
    code_source::Totp,
    login,
    oms::{OmsBuilder, OmsFlow},
};
use twofa_sandbox::{Sandbox, oms as demo};

struct Oms {
    sandbox: Sandbox,
    websocket: bool,
}

async fn websocket() -> Oms {
    Oms { sandbox: Sandbox::start().await.unwrap(), websocket: true }
}

async fn http() -> Oms {
    Oms { sandbox: Sandbox::start().await.unwrap(), websocket: false }
}

fn totp() -> Totp {
    Totp::from_base32(&TotpSeed::new(demo::TOTP_SEED)).unwrap()
}

impl Oms {
    fn builder(&self, username: &str) -> OmsBuilder {
        let endpoint = if self.websocket { self.sandbox.oms_ws_url() } else { self.sandbox.oms_http_url() };
        OmsFlow::builder().endpoint(endpoint).username(username).password(demo::PASSWORD)
    }
}

impl Harness for Oms {
    fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    fn flow(&self, account: Account) -> Option<Box<dyn TwoFactorFlow>> {
        let builder = match account {
            Account::TwoFactor => self.builder(demo::USER_TOTP),
            Account::NoTwoFactor => self.builder(demo::USER_NO_2FA),
            Account::WrongPassword => self.builder(demo::USER_TOTP).password("not-the-password"),
            Account::WrongAppKey => return None, // the OMS has no application key
            // Authenticate2FA is the only second step the APEX documents describe.
            Account::TwoStep => return None,
        };
        Some(Box::new(builder.build().unwrap()))
    }

    fn code(&self) -> String {
        totp().current().0.expose_secret().to_owned()
    }

    fn enable_rate_limit(&self) -> Option<u32> {
        None
    }

    /// `GetUserInfo` over HTTP with `aptoken`; APEX answers 200 with error code 20 when refused.
    async fn call_api(&self, session: &Session) -> u16 {
        let request = reqwest::Client::new().post(format!("{}/AP/GetUserInfo", self.sandbox.oms_http_url())).body("{}");
        let response = session.authorize(request).unwrap().send().await.unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        if body["errorcode"] == 20 { 401 } else { status }
    }

    fn secrets(&self) -> Vec<String> {
        vec![demo::PASSWORD.into(), demo::TOTP_SEED.into()]
    }
}

mod over_websocket {
    crate::conformance_suite!(super::websocket());
}

mod over_http {
    crate::conformance_suite!(super::http());
}

async fn ws_login(h: &Oms) -> Session {
    let flow = h.builder(demo::USER_TOTP).build().unwrap();
    login(&flow, &totp(), &LoginOptions::default()).await.unwrap()
}

#[tokio::test]
async fn two_hundred_interleaved_frames_before_the_reply_do_not_confuse_the_login() {
    let h = websocket().await;
    h.sandbox.set_oms_event_burst(200);
    let session = ws_login(&h).await;
    assert_eq!(h.call_api(&session).await, 200);
    assert_eq!(session.subject()["UserId"], "2");
}

#[tokio::test]
async fn resume_opens_a_new_socket_and_needs_no_code() {
    let h = websocket().await;
    let session = ws_login(&h).await;
    let connects = h.sandbox.stats().requests("oms.ws.connect");
    let flow = h.builder(demo::USER_TOTP).build().unwrap();
    let resumed = flow.resume(&session).await.unwrap();
    assert_eq!(h.sandbox.stats().requests("oms.ws.connect"), connects + 1);
    assert_eq!(resumed.access_token().expose_secret(), session.access_token().expose_secret());
    assert_eq!(h.call_api(&resumed).await, 200);
}

#[tokio::test]
async fn an_idle_session_expires_and_resume_says_so() {
    for h in [websocket().await, http().await] {
        let flow = h.builder(demo::USER_NO_2FA).build().unwrap();
        let Step::Authenticated(session) = flow.start().await.unwrap() else { panic!() };
        assert_eq!(session.idle_timeout(), Some(Duration::from_secs(3600)));
        h.sandbox.clock().advance(Duration::from_secs(3601));
        // HTTP has no documented re-authentication call: resume is unsupported there
        // (docs/protocols/oms.md#resume).
        let resumed = flow.resume(&session).await;
        if h.websocket {
            assert!(matches!(resumed, Err(Error::SessionExpired)), "{resumed:?}");
        } else {
            assert!(matches!(resumed, Err(Error::Unsupported { operation: "resume" })), "{resumed:?}");
        }
        assert_eq!(h.call_api(&session).await, 401);
    }
}

#[tokio::test]
async fn the_authenticator_resumes_before_the_idle_timeout() {
    let h = websocket().await;
    let clock = ManualClock::new(twofa::time::OffsetDateTime::now_utc());
    let flow = Arc::new(h.builder(demo::USER_TOTP).clock(Arc::new(clock.clone())).build().unwrap());
    let auth = Authenticator::builder(flow).code_source(Arc::new(totp())).clock(Arc::new(clock.clone())).build();
    let first = auth.session().await.unwrap();
    let step = Duration::from_secs(59 * 60 + 30);
    clock.advance(step);
    h.sandbox.clock().advance(step);
    let renewed = auth.session().await.unwrap();
    assert!(!Arc::ptr_eq(&first, &renewed), "renewed within the margin of the idle timeout");
    assert_eq!(h.sandbox.stats().requests("oms.ws.connect"), 2, "one login, one resume, no second code");
    assert_eq!(h.call_api(&renewed).await, 200);
}

#[tokio::test]
async fn locked_accounts_on_both_gateways() {
    for h in [websocket().await, http().await] {
        let flow = h.builder(demo::USER_LOCKED).build().unwrap();
        assert!(matches!(flow.start().await, Err(Error::AccountLocked)));
    }
}

#[tokio::test]
async fn error_frames_become_provider_errors() {
    let h = websocket().await;
    h.sandbox.set_oms_error_frames(true);
    let flow = h.builder(demo::USER_NO_2FA).build().unwrap();
    assert!(matches!(flow.start().await, Err(Error::Provider { code: 102, .. })));
}

#[tokio::test]
async fn a_websocket_challenge_is_live_and_an_http_one_is_portable() {
    let ws = websocket().await;
    let Step::Challenge(c) = ws.builder(demo::USER_TOTP).build().unwrap().start().await.unwrap() else { panic!() };
    assert!(!c.is_portable());
    assert!(serde_json::to_string(&c.expose_secrets()).is_err());

    let h = http().await;
    let flow = h.builder(demo::USER_TOTP).build().unwrap();
    let Step::Challenge(c) = flow.start().await.unwrap() else { panic!() };
    let saved = serde_json::to_string(&c.expose_secrets()).unwrap();
    let restored: twofa::Challenge = serde_json::from_str(&saved).unwrap();
    let session = flow.verify(&restored, &totp().current().0).await.unwrap().session().unwrap();
    assert_eq!(h.call_api(&session).await, 200);
}

#[tokio::test]
async fn too_many_wrong_codes_end_the_pending_login() {
    let h = websocket().await;
    let flow = h.builder(demo::USER_TOTP).build().unwrap();
    let Step::Challenge(c) = flow.start().await.unwrap() else { panic!() };
    let right = totp().current().0;
    let wrong = OneTimeCode::new(if right.expose_secret() == "000000" { "111111" } else { "000000" }).unwrap();
    for _ in 0..3 {
        assert!(matches!(flow.verify(&c, &wrong).await, Err(Error::InvalidCode)));
    }
    assert!(matches!(flow.verify(&c, &right).await, Err(Error::ChallengeExpired)));
}

#[test]
fn transport_follows_the_scheme_and_refuses_plain_text_off_loopback() {
    let b = || OmsFlow::builder().username("u").password("p");
    assert_eq!(
        b().endpoint("wss://oms.example/WSGateway").build().unwrap().transport(),
        twofa::oms::Transport::WebSocket
    );
    assert_eq!(b().endpoint("https://oms.example").build().unwrap().transport(), twofa::oms::Transport::Http);
    assert!(matches!(b().endpoint("ws://oms.example/WSGateway").build(), Err(Error::Config(_))));
    assert!(matches!(b().endpoint("http://oms.example").build(), Err(Error::Config(_))));
    let mismatch = b().endpoint("https://oms.example").transport(twofa::oms::Transport::WebSocket).build();
    assert!(matches!(mismatch, Err(Error::Config(_))));
    assert!(matches!(OmsFlow::builder().endpoint("wss://x/WSGateway").build(), Err(Error::Config(_))));
}

/// The sandbox's readings of what the documents leave open (`OmsVariant`): the client logs in,
/// resumes and logs out against each, over both gateways.
#[tokio::test]
async fn the_client_passes_against_every_sandbox_variant() {
    for variant in demo::OmsVariant::all() {
        for websocket in [true, false] {
            let h = Oms { sandbox: Sandbox::builder().oms_variant(variant).start().await.unwrap(), websocket };
            let flow = h.builder(demo::USER_TOTP).build().unwrap();
            let session = login(&flow, &totp(), &LoginOptions::default()).await.unwrap();
            assert_eq!(session.subject()["UserId"], "2", "{variant:?} websocket={websocket}");
            assert_eq!(h.call_api(&session).await, 200);
            // HTTP has no documented re-authentication call (docs/protocols/oms.md#resume): resume is
            // WebSocket-only.
            let resumed = match flow.resume(&session).await {
                Err(Error::Unsupported { operation: "resume" }) if !websocket => session.clone(),
                other => other.unwrap(),
            };
            flow.logout(&resumed).await.unwrap_or_else(|e| panic!("{variant:?} websocket={websocket}: {e:?}"));
            assert_eq!(h.call_api(&session).await, 401, "{variant:?} websocket={websocket}");
        }
    }
}

/// RFC 6238 §5.2: the sandbox refuses a replayed code, so one `Totp` source logs in back to back
/// only because it waits for the next time step (a 2 s step keeps the wait short).
#[tokio::test]
async fn back_to_back_totp_logins_against_a_strict_server() {
    let sandbox = Sandbox::builder().oms_totp_period(Duration::from_secs(2)).start().await.unwrap();
    let uri = format!("otpauth://totp/Sandbox:{}?secret={}&period=2", demo::USER_TOTP, demo::TOTP_SEED);
    let source = Totp::from_otpauth_uri(&twofa::Secret::new(uri)).unwrap();
    for websocket in [true, true, false, false] {
        let endpoint = if websocket { sandbox.oms_ws_url() } else { sandbox.oms_http_url() };
        let flow = OmsFlow::builder().endpoint(endpoint).username(demo::USER_TOTP).password(demo::PASSWORD);
        let flow = flow.build().unwrap();
        // One code per login: a refused replay would fail it rather than be retried.
        let options = LoginOptions::default().max_code_attempts(1);
        login(&flow, &source, &options).await.unwrap_or_else(|e| panic!("websocket={websocket}: {e:?}"));
    }
}

/// AlphaPoint's "Authenticate2FA" API page: the enrolment seed reaches the challenge at the first
/// login only.
#[tokio::test]
async fn the_enrolment_seed_reaches_the_challenge_until_the_user_enrols() {
    let h = websocket().await;
    let flow = h.builder(demo::USER_ENROLLING).build().unwrap();
    let Step::Challenge(c) = flow.start().await.unwrap() else { panic!() };
    let twofa::Method::Authenticator { setup: Some(setup) } = c.method() else { panic!("{:?}", c.method()) };
    let app = Totp::from_otpauth_uri(setup.otpauth_uri.as_ref().unwrap()).unwrap();
    flow.verify(&c, &app.current().0).await.unwrap();
    let Step::Challenge(again) = flow.start().await.unwrap() else { panic!() };
    assert!(matches!(again.method(), twofa::Method::Authenticator { setup: None }), "{:?}", again.method());
}
