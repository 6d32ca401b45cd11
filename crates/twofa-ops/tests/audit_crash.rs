//! The audit file survives a `kill -9` mid-write: a child process appends in a loop, is killed,
//! and every complete line still parses; at most the last one is torn, and it is skipped.

use std::{path::PathBuf, process::Command};

use twofa_ops::audit::{Action, AuditLog, Filter, Record, read};

/// Where the child writes; set only in the child.
const CHILD_ENV: &str = "TWOFA_OPS_AUDIT_CHILD";

/// The child: appends records until killed. Run only by the test below, which sets the variable.
#[test]
#[ignore = "the child process of audit_file_survives_kill_9"]
fn audit_writer_child() {
    let Some(path) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else { return };
    let log = AuditLog::open(path).unwrap_or_else(|e| panic!("{e}"));
    // Long subjects make long lines: a kill lands inside a write more often.
    let subject = [("user".to_owned(), "u".repeat(4000))].into_iter().collect();
    for n in 0u64.. {
        let record = Record::new(Action::Token, &format!("p{n}"), "etna", "child")
            .subject(&subject)
            .token(log.fingerprint(&n.to_string()));
        log.append(&record).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn audit_file_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("audit.log");
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(exe)
        .args(["--exact", "audit_writer_child", "--include-ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // Wait until it has written a good many lines, then SIGKILL it (Child::kill on Unix).
    while std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) < 2_000_000 {
        assert!(child.try_wait().ok().flatten().is_none(), "the child stopped writing on its own");
        std::thread::yield_now();
    }
    child.kill().unwrap_or_else(|e| panic!("{e}"));
    let _ = child.wait();
    let found = read(&path, &Filter::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(found.torn <= 1, "at most the last line is torn: {}", found.torn);
    assert_eq!(found.unreadable, 0, "every complete line parses");
    assert!(found.records.len() >= 400, "{} records", found.records.len());
    for (n, record) in found.records.iter().enumerate() {
        assert_eq!(record.profile, format!("p{n}"), "no line lost or interleaved before the kill");
    }
    // A kill rarely lands inside a write; leave a torn line by hand, as one would look.
    {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap_or_else(|e| panic!("{e}"));
        file.write_all(br#"{"time":"2026-12-07T23:59:59Z","action":"tok"#).unwrap_or_else(|e| panic!("{e}"));
    }
    let torn = read(&path, &Filter::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((torn.torn, torn.records.len()), (1, found.records.len()));
    // The file takes new lines after the crash, and the torn line stays skipped.
    let log = AuditLog::open(&path).unwrap_or_else(|e| panic!("{e}"));
    log.append(&Record::new(Action::Logout, "after", "etna", "test")).unwrap_or_else(|e| panic!("{e}"));
    let after = read(&path, &Filter::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(after.records.last().map(|r| r.profile.as_str()), Some("after"));
    assert_eq!(after.records.len(), found.records.len() + 1);
    assert_eq!(after.torn, 0);
    assert_eq!(after.unreadable, 1, "the torn line, ended by a newline, is skipped");
}
