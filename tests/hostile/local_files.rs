//! Another local account, or a mistake, in the session directory: symbolic links planted where a
//! session or a lock should be, files owned by someone else or writable by group/others, a FIFO,
//! an oversized file, and what a crashed writer leaves. Each is refused with `Error::Store`
//! naming the path, and never read as a session.
#![cfg(unix)]

use std::{
    fs,
    os::unix::fs::{PermissionsExt as _, symlink},
    path::Path,
    time::Duration,
};

use twofa::{
    AccessToken, Error, Session, TokenPlacement,
    store::{FileStore, SessionStore},
};

fn session(token: &str) -> Session {
    Session::new("p", AccessToken::new(token), TokenPlacement::Bearer, twofa::time::OffsetDateTime::UNIX_EPOCH)
}

/// A store in a fresh 0700 directory, with `p` saved.
async fn store_with_p() -> (tempfile::TempDir, FileStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("sessions"));
    store.save("p", &session("mine")).await.unwrap();
    (dir, store)
}

/// Asserts `err` is `Error::Store` about `path`, with `words` in its detail.
fn assert_refused(err: &Error, path: &Path, words: &str) {
    match err {
        Error::Store { path: Some(p), detail } => {
            assert_eq!(p, path, "{err}");
            assert!(detail.contains(words), "`{words}` not in: {detail}");
        }
        other => panic!("expected Error::Store about {}, got {other:?}", path.display()),
    }
}

#[tokio::test]
async fn a_session_file_that_is_a_symlink_is_not_followed() {
    let (dir, store) = store_with_p().await;
    // Another store's session (any file the attacker wants us to read or use as ours).
    let elsewhere = FileStore::new(dir.path().join("elsewhere"));
    elsewhere.save("p", &session("planted")).await.unwrap();
    let path = store.path("p").unwrap();
    fs::remove_file(&path).unwrap();
    symlink(elsewhere.path("p").unwrap(), &path).unwrap();
    assert_refused(&store.load("p").await.unwrap_err(), &path, "symbolic link");
    // Saving does not write through the link, nor replace it silently.
    assert_refused(&store.save("p", &session("new")).await.unwrap_err(), &path, "symbolic link");
    assert_eq!(elsewhere.load("p").await.unwrap().unwrap().access_token().expose_secret(), "planted");
    assert!(fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
    assert!(store.profiles().await.unwrap().is_empty(), "a link is not listed as a profile");
}

#[tokio::test]
async fn a_lock_file_that_is_a_symlink_is_not_followed() {
    let (dir, store) = store_with_p().await;
    // `open(O_CREAT)` through a dangling link would create the target: a file of our user's wherever the attacker likes.
    let target = dir.path().join("created-through-the-link");
    let lock = store.dir().join(".p.json.lock");
    fs::remove_file(&lock).unwrap();
    symlink(&target, &lock).unwrap();
    assert_refused(&store.save("p", &session("new")).await.unwrap_err(), &lock, "symbolic link");
    assert!(!target.exists(), "nothing was created through the link");
    assert_eq!(store.load("p").await.unwrap().unwrap().access_token().expose_secret(), "mine");
}

#[tokio::test]
async fn a_file_owned_by_another_user_is_refused() {
    let (_dir, store) = store_with_p().await;
    let path = store.path("p").unwrap();
    // uid 65534 is `nobody`; only root may give a file away, so elsewhere this case cannot be set up.
    if std::os::unix::fs::chown(&path, Some(65534), None).is_err() {
        eprintln!("skipped: chown needs root");
        return;
    }
    assert_refused(&store.load("p").await.unwrap_err(), &path, "chown");
    assert_refused(&store.save("p", &session("new")).await.unwrap_err(), &path, "owned by uid 65534");
    std::os::unix::fs::chown(&path, Some(0), None).unwrap();
    std::os::unix::fs::chown(store.dir(), Some(65534), None).unwrap();
    assert_refused(&store.load("p").await.unwrap_err(), store.dir(), "owned by uid 65534");
    assert_refused(&store.profiles().await.unwrap_err(), store.dir(), "owned by uid 65534");
}

#[tokio::test]
async fn a_file_or_directory_writable_by_group_or_others_is_refused() {
    let (_dir, store) = store_with_p().await;
    let path = store.path("p").unwrap();
    for mode in [0o620, 0o602] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        assert_refused(&store.load("p").await.unwrap_err(), &path, "chmod go-w");
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(store.dir(), fs::Permissions::from_mode(0o777)).unwrap();
    assert_refused(&store.load("p").await.unwrap_err(), store.dir(), "writable by group or others");
    assert_refused(&store.save("p", &session("new")).await.unwrap_err(), store.dir(), "chmod go-w");
    fs::set_permissions(store.dir(), fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(store.load("p").await.unwrap().unwrap().access_token().expose_secret(), "mine");
}

#[tokio::test]
async fn a_fifo_is_refused_instead_of_hanging() {
    let (_dir, store) = store_with_p().await;
    let path = store.path("p").unwrap();
    fs::remove_file(&path).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(made.success());
    match tokio::time::timeout(Duration::from_secs(20), store.load("p")).await {
        Ok(result) => assert_refused(&result.unwrap_err(), &path, "not a regular file"),
        Err(_) => {
            // Free the blocked reader (a writer's open completes its open), so the test ends.
            drop(fs::OpenOptions::new().write(true).open(&path));
            panic!("loading a FIFO hung");
        }
    }
}

#[tokio::test]
async fn an_oversized_file_is_refused_before_it_is_parsed() {
    let (_dir, store) = store_with_p().await;
    let path = store.path("p").unwrap();
    let mut json = br#"{"version":1,"session":{"provider":"p","padding":""#.to_vec();
    json.resize(2 * 1024 * 1024, b'x');
    json.extend_from_slice(br#""}}"#);
    fs::write(&path, &json).unwrap();
    assert_refused(&store.load("p").await.unwrap_err(), &path, "larger than 1048576 bytes");
}

#[tokio::test]
async fn temporary_files_a_crash_left_are_never_read_and_are_removed() {
    let (_dir, store) = store_with_p().await;
    // A complete session in a leftover: it must still never be taken for `p` or listed.
    let leftover = store.dir().join(".p.json.4242.77.tmp");
    fs::copy(store.path("p").unwrap(), &leftover).unwrap();
    let other = store.dir().join(".q.json.4242.78.tmp");
    fs::copy(store.path("p").unwrap(), &other).unwrap();
    assert_eq!(store.profiles().await.unwrap(), ["p"]);
    assert!(store.load("q").await.unwrap().is_none());
    store.save("p", &session("new")).await.unwrap();
    assert!(!leftover.exists(), "the next write of `p` removed its leftover");
    assert!(other.exists(), "another profile's file is left to that profile's writer");
    assert_eq!(store.load("p").await.unwrap().unwrap().access_token().expose_secret(), "new");
}

/// Issue 22 item 7: a store directory whose parent another account may write is refused, as
/// OpenSSH's StrictModes refuses it: whoever can write the parent can swap the directory itself.
#[tokio::test]
async fn a_store_directory_under_a_group_or_world_writable_parent_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let sessions = home.path().join("sessions");
    let store = FileStore::new(&sessions);
    store.save("p", &session("mine")).await.unwrap();
    for mode in [0o777, 0o770] {
        fs::set_permissions(home.path(), fs::Permissions::from_mode(mode)).unwrap();
        let err = store.save("p", &session("new")).await.unwrap_err();
        assert_refused(&err, home.path(), "writable by group or others");
        let err = store.load("p").await.unwrap_err();
        assert_refused(&err, home.path(), "writable by group or others");
    }
    fs::set_permissions(home.path(), fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(store.load("p").await.unwrap().unwrap().access_token().expose_secret(), "mine", "nothing replaced");
}

/// Issue 22 item 7: a `sessions` directory that is a symbolic link (planted by whoever could write
/// the store directory) is never followed: nothing is written where it points.
#[tokio::test]
async fn a_symlinked_store_subdirectory_is_never_followed() {
    let home = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let sessions = home.path().join("sessions");
    symlink(elsewhere.path(), &sessions).unwrap();
    let store = FileStore::new(&sessions);
    let err = store.save("p", &session("secret-token")).await.unwrap_err();
    assert_refused(&err, &sessions, "symbolic link");
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0, "a secret was written where the link points");
    // A session planted where the link points is not read either.
    fs::write(elsewhere.path().join("p.json"), b"{}").unwrap();
    fs::set_permissions(elsewhere.path().join("p.json"), fs::Permissions::from_mode(0o600)).unwrap();
    let err = store.load("p").await.unwrap_err();
    assert_refused(&err, &sessions, "symbolic link");
}

/// Red team of issue 22 item 7: deleting a session (`logout`) through a `sessions` directory that is
/// a symbolic link removed the file of the same name where the link points — a file of this user's
/// that whoever planted the link could not delete themselves. The delete is refused like a read.
#[tokio::test]
async fn a_delete_never_follows_a_symlinked_store_subdirectory() {
    let home = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let precious = elsewhere.path().join("p.json");
    fs::write(&precious, b"precious").unwrap();
    let sessions = home.path().join("sessions");
    symlink(elsewhere.path(), &sessions).unwrap();
    let err = FileStore::new(&sessions).delete("p").await.unwrap_err();
    assert_refused(&err, &sessions, "symbolic link");
    assert_eq!(fs::read(&precious).unwrap(), b"precious", "the delete followed the link");
    // A store directory that does not exist has nothing to delete.
    FileStore::new(home.path().join("absent")).delete("p").await.unwrap();
}
