//! API-key login, logout and resume against the in-process sandbox, over both gateways, and the keys a
//! 2FA session manages. Test names carry the section number they were written for: 2.3
//! docs/protocols/oms.md#api-key-login, 2.5 docs/protocols/oms.md#resume, 2.6
//! docs/protocols/oms.md#logout; the key calls follow docs/protocols/oms.md#api-keys.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{sync::Arc, time::Duration};

use serde_json::Value;
use twofa_core::{Authenticator, Error, ManualClock, Session, Step, TwoFactorFlow, time::OffsetDateTime};
use twofa_oms::{OmsBuilder, OmsFlow, Permission};
use twofa_sandbox::{
    Sandbox,
    oms_api_key::{API_KEY, API_SECRET, API_USER_ID},
};

fn endpoints(sandbox: &Sandbox) -> [String; 2] {
    [sandbox.oms_http_url(), sandbox.oms_ws_url()]
}

fn keyed(endpoint: &str) -> OmsBuilder {
    OmsFlow::builder().endpoint(endpoint).api_key(API_USER_ID, API_KEY, API_SECRET)
}

async fn start(flow: &OmsFlow) -> Result<Session, Error> {
    match flow.start().await? {
        Step::Authenticated(session) => Ok(session),
        Step::Challenge(_) => panic!("an API-key login bypasses 2FA"),
    }
}

/// `GetUserInfo` over HTTP with `aptoken`: whether the session is alive (APEX answers 200 with
/// error code 20 when it is not).
async fn alive(sandbox: &Sandbox, session: &Session) -> bool {
    let request = reqwest::Client::new().post(format!("{}/AP/GetUserInfo", sandbox.oms_http_url())).body("{}");
    let response = session.authorize(request).unwrap().send().await.unwrap();
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    body["errorcode"] != 20
}

#[tokio::test]
async fn oms_2_3_api_key_login_over_both_transports_bypasses_2fa() {
    let sandbox = Sandbox::start().await.unwrap();
    for endpoint in endpoints(&sandbox) {
        let flow = keyed(&endpoint).build().unwrap();
        let session = start(&flow).await.unwrap();
        assert_eq!(session.subject()["UserId"], API_USER_ID.to_string(), "{endpoint}");
        assert!(alive(&sandbox, &session).await, "{endpoint}");
        // Back-to-back logins: each signs a fresh nonce, and the sandbox refuses replays.
        let again = start(&flow).await.unwrap();
        assert_ne!(again.access_token().expose_secret(), session.access_token().expose_secret());
    }
    assert_eq!(sandbox.stats().requests("oms.http.authenticate"), 2);
}

#[tokio::test]
async fn oms_2_3_a_wrong_secret_key_or_user_id_is_invalid_api_key_on_both_transports() {
    let sandbox = Sandbox::start().await.unwrap();
    for endpoint in endpoints(&sandbox) {
        let builder = OmsFlow::builder().endpoint(&endpoint);
        for wrong in [
            builder.clone().api_key(API_USER_ID, API_KEY, "not-the-secret"),
            builder.clone().api_key(API_USER_ID, "not-the-key", API_SECRET),
            builder.clone().api_key(API_USER_ID + 1, API_KEY, API_SECRET),
        ] {
            let err = start(&wrong.build().unwrap()).await.unwrap_err();
            assert!(matches!(err, Error::InvalidApiKey), "{endpoint}: {err:?}");
            assert!(!err.to_string().contains("not-the"), "the message names fields, never values: {err}");
        }
    }
}

#[tokio::test]
async fn oms_2_6_logout_ends_an_api_key_session_on_both_transports() {
    let sandbox = Sandbox::start().await.unwrap();
    for endpoint in endpoints(&sandbox) {
        let flow = keyed(&endpoint).build().unwrap();
        let session = start(&flow).await.unwrap();
        flow.logout(&session).await.unwrap();
        assert!(!alive(&sandbox, &session).await, "{endpoint}: the session ended at the gateway");
    }
    assert_eq!(sandbox.stats().requests("oms.http.logout"), 1, "HTTP logout reached POST /AP/Logout");
}

#[tokio::test]
async fn oms_2_5_resume_is_websocket_only() {
    let sandbox = Sandbox::start().await.unwrap();
    let ws = keyed(&sandbox.oms_ws_url()).build().unwrap();
    let session = start(&ws).await.unwrap();
    let resumed = ws.resume(&session).await.unwrap();
    assert_eq!(resumed.access_token().expose_secret(), session.access_token().expose_secret());

    let http = keyed(&sandbox.oms_http_url()).build().unwrap();
    let session = start(&http).await.unwrap();
    let before = sandbox.stats().requests("oms.http.userinfo");
    assert!(matches!(http.resume(&session).await, Err(Error::Unsupported { operation: "resume" })));
    assert_eq!(sandbox.stats().requests("oms.http.userinfo"), before, "no probe was sent");
}

#[tokio::test]
async fn oms_2_5_an_authenticator_over_http_logs_in_afresh_with_the_api_key() {
    let sandbox = Sandbox::start().await.unwrap();
    let clock = ManualClock::new(OffsetDateTime::now_utc());
    let flow = Arc::new(keyed(&sandbox.oms_http_url()).clock(Arc::new(clock.clone())).build().unwrap());
    // No code source: an API-key login never asks for one.
    let auth = Authenticator::builder(flow).clock(Arc::new(clock.clone())).build();
    let first = auth.session().await.unwrap();
    let step = Duration::from_secs(59 * 60 + 30);
    clock.advance(step);
    sandbox.clock().advance(step);
    let renewed = auth.session().await.unwrap();
    assert_ne!(renewed.access_token().expose_secret(), first.access_token().expose_secret());
    assert_eq!(sandbox.stats().requests("oms.http.authenticate"), 2, "resume unsupported: a second login");
    assert!(alive(&sandbox, &renewed).await);
}

#[tokio::test]
async fn oms_2_3_a_replayed_nonce_is_refused_by_a_strict_sandbox_and_ours_never_repeat() {
    let sandbox = Sandbox::start().await.unwrap();
    let flow = keyed(&sandbox.oms_http_url()).build().unwrap();
    for _ in 0..20 {
        start(&flow).await.unwrap();
    }
    // A replay itself, sent by hand: the same four headers twice.
    let client = reqwest::Client::new();
    let nonce = "1234567";
    let signature = {
        let script = "import hmac,hashlib,sys; \
                      print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())";
        let message = format!("{nonce}{API_USER_ID}{API_KEY}");
        let out = std::process::Command::new("python3").args(["-c", script, API_SECRET, &message]).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let send = || {
        client
            .get(format!("{}/AP/AuthenticateUser", sandbox.oms_http_url()))
            .header("APIKey", API_KEY)
            .header("Signature", &signature)
            .header("UserId", API_USER_ID.to_string())
            .header("Nonce", nonce)
            .send()
    };
    let first: Value = serde_json::from_slice(&send().await.unwrap().bytes().await.unwrap()).unwrap();
    let replay = send().await.unwrap().bytes().await.unwrap();
    assert_eq!(first["Authenticated"], true);
    // The documented AuthenticateUser failure (AlphaPoint slate), byte for byte.
    let documented = r#"{"authenticated": false, "locked": false, "errormsg": "Invalid username or password"}"#;
    assert_eq!(String::from_utf8_lossy(&replay), documented);
    // The lax reading (the documents are silent): the replay passes, and so does the client.
    sandbox.set_oms_accept_nonce_replay(true);
    let lax: Value = serde_json::from_slice(&send().await.unwrap().bytes().await.unwrap()).unwrap();
    assert_eq!(lax["Authenticated"], true);
    start(&flow).await.unwrap();
}

/// "2FA once, then an API key" (docs/protocols/oms.md#api-keys): a 2FA login mints a key with
/// `AddUserAPIKey`, the key logs in with no code, `GetUserAPIKeys` lists it without its secret, and
/// after `RemoveUserAPIKey` its login is refused — over both gateways.
#[tokio::test]
async fn oms_api_keys_created_after_2fa_log_in_are_listed_and_once_removed_are_refused() {
    let sandbox = Sandbox::builder()
        .oms_variant(twofa_sandbox::oms::OmsVariant::default().allow_totp_replay(true))
        .start()
        .await
        .unwrap();
    let totp =
        twofa_core::code_source::Totp::from_base32(&twofa_core::TotpSeed::new(twofa_sandbox::oms::TOTP_SEED)).unwrap();
    for endpoint in endpoints(&sandbox) {
        let user = OmsFlow::builder()
            .endpoint(&endpoint)
            .username(twofa_sandbox::oms::USER_TOTP)
            .password(twofa_sandbox::oms::PASSWORD)
            .build()
            .unwrap();
        let session = twofa_core::login(&user, &totp, &twofa_core::LoginOptions::default()).await.unwrap();
        let keys = user.api_keys(&session).unwrap();
        assert_eq!(keys.user_id(), API_USER_ID, "{endpoint}");
        let made = keys.create(&[Permission::Trading, Permission::AccountReadOnly]).await.unwrap();
        assert_eq!(made.permissions, [Permission::Trading, Permission::AccountReadOnly], "{endpoint}");
        assert!(!format!("{made:?}").contains(made.secret.expose_secret()), "{endpoint}");

        let bot = keyed(&endpoint);
        let bot = bot.api_key(made.user_id, made.key.expose_secret(), made.secret.expose_secret()).build().unwrap();
        assert!(alive(&sandbox, &start(&bot).await.unwrap()).await, "{endpoint}: the new key logs in, no code");

        let listed = keys.list().await.unwrap();
        let entry = listed.iter().find(|k| k.key.expose_secret() == made.key.expose_secret()).expect("listed");
        assert_eq!(entry.permissions, [Permission::Trading, Permission::AccountReadOnly], "{endpoint}");
        assert!(listed.iter().any(|k| k.key.expose_secret() == API_KEY), "{endpoint}: the seeded key too");

        keys.remove(&made.key).await.unwrap();
        assert!(matches!(start(&bot).await, Err(Error::InvalidApiKey)), "{endpoint}: a removed key is refused");
        assert!(keys.list().await.unwrap().iter().all(|k| k.key.expose_secret() != made.key.expose_secret()));
        // Removing it again: the gateway's "Resource Not Found".
        assert!(matches!(keys.remove(&made.key).await, Err(Error::Provider { code: 104, .. })), "{endpoint}");
        // No permission: refused before anything is sent; an undocumented one by the gateway.
        assert!(matches!(keys.create(&[]).await, Err(Error::InvalidInput(_))), "{endpoint}");
        let other = keys.create(&[Permission::Other("Operator".into())]).await;
        assert!(matches!(other, Err(Error::Provider { code: 100, .. })), "{endpoint}: {other:?}");
    }
    assert!(sandbox.stats().requests("oms.http.api_keys") >= 5, "the HTTP calls reached /AP/…UserAPIKey…");
}

#[tokio::test]
async fn oms_api_keys_refuse_a_session_of_another_endpoint_and_an_ended_one() {
    let sandbox = Sandbox::start().await.unwrap();
    let (http, ws) = (keyed(&sandbox.oms_http_url()).build().unwrap(), keyed(&sandbox.oms_ws_url()).build().unwrap());
    let session = start(&http).await.unwrap();
    assert!(matches!(ws.api_keys(&session), Err(Error::ForeignSession)));
    http.logout(&session).await.unwrap();
    let listed = http.api_keys(&session).unwrap().list().await;
    assert!(matches!(listed, Err(Error::SessionExpired)), "Not Authorized after logout: {listed:?}");
}
