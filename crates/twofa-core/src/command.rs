//! Secrets from other tools: a password, code or PIN printed by a program such as
//! `op read op://vault/item/password`, `pass show broker` or `op item get X --otp`.
//!
//! [`CommandSource`] runs an argv (no shell, so nothing in it is interpreted), with standard input
//! closed and standard error discarded, reads the first line of its standard output (at most
//! [`MAX_OUTPUT`] bytes are read, however much it prints) and kills its whole process group when it
//! takes longer than its timeout. Every failure is an [`Error::Config`] that names the program and
//! what went wrong, never what it printed: a vault's error output can hold the secret or a path to
//! it, and error messages end up in logs.
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), twofa_core::Error> {
//! use twofa_core::{PasswordSource, command::CommandSource};
//!
//! let vault = CommandSource::new(["pass", "show", "broker/etna"])?;
//! let password = vault.password().await?; // runs `pass`, only now
//! # let _ = password; Ok(()) }
//! ```

use std::{fmt, process::Stdio, time::Duration};

use async_trait::async_trait;
use tokio::io::AsyncReadExt;

use crate::{CodeRequest, CodeSource, Error, OneTimeCode, Password, PasswordSource};

/// The most a command's standard output is read: a password or code is one short line, and a
/// program that prints more (a whole file, an endless stream) must not grow our memory.
pub const MAX_OUTPUT: usize = 4096;

/// How long a command may run by default: long enough for a vault that asks its user to unlock it
/// (1Password's biometric prompt), short enough that a hung one does not hang the login.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A program whose first line of output is the secret. See the [module](self) docs.
#[derive(Clone)]
pub struct CommandSource {
    argv: Vec<String>,
    timeout: Duration,
}

impl fmt::Debug for CommandSource {
    // The program only: arguments can name vault items, which callers may treat as private.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandSource").field("program", &self.program()).field("timeout", &self.timeout).finish()
    }
}

impl CommandSource {
    /// The source that runs `argv` (the program, then its arguments) each time a secret is needed.
    ///
    /// # Errors
    /// [`Error::Config`] when `argv` is empty or its program is an empty string.
    pub fn new<I, S>(argv: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let argv: Vec<String> = argv.into_iter().map(Into::into).collect();
        if argv.first().is_none_or(|p| p.is_empty()) {
            return Err(Error::Config("a secret command needs a program to run".into()));
        }
        Ok(Self { argv, timeout: DEFAULT_TIMEOUT })
    }

    /// How long the command may run before it is killed ([`DEFAULT_TIMEOUT`] unless set).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The program's name, as errors show it.
    pub fn program(&self) -> &str {
        self.argv.first().map_or("", String::as_str)
    }

    fn fail(&self, what: impl fmt::Display) -> Error {
        Error::Config(format!("the secret command `{}` {what}", self.program()))
    }

    /// Runs the command and returns the first line of its output, trailing `\r` removed.
    async fn first_line(&self) -> Result<String, Error> {
        let mut command = tokio::process::Command::new(&self.argv[0]);
        command
            .args(&self.argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        // Its own process group, so a timeout kills what it started too (`sh -c 'sleep 60'`).
        #[cfg(unix)]
        command.process_group(0);
        let mut child = command.spawn().map_err(|e| self.fail(format_args!("cannot be started ({})", e.kind())))?;
        let pid = child.id();
        let mut stdout = child.stdout.take().ok_or_else(|| self.fail("gave no output pipe"))?;
        let run = async {
            let mut out = Vec::with_capacity(256);
            // One byte more than the limit tells "exactly the limit" from "more".
            let limit = u64::try_from(MAX_OUTPUT + 1).unwrap_or(u64::MAX);
            (&mut stdout)
                .take(limit)
                .read_to_end(&mut out)
                .await
                .map_err(|e| self.fail(format_args!("output cannot be read ({})", e.kind())))?;
            // Whatever follows is not read: closing the pipe ends a program that keeps printing.
            drop(stdout);
            let status =
                child.wait().await.map_err(|e| self.fail(format_args!("cannot be waited for ({})", e.kind())))?;
            Ok::<_, Error>((out, status))
        };
        let (out, status) = match tokio::time::timeout(self.timeout, run).await {
            Ok(done) => done?,
            Err(_) => {
                kill_group(pid);
                return Err(
                    self.fail(format_args!("did not finish within {} s and was killed", self.timeout.as_secs()))
                );
            }
        };
        let line = match out.iter().position(|&b| b == b'\n') {
            Some(end) => &out[..end],
            // No newline: fine when the output is whole (`printf secret`), not when it was cut.
            None if out.len() > MAX_OUTPUT => {
                return Err(self.fail(format_args!("printed more than {MAX_OUTPUT} bytes without a line break")));
            }
            None => &out[..],
        };
        // A status is checked after the output so that a program killed by SIGPIPE (it printed
        // more after its first line) still counts only when it exited well.
        if !status.success() {
            let how = status
                .code()
                .map_or_else(|| "was killed by a signal".to_owned(), |c| format!("exited with status {c}"));
            return Err(self.fail(how));
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = String::from_utf8(line.to_vec()).map_err(|_| self.fail("printed a first line that is not UTF-8"))?;
        if line.trim().is_empty() {
            return Err(self.fail("printed nothing on its first line"));
        }
        Ok(line)
    }
}

/// Kills the process group `pid` leads (ours: it was started in its own group).
fn kill_group(pid: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()).and_then(rustix::process::Pid::from_raw) {
        // It may have exited meanwhile: nothing to do then.
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    #[cfg(not(unix))]
    let _ = pid; // kill_on_drop ends the child itself
}

#[async_trait]
impl PasswordSource for CommandSource {
    async fn password(&self) -> Result<Password, Error> {
        let line = self.first_line().await?;
        // A trailing newline is cut, but no other whitespace: a password may end with a space.
        Ok(Password::new(line))
    }
}

#[async_trait]
impl CodeSource for CommandSource {
    /// The code (or, when the login asks for one, the security PIN) the command prints.
    async fn code(&self, _request: &CodeRequest) -> Result<OneTimeCode, Error> {
        let line = self.first_line().await?;
        OneTimeCode::new(line).map_err(|_| self.fail("printed a line that is not a usable code"))
    }
}
