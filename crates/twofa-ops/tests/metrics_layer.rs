//! The ops layer counts `twofa-core`'s logins, renewals, logouts and failures by provider and
//! error kind (the text parses as Prometheus reads it), and audits the renewals (its own test
//! binary: the subscriber is process-wide).

use std::sync::Arc;

use tracing_subscriber::layer::SubscriberExt as _;
use twofa_core::{Authenticator, Error, TwoFactorFlow};
use twofa_ops::{
    audit::{Action, AuditLog, Filter, read},
    layer::OpsLayer,
    metrics::{Metrics, scrape::Scrape},
};
use twofa_sandbox::{Sandbox, etna};

fn flow(sandbox: &Sandbox, password: &str) -> Arc<dyn TwoFactorFlow> {
    let built = twofa_etna::EtnaFlow::builder()
        .base_url(sandbox.etna_base_url())
        .app_key(etna::APP_KEY)
        .username(etna::USER_NO_2FA)
        .password(password)
        .build();
    Arc::new(built.unwrap_or_else(|e| panic!("{e}")))
}

#[tokio::test]
async fn logins_renewals_logouts_and_failures_are_counted() {
    let metrics = Arc::new(Metrics::new());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let audit = Arc::new(AuditLog::open(dir.path().join("audit.log")).unwrap_or_else(|e| panic!("{e}")));
    let layer = OpsLayer::new().metrics(Arc::clone(&metrics)).audit(Arc::clone(&audit), "bot");
    let subscriber = tracing_subscriber::registry().with(layer.filtered());
    tracing::subscriber::set_global_default(subscriber).unwrap_or_else(|e| panic!("{e}"));
    let sandbox = Sandbox::start().await.unwrap_or_else(|e| panic!("{e}"));
    let value = |name: &str, labels: &[(&str, &str)]| {
        Scrape::parse(&metrics.encode()).unwrap_or_else(|e| panic!("{e}")).value(name, labels).unwrap_or(0.0)
    };
    let etna = [("provider", "etna")];
    assert_eq!(value("twofa_logins_total", &etna), 0.0);

    let good = Authenticator::builder(flow(&sandbox, etna::PASSWORD)).profile("desk").build();
    good.token().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(value("twofa_logins_total", &etna), 1.0);
    assert_eq!(value("twofa_renewals_total", &[("provider", "etna"), ("how", "logged_in")]), 1.0);
    good.token().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(value("twofa_logins_total", &etna), 1.0, "a fresh session is no new login");
    good.logout().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(value("twofa_logouts_total", &etna), 1.0);

    let bad = Authenticator::builder(flow(&sandbox, "wrong-password")).profile("bad").build();
    assert!(matches!(bad.token().await, Err(Error::InvalidCredentials)));
    let failed = |op: &str| {
        value("twofa_failures_total", &[("provider", "etna"), ("operation", op), ("kind", "invalid_credentials")])
    };
    assert_eq!((failed("login"), failed("renewal")), (1.0, 1.0));
    assert_eq!(value("twofa_logins_total", &etna), 1.0);
    // The audit trail: each renewal that renewed, with its outcome (logins and logouts are the
    // program's to write, with the subject and the token's fingerprint).
    let lines = read(audit.path(), &Filter::default()).unwrap_or_else(|e| panic!("{e}")).records;
    let lines: Vec<_> =
        lines.iter().map(|r| (r.action, r.profile.as_str(), r.outcome.as_str(), r.actor.as_str())).collect();
    assert_eq!(lines, [(Action::Renewal, "desk", "ok", "bot"), (Action::Renewal, "bad", "invalid_credentials", "bot")]);
    let file = std::fs::read_to_string(audit.path()).unwrap_or_default();
    assert!(!file.contains(etna::PASSWORD) && !file.contains("wrong-password"));
    let scrape = Scrape::parse(&metrics.encode()).unwrap_or_else(|e| panic!("{e}"));
    for label in scrape.label_values() {
        assert!(!label.contains(etna::PASSWORD) && !label.contains("wrong-password"), "{label}");
    }
}
