//! Building HTML by hand, safely: every piece of text goes through [`text`].

use std::fmt::Write as _;

use twofa_core::time::OffsetDateTime;

/// `s` escaped for HTML text and attribute values; control and bidi characters made visible
/// first ([`twofa_core::untrusted::escape`]), so a provider's hint cannot disguise itself.
pub fn text(s: &str) -> String {
    let visible = twofa_core::untrusted::escape(s);
    let mut out = String::with_capacity(visible.len());
    for c in visible.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `at` relative to `now`, for people: `in 4 min 10 s`, `3 h 2 min ago`.
pub fn relative(at: OffsetDateTime, now: OffsetDateTime) -> String {
    let secs = (at - now).whole_seconds();
    // Clocks and rounding put "now" a second either way.
    if secs.abs() < 5 {
        return "just now".to_owned();
    }
    let span = duration(secs.unsigned_abs());
    if secs >= 0 { format!("in {span}") } else { format!("{span} ago") }
}

/// A duration in whole seconds, its two largest units: `2 d 3 h`, `4 min 10 s`, `9 s`.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    let parts = [(d, "d"), (h, "h"), (m, "min"), (s, "s")];
    let first = parts.iter().position(|(n, _)| *n > 0).unwrap_or(3);
    for (n, unit) in parts.iter().skip(first).take(2) {
        if !out.is_empty() && *n == 0 {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        let _ = write!(out, "{n} {unit}");
    }
    out
}

/// `at` as an absolute UTC time, for the `title` of a relative one.
pub fn absolute(at: OffsetDateTime) -> String {
    let format = twofa_core::time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    at.format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_markup_and_terminal_tricks() {
        assert_eq!(
            text(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(text("a\u{202e}b\u{1b}"), "a\\u{202e}b\\u{1b}");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(0), "0 s");
        assert_eq!(duration(9), "9 s");
        assert_eq!(duration(250), "4 min 10 s");
        assert_eq!(duration(3600), "1 h");
        assert_eq!(duration(86_400 + 3 * 3600 + 5), "1 d 3 h");
        let now = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(relative(now + twofa_core::time::Duration::seconds(90), now), "in 1 min 30 s");
        assert_eq!(relative(now - twofa_core::time::Duration::seconds(7200), now), "2 h ago");
        assert_eq!(relative(now + twofa_core::time::Duration::seconds(1), now), "just now");
    }
}
