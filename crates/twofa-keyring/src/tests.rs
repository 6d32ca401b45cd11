//! The store's logic against in-process keyrings: a shared map (a keyring that persists between
//! entries, which the `keyring` crate's mock does not) and the crate's mock for injected failures.

use std::{
    any::Any,
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use keyring::{
    credential::{Credential, CredentialApi, CredentialBuilderApi},
    mock::MockCredential,
};
use twofa_core::{
    AccessToken, Error, Password, RenewalToken, Session, TokenPlacement,
    store::{FileStore, SessionStore},
};

use crate::{Chosen, KeyringStore, keyring_or_file};

type Items = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// A keyring held in a map, shared by every entry it builds.
#[derive(Default, Clone)]
struct MapKeyring {
    items: Items,
}

struct MapCredential {
    items: Items,
    key: String,
}

impl CredentialApi for MapCredential {
    fn set_secret(&self, secret: &[u8]) -> keyring::Result<()> {
        self.items.lock().unwrap().insert(self.key.clone(), secret.to_vec());
        Ok(())
    }

    fn get_secret(&self) -> keyring::Result<Vec<u8>> {
        self.items.lock().unwrap().get(&self.key).cloned().ok_or(keyring::Error::NoEntry)
    }

    fn delete_credential(&self) -> keyring::Result<()> {
        self.items.lock().unwrap().remove(&self.key).map(drop).ok_or(keyring::Error::NoEntry)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn debug_fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MapCredential({})", self.key)
    }
}

impl CredentialBuilderApi for MapKeyring {
    fn build(&self, _target: Option<&str>, service: &str, user: &str) -> keyring::Result<Box<Credential>> {
        Ok(Box::new(MapCredential { items: self.items.clone(), key: format!("{service}/{user}") }))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl MapKeyring {
    fn store(&self) -> KeyringStore {
        KeyringStore::new("twofa").with_credential_builder(Box::new(self.clone()))
    }

    fn put(&self, key: &str, value: &[u8]) {
        self.items.lock().unwrap().insert(key.into(), value.to_vec());
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.items.lock().unwrap().get(key).cloned()
    }
}

/// The `keyring` crate's mock, each entry failing with the error `fail` makes.
struct Failing(fn() -> keyring::Error);

impl CredentialBuilderApi for Failing {
    fn build(&self, target: Option<&str>, service: &str, user: &str) -> keyring::Result<Box<Credential>> {
        let credential = keyring::mock::default_credential_builder().build(target, service, user)?;
        let mock: &MockCredential = credential.as_any().downcast_ref().expect("the mock builder builds mocks");
        mock.set_error((self.0)());
        Ok(credential)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A keyring that never answers, like a Secret Service waiting for someone to unlock it.
struct Hanging;

impl CredentialBuilderApi for Hanging {
    fn build(&self, _target: Option<&str>, _service: &str, _user: &str) -> keyring::Result<Box<Credential>> {
        std::thread::sleep(Duration::from_secs(3600));
        Err(keyring::Error::NoEntry)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn session() -> Session {
    Session::new("p", AccessToken::new("acc-SECRET-1"), TokenPlacement::Bearer, time::OffsetDateTime::UNIX_EPOCH)
        .with_renewal_token(RenewalToken::new("ren-SECRET-2"))
}

fn detail(err: &Error) -> &str {
    match err {
        Error::Store { path: None, detail } => detail,
        other => panic!("expected Error::Store without a path, got {other:?}"),
    }
}

/// Everything a person could see of an error.
fn shown(err: &Error) -> String {
    format!("{err} {err:?}")
}

#[tokio::test]
async fn round_trip_list_and_delete() {
    let keyring = MapKeyring::default();
    let store = keyring.store();
    assert!(store.load("a").await.unwrap().is_none());
    assert!(store.profiles().await.unwrap().is_empty());
    store.save("b", &session()).await.unwrap();
    store.save("a", &session()).await.unwrap();
    store.save("a", &session()).await.unwrap();
    let back = store.load("a").await.unwrap().unwrap();
    assert_eq!(back.access_token().expose_secret(), "acc-SECRET-1");
    assert_eq!(back.renewal_token().unwrap().expose_secret(), "ren-SECRET-2");
    assert_eq!(store.profiles().await.unwrap(), ["a", "b"]);
    store.delete("a").await.unwrap();
    store.delete("a").await.unwrap();
    assert_eq!(store.profiles().await.unwrap(), ["b"]);
    assert!(store.load("a").await.unwrap().is_none());
    let stored = String::from_utf8(keyring.get("twofa/session:b").unwrap()).unwrap();
    assert!(stored.starts_with("{\"version\":1,"), "{stored}");
}

#[tokio::test]
async fn api_key_round_trip_and_delete() {
    let keyring = MapKeyring::default();
    let store = keyring.store();
    assert!(store.load_api_key("bot").await.unwrap().is_none());
    let (key, secret) = (twofa_core::ApiKey::new("key-VALUE-1"), twofa_core::ApiSecret::new("secret-VALUE-2"));
    store.save_api_key("bot", &key, &secret).await.unwrap();
    let (k, s) = store.load_api_key("bot").await.unwrap().unwrap();
    assert_eq!((k.expose_secret(), s.expose_secret()), ("key-VALUE-1", "secret-VALUE-2"));
    assert_eq!(keyring.get("twofa/api-key:bot").unwrap(), b"key-VALUE-1");
    assert_eq!(keyring.get("twofa/api-secret:bot").unwrap(), b"secret-VALUE-2");
    assert!(store.profiles().await.unwrap().is_empty(), "an API key is not a session");
    store.delete_api_key("bot").await.unwrap();
    store.delete_api_key("bot").await.unwrap();
    assert!(store.load_api_key("bot").await.unwrap().is_none());
    assert!(keyring.get("twofa/api-secret:bot").is_none());
}

#[tokio::test]
async fn password_round_trip_and_delete() {
    let keyring = MapKeyring::default();
    let store = keyring.store();
    assert!(store.load_password("p").await.unwrap().is_none());
    store.save_password("p", &Password::new("hunter2-SECRET")).await.unwrap();
    let back = store.load_password("p").await.unwrap().unwrap();
    assert_eq!(back.expose_secret(), "hunter2-SECRET");
    assert!(!format!("{back:?}").contains("hunter2"));
    assert_eq!(keyring.get("twofa/password:p").unwrap(), b"hunter2-SECRET");
    assert!(store.profiles().await.unwrap().is_empty(), "a password is not a session");
    store.delete_password("p").await.unwrap();
    store.delete_password("p").await.unwrap();
    assert!(store.load_password("p").await.unwrap().is_none());
}

#[tokio::test]
async fn garbled_entry_is_a_store_error_naming_the_entry_and_is_left_alone() {
    let keyring = MapKeyring::default();
    let store = keyring.store();
    let garbage = b"{\"version\":1,\"session\":{\"provider\":\"p\",\"access_token\":\"acc-SECRET-3";
    keyring.put("twofa/session:p", garbage);
    let err = store.load("p").await.unwrap_err();
    assert!(detail(&err).contains("twofa/session:p") && detail(&err).contains("corrupt"), "{err}");
    assert!(!shown(&err).contains("SECRET"), "{err:?}");
    assert_eq!(keyring.get("twofa/session:p").unwrap(), garbage, "load never replaces an entry");
}

#[tokio::test]
async fn a_type_error_does_not_quote_the_value() {
    // serde_json's message for this is `invalid type: string "acc-SECRET-4", expected u32`.
    let keyring = MapKeyring::default();
    keyring.put("twofa/session:p", b"{\"version\":\"acc-SECRET-4\",\"session\":{}}");
    let err = keyring.store().load("p").await.unwrap_err();
    assert!(detail(&err).contains("wrong shape"), "{err}");
    assert!(!shown(&err).contains("SECRET"), "{err:?}");
}

#[tokio::test]
async fn another_version_is_refused() {
    let keyring = MapKeyring::default();
    let store = keyring.store();
    store.save("p", &session()).await.unwrap();
    let stored = String::from_utf8(keyring.get("twofa/session:p").unwrap()).unwrap();
    keyring.put("twofa/session:p", stored.replace("\"version\":1", "\"version\":2").as_bytes());
    let err = store.load("p").await.unwrap_err();
    assert!(detail(&err).contains("unsupported version 2"), "{err}");
}

#[tokio::test]
async fn oversized_entries_are_refused_on_read_and_write() {
    let keyring = MapKeyring::default();
    let store = keyring.store();
    keyring.put("twofa/session:p", &vec![b' '; 64 * 1024 + 1]);
    let err = store.load("p").await.unwrap_err();
    assert!(detail(&err).contains("larger than"), "{err}");
    keyring.put("twofa/password:p", &vec![b'x'; 4 * 1024 + 1]);
    let err = store.load_password("p").await.unwrap_err();
    assert!(detail(&err).contains("twofa/password:p") && detail(&err).contains("larger than"), "{err}");
    let big = Password::new("x".repeat(4 * 1024 + 1));
    assert!(matches!(store.save_password("q", &big).await, Err(Error::Store { .. })));
    assert!(keyring.get("twofa/password:q").is_none());
}

#[tokio::test]
async fn a_garbled_index_is_reported_and_not_overwritten() {
    let keyring = MapKeyring::default();
    let store = keyring.store();
    keyring.put("twofa/index", b"not json");
    store.save("p", &session()).await.unwrap();
    assert!(store.load("p").await.unwrap().is_some(), "the session is saved all the same");
    let err = store.profiles().await.unwrap_err();
    assert!(detail(&err).contains("twofa/index"), "{err}");
    assert_eq!(keyring.get("twofa/index").unwrap(), b"not json");
}

#[tokio::test]
async fn bad_profile_names_are_refused_before_the_keyring() {
    let store = MapKeyring::default().store();
    for bad in ["../x", ".hidden", "", "a/b", "a:b"] {
        assert!(matches!(store.load(bad).await, Err(Error::InvalidInput(_))), "{bad}");
        assert!(matches!(store.save_password(bad, &Password::new("x")).await, Err(Error::InvalidInput(_))), "{bad}");
    }
}

#[tokio::test]
async fn platform_failures_are_store_errors() {
    let store = KeyringStore::new("twofa")
        .with_credential_builder(Box::new(Failing(|| keyring::Error::PlatformFailure("dbus down".into()))));
    let err = store.save("p", &session()).await.unwrap_err();
    assert!(detail(&err).contains("twofa/session:p") && detail(&err).contains("dbus down"), "{err}");
    assert!(!shown(&err).contains("SECRET"), "{err:?}");
    assert!(matches!(store.load("p").await, Err(Error::Store { .. })));
    assert!(matches!(store.probe().await, Err(Error::Store { .. })));
}

#[tokio::test]
async fn a_non_utf8_entry_never_shows_its_bytes() {
    // `keyring::Error::BadEncoding` carries the stored bytes: its Debug would print them.
    let store = KeyringStore::new("twofa")
        .with_credential_builder(Box::new(Failing(|| keyring::Error::BadEncoding(b"SECRET-5\xff".to_vec()))));
    let err = store.load_password("p").await.unwrap_err();
    assert!(detail(&err).contains("not UTF-8"), "{err}");
    let shown = shown(&err);
    assert!(!shown.contains("SECRET") && !shown.contains("83, 69, 67"), "{shown}");
}

#[tokio::test]
async fn debug_of_the_store_shows_no_secret() {
    let keyring = MapKeyring::default();
    let store = keyring.store();
    store.save("p", &session()).await.unwrap();
    store.save_password("p", &Password::new("hunter2-SECRET")).await.unwrap();
    let debug = format!("{store:?} {:?}", Chosen::Keyring(store.clone()));
    assert!(debug.contains("twofa") && !debug.contains("SECRET"), "{debug}");
}

/// Captures what the store logs.
fn capture() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    #[derive(Clone)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let logs = Arc::new(Mutex::new(Vec::new()));
    let sink = Sink(logs.clone());
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

fn text(logs: &Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&logs.lock().unwrap()).into_owned()
}

#[tokio::test]
async fn no_keyring_falls_back_to_files_with_one_warning() {
    let (logs, _guard) = capture();
    let dir = tempfile::tempdir().unwrap();
    let keyring = KeyringStore::new("twofa").with_credential_builder(Box::new(Failing(|| {
        keyring::Error::NoStorageAccess("org.freedesktop.DBus.Error.ServiceUnknown".into())
    })));
    let chosen = keyring_or_file(keyring, FileStore::new(dir.path())).await;
    assert!(matches!(chosen, Chosen::File(_)), "{chosen:?}");
    assert!(chosen.keyring().is_none());
    chosen.store().save("p", &session()).await.unwrap();
    assert!(dir.path().join("p.json").exists());
    let logs = text(&logs);
    assert_eq!(logs.matches("no OS keyring answers").count(), 1, "{logs}");
    assert!(logs.contains("WARN") && logs.contains("ServiceUnknown"), "{logs}");
    assert!(!logs.contains("SECRET"), "{logs}");
}

#[tokio::test]
async fn a_keyring_that_never_answers_falls_back_after_the_timeout() {
    let (logs, _guard) = capture();
    let dir = tempfile::tempdir().unwrap();
    let keyring =
        KeyringStore::new("twofa").with_credential_builder(Box::new(Hanging)).with_timeout(Duration::from_millis(200));
    let chosen = keyring_or_file(keyring.clone(), FileStore::new(dir.path())).await;
    assert!(matches!(chosen, Chosen::File(_)), "{chosen:?}");
    assert!(text(&logs).contains("did not answer within 200 ms"), "{}", text(&logs));
    let err = keyring.load("p").await.unwrap_err();
    assert!(detail(&err).contains("did not answer"), "{err}");
}

#[tokio::test]
async fn a_working_keyring_is_chosen_silently() {
    let (logs, _guard) = capture();
    let keyring = MapKeyring::default();
    let chosen = keyring_or_file(keyring.store(), FileStore::new("/nonexistent")).await;
    assert!(chosen.keyring().is_some());
    chosen.store().save("p", &session()).await.unwrap();
    assert!(keyring.get("twofa/session:p").is_some());
    assert!(!text(&logs).contains("WARN"), "{}", text(&logs));
}

#[tokio::test]
async fn nothing_secret_is_logged_while_saving_and_loading() {
    let (logs, _guard) = capture();
    let keyring = MapKeyring::default();
    let store = keyring.store();
    keyring.put("twofa/index", b"garbled");
    store.save("p", &session()).await.unwrap();
    store.load("p").await.unwrap();
    store.save_password("p", &Password::new("hunter2-SECRET")).await.unwrap();
    store.load_password("p").await.unwrap();
    let logs = text(&logs);
    assert!(logs.contains("index is unreadable"), "the garbled index is logged: {logs}");
    assert!(!logs.contains("SECRET"), "{logs}");
}
