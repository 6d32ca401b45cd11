//! Operating twofa in a fleet: a person is told when a login waits for a code, Prometheus
//! metrics say how logins go, and an audit trail records who used which token.
//!
//! - [`notify`]: a [`Notifier`](notify::Notifier) sends a message (generic webhook, ntfy, Slack,
//!   Discord, Telegram) when a login waits for a code, and a follow-up when it was answered,
//!   refused or expired; [`Notifying`](notify::Notifying) wraps any
//!   [`CodeSource`](twofa_core::CodeSource) to do so. Never a code, a hint or a token in a message.
//! - [`metrics`]: one [`Metrics`](metrics::Metrics) registry for logins, renewals, resumes,
//!   failures, codes waited for and sessions' time left, in the Prometheus text format; the web
//!   console and the proxy serve it.
//! - [`audit`]: an [`AuditLog`](audit::AuditLog) of JSON lines with token fingerprints.
//! - [`layer`]: the [`OpsLayer`](layer::OpsLayer) that feeds both from `twofa-core`'s spans.
//!
//! ```
//! use twofa_ops::audit::{Action, AuditLog, Filter, Record, read};
//!
//! # fn main() -> Result<(), twofa_ops::OpsError> {
//! # let dir = tempfile::tempdir().map_err(|e| twofa_ops::OpsError::Config(e.to_string()))?;
//! let log = AuditLog::open(dir.path().join("audit.log"))?;
//! let fingerprint = log.fingerprint("the-access-token");
//! log.append(&Record::new(Action::Token, "etna-bot", "etna", "cli:token").token(fingerprint.clone()))?;
//! let found = read(log.path(), &Filter::default())?;
//! assert_eq!(found.records[0].token.as_deref(), Some(fingerprint.as_str()));
//! # Ok(()) }
//! ```

pub mod audit;
mod error;
pub mod layer;
pub mod metrics;
pub mod notify;
mod private_file;

pub use error::OpsError;
