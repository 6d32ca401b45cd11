use std::io::{BufRead as _, IsTerminal as _, Write as _};

use async_trait::async_trait;

use super::{CodeRequest, CodeSource};
use crate::{Error, OneTimeCode};

/// Asks a person: on a terminal without echo; otherwise one line from standard input.
#[derive(Debug, Clone, Default)]
pub struct Prompt {
    require_tty: bool,
}

impl Prompt {
    /// A prompt that falls back to reading a line from a piped standard input.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fails with [`Error::CodeSource`] instead of reading a pipe when standard input is not a terminal,
    /// so a headless process never blocks waiting for a person.
    pub fn require_tty(mut self) -> Self {
        self.require_tty = true;
        self
    }
}

#[async_trait]
impl CodeSource for Prompt {
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, Error> {
        // The hint and a method's name come from the server: escaped before they reach the terminal.
        let text = crate::untrusted::escape(&request.prompt_text());
        let require_tty = self.require_tty;
        let what = if request.wants_pin() { "PIN" } else { "code" };
        let line = tokio::task::spawn_blocking(move || read_code(&text, require_tty, what))
            .await
            .map_err(|_| Error::CodeSource("the prompt task failed".into()))??;
        OneTimeCode::new(line.as_str())
    }
}

/// Reads one answer; `what` ("code" or "PIN") names it in errors.
fn read_code(text: &str, require_tty: bool, what: &str) -> Result<zeroize::Zeroizing<String>, Error> {
    let io_error = |e: std::io::Error| Error::CodeSource(format!("cannot read the {what}: {e}"));
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(text).map(zeroize::Zeroizing::new).map_err(io_error);
    }
    if require_tty {
        return Err(Error::CodeSource(format!("standard input is not a terminal; supply the {what} another way")));
    }
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{text}");
    let _ = stderr.flush();
    let mut line = zeroize::Zeroizing::new(String::new());
    match std::io::stdin().lock().read_line(&mut line).map_err(io_error)? {
        0 => Err(Error::CodeSource(format!("standard input closed before a {what} was entered"))),
        _ => Ok(line),
    }
}
