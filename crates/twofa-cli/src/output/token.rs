//! What `twofa token` prints: the [token contract](crate::contract) as JSON, curl config lines,
//! shell assignments, header lines or the bare token. Secrets go to standard output only.

use std::io::Write as _;

use twofa_core::{Error, Session};

use crate::{args::Format, contract};

/// Prints `session` of profile `profile` in `format`; `header` asks the text format for every
/// header, one `Name: value` a line, instead of the bare token.
///
/// # Errors
///
/// [`Error::Config`] for `--header` with another format than text and when standard output is
/// closed; the session's own error for a header that cannot be sent.
pub(super) fn print(format: Format, profile: &str, session: &Session, header: bool) -> Result<(), Error> {
    if header && format != Format::Text {
        return Err(Error::Config(
            "--header is for the text format: json, curl and env already carry every header".into(),
        ));
    }
    let text = render(format, profile, session, header)?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::Config(format!("cannot write the token to standard output: {e}")))
}

/// The text `print` writes, in a buffer that is wiped when dropped.
fn render(format: Format, profile: &str, session: &Session, header: bool) -> Result<zeroize::Zeroizing<String>, Error> {
    let headers = session.header_list()?;
    let mut out = zeroize::Zeroizing::new(String::new());
    match format {
        Format::Text if header => {
            for (name, value) in &headers {
                out.push_str(&format!("{name}: {}\n", value.expose_secret()));
            }
        }
        Format::Text => {
            out.push_str(session.access_token().expose_secret());
            out.push('\n');
        }
        Format::Json => {
            out.push_str(&zeroize::Zeroizing::new(contract::object(profile, session, &headers).to_string()));
            out.push('\n');
        }
        Format::Curl => {
            for (name, value) in &headers {
                out.push_str("header = ");
                out.push_str(&curl_quote(&format!("{name}: {}", value.expose_secret())));
                out.push('\n');
            }
        }
        Format::Env => {
            for (name, value) in contract::variables("TWOFA_", profile, session, &headers) {
                out.push_str(&format!("export {name}={}\n", sh_quote(&value)));
            }
        }
    }
    Ok(out)
}

/// `value` as a double-quoted parameter of a curl config file (`curl -K`): inside double quotes
/// curl reads `\\`, `\"`, `\t`, `\n`, `\r` and `\v` as escapes and drops a backslash before any
/// other letter, so a backslash and a quote are escaped and control characters written as escapes
/// (header validation refuses CR and LF before this; tab is legal in a header value).
fn curl_quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '\t' => quoted.push_str("\\t"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\u{b}' => quoted.push_str("\\v"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// `value` single-quoted for a POSIX shell: nothing inside single quotes is special but the quote
/// itself, written as `'\''` (close, an escaped quote, reopen).
fn sh_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use twofa_core::Secret;

    use super::*;

    #[test]
    fn curl_quoting_escapes_what_curl_unescapes() {
        assert_eq!(curl_quote(r#"A: b"c\d	e"#), r#""A: b\"c\\d\te""#);
        assert_eq!(curl_quote("plain"), "\"plain\"");
    }

    /// Header values with every character a shell or curl could read as syntax (header
    /// validation refuses CR and LF before any format sees them).
    fn hostile() -> Session {
        use twofa_core::{AccessToken, TokenPlacement};
        Session::new(
            "etna",
            AccessToken::new("t'o\"k$(id)`id`"),
            TokenPlacement::Bearer,
            time::OffsetDateTime::UNIX_EPOCH,
        )
        .with_expires_at(Some(time::OffsetDateTime::UNIX_EPOCH))
        .with_header("X-Evil", Secret::new("a'b\"c $HOME `id` $(id) \\ ; & | < > # \t end"))
    }

    #[test]
    fn env_assignments_round_trip_hostile_values_through_sh() {
        let session = hostile();
        let out = render(Format::Env, "p", &session, false).ok().unwrap();
        let shell = std::process::Command::new("sh")
            .args([
                "-c",
                "eval \"$1\"; printf '%s\\n%s\\n%s' \"$TWOFA_ACCESS_TOKEN\" \"$TWOFA_HEADERS\" \"$TWOFA_EXPIRES_AT\"",
                "sh",
            ])
            .arg(out.as_str())
            .output()
            .unwrap();
        assert!(shell.status.success(), "{}", String::from_utf8_lossy(&shell.stderr));
        let printed = String::from_utf8(shell.stdout).unwrap();
        let lines: Vec<&str> = printed.split('\n').collect();
        assert_eq!(lines[0], "t'o\"k$(id)`id`");
        let headers: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(headers["X-Evil"], "a'b\"c $HOME `id` $(id) \\ ; & | < > # \t end");
        assert_eq!(headers["Authorization"], "Bearer t'o\"k$(id)`id`");
        assert_eq!(lines[2], "1970-01-01T00:00:00Z");
    }

    #[test]
    fn curl_lines_of_hostile_values_unquote_to_the_values() {
        let out = render(Format::Curl, "p", &hostile(), false).ok().unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        // Undo curl's escapes the way curl reads them: what comes back is the header line.
        let unquote = |line: &str| {
            let inner = line.strip_prefix("header = \"").and_then(|l| l.strip_suffix('"')).unwrap();
            let (mut plain, mut chars) = (String::new(), inner.chars());
            while let Some(c) = chars.next() {
                match (c, c == '\\') {
                    (_, true) => match chars.next().unwrap() {
                        't' => plain.push('\t'),
                        other => plain.push(other),
                    },
                    ('"', false) => panic!("an unescaped quote ends the parameter early: {line}"),
                    (c, false) => plain.push(c),
                }
            }
            plain
        };
        assert_eq!(unquote(lines[1]), "X-Evil: a'b\"c $HOME `id` $(id) \\ ; & | < > # \t end");
        assert_eq!(unquote(lines[0]), "Authorization: Bearer t'o\"k$(id)`id`");
    }

    #[test]
    fn a_header_with_a_newline_is_refused_before_any_format() {
        let bad = hostile().with_header("X-Split", Secret::new("a\nheader = \"Injected: 1\""));
        for format in [Format::Text, Format::Json, Format::Curl, Format::Env] {
            let Err(e) = render(format, "p", &bad, true) else { panic!("a newline in a header was printed") };
            assert_eq!(e.kind(), "invalid_input");
            assert!(!e.to_string().contains("Injected"), "{e}");
        }
    }

    #[test]
    fn shell_quoting_survives_every_quote() {
        assert_eq!(sh_quote("it's"), r#"'it'\''s'"#);
        assert_eq!(sh_quote("$(x) `y` \"z\""), "'$(x) `y` \"z\"'");
    }
}
