//! Where the CLI gets secrets: the password and the second factor. Never from its own arguments
//! (but `--code`, a one-time value).

use std::{
    io::{BufRead as _, IsTerminal as _, Read as _},
    sync::{Arc, OnceLock},
};

use async_trait::async_trait;
use twofa_core::{
    CodeRequest, CodeSource, Error, Method, OneTimeCode, Password, Secret, TotpSeed,
    code_source::{self, EnvCode, Prompt, Totp},
    untrusted::escape,
};

use crate::profile::secret_env;

/// The longest password line read from standard input, newline included.
const MAX_PASSWORD_LINE: u64 = 4096;

/// Where the password comes from.
#[derive(Debug, Clone)]
pub enum PasswordInput {
    /// The variable of this name.
    Env(String),
    /// The first line this program prints (`--password-command`).
    Command(twofa_core::command::CommandSource),
    /// The first line of standard input.
    Stdin,
    /// A prompt on the terminal.
    Prompt,
    /// Typed on the web console's page (`twofa serve`), or `None`: the console never prompts on
    /// its terminal.
    Typed(Option<Password>),
}

/// Reads one line of standard input, bounded: what follows stays unread. `what` names it in errors.
pub fn stdin_line(what: &str) -> Result<zeroize::Zeroizing<String>, Error> {
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .take(MAX_PASSWORD_LINE + 1)
        .read_line(&mut line)
        .map_err(|e| Error::InvalidInput(format!("cannot read {what} from standard input: {e}")))?;
    if line.len() as u64 > MAX_PASSWORD_LINE {
        return Err(Error::InvalidInput(format!(
            "the {what} line on standard input is longer than {MAX_PASSWORD_LINE} bytes"
        )));
    }
    let value = zeroize::Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    if value.is_empty() {
        return Err(Error::InvalidInput(format!("standard input held no {what}")));
    }
    Ok(value)
}

/// Asks a yes/no `question` when a person is at the terminal (standard input and error both
/// terminals); `false` without one, or for any answer but `y`/`yes`.
pub fn confirm(question: &str) -> bool {
    use std::io::{IsTerminal as _, Write as _};
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return false;
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{question} [y/N] ");
    let _ = err.flush();
    let mut answer = String::new();
    let read = std::io::stdin().lock().take(64).read_line(&mut answer);
    read.is_ok() && matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Reads the password for `who`.
pub async fn password(input: &PasswordInput, who: &str) -> Result<Password, Error> {
    match input {
        PasswordInput::Command(command) => twofa_core::PasswordSource::password(command).await,
        PasswordInput::Env(var) => Ok(Password::new(secret_env(var, "the password")?.as_str())),
        // Exactly one line: a code follows only with --code-stdin.
        PasswordInput::Stdin => Ok(Password::new(stdin_line("password")?.as_str())),
        PasswordInput::Prompt if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("Password for {who}: "))
                .map(|p| Password::new(zeroize::Zeroizing::new(p).as_str()))
                .map_err(|e| Error::InvalidInput(format!("cannot read the password: {e}")))
        }
        PasswordInput::Prompt => Err(Error::Config(
            "no password: standard input is not a terminal; use --password-env VAR or --password-stdin".into(),
        )),
        PasswordInput::Typed(Some(password)) => Ok(password.clone()),
        PasswordInput::Typed(None) => {
            Err(Error::Config("no password: type it on the console's Sessions page (the profile keeps none)".into()))
        }
    }
}

/// The code source the flags ask for, and how many codes it is worth trying. `prompt` asks a
/// person when no flag names a source. Nothing is read until a code is asked for (see
/// [`check_totp`] to refuse a bad seed sooner).
pub fn codes(
    code: Option<&str>,
    code_env: Option<String>,
    totp_env: Option<String>,
    prompt: Prompt,
) -> (Arc<dyn CodeSource>, u32) {
    if let Some(code) = code {
        return (fixed_code(Secret::new(code)), 1);
    }
    if let Some(var) = code_env {
        return (Arc::new(EnvCode::new(var)), 1);
    }
    if let Some(var) = totp_env {
        return (Arc::new(TotpEnv { var, totp: OnceLock::new() }), 2);
    }
    (Arc::new(prompt), 3)
}

/// A source that answers `code`, whatever is asked.
pub fn fixed_code(code: Secret) -> Arc<dyn CodeSource> {
    Arc::new(code_source::from_fn(move |_| {
        let code = code.expose_secret().to_owned();
        async move { Ok(code) }
    }))
}

/// Refuses a missing or unreadable TOTP seed before a login starts.
pub fn check_totp(var: &str) -> Result<(), Error> {
    totp(&secret_env(var, "the TOTP seed")?).map(drop)
}

/// Codes from the TOTP seed in a variable, read when the first code is asked for. One generator
/// serves every code, so it never hands out a time step's code twice.
#[derive(Debug)]
struct TotpEnv {
    var: String,
    totp: OnceLock<Totp>,
}

#[async_trait]
impl CodeSource for TotpEnv {
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, Error> {
        let generator = match self.totp.get() {
            Some(generator) => generator,
            None => {
                let generator = totp(&secret_env(&self.var, "the TOTP seed")?)?;
                self.totp.get_or_init(|| generator)
            }
        };
        generator.code(request).await
    }
}

/// The prompt of a `login`: once the password came from standard input, the rest of it is never
/// taken as a code unless `code_stdin` says so — the prompt then needs a terminal.
pub fn login_prompt(password_stdin: bool, code_stdin: bool) -> Prompt {
    if password_stdin && !code_stdin { Prompt::new().require_tty() } else { Prompt::new() }
}

/// A TOTP generator from a base32 seed or an otpauth URI.
pub fn totp(value: &str) -> Result<Totp, Error> {
    if value.trim_start().starts_with("otpauth://") {
        Totp::from_otpauth_uri(&Secret::new(value.trim()))
    } else {
        Totp::from_base32(&TotpSeed::new(value))
    }
}

/// Sends PIN requests to a person (a PIN not configured with `--pin-env` is asked for when the
/// server wants it), and code requests to the configured code source: a `--code`, a code variable
/// or a TOTP seed must never be sent as a PIN.
#[derive(Debug)]
pub struct AskPin {
    codes: Arc<dyn CodeSource>,
    pin: Arc<dyn CodeSource>,
}

impl AskPin {
    /// `pin` asks for the PIN: the same prompt the code would use, so a consumed standard input
    /// (`--password-stdin`) is never read for it.
    /// (`--password-stdin`) is never read for it; or `--pin-command`'s program.
    pub fn new(codes: Arc<dyn CodeSource>, pin: Arc<dyn CodeSource>) -> Self {
        Self { codes, pin }
    }
}

#[async_trait]
impl CodeSource for AskPin {
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, Error> {
        if request.wants_pin() { self.pin.code(request).await } else { self.codes.code(request).await }
    }
}

/// Shows authenticator setup data (manual key and a terminal QR code) before the first code is
/// asked for, when a person is watching.
#[derive(Debug)]
pub struct ShowSetup {
    pub inner: Arc<dyn CodeSource>,
    pub enabled: bool,
}

#[async_trait]
impl CodeSource for ShowSetup {
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, Error> {
        if let (true, 1, Method::Authenticator { setup: Some(setup) }) =
            (self.enabled, request.attempt, &request.method)
        {
            println!("Set up your authenticator app for {}:", escape(&request.provider));
            if let Some(key) = &setup.manual_key {
                println!("  manual entry key: {}", escape(key.expose_secret()));
            }
            if let Some(payload) = setup.otpauth_uri.as_ref().or(setup.qr_data.as_ref()) {
                match qrcode::QrCode::new(payload.expose_secret().as_bytes()) {
                    Ok(qr) => println!("{}", qr.render::<qrcode::render::unicode::Dense1x2>().quiet_zone(true).build()),
                    Err(_) => println!("  (the setup data is too long for a QR code)"),
                }
            }
        }
        self.inner.code(request).await
    }
}
