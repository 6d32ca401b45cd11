//! ETNA Trader against the sandbox: the shared conformance suite plus ETNA's own guarantees.
#![cfg(feature = "etna")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod conformance;

use conformance::{Account, Harness};
use twofa::{LoginOptions, Session, TwoFactorFlow, code_source, etna::EtnaFlow, login};
use twofa_sandbox::{Sandbox, etna as demo};

struct Etna {
    sandbox: Sandbox,
}

async fn etna() -> Etna {
    Etna { sandbox: Sandbox::start().await.unwrap() }
}

impl Etna {
    fn builder(&self, username: &str) -> twofa::etna::EtnaBuilder {
        EtnaFlow::builder()
            .base_url(self.sandbox.etna_base_url())
            .app_key(demo::APP_KEY)
            .username(username)
            .password(demo::PASSWORD)
    }
}

impl Harness for Etna {
    fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    fn flow(&self, account: Account) -> Option<Box<dyn TwoFactorFlow>> {
        let builder = match account {
            Account::TwoFactor => self.builder(demo::USER_2FA),
            Account::NoTwoFactor => self.builder(demo::USER_NO_2FA),
            Account::WrongPassword => self.builder(demo::USER_2FA).password("not-the-password"),
            Account::WrongAppKey => self.builder(demo::USER_2FA).app_key("not-the-app-key"),
        };
        Some(Box::new(builder.build().unwrap()))
    }

    fn code(&self) -> String {
        self.sandbox.outbox().latest_code(demo::USER_2FA).expect("a mailed code")
    }

    fn enable_rate_limit(&self) -> Option<u32> {
        // The newer AutoShares docs state 10 `/token` calls a minute.
        self.sandbox.set_etna_rate_limit(Some(10));
        Some(10)
    }

    async fn call_api(&self, session: &Session) -> u16 {
        let request = reqwest::Client::new().get(format!("{}/v1.0/users/me", self.sandbox.etna_base_url()));
        session.authorize(request).unwrap().send().await.unwrap().status().as_u16()
    }

    fn secrets(&self) -> Vec<String> {
        vec![demo::PASSWORD.into(), demo::APP_KEY.into()]
    }
}

conformance_suite!(etna());

#[tokio::test]
async fn a_whole_2fa_login_uses_one_tcp_connection() {
    let h = etna().await;
    let flow = h.flow(Account::TwoFactor).unwrap();
    let outbox = h.sandbox.outbox();
    let codes = code_source::from_fn(move |_| {
        let code = outbox.latest_code(demo::USER_2FA);
        async move { code.ok_or_else(|| twofa::Error::CodeSource("no code".into())) }
    });
    login(flow.as_ref(), &codes, &LoginOptions::default()).await.unwrap();
    assert_eq!(h.sandbox.stats().requests("etna.token"), 2);
    assert_eq!(h.sandbox.stats().connections(), 1, "keep-alive: start and verify share one connection");
}

#[tokio::test]
async fn password_expired_and_pin_users_get_their_own_errors() {
    let h = etna().await;
    let expired = h.builder(demo::USER_PASSWORD_EXPIRED).build().unwrap();
    assert!(matches!(expired.start().await, Err(twofa::Error::PasswordExpired)));
    let pin = h.builder(demo::USER_PIN).build().unwrap();
    assert!(matches!(pin.start().await, Err(twofa::Error::PinRequired { .. })));
}

#[tokio::test]
async fn a_ticket_dies_after_too_many_wrong_codes() {
    let h = etna().await;
    let flow = h.flow(Account::TwoFactor).unwrap();
    let twofa::Step::Challenge(c) = flow.start().await.unwrap() else { panic!() };
    let right = h.code();
    let wrong = if right == "000000" { "111111" } else { "000000" };
    for _ in 0..3 {
        let err = flow.verify(&c, &twofa::OneTimeCode::new(wrong).unwrap()).await.unwrap_err();
        assert!(matches!(err, twofa::Error::InvalidCode));
    }
    let err = flow.verify(&c, &twofa::OneTimeCode::new(right).unwrap()).await.unwrap_err();
    assert!(matches!(err, twofa::Error::ChallengeExpired), "{err:?}");
}

#[tokio::test]
async fn the_token_expires_at_the_sandbox_after_its_lifetime() {
    let h = etna().await;
    let flow = h.flow(Account::NoTwoFactor).unwrap();
    let twofa::Step::Authenticated(session) = flow.start().await.unwrap() else { panic!() };
    h.sandbox.clock().advance(std::time::Duration::from_secs(24 * 3600 + 1));
    assert_eq!(h.call_api(&session).await, 401);
}
