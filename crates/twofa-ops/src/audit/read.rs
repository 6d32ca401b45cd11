//! Reading the audit trail back, oldest line first, with a [`Filter`].

use std::path::Path;

use time::OffsetDateTime;

use super::{Action, Record, rotated};
use crate::OpsError;

/// Which records [`read`] keeps; the default keeps all.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Filter {
    /// Only this profile's.
    pub profile: Option<String>,
    /// Only those at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only this outcome: `ok`, `error` (any failure) or an error kind (`invalid_code`…).
    pub outcome: Option<String>,
    /// Only this action.
    pub action: Option<Action>,
}

impl Filter {
    /// Whether `record` passes.
    pub fn keeps(&self, record: &Record) -> bool {
        self.profile.as_ref().is_none_or(|p| *p == record.profile)
            && self.since.is_none_or(|since| record.time >= since)
            && self.action.is_none_or(|a| a == record.action)
            && self.outcome.as_deref().is_none_or(|o| match o {
                "error" => record.outcome != "ok",
                wanted => record.outcome == wanted,
            })
    }
}

/// What [`read`] found.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Read {
    /// The records the filter kept, oldest first.
    pub records: Vec<Record>,
    /// Last lines of a file left unfinished (a crash mid-write), skipped.
    pub torn: usize,
    /// Complete lines that are not records (edited by hand, or another program's), skipped.
    pub unreadable: usize,
}

/// The records of the audit file `path` and its rotated files (`path.1`, `path.2`…), oldest
/// first, that `filter` keeps. A missing file reads as empty.
///
/// # Errors
///
/// [`OpsError::Io`] when a file exists but cannot be read.
pub fn read(path: &Path, filter: &Filter) -> Result<Read, OpsError> {
    let mut files: Vec<_> = (1..).map(|n| rotated(path, n)).take_while(|p| p.exists()).collect();
    files.reverse();
    files.push(path.to_owned());
    let mut found = Read::default();
    for file in files {
        let bytes = match std::fs::read(&file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(OpsError::io(&file)(e)),
        };
        parse(&bytes, filter, &mut found);
    }
    Ok(found)
}

fn parse(bytes: &[u8], filter: &Filter, found: &mut Read) {
    let complete = bytes.ends_with(b"\n");
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    let last = lines.len().saturating_sub(1);
    for (n, line) in lines.into_iter().enumerate() {
        match serde_json::from_slice::<Record>(line) {
            Ok(record) if filter.keeps(&record) => found.records.push(record),
            Ok(_) => {}
            Err(_) if n == last && !complete => found.torn += 1,
            Err(_) => found.unreadable += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditLog;

    #[test]
    fn a_torn_last_line_is_skipped_and_filters_apply() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let log = AuditLog::open(dir.path().join("audit.log")).unwrap_or_else(|e| panic!("{e}"));
        let early = OffsetDateTime::now_utc() - time::Duration::hours(2);
        let failed: Result<(), twofa_core::Error> = Err(twofa_core::Error::InvalidCode);
        let records = [
            Record::new(Action::Login, "a", "etna", "cli:login").at(early),
            Record::new(Action::Login, "b", "oms", "console").outcome(&failed),
            Record::new(Action::Token, "a", "etna", "cli:token"),
        ];
        for r in &records {
            log.append(r).unwrap_or_else(|e| panic!("{e}"));
        }
        {
            use std::io::Write as _;
            let mut file = std::fs::OpenOptions::new().append(true).open(log.path()).unwrap_or_else(|e| panic!("{e}"));
            file.write_all(br#"{"time":"2026-12-07T23:59:59Z","act"#).unwrap_or_else(|e| panic!("{e}"));
        }
        let all = read(log.path(), &Filter::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((all.records.len(), all.torn, all.unreadable), (3, 1, 0));
        assert_eq!(all.records, records);
        let only = |f: Filter| read(log.path(), &f).map(|r| r.records).unwrap_or_default();
        assert_eq!(
            only(Filter { profile: Some("a".into()), ..Filter::default() }),
            [records[0].clone(), records[2].clone()]
        );
        assert_eq!(only(Filter { outcome: Some("error".into()), ..Filter::default() }), [records[1].clone()]);
        assert_eq!(only(Filter { outcome: Some("invalid_code".into()), ..Filter::default() }), [records[1].clone()]);
        let since = Some(OffsetDateTime::now_utc() - time::Duration::hours(1));
        assert_eq!(only(Filter { since, ..Filter::default() }).len(), 2);
        assert_eq!(only(Filter { action: Some(Action::Token), ..Filter::default() }), [records[2].clone()]);
        let missing = read(&dir.path().join("none.log"), &Filter::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(missing.records.is_empty());
    }
}
