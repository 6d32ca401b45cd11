//! ETNA Trader against the sandbox: the shared conformance suite plus ETNA's own guarantees.
#![cfg(feature = "etna")]

use crate::conformance::{Account, Harness};
use twofa::{LoginOptions, Session, TwoFactorFlow, code_source, etna::EtnaFlow, login};
use twofa_sandbox::{Sandbox, etna as demo};

struct Etna {
    sandbox: Sandbox,
}

async fn etna() -> Etna {
    Etna { sandbox: Sandbox::start().await.unwrap() }
}

/// The sandbox spelling the PIN step `spelling` ("Requesting Tokens — Syntax" has both).
async fn etna_spelling(spelling: demo::PinStep) -> Etna {
    let h = etna().await;
    h.sandbox.set_etna_pin_step(spelling);
    h
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
            Account::TwoStep => self.builder(demo::USER_CODE_THEN_PIN),
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

    fn two_step_answer(&self, step: u32) -> (String, String) {
        match step {
            1 => {
                let code = self.sandbox.outbox().latest_code(demo::USER_CODE_THEN_PIN).expect("a mailed code");
                let wrong = if code == "000000" { "111111" } else { "000000" };
                (code, wrong.into())
            }
            _ => (demo::PIN.into(), "9999".into()),
        }
    }
}

crate::conformance_suite!(etna());

/// The whole suite against every reading the sandbox offers where the documents are silent or
/// disagree (`Variants::each`): the client follows the documents, so it passes against each.
#[tokio::test]
async fn the_suite_passes_against_every_sandbox_variant() {
    for (name, variants) in twofa_sandbox::Variants::each() {
        crate::conformance::every_scenario(&name, || async {
            Etna { sandbox: Sandbox::builder().variants(variants.clone()).start().await.unwrap() }
        })
        .await;
    }
}

/// The whole suite again with the PIN step spelled `SecurityPin` (the admin-guide copy).
mod security_pin_spelling {
    use super::*;
    crate::conformance_suite!(etna_spelling(demo::PinStep::Security));
}

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
async fn etna_1_4_password_expired_user_resets_through_the_documented_call_then_logs_in() {
    for field in [demo::ExpiredField::State, demo::ExpiredField::Step] {
        let h = etna().await;
        h.sandbox.set_etna_expired_field(field);
        let expired = h.builder(demo::USER_PASSWORD_EXPIRED).build().unwrap();
        let err = expired.start().await.unwrap_err();
        let twofa::Error::PasswordExpired { reset_token: Some(reset) } = err else { panic!("{field:?}: {err:?}") };
        expired.reset_expired_password(&reset, &twofa::Password::new("brand-new-pass")).await.unwrap();
        // The reset token is single use.
        let again = expired.reset_expired_password(&reset, &twofa::Password::new("other-pass")).await.unwrap_err();
        assert!(matches!(again, twofa::Error::ChallengeExpired), "{again:?}");
        assert!(matches!(expired.start().await, Err(twofa::Error::InvalidCredentials)), "the old password is gone");
        let renewed = h.builder(demo::USER_PASSWORD_EXPIRED).password("brand-new-pass").build().unwrap();
        assert!(matches!(renewed.start().await.unwrap(), twofa::Step::Authenticated(_)));
    }
}

#[tokio::test]
async fn etna_1_4_pin_not_set_user_gets_the_tokens_of_the_documented_set_pin_call() {
    let h = etna().await;
    let flow = h.builder(demo::USER_PIN_NOT_SET).build().unwrap();
    let err = flow.start().await.unwrap_err();
    let twofa::Error::PinNotSet { setup } = &err else { panic!("{err:?}") };
    assert!(err.is_rejected_credentials());
    // The documented GET-with-body `users/pincode/change`, through the helper.
    flow.set_pin(setup, &twofa::Pin::new("1357"), "cat", "hello").await.unwrap();
    let again = flow.set_pin(setup, &twofa::Pin::new("2222"), "cat", "hello").await.unwrap_err();
    assert!(matches!(again, twofa::Error::ChallengeExpired), "the setup tokens are single use: {again:?}");
    let with_pin = h.builder(demo::USER_PIN_NOT_SET).pin("1357").build().unwrap();
    assert!(matches!(with_pin.start().await.unwrap(), twofa::Step::Authenticated(_)), "the new PIN logs in");
}

#[tokio::test]
async fn etna_1_4_pin_only_user_is_a_pin_challenge_or_uses_the_configured_pin() {
    for spelling in [demo::PinStep::Secutity, demo::PinStep::Security] {
        let h = etna_spelling(spelling).await;
        let flow = h.builder(demo::USER_PIN).build().unwrap();
        let twofa::Step::Challenge(c) = flow.start().await.unwrap() else { panic!("{spelling:?}") };
        assert!(matches!(c.method(), twofa::Method::SecurityPin));
        let pin = twofa::OneTimeCode::new(demo::PIN).unwrap();
        assert!(matches!(flow.verify(&c, &pin).await.unwrap(), twofa::Step::Authenticated(_)));
        let configured = h.builder(demo::USER_PIN).pin(demo::PIN).build().unwrap();
        let twofa::Step::Authenticated(session) = configured.start().await.unwrap() else { panic!() };
        assert_eq!(h.call_api(&session).await, 200);
    }
}

#[tokio::test]
async fn etna_1_5_wrong_pin_is_invalid_pin_or_asked_again_per_variant() {
    let h = etna().await;
    let flow = h.builder(demo::USER_PIN).build().unwrap();
    let wrong = twofa::OneTimeCode::new("9999").unwrap();
    let twofa::Step::Challenge(c) = flow.start().await.unwrap() else { panic!() };
    assert!(matches!(flow.verify(&c, &wrong).await, Err(twofa::Error::InvalidPin)));
    h.sandbox.set_etna_wrong_pin(demo::WrongPin::AskAgain);
    let twofa::Step::Challenge(next) = flow.verify(&c, &wrong).await.unwrap() else { panic!("asked again") };
    assert!(next.method().is_pin());
    // A configured wrong PIN is refused, never looped on, in both variants.
    for variant in [demo::WrongPin::AskAgain, demo::WrongPin::Failed] {
        h.sandbox.set_etna_wrong_pin(variant);
        let configured = h.builder(demo::USER_PIN).pin("9999").build().unwrap();
        assert!(matches!(configured.start().await, Err(twofa::Error::InvalidPin)), "{variant:?}");
    }
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

/// POSTs `/token` with `headers` (plus the app key unless given) and returns the status and the raw body.
async fn raw_token(h: &Etna, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request =
        reqwest::Client::new().post(format!("{}/token", h.sandbox.etna_base_url())).header("Content-Length", "0");
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("Et-App-Key")) {
        request = request.header("Et-App-Key", demo::APP_KEY);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The `Token` of a raw answer.
fn token_of(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body).unwrap()["Token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn etna_1_5_the_sandbox_sends_each_documented_body_byte_for_byte() {
    let h = etna().await;
    let user = |name| [("Username", name), ("Password", demo::PASSWORD)];
    // "Requesting Tokens — Syntax" / "Two-Factor Authentication": the documented bodies, in their key order.
    assert_eq!(
        raw_token(&h, &[("Username", demo::USER_2FA), ("Password", "wrong")]).await,
        (401, r#"{"State":"Failed","Step":"BaseAuthentication","Reason":"Invalid credentials"}"#.into())
    );
    let (status, body) = raw_token(&h, &user(demo::USER_2FA)).await;
    let ticket = token_of(&body);
    assert_eq!(
        (status, body),
        (
            202,
            format!(
                r#"{{"Step":"VerificationCode","Reason":"Expecting confirmation code","State":"Expecting","Token":"{ticket}"}}"#
            )
        )
    );
    let no_ticket = [("Username", demo::USER_2FA), ("Password", demo::PASSWORD), ("VerificationCode", "123456")];
    assert_eq!(
        raw_token(&h, &no_ticket).await,
        (401, r#"{"State":"Failed","Step":"VerificationCode","Reason":"Corrupted ticket"}"#.into())
    );
    for spelling in [demo::PinStep::Secutity, demo::PinStep::Security] {
        h.sandbox.set_etna_pin_step(spelling);
        let step = spelling.as_str();
        let (status, body) = raw_token(&h, &user(demo::USER_PIN)).await;
        let ticket = token_of(&body);
        assert_eq!(
            (status, body),
            (202, format!(r#"{{"Step":"{step}","Reason":"Invalid pin","State":"Expecting","Token":"{ticket}"}}"#))
        );
        let bearer = format!("Bearer {ticket}");
        let wrong = [
            ("Username", demo::USER_PIN),
            ("Password", demo::PASSWORD),
            ("Authorization", &bearer),
            ("PinCode", "0000"),
        ];
        assert_eq!(
            raw_token(&h, &wrong).await,
            (401, format!(r#"{{"State":"Failed","Step":"{step}","Reason":"Invalid pin"}}"#))
        );
    }
    let (status, body) = raw_token(&h, &user(demo::USER_PASSWORD_EXPIRED)).await;
    let reset = token_of(&body);
    assert_eq!(
        (status, body),
        (
            401,
            format!(
                r#"{{"State":"BaseAuthentication","Reason":"Your Password has expired and must be changed","Token":"{reset}"}}"#
            )
        )
    );
    let (status, body) = raw_token(&h, &user(demo::USER_PIN_NOT_SET)).await;
    assert_eq!(status, 202);
    assert!(body.starts_with(r#"{"State":"Expecting","Reason":"PIN code is not init","Token":""#), "{body}");
    let (status, body) = raw_token(&h, &[("Et-App-Key", "nope")]).await;
    assert_eq!((status, body.as_str()), (401, r#"{"error":"Application key is not defined or does not exist"}"#));
}
