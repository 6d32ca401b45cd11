//! NCR Aloha Online Ordering against the sandbox: the shared conformance suite plus its own guarantees.
#![cfg(feature = "onlineordering")]

use crate::conformance::{Account, Harness};
use twofa::{
    Error, Method, OneTimeCode, Session, Step, TotpSeed, TwoFactorFlow,
    code_source::Totp,
    http::HttpOptions,
    onlineordering::{
        CustomerTokenPlacement, OnlineOrderingBuilder, OnlineOrderingFlow, ResponseFormat, remembered_device_id,
    },
};
use twofa_sandbox::{Sandbox, onlineordering as demo};

/// Where the customer token travels on later calls: undocumented
/// (docs/protocols/onlineordering.md#headers), so every candidate is a sandbox variant and the whole
/// suite runs against each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// `Authorization: Bearer`, the integrator's Basic in `x-api-custom-auth` (the default).
    Bearer,
    /// A named header, `Authorization` keeping the integrator's Basic (the observed client's reuse).
    Header,
}

/// The header the `Header` variant uses; NCR names none.
const TOKEN_HEADER: &str = "X-Api-CustomerToken";

impl Placement {
    fn client(self) -> CustomerTokenPlacement {
        match self {
            Self::Bearer => CustomerTokenPlacement::BearerWithCustomAuth,
            Self::Header => CustomerTokenPlacement::Header(TOKEN_HEADER.into()),
        }
    }

    fn sandbox(self) -> demo::TokenPlacement {
        match self {
            Self::Bearer => demo::TokenPlacement::BearerWithCustomAuth,
            Self::Header => demo::TokenPlacement::Header(TOKEN_HEADER.into()),
        }
    }
}

struct Online {
    sandbox: Sandbox,
    placement: Placement,
}

async fn online() -> Online {
    placed(Placement::Bearer).await
}

/// A sandbox expecting the token at `placement`, and flows that put it there.
async fn placed(placement: Placement) -> Online {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.set_onlineordering_token_placement(placement.sandbox());
    Online { sandbox, placement }
}

impl Online {
    fn builder(&self, email: &str) -> OnlineOrderingBuilder {
        self.integrator().email(email).password(demo::PASSWORD)
    }

    /// Everything but the customer's login.
    fn integrator(&self) -> OnlineOrderingBuilder {
        OnlineOrderingFlow::builder()
            .base_url(self.sandbox.onlineordering_base_url())
            .company_code(demo::COMPANY_CODE)
            .integrator(demo::API_USER, demo::API_PASSWORD)
            .token_placement(self.placement.client())
    }

    fn guest(&self) -> OnlineOrderingFlow {
        self.integrator().guest(demo::GUEST_EMAIL).build().unwrap()
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

crate::conformance_suite!(online());

/// The whole suite again with the token in a named header (docs/protocols/onlineordering.md#headers).
mod oo_3_2_token_in_a_named_header {
    use super::*;

    crate::conformance_suite!(placed(Placement::Header));
}

/// The sandbox really distinguishes the placements: a token in the other place is refused.
#[tokio::test]
async fn oo_3_2_a_token_in_the_other_place_is_refused() {
    for (server, client) in [(Placement::Bearer, Placement::Header), (Placement::Header, Placement::Bearer)] {
        let h = placed(server).await;
        let mut wrong = placed(client).await;
        wrong.sandbox = h.sandbox;
        let flow = wrong.flow(Account::NoTwoFactor).unwrap();
        let Step::Authenticated(session) = flow.start().await.unwrap() else { panic!() };
        assert_eq!(wrong.call_api(&session).await, 401, "sandbox {server:?}, client {client:?}");
    }
}

/// docs/protocols/onlineordering.md#guest + docs/protocols/onlineordering.md#verify: the guest login's
/// 303 names the emailed code, verified by the customer's `GET v1/Authenticate/2FA`; no password is ever
/// asked for.
#[tokio::test]
async fn oo_3_8_guest_login_with_emailed_code() {
    for placement in [Placement::Bearer, Placement::Header] {
        let h = placed(placement).await;
        let flow = h.guest();
        let c = h.challenge(&flow).await;
        assert!(matches!(c.method(), Method::Email), "{c:?}");
        let code = h.sandbox.outbox().latest_code(demo::GUEST_EMAIL).expect("a code mailed to the guest");
        let session = flow.verify(&c, &OneTimeCode::new(code).unwrap()).await.unwrap().session().unwrap();
        assert!(session.subject().contains_key("CustomerId"));
        assert_eq!(h.call_api(&session).await, 200, "{placement:?}");
        assert_eq!(h.sandbox.stats().requests("onlineordering.guest"), 1);
        assert_eq!(h.sandbox.stats().requests("onlineordering.login"), 0, "never the password login");
    }
}

/// docs/protocols/onlineordering.md#guest: "Return a limited guest token" at once (the sandbox's `Direct`
/// variant).
#[tokio::test]
async fn oo_3_8_guest_login_without_a_second_factor() {
    let h = online().await;
    h.sandbox.set_onlineordering_guest_login(demo::GuestLogin::Direct);
    let Step::Authenticated(session) = h.guest().start().await.unwrap() else { panic!("challenged") };
    assert_eq!(h.call_api(&session).await, 200);
    assert!(h.sandbox.outbox().latest_code(demo::GUEST_EMAIL).is_none(), "no code was mailed");
}

/// docs/protocols/onlineordering.md#verify: a wrong guest code is a 404, `InvalidCode`; the right one
/// still works.
#[tokio::test]
async fn oo_3_5_guest_wrong_code_then_right_code() {
    let h = online().await;
    let flow = h.guest();
    let c = h.challenge(&flow).await;
    let right = h.sandbox.outbox().latest_code(demo::GUEST_EMAIL).unwrap();
    let wrong = if right == "000000" { "111111" } else { "000000" };
    let err = flow.verify(&c, &OneTimeCode::new(wrong).unwrap()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidCode), "{err:?}");
    flow.verify(&c, &OneTimeCode::new(right).unwrap()).await.unwrap();
}

/// docs/protocols/onlineordering.md#refresh: the guest's refresh token renews it like a customer's.
#[tokio::test]
async fn oo_3_6_guest_session_refreshes() {
    let h = online().await;
    h.sandbox.set_onlineordering_guest_login(demo::GuestLogin::Direct);
    let flow = h.guest();
    let Step::Authenticated(first) = flow.start().await.unwrap() else { panic!() };
    let renewed = flow.resume(&first).await.unwrap();
    assert_eq!(renewed.subject().get("CustomerId"), first.subject().get("CustomerId"));
    assert_eq!(h.call_api(&renewed).await, 200);
}

/// A failed guest verification during a re-login leaves the stored session (the last good one) as it was.
#[tokio::test]
async fn oo_3_5_a_failed_guest_verification_keeps_the_stored_session() {
    use std::sync::Arc;
    use twofa::{
        Authenticator, code_source,
        store::{MemoryStore, SessionStore},
    };
    let h = online().await;
    let store = Arc::new(MemoryStore::new());
    let good = {
        let flow = h.guest();
        let c = h.challenge(&flow).await;
        let code = h.sandbox.outbox().latest_code(demo::GUEST_EMAIL).unwrap();
        flow.verify(&c, &OneTimeCode::new(code).unwrap()).await.unwrap().session().unwrap()
    };
    store.save("guest", &good).await.unwrap();
    // The stored session has run out and its refresh token is spent, so the next call logs in again.
    let flow: Arc<dyn TwoFactorFlow> = Arc::new(h.guest());
    flow.resume(&good).await.unwrap();
    let expired = good.clone().with_expires_at(Some(twofa::time::OffsetDateTime::UNIX_EPOCH));
    store.save("guest", &expired).await.unwrap();
    let wrong = code_source::from_fn(|_| async { Ok("000000".to_owned()) });
    let auth = Authenticator::builder(flow).store(store.clone()).profile("guest").code_source(Arc::new(wrong)).build();
    let err = auth.session().await.unwrap_err();
    assert!(matches!(err, Error::InvalidCode), "{err:?}");
    let kept = store.load("guest").await.unwrap().expect("the stored session is still there");
    assert_eq!(kept.access_token().expose_secret(), good.access_token().expose_secret());
    assert_eq!(kept.renewal_token().unwrap().expose_secret(), good.renewal_token().unwrap().expose_secret());
}

#[tokio::test]
async fn oo_3_4_authenticator_customer_logs_in_with_the_seed_from_the_setup_data() {
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
async fn oo_3_5_a_remembered_device_logs_in_without_a_code() {
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
async fn oo_3_6_refresh_rotates_and_the_old_refresh_token_dies() {
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
async fn oo_3_6_locked_accounts_at_login_and_at_refresh() {
    let h = online().await;
    let locked = h.builder(demo::CUSTOMER_LOCKED).build().unwrap();
    assert!(matches!(locked.start().await, Err(Error::AccountLocked)));
    let flow = h.flow(Account::NoTwoFactor).unwrap();
    let Step::Authenticated(session) = flow.start().await.unwrap() else { panic!() };
    h.sandbox.set_customer_locked(demo::CUSTOMER_NO_2FA, true);
    assert!(matches!(flow.resume(&session).await, Err(Error::AccountLocked)));
}

#[tokio::test]
async fn oo_3_11_xml_answers_give_the_same_login() {
    let h = online().await;
    let flow = h.builder(demo::CUSTOMER_EMAIL_2FA).format(ResponseFormat::Xml).build().unwrap();
    let c = h.challenge(&flow).await;
    assert!(matches!(c.method(), Method::Email));
    let session = flow.verify(&c, &OneTimeCode::new(h.code()).unwrap()).await.unwrap().session().unwrap();
    assert!(session.subject().contains_key("CustomerId"));
    assert_eq!(h.call_api(&session).await, 200);
}

#[tokio::test]
async fn oo_3_12_following_the_303_loses_the_challenge_visibly() {
    let h = online().await;
    let following = reqwest::Client::new(); // follows redirects
    let flow = h.builder(demo::CUSTOMER_EMAIL_2FA).http(HttpOptions::default().client(following)).build().unwrap();
    assert!(matches!(flow.start().await, Err(Error::Config(_))));
}

#[tokio::test]
async fn oo_3_5_code_expiry_and_the_400_cases() {
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

/// docs/protocols/onlineordering.md#verify: the sandbox's `ConfirmCodeResult` has exactly the documented
/// fields (plus Json.NET's `$id`, docs/protocols/onlineordering.md#login [OBS]), `expires_in_seconds` a
/// decimal as in the sample.
#[tokio::test]
async fn oo_3_5_sandbox_confirm_code_result_has_the_documented_fields() {
    let h = online().await;
    assert_eq!(demo::GUEST_EMAIL, "guest@example.com", "the query below spells it out");
    h.challenge(&h.guest()).await;
    let code = h.sandbox.outbox().latest_code(demo::GUEST_EMAIL).unwrap();
    let raw = reqwest::Client::new()
        .get(format!(
            "{}/v1/Authenticate/2FA?email=guest%40example.com&code={code}&rememberMe=false&nickname=",
            h.sandbox.base_url()
        ))
        .basic_auth(demo::API_USER, Some(demo::API_PASSWORD))
        .header("X-Api-CompanyCode", demo::COMPANY_CODE)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    let body = raw.text().await.unwrap();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["$id", "access_token", "expires_in_seconds", "id_token", "refresh_token"]);
    assert!(body.contains(r#""expires_in_seconds":1800.0"#), "{body}");
}

/// Keep-alive: the start (its 303) and the verification of one customer login share one TCP
/// connection, for the customer login and for the guest login.
#[tokio::test]
async fn a_whole_2fa_login_uses_one_tcp_connection() {
    let h = online().await;
    let flow = h.flow(Account::TwoFactor).unwrap();
    let Step::Challenge(c) = flow.start().await.unwrap() else { panic!("no challenge") };
    flow.verify(&c, &OneTimeCode::new(h.code()).unwrap()).await.unwrap().session().unwrap();
    assert_eq!(h.sandbox.stats().connections(), 1, "customer: start and verify share one connection");

    let h = online().await;
    let flow = h.guest();
    let c = h.challenge(&flow).await;
    let code = h.sandbox.outbox().latest_code(demo::GUEST_EMAIL).expect("a code mailed to the guest");
    flow.verify(&c, &OneTimeCode::new(code).unwrap()).await.unwrap().session().unwrap();
    assert_eq!(h.sandbox.stats().connections(), 1, "guest: start and verify share one connection");
}
