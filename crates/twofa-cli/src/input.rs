//! Where the CLI gets secrets: the password and the second factor. Never from its own arguments
//! (but `--code`, a one-time value).

use std::{
    io::{BufRead as _, IsTerminal as _, Read as _},
    sync::Arc,
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
pub enum PasswordInput<'a> {
    Env(&'a str),
    Stdin,
    Prompt,
}

/// Reads the password for `who`.
pub fn password(input: PasswordInput<'_>, who: &str) -> Result<Password, Error> {
    match input {
        PasswordInput::Env(var) => Ok(Password::new(secret_env(var, "the password")?.as_str())),
        PasswordInput::Stdin => {
            // Exactly one line, bounded: what follows stays unread (a code only with --code-stdin).
            let mut line = zeroize::Zeroizing::new(String::new());
            std::io::stdin()
                .lock()
                .take(MAX_PASSWORD_LINE + 1)
                .read_line(&mut line)
                .map_err(|e| Error::InvalidInput(format!("cannot read the password from standard input: {e}")))?;
            if line.len() as u64 > MAX_PASSWORD_LINE {
                return Err(Error::InvalidInput(format!(
                    "the password line on standard input is longer than {MAX_PASSWORD_LINE} bytes"
                )));
            }
            let password = line.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                return Err(Error::InvalidInput("standard input held no password".into()));
            }
            Ok(Password::new(password))
        }
        PasswordInput::Prompt if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("Password for {who}: "))
                .map(|p| Password::new(zeroize::Zeroizing::new(p).as_str()))
                .map_err(|e| Error::InvalidInput(format!("cannot read the password: {e}")))
        }
        PasswordInput::Prompt => Err(Error::Config(
            "no password: standard input is not a terminal; use --password-env VAR or --password-stdin".into(),
        )),
    }
}

/// The code source the flags ask for, and how many codes it is worth trying. `prompt` asks a
/// person when no flag names a source.
pub fn codes(
    code: Option<&str>,
    code_env: Option<&str>,
    totp_env: Option<&str>,
    prompt: Prompt,
) -> Result<(Arc<dyn CodeSource>, u32), Error> {
    if let Some(code) = code {
        let code = Secret::new(code);
        return Ok((
            Arc::new(code_source::from_fn(move |_| {
                let code = code.expose_secret().to_owned();
                async move { Ok(code) }
            })),
            1,
        ));
    }
    if let Some(var) = code_env {
        return Ok((Arc::new(EnvCode::new(var)), 1));
    }
    if let Some(var) = totp_env {
        let value = secret_env(var, "the TOTP seed")?;
        return Ok((Arc::new(totp(&value)?), 2));
    }
    Ok((Arc::new(prompt), 3))
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
    pin: Prompt,
}

impl AskPin {
    /// `pin` asks for the PIN: the same prompt the code would use, so a consumed standard input
    /// (`--password-stdin`) is never read for it.
    pub fn new(codes: Arc<dyn CodeSource>, pin: Prompt) -> Self {
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
