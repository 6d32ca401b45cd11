//! Every renewal, resume, login and logout is a `tracing` span that records its outcome (its own
//! test binary: the subscriber is process-wide).
#![cfg(feature = "etna")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;

use twofa::{Authenticator, Error};
use twofa_sandbox::{Sandbox, etna};

mod sandbox_flows;
use sandbox_flows::etna_flow;

/// Captured `fmt` output.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn renewals_and_logouts_are_spans_that_record_their_outcome() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .without_time()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // Global, not scoped: a scoped subscriber misses callsites another test thread registered first.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let sandbox = Sandbox::start().await.unwrap();
    let good = Authenticator::builder(etna_flow(&sandbox, etna::USER_NO_2FA, etna::PASSWORD)).profile("desk").build();
    good.token().await.unwrap();
    good.logout().await.unwrap();
    let bad = Authenticator::builder(etna_flow(&sandbox, etna::USER_NO_2FA, "wrong-password")).build();
    assert!(matches!(bad.token().await, Err(Error::InvalidCredentials)));

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let finished: Vec<&str> = logs.lines().filter(|l| l.contains("finished")).collect();
    let has = |parts: &[&str]| finished.iter().any(|l| parts.iter().all(|p| l.contains(p)));
    assert!(has(&["renewal{", "provider=\"etna\"", "profile=\"desk\"", "outcome=\"logged_in\""]), "{logs}");
    assert!(has(&["login{", "outcome=\"ok\""]), "{logs}");
    assert!(has(&["logout{", "profile=\"desk\"", "outcome=\"ok\""]), "{logs}");
    assert!(has(&["renewal{", "profile=\"etna\"", "outcome=\"error\"", "rejected"]), "{logs}");
    assert!(!logs.contains(etna::PASSWORD) && !logs.contains("wrong-password"), "{logs}");
}
