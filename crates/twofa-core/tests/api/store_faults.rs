//! `FileStore` under faults: a crash before the rename, two writer processes, an unwritable place.

use std::{
    fs,
    path::Path,
    process::{Command, Stdio},
};

use time::OffsetDateTime;
use twofa_core::{
    AccessToken, Error, Session, TokenPlacement,
    store::{FileStore, SessionStore},
};

fn session(token: &str) -> Session {
    // A long subject makes a torn write easy to spot.
    Session::new("p", AccessToken::new(token), TokenPlacement::Bearer, OffsetDateTime::UNIX_EPOCH)
        .with_subject("padding", token.repeat(200))
}

#[tokio::test]
async fn a_crash_between_write_and_rename_leaves_the_old_session() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path());
    store.save("p", &session("old")).await.unwrap();
    // What a crash after writing the temporary file but before the rename leaves behind.
    fs::write(dir.path().join(".p.json.4242.77.tmp"), b"{\"version\":1,\"session\":{\"provider\":\"p\",\"acc").unwrap();
    assert_eq!(store.load("p").await.unwrap().unwrap().access_token().expose_secret(), "old");
    assert_eq!(store.profiles().await.unwrap(), ["p"], "leftovers are not profiles");
    store.save("p", &session("new")).await.unwrap();
    assert_eq!(store.load("p").await.unwrap().unwrap().access_token().expose_secret(), "new");
}

/// Run by `two_processes_writing_one_profile_never_tear_it` in child processes.
#[tokio::test]
#[ignore = "a helper: run as a child process"]
async fn writer_process() {
    let Ok(dir) = std::env::var("TWOFA_WRITER_DIR") else { return };
    let token = std::env::var("TWOFA_WRITER_TOKEN").unwrap();
    let store = FileStore::new(dir);
    for _ in 0..150 {
        store.save("shared", &session(&token)).await.unwrap();
    }
}

#[tokio::test]
async fn two_processes_writing_one_profile_never_tear_it() {
    let dir = tempfile::tempdir().unwrap();
    let spawn = |token: &str| {
        Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "store_faults::writer_process", "--test-threads", "1"])
            .env("TWOFA_WRITER_DIR", dir.path())
            .env("TWOFA_WRITER_TOKEN", token)
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut writers = [spawn("aaaa"), spawn("bbbb")];
    let store = FileStore::new(dir.path());
    let mut reads = 0;
    while writers.iter_mut().any(|w| w.try_wait().unwrap().is_none()) {
        if let Some(s) = store.load("shared").await.expect("a reader never sees a torn file") {
            let token = s.access_token().expose_secret().to_owned();
            assert!(token == "aaaa" || token == "bbbb");
            assert_eq!(s.subject()["padding"], token.repeat(200));
            reads += 1;
        }
    }
    for mut w in writers {
        assert!(w.wait().unwrap().success());
    }
    assert!(reads > 0);
    let leftovers = fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp"))
        .count();
    assert_eq!(leftovers, 0);
}

fn unwritable(path: &Path) -> bool {
    fs::write(path.join("probe"), b"").is_err()
}

#[tokio::test]
async fn an_unwritable_place_is_a_clear_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the store's directory should be: fails for every user, root included.
    let blocker = dir.path().join("not-a-directory");
    fs::write(&blocker, b"").unwrap();
    let err = FileStore::new(&blocker).save("p", &session("t")).await.unwrap_err();
    assert!(matches!(&err, Error::Store { path: Some(p), .. } if p == &blocker), "{err:?}");
    assert!(err.to_string().contains("not-a-directory"));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let read_only = dir.path().join("read-only");
        fs::create_dir(&read_only).unwrap();
        fs::set_permissions(&read_only, fs::Permissions::from_mode(0o500)).unwrap();
        if unwritable(&read_only) {
            // Skipped under root, which writes anywhere; the case above covers it.
            let err = FileStore::new(&read_only).save("p", &session("t")).await.unwrap_err();
            assert!(matches!(err, Error::Store { path: Some(_), .. }), "{err:?}");
        }
        fs::set_permissions(&read_only, fs::Permissions::from_mode(0o700)).unwrap();
    }
}
