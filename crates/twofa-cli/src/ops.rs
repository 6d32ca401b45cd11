//! What a run tells the world outside: the process's metrics registry (served by `twofa serve`),
//! its audit trail (`--audit-file`) and the notifiers of `--notify` specs (see
//! `docs/operations.md`).

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use twofa_core::{CodeSource, Error, Session};
use twofa_ops::{
    audit::{Action, AuditLog, FingerprintKey, Record},
    metrics::Metrics,
    notify::{Notifier, NotifySpec, Notifying},
};

use crate::settings::Settings;

/// How long a command waits, at its end, for its last notices to go out.
const NOTIFY_FLUSH: Duration = Duration::from_secs(10);

static METRICS: OnceLock<Arc<Metrics>> = OnceLock::new();
static AUDIT: OnceLock<Option<Arc<AuditLog>>> = OnceLock::new();

/// The process's metrics registry: the logging layer counts into it, `serve` serves it.
pub fn metrics() -> Arc<Metrics> {
    Arc::clone(METRICS.get_or_init(Arc::default))
}

/// The audit trail of `settings`, opened once per process (`None` without `--audit-file`). Its
/// fingerprint key lives in the store directory (`audit.key`, `0600`): one key per store.
///
/// # Errors
///
/// [`Error::Store`] or [`Error::Config`] when the file or its key cannot be opened or is readable
/// by others.
pub fn audit(settings: &Settings) -> Result<Option<Arc<AuditLog>>, Error> {
    if let Some(opened) = AUDIT.get() {
        return Ok(opened.clone());
    }
    let opened = match &settings.audit_file {
        None => None,
        Some(path) => {
            twofa_core::store::private_fs::create_dir(&settings.store_dir)?;
            let key = FingerprintKey::load_or_create(&settings.audit_key())?;
            Some(Arc::new(AuditLog::with_key(path.clone(), key)?))
        }
    };
    Ok(AUDIT.get_or_init(|| opened).clone())
}

/// Appends one line of `action` on `profile` (at `provider`, by `actor`) with the outcome of
/// `result`, the session's subject and its token's fingerprint, if an audit trail is kept.
///
/// # Errors
///
/// As [`audit`], or when the line cannot be written: a token is not handed out unaudited.
pub fn record(
    settings: &Settings,
    action: Action,
    profile: &str,
    provider: &str,
    actor: &str,
    result: Result<&Session, &Error>,
) -> Result<(), Error> {
    let Some(log) = audit(settings)? else { return Ok(()) };
    let mut line = Record::new(action, profile, provider, actor);
    line = match result {
        Ok(session) => line.subject(session.subject()).token(log.fingerprint(session.access_token().expose_secret())),
        Err(e) => line.with_outcome(e.kind()),
    };
    Ok(log.append(&line)?)
}

/// Appends one line of `action` (a logout: no session, no token) with the outcome `error`.
///
/// # Errors
///
/// As [`record`].
pub fn record_outcome(
    settings: &Settings,
    action: Action,
    profile: &str,
    provider: &str,
    actor: &str,
    error: Option<&Error>,
) -> Result<(), Error> {
    let Some(log) = audit(settings)? else { return Ok(()) };
    let line = Record::new(action, profile, provider, actor).with_outcome(error.map_or("ok", Error::kind));
    Ok(log.append(&line)?)
}

/// The notifier of `specs` (`None` for none), each sink's URL read now.
///
/// # Errors
///
/// [`Error::Config`] for a spec that does not parse, an unset variable, a URL file others may
/// read, or an invalid URL.
pub fn notifier(specs: &[String]) -> Result<Option<Arc<Notifier>>, Error> {
    if specs.is_empty() {
        return Ok(None);
    }
    let parsed = specs.iter().map(|s| s.parse::<NotifySpec>()).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Arc::new(Notifier::builder().specs(&parsed)?.build()?)))
}

/// `codes`, announcing `profile`'s waits through `notifier` when there is one.
pub fn notifying(codes: Arc<dyn CodeSource>, notifier: Option<&Arc<Notifier>>, profile: &str) -> Arc<dyn CodeSource> {
    match notifier {
        Some(notifier) => Arc::new(Notifying::new(codes, Arc::clone(notifier), profile)),
        None => codes,
    }
}

/// Lets the last notices (a follow-up) go out before the command exits.
pub async fn flush(notifier: Option<&Arc<Notifier>>) {
    if let Some(notifier) = notifier {
        let _ = tokio::time::timeout(NOTIFY_FLUSH, notifier.flush()).await;
    }
}
