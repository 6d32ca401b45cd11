//! [`OpsError`]: what can go wrong configuring a notifier or writing the audit trail.

use std::path::PathBuf;

/// Why a notifier could not be configured or the audit trail could not be written or read.
///
/// No variant ever holds a notification URL, a token or a fingerprint key: a webhook URL is a
/// secret in itself (Slack's, Discord's), so errors name the sink and the setting, not the value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpsError {
    /// A notification spec or setting is invalid; the message says which and how to fix it.
    #[error("{0}")]
    Config(String),
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A secret file is readable by the group or by others; it is refused until `chmod 600`.
    #[error("{path} is readable by other users (mode {mode:o}): run `chmod 600 {path}`", path = path.display())]
    OpenPermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

impl OpsError {
    /// An [`OpsError::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

impl From<OpsError> for twofa_core::Error {
    fn from(e: OpsError) -> Self {
        match e {
            OpsError::Io { path, source } => twofa_core::Error::Store { path: Some(path), detail: source.to_string() },
            other => twofa_core::Error::Config(other.to_string()),
        }
    }
}
