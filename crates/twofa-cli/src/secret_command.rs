//! `--password-command` and `--code-command`: secrets printed by another tool (`op read …`,
//! `pass show …`, `op item get X --otp`), run through the core's [`CommandSource`] (no shell,
//! bounded output, a timeout that kills it, errors that never echo what it printed). The profile
//! keeps the argv, never the output.

use std::sync::Arc;

use twofa_core::{CodeSource, Error, command::CommandSource};

use crate::{args::Common, input::PasswordInput, profile::Profile};

/// Splits a flag's command the way a POSIX shell splits words (quotes, backslashes), without
/// running a shell: `op read "op://Private/My Item/password"` is three words.
fn split(flag: &str, command: &str) -> Result<Vec<String>, Error> {
    // shell-words' error names only the kind of quoting problem, never the text.
    let argv = shell_words::split(command).map_err(|e| Error::Config(format!("{flag}: {e}")))?;
    // Refuses an empty program now rather than at the first login.
    CommandSource::new(argv.clone()).map_err(|e| Error::Config(format!("{flag}: {e}")))?;
    Ok(argv)
}

/// Records the login's `--password-command` and `--code-command` in `profile`.
///
/// # Errors
///
/// [`Error::Config`] naming the flag whose command does not split into an argv.
pub fn record(profile: &mut Profile, common: &Common, pin_command: Option<&str>) -> Result<(), Error> {
    if let Some(command) = pin_command {
        profile.pin_command = Some(split("--pin-command", command)?);
    }
    if let Some(command) = &common.password_command {
        profile.password_command = Some(split("--password-command", command)?);
    }
    if let Some(command) = &common.code_command {
        profile.code_command = Some(split("--code-command", command)?);
    }
    Ok(())
}

fn source(argv: &[String]) -> Option<CommandSource> {
    // A profile file edited to an empty argv reads as no command: the other inputs apply.
    CommandSource::new(argv.iter().cloned()).ok()
}

/// The password input of a profile with a `--password-command`.
pub fn password(profile: &Profile) -> Option<PasswordInput> {
    profile.password_command.as_deref().and_then(source).map(PasswordInput::Command)
}

/// The security-PIN source of a profile with a `--pin-command`.
pub fn pin(profile: &Profile) -> Option<Arc<dyn CodeSource>> {
    profile.pin_command.as_deref().and_then(source).map(|command| Arc::new(command) as Arc<dyn CodeSource>)
}

/// The code source of a profile with a `--code-command`, and how many codes to try: one, as with
/// `--code-env` (a command that printed a wrong code prints it again).
pub fn codes(profile: &Profile) -> Option<(Arc<dyn CodeSource>, u32)> {
    let command = profile.code_command.as_deref().and_then(source)?;
    Some((Arc::new(command), 1))
}
