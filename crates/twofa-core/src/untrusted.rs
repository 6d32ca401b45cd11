//! What a server sends is data, never trusted: the one check for credentials it issues, and the
//! one escape for text it makes a terminal show.
//!
//! A token goes back out in a request header and is printed by `twofa token`: a CR/LF in it
//! splits the header (or a later proxy's), a space or control byte corrupts the line a script
//! reads. Text (hints, method names, error messages, subjects) reaches a terminal, where an escape
//! sequence can retitle the window, rewrite what was printed, or hide text behind bidi overrides.

use std::fmt::Write as _;

use crate::{Error, Secret};

/// The longest credential accepted from a server, in bytes.
pub const MAX_CREDENTIAL_BYTES: usize = 16 * 1024;

/// Accepts a credential the server issued (`field` is its wire name) if it is visible ASCII
/// (`!` to `~`: no space, no control byte, no non-ASCII) and at most [`MAX_CREDENTIAL_BYTES`].
///
/// An empty value passes: whether one is required is the caller's business.
///
/// # Errors
///
/// [`Error::MalformedCredential`] naming `field`; the value is never quoted.
pub fn credential(field: &'static str, value: Secret) -> Result<Secret, Error> {
    check_credential(field, value.expose_secret())?;
    Ok(value)
}

/// [`credential`] for a value still inside the answer it came in, checked before it is copied.
///
/// # Errors
///
/// [`Error::MalformedCredential`] naming `field`.
pub fn check_credential(field: &'static str, value: &str) -> Result<(), Error> {
    let bytes = value.as_bytes();
    if bytes.len() > MAX_CREDENTIAL_BYTES || !bytes.iter().all(u8::is_ascii_graphic) {
        return Err(Error::MalformedCredential { field });
    }
    Ok(())
}

/// [`credential`] for a field that may be absent.
///
/// # Errors
///
/// [`Error::MalformedCredential`] naming `field`.
pub fn optional_credential(field: &'static str, value: Option<Secret>) -> Result<Option<Secret>, Error> {
    value.map(|v| credential(field, v)).transpose()
}

/// The most characters of untrusted text [`display`] keeps: enough for any sentence a server
/// means, far below the megabytes a hostile one sends.
pub const MAX_SHOWN_CHARS: usize = 512;

/// `text` made safe to log, print or show: [`escape`]d, and clipped to [`MAX_SHOWN_CHARS`]
/// characters (then `…`). The one function for server, bot and file text on its way to a person:
/// error messages, telemetry fields, console log lines.
///
/// ```
/// let shown = twofa_core::untrusted::display(&format!("\u{1b}]0;owned\u{7}{}", "x".repeat(10_000)));
/// assert!(shown.starts_with("\\u{1b}]0;owned") && !shown.contains('\u{1b}'));
/// assert!(shown.chars().count() <= twofa_core::untrusted::MAX_SHOWN_CHARS + 1 && shown.ends_with('…'));
/// ```
pub fn display(text: &str) -> String {
    let mut out = escape(text);
    if let Some((end, _)) = out.char_indices().nth(MAX_SHOWN_CHARS) {
        out.truncate(end);
        out.push('…');
    }
    out
}

/// `text` made safe to print on a terminal: control characters (C0, DEL, C1, so ESC and CSI),
/// bidi controls and line/paragraph separators become visible `\u{..}` escapes; all else is kept.
///
/// Use it on everything a server controls that reaches a person: hints, method names, masked
/// destinations, provider error messages.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Bidi marks, embeddings, overrides and isolates; line and paragraph separators.
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_visible_ascii_and_bounded() {
        for good in ["a", "eyJhbGciOi.J9-_~+/=", "", &"t".repeat(MAX_CREDENTIAL_BYTES)] {
            assert_eq!(credential("Token", Secret::new(good)).unwrap().expose_secret(), good);
        }
        let bad = ["a\r\nb", "a b", "a\tb", "a\u{1b}b", "a\u{0}", "a\u{7f}", "n\u{f6}n", "\u{202e}", " "];
        let long = "t".repeat(MAX_CREDENTIAL_BYTES + 1);
        for bad in bad.iter().copied().chain([long.as_str()]) {
            let err = credential("SessionToken", Secret::new(format!("SECRET{bad}"))).unwrap_err();
            assert!(matches!(err, Error::MalformedCredential { field: "SessionToken" }));
            assert!(matches!(check_credential("id", bad), Err(Error::MalformedCredential { field: "id" })));
            assert!(err.to_string().contains("SessionToken"));
            assert!(!err.to_string().contains("SECRET") && !format!("{err:?}").contains("SECRET"));
        }
        assert!(optional_credential("x", None).unwrap().is_none());
        assert!(matches!(optional_credential("x", Some(Secret::new("a b"))), Err(Error::MalformedCredential { .. })));
    }

    #[test]
    fn escape_neutralises_terminal_controls_and_keeps_the_rest() {
        assert_eq!(escape("Expecting confirmation code, café ✓"), "Expecting confirmation code, café ✓");
        assert_eq!(escape("a\u{1b}[31mred"), "a\\u{1b}[31mred");
        assert_eq!(escape("\u{1b}]0;title\u{7}"), "\\u{1b}]0;title\\u{7}");
        assert_eq!(escape("csi\u{9b}2J"), "csi\\u{9b}2J");
        assert_eq!(escape("line\r\nnext\u{85}"), "line\\u{d}\\u{a}next\\u{85}");
        assert_eq!(escape("\u{202e}txt.exe\u{2066}\u{200f}"), "\\u{202e}txt.exe\\u{2066}\\u{200f}");
        assert_eq!(escape("nul\u{0}del\u{7f}"), "nul\\u{0}del\\u{7f}");
    }

    proptest::proptest! {
        #[test]
        fn escaped_text_holds_no_control_or_bidi_character(text in "\\PC*|[\\x00-\\x{9f}\\x{2000}-\\x{206f}]{0,40}") {
            proptest::prop_assert!(!escape(&text).chars().any(is_unsafe));
        }
    }
}
