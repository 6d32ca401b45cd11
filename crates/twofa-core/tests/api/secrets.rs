//! Every secret-bearing type, and every error built from a secret, formats without the secret.

use std::sync::Arc;

use time::OffsetDateTime;
use twofa_core::{
    AccessToken, ApiKey, AuthenticatorSetup, Challenge, Method, OneTimeCode, Password, RenewalToken, Secret, Session,
    TokenPlacement, TotpSeed,
    code_source::{Totp, TotpAlgorithm},
    http::sensitive_value,
};

const SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DP";

fn assert_hidden(shown: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!shown.contains(secret), "`{secret}` leaked in `{shown}`");
    }
}

#[test]
fn secret_types_debug_print_as_redacted() {
    // They have no `Display` at all: see the `compile_fail` doc tests in `src/secret.rs`.
    let values = [
        (format!("{:?}", Password::new("pw-S3CRET")), "pw-S3CRET"),
        (format!("{:?}", ApiKey::new("key-S3CRET")), "key-S3CRET"),
        (format!("{:?}", AccessToken::new("acc-S3CRET")), "acc-S3CRET"),
        (format!("{:?}", RenewalToken::new("ren-S3CRET")), "ren-S3CRET"),
        (format!("{:?}", Secret::new("sec-S3CRET")), "sec-S3CRET"),
        (format!("{:?}", TotpSeed::new(SEED)), SEED),
    ];
    for (shown, secret) in &values {
        assert_hidden(shown, &[secret]);
        assert!(shown.contains("[REDACTED]"));
    }
    let code = OneTimeCode::new("918273").unwrap();
    assert_hidden(&format!("{code:?}"), &["918273"]);
    let totp = Totp::new(TotpAlgorithm::Sha1, 6, 30, b"12345678901234567890".to_vec()).unwrap();
    assert_hidden(&format!("{totp:?}"), &["1234567890", "GEZDGNBV"]);
}

#[test]
fn sessions_and_challenges_hide_every_secret() {
    let session = Session::new("p", AccessToken::new("acc-S3CRET"), TokenPlacement::Bearer, OffsetDateTime::UNIX_EPOCH)
        .with_renewal_token(RenewalToken::new("ren-S3CRET"))
        .with_header("X-Key", Secret::new("hdr-S3CRET"));
    let setup = AuthenticatorSetup::new(
        Some(Secret::new(SEED)),
        Some(Secret::new(format!("otpauth://totp/x?secret={SEED}"))),
        Some(Secret::new("qr-S3CRET")),
    );
    let challenge = Challenge::portable(
        "p",
        Method::Authenticator { setup: Some(setup) },
        OffsetDateTime::UNIX_EPOCH,
        Secret::new("interim-S3CRET"),
    );
    let live = Challenge::live("p", Method::Email, OffsetDateTime::UNIX_EPOCH, Arc::new(Holding("live-S3CRET".into())));
    let shown =
        format!("{session:?} {challenge:?} {live:?} {:?} {:?}", session.expose_secrets(), challenge.expose_secrets());
    assert_hidden(
        &shown,
        &["acc-S3CRET", "ren-S3CRET", "hdr-S3CRET", SEED, "qr-S3CRET", "interim-S3CRET", "live-S3CRET"],
    );
}

/// Live state whose own `Debug` would show its secret: the challenge must not ask it to.
#[derive(Debug)]
struct Holding(#[allow(dead_code)] String);

#[async_trait::async_trait]
impl twofa_core::LiveChallenge for Holding {
    async fn verify(&self, _code: &twofa_core::OneTimeCode) -> Result<twofa_core::Step, twofa_core::Error> {
        Err(twofa_core::Error::ChallengeExpired)
    }
}

#[test]
fn errors_built_from_secrets_do_not_quote_them() {
    let errors = [
        OneTimeCode::new("12\u{1}code-S3CRET").unwrap_err(),
        OneTimeCode::new("9".repeat(80)).unwrap_err(),
        sensitive_value("pass\r\nword-S3CRET", "the password").unwrap_err(),
        Totp::from_base32(&TotpSeed::new("seed-S3CRET!")).unwrap_err(),
        Totp::from_otpauth_uri(&Secret::new("otpauth://hotp/x?secret=uri-S3CRET")).unwrap_err(),
        Session::new("p", AccessToken::new("bad\ntok-S3CRET"), TokenPlacement::Bearer, OffsetDateTime::UNIX_EPOCH)
            .headers()
            .unwrap_err(),
    ];
    for e in &errors {
        assert_hidden(
            &format!("{e} {e:?}"),
            &["code-S3CRET", "999999999", "word-S3CRET", "seed-S3CRET", "uri-S3CRET", "tok-S3CRET"],
        );
    }
}
