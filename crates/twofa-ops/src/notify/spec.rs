//! Notify specs, `KIND:env:VAR` or `KIND:file:PATH`: which sink, and where its URL is kept.

use std::path::PathBuf;

use super::sink::{Sink, SinkKind};
use crate::{OpsError, private_file};

/// Where a sink's URL is read from: never the command line (a webhook URL is a credential).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlFrom {
    /// An environment variable.
    Env(String),
    /// A file only its owner may read (`0600`); its first line is the URL.
    File(PathBuf),
}

/// A parsed notify spec: the sink's kind and where its URL is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotifySpec {
    /// The sink.
    pub kind: SinkKind,
    /// Where its URL is.
    pub from: UrlFrom,
}

impl std::str::FromStr for NotifySpec {
    type Err = OpsError;

    /// `ntfy:env:NTFY_URL`, `telegram:file:/etc/twofa/telegram.url`, `webhook:env:HOOK`…
    fn from_str(spec: &str) -> Result<Self, OpsError> {
        let usage = || {
            OpsError::Config(format!(
                "`{spec}` is not a notify spec: KIND:env:VAR or KIND:file:PATH, KIND one of webhook, ntfy, slack, \
                 discord, telegram (the URL itself never goes on the command line)"
            ))
        };
        let mut parts = spec.splitn(3, ':');
        let (Some(kind), Some(from), Some(place)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(usage());
        };
        let kind = SinkKind::from_name(kind).ok_or_else(usage)?;
        let from = match (from, place) {
            (_, "") => return Err(usage()),
            ("env", var) => UrlFrom::Env(var.to_owned()),
            ("file", path) => UrlFrom::File(PathBuf::from(path)),
            _ => return Err(usage()),
        };
        Ok(Self { kind, from })
    }
}

impl std::fmt::Display for NotifySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.from {
            UrlFrom::Env(var) => write!(f, "{}:env:{var}", self.kind.name()),
            UrlFrom::File(path) => write!(f, "{}:file:{}", self.kind.name(), path.display()),
        }
    }
}

impl NotifySpec {
    /// The sink, with its URL read from the variable or the file now.
    ///
    /// # Errors
    ///
    /// [`OpsError::Config`] for an unset variable or an invalid URL, [`OpsError::Io`] for an
    /// unreadable file, [`OpsError::OpenPermissions`] for a file the group or others may read.
    pub fn sink(&self) -> Result<Sink, OpsError> {
        let url = match &self.from {
            UrlFrom::Env(var) => std::env::var(var).map_err(|_| {
                OpsError::Config(format!("the {} notification URL variable {var} is not set", self.kind.name()))
            })?,
            UrlFrom::File(path) => {
                let bytes = private_file::read_private(path)?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| OpsError::Config(format!("{} is not UTF-8 text", path.display())))?;
                text.lines().next().unwrap_or_default().to_owned()
            }
        };
        Sink::new(self.kind, &url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_a_kind_and_a_place_never_a_url() {
        let spec: NotifySpec = "ntfy:env:NTFY_URL".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec, NotifySpec { kind: SinkKind::Ntfy, from: UrlFrom::Env("NTFY_URL".into()) });
        assert_eq!(spec.to_string(), "ntfy:env:NTFY_URL");
        let file: NotifySpec = "telegram:file:/etc/t:g".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.from, UrlFrom::File(PathBuf::from("/etc/t:g")));
        for bad in ["https://ntfy.sh/x", "ntfy:https://ntfy.sh/x", "pager:env:X", "slack:env:", "slack"] {
            assert!(matches!(bad.parse::<NotifySpec>(), Err(OpsError::Config(_))), "{bad}");
        }
        let unset: NotifySpec = "slack:env:TWOFA_OPS_TEST_UNSET_VARIABLE".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(unset.sink(), Err(OpsError::Config(m)) if m.contains("is not set")));
    }

    #[cfg(unix)]
    #[test]
    fn a_url_file_others_may_read_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("hook.url");
        std::fs::write(&path, "http://127.0.0.1:9/hook\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap_or_else(|e| panic!("{e}"));
        let spec = NotifySpec { kind: SinkKind::Webhook, from: UrlFrom::File(path.clone()) };
        assert!(matches!(spec.sink(), Err(OpsError::OpenPermissions { mode: 0o644, .. })));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.sink().map(|s| s.host().to_owned()).ok().as_deref(), Some("127.0.0.1"));
    }
}
