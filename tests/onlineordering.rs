//! NCR Aloha Online Ordering against the sandbox: the shared conformance suite plus its own guarantees.
#![cfg(feature = "onlineordering")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod conformance;

use conformance::{Account, Harness};
use twofa::{
    Error, Method, OneTimeCode, Session, Step, TotpSeed, TwoFactorFlow,
    code_source::Totp,
    http::HttpOptions,
    onlineordering::{OnlineOrderingBuilder, OnlineOrderingFlow, ResponseFormat, remembered_device_id},
};
use twofa_sandbox::{Sandbox, onlineordering as demo};

struct Online {
    sandbox: Sandbox,
}

async fn online() -> Online {
    Online { sandbox: Sandbox::start().await.unwrap() }
}

impl Online {
    fn builder(&self, email: &str) -> OnlineOrderingBuilder {
        OnlineOrderingFlow::builder()
            .base_url(self.sandbox.onlineordering_base_url())
            .company_code(demo::COMPANY_CODE)
            .integrator(demo::API_USER, demo::API_PASSWORD)
            .email(email)
            .password(demo::PASSWORD)
    }

    async fn challenge(&self, flow: &OnlineOrderingFlow) -> twofa::Challenge {
        match flow.start().await.unwrap() {
            Step::Challenge(c) => c,
            Step::Authenticated(_) => panic!("no challenge"),
        }
    }
}

impl Harness for Online {
    fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    fn flow(&self, account: Account) -> Option<Box<dyn TwoFactorFlow>> {
        let builder = match account {
            Account::TwoFactor => self.builder(demo::CUSTOMER_EMAIL_2FA),
            Account::NoTwoFactor => self.builder(demo::CUSTOMER_NO_2FA),
            Account::WrongPassword => self.builder(demo::CUSTOMER_EMAIL_2FA).password("not-the-password"),
            Account::WrongAppKey => self.builder(demo::CUSTOMER_EMAIL_2FA).company_code("NOSUCHCO"),
            // v1/Authenticate/2FA is the only second step the Online Ordering documents describe.
            Account::TwoStep => return None,
        };
        Some(Box::new(builder.build().unwrap()))
    }

    fn code(&self) -> String {
        self.sandbox.outbox().latest_code(demo::CUSTOMER_EMAIL_2FA).expect("a mailed code")
    }

    fn enable_rate_limit(&self) -> Option<u32> {
        None // NCR documents no rate limit
    }

    async fn call_api(&self, session: &Session) -> u16 {
        let request = reqwest::Client::new().get(format!("{}/v1/Customers/me", self.sandbox.base_url()));
        session.authorize(request).unwrap().send().await.unwrap().status().as_u16()
    }

    fn has_logout(&self) -> bool {
        false
    }

    fn secrets(&self) -> Vec<String> {
        vec![demo::PASSWORD.into(), demo::API_PASSWORD.into()]
    }
}

conformance_suite!(online());

#[tokio::test]
async fn authenticator_customer_logs_in_with_the_seed_from_the_setup_data() {
    let h = online().await;
    let flow = h.builder(demo::CUSTOMER_TOTP).build().unwrap();
    let c = h.challenge(&flow).await;
    let Method::Authenticator { setup: Some(setup) } = c.method() else { panic!("{c:?}") };
    let totp = Totp::from_otpauth_uri(setup.otpauth_uri.as_ref().unwrap()).unwrap();
    let session = flow.verify(&c, &totp.current().0).await.unwrap().session().unwrap();
    assert_eq!(h.call_api(&session).await, 200);
    let from_seed = Totp::from_base32(&TotpSeed::new(demo::TOTP_SEED)).unwrap();
    assert_eq!(from_seed.code_at(1_800_000_000).expose_secret(), totp.code_at(1_800_000_000).expose_secret());
}

#[tokio::test]
async fn a_remembered_device_logs_in_without_a_code() {
    let h = online().await;
    let flow = h.builder(demo::CUSTOMER_EMAIL_2FA).remember_device("build box").build().unwrap();
    let c = h.challenge(&flow).await;
    let session = flow.verify(&c, &OneTimeCode::new(h.code()).unwrap()).await.unwrap().session().unwrap();
    let device = remembered_device_id(&session).expect("the server remembered the device");
    let mails = h.sandbox.outbox().deliveries().len();
    let again = h.builder(demo::CUSTOMER_EMAIL_2FA).device_id(device).build().unwrap();
    let Step::Authenticated(session) = again.start().await.unwrap() else { panic!("challenged despite the device") };
    assert_eq!(h.call_api(&session).await, 200);
    assert_eq!(h.sandbox.outbox().deliveries().len(), mails, "no new code was sent");
}

#[tokio::test]
async fn refresh_rotates_and_the_old_refresh_token_dies() {
    let h = online().await;
    let flow = h.flow(Account::NoTwoFactor).unwrap();
    let Step::Authenticated(first) = flow.start().await.unwrap() else { panic!() };
    let second = flow.resume(&first).await.unwrap();
    assert_ne!(second.renewal_token().unwrap().expose_secret(), first.renewal_token().unwrap().expose_secret());
    assert_eq!(h.call_api(&second).await, 200);
    assert!(matches!(flow.resume(&first).await, Err(Error::SessionExpired)), "a used refresh token is dead");
    flow.resume(&second).await.unwrap();
}

#[tokio::test]
async fn locked_accounts_at_login_and_at_refresh() {
    let h = online().await;
    let locked = h.builder(demo::CUSTOMER_LOCKED).build().unwrap();
    assert!(matches!(locked.start().await, Err(Error::AccountLocked)));
    let flow = h.flow(Account::NoTwoFactor).unwrap();
    let Step::Authenticated(session) = flow.start().await.unwrap() else { panic!() };
    h.sandbox.set_customer_locked(demo::CUSTOMER_NO_2FA, true);
    assert!(matches!(flow.resume(&session).await, Err(Error::AccountLocked)));
}

#[tokio::test]
async fn xml_answers_give_the_same_login() {
    let h = online().await;
    let flow = h.builder(demo::CUSTOMER_EMAIL_2FA).format(ResponseFormat::Xml).build().unwrap();
    let c = h.challenge(&flow).await;
    assert!(matches!(c.method(), Method::Email));
    let session = flow.verify(&c, &OneTimeCode::new(h.code()).unwrap()).await.unwrap().session().unwrap();
    assert!(session.subject().contains_key("CustomerId"));
    assert_eq!(h.call_api(&session).await, 200);
}

#[tokio::test]
async fn following_the_303_loses_the_challenge_visibly() {
    let h = online().await;
    let following = reqwest::Client::new(); // follows redirects
    let flow = h.builder(demo::CUSTOMER_EMAIL_2FA).http(HttpOptions::default().client(following)).build().unwrap();
    assert!(matches!(flow.start().await, Err(Error::Config(_))));
}

#[tokio::test]
async fn code_expiry_and_the_400_cases() {
    let h = online().await;
    let flow = h.flow(Account::TwoFactor).unwrap();
    let twofa::Step::Challenge(c) = flow.start().await.unwrap() else { panic!() };
    let code = h.code();
    h.sandbox.clock().advance(std::time::Duration::from_secs(301));
    assert!(matches!(flow.verify(&c, &OneTimeCode::new(code).unwrap()).await, Err(Error::InvalidCode)));
    // The sandbox answers 400 to a nickname-less rememberMe, which the flow refuses before sending.
    let raw = reqwest::Client::new()
        .get(format!("{}/v1/Authenticate/2FA?email=x&code=1&rememberMe=true&nickname=", h.sandbox.base_url()))
        .basic_auth(demo::API_USER, Some(demo::API_PASSWORD))
        .header("X-Api-CompanyCode", demo::COMPANY_CODE)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
}
