//! Against a real Secret Service (GNOME Keyring on a private D-Bus), as `.ci/keyring-test` starts
//! it: `TWOFA_TEST_KEYRING=1` says one runs. Skipped otherwise, unless `TWOFA_REQUIRE_KEYRING=1`
//! (CI), which makes a missing service a failure rather than a silent skip.

use std::time::Duration;

use twofa_core::{
    AccessToken, Error, Password, RenewalToken, Session, TokenPlacement,
    store::{FileStore, SessionStore},
};
use twofa_keyring::{Chosen, KeyringStore, keyring::Entry, keyring_or_file};

fn service_running() -> bool {
    if std::env::var_os("TWOFA_TEST_KEYRING").is_some() {
        return true;
    }
    assert!(
        std::env::var_os("TWOFA_REQUIRE_KEYRING").is_none(),
        "TWOFA_REQUIRE_KEYRING is set but no Secret Service was started (run .ci/keyring-test)"
    );
    eprintln!("skipped: no Secret Service (set TWOFA_TEST_KEYRING=1 under .ci/keyring-test)");
    false
}

fn session() -> Session {
    Session::new("p", AccessToken::new("acc-SECRET-1"), TokenPlacement::Bearer, time::OffsetDateTime::UNIX_EPOCH)
        .with_renewal_token(RenewalToken::new("ren-SECRET-2"))
}

// One runtime flavour per test: the CLI runs a current-thread runtime, bots usually a multi-thread one.
#[tokio::test(flavor = "current_thread")]
async fn sessions_and_passwords_in_a_real_secret_service() {
    if !service_running() {
        return;
    }
    let service = format!("twofa-test-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let chosen = keyring_or_file(KeyringStore::new(&service), FileStore::new(dir.path())).await;
    let Chosen::Keyring(store) = chosen else { panic!("the Secret Service did not answer: {chosen:?}") };

    store.save("desk-1", &session()).await.unwrap();
    let back = store.load("desk-1").await.unwrap().unwrap();
    assert_eq!(back.access_token().expose_secret(), "acc-SECRET-1");
    assert_eq!(store.profiles().await.unwrap(), ["desk-1"]);
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing went to the files");

    store.save_password("desk-1", &Password::new("hunter2-SECRET")).await.unwrap();
    assert_eq!(store.load_password("desk-1").await.unwrap().unwrap().expose_secret(), "hunter2-SECRET");

    // An item garbled by another program is reported, naming the item, and left alone.
    let garbage = "{\"version\":\"acc-SECRET-3\"}";
    let item = service.clone();
    tokio::task::spawn_blocking(move || Entry::new(&item, "session:desk-2")?.set_password(garbage))
        .await
        .unwrap()
        .unwrap();
    let err = store.load("desk-2").await.unwrap_err();
    let Error::Store { detail, .. } = &err else { panic!("{err:?}") };
    assert!(detail.contains(&format!("{service}/session:desk-2")), "{detail}");
    assert!(!format!("{err} {err:?}").contains("SECRET"), "{err:?}");

    for profile in ["desk-1", "desk-2"] {
        store.delete(profile).await.unwrap();
        store.delete_password(profile).await.unwrap();
    }
    assert!(store.load("desk-1").await.unwrap().is_none());
    assert!(store.load_password("desk-1").await.unwrap().is_none());
    assert!(store.profiles().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_thread_runtime_works_too() {
    if !service_running() {
        return;
    }
    let store =
        KeyringStore::new(format!("twofa-test-mt-{}", std::process::id())).with_timeout(Duration::from_secs(10));
    store.probe().await.unwrap();
    store.save("p", &session()).await.unwrap();
    assert!(store.load("p").await.unwrap().is_some());
    store.delete("p").await.unwrap();
}
