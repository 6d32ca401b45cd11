//! Running a blocking keyring call without blocking the caller, and without waiting forever.

use std::time::Duration;

use twofa_core::Error;

/// Runs `f` on a thread of its own and waits at most `timeout` for it.
///
/// A plain thread rather than `spawn_blocking`: a keyring call stuck on an unlock prompt would
/// otherwise hold the runtime's shutdown forever. The thread enters the caller's runtime, because
/// the Secret Service backend (zbus on tokio) spawns its connection's tasks there; those run while
/// the caller awaits, which is also why the call must never block the caller's thread itself.
pub(crate) async fn bounded<T: Send + 'static>(
    entry: &str,
    timeout: Duration,
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| store_error(entry, "the OS keyring store needs a tokio runtime"))?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("twofa-keyring".into())
        .spawn(move || {
            let _runtime = runtime.enter();
            let _ = tx.send(f());
        })
        .map_err(|e| store_error(entry, &format!("cannot start the keyring thread: {e}")))?;
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(store_error(entry, "the keyring call failed")),
        Err(_) => Err(store_error(
            entry,
            &format!(
                "the OS keyring did not answer within {} ms (locked, or no service running?)",
                timeout.as_millis()
            ),
        )),
    }
}

/// A store error about one keyring entry: it names the entry, never its value.
pub(crate) fn store_error(entry: &str, detail: &str) -> Error {
    Error::Store { path: None, detail: format!("OS keyring entry `{entry}`: {detail}") }
}

/// Describes a keyring failure without anything it may carry of the secret (`BadEncoding` holds
/// the stored bytes).
pub(crate) fn keyring_error(entry: &str, what: &str, e: &keyring::Error) -> Error {
    use keyring::Error as K;
    let why = match e {
        K::PlatformFailure(inner) => format!("the platform store failed: {inner}"),
        K::NoStorageAccess(inner) => format!("no access to the platform store: {inner}"),
        K::NoEntry => "no such entry".to_owned(),
        K::BadEncoding(_) => "the stored value is not UTF-8".to_owned(),
        K::TooLong(attribute, limit) => format!("{attribute} is longer than the platform's {limit} characters"),
        K::Invalid(attribute, reason) => format!("{attribute} is invalid: {reason}"),
        K::Ambiguous(items) => format!("{} items match it", items.len()),
        _ => "an unknown keyring failure".to_owned(),
    };
    store_error(entry, &format!("{what}: {why}"))
}
