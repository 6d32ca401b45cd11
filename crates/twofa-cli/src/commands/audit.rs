//! `twofa audit`: the audit trail, oldest line first, filtered by profile, time, outcome, action.

use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use twofa_ops::audit::{Action, Filter, Record, read};

use super::Context;
use crate::{
    args::{AuditAction, AuditArgs},
    output::Failure,
};

/// `twofa audit`: prints the lines of `--audit-file` that pass the filters.
pub fn audit(ctx: &Context, args: AuditArgs) -> Result<(), Failure> {
    let Some(path) = &ctx.settings.audit_file else {
        return Err(Failure::usage("no audit file: pass --audit-file PATH or set TWOFA_AUDIT_FILE"));
    };
    let mut filter = Filter::default();
    filter.profile = args.profile;
    filter.since = args.since.as_deref().map(|s| since(s, OffsetDateTime::now_utc())).transpose()?;
    filter.outcome = args.outcome;
    filter.action = args.action.map(action);
    let found = read(path, &filter).map_err(|e| Failure::usage_error(e.into()))?;
    for record in &found.records {
        if ctx.printer.is_json() {
            ctx.printer.json(&serde_json::to_value(record).unwrap_or_default());
        } else {
            ctx.printer.line(row(record));
        }
    }
    if found.torn + found.unreadable > 0 {
        ctx.printer.warn(format_args!(
            "skipped {} line(s) that are not audit records (a line cut short by a crash, or edited)",
            found.torn + found.unreadable
        ));
    }
    Ok(())
}

fn action(a: AuditAction) -> Action {
    match a {
        AuditAction::Login => Action::Login,
        AuditAction::Renewal => Action::Renewal,
        AuditAction::Resume => Action::Resume,
        AuditAction::Logout => Action::Logout,
        AuditAction::Token => Action::Token,
    }
}

/// `--since`: an RFC 3339 time, or an age before `now` (`90s`, `30m`, `12h`, `7d`).
fn since(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, Failure> {
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at);
    }
    let bad = || Failure::usage(format!("--since `{text}` is neither an RFC 3339 time nor an age like 30m, 12h or 7d"));
    let (digits, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(bad()),
    };
    Ok(now - time::Duration::seconds(seconds))
}

/// One line for a person: time, action, profile, provider, outcome, actor, fingerprint, subject.
fn row(r: &Record) -> String {
    let time = r.time.format(&Rfc3339).unwrap_or_default();
    let subject: Vec<String> = r.subject.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let line = format!(
        "{time}  {:<7}  {}  {}  {}  {}  {}  {}",
        r.action.name(),
        r.profile,
        r.provider,
        r.outcome,
        r.actor,
        r.token.as_deref().unwrap_or("-"),
        subject.join(",")
    );
    twofa_core::untrusted::escape(line.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_time_or_an_age() {
        let now = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let at = |s: &str| since(s, now).map(|t| t.unix_timestamp()).ok();
        assert_eq!(at("90s"), Some(1_000_000 - 90));
        assert_eq!(at("30m"), Some(1_000_000 - 1800));
        assert_eq!(at("2h"), Some(1_000_000 - 7200));
        assert_eq!(at("1d"), Some(1_000_000 - 86_400));
        assert_eq!(at("1970-01-12T13:46:40Z"), Some(1_000_000));
        for bad in ["", "h", "12", "3w", "yesterday"] {
            assert!(since(bad, now).is_err(), "{bad}");
        }
    }
}
