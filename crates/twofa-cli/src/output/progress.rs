//! A spinner on standard error while a login waits on the network, so a person knows it is not
//! stuck. Never drawn when standard error is not a terminal (scripts, pipes, CI) or with `-q`, and
//! cleared while a code is asked for, so it never garbles a prompt.

use std::{
    io::IsTerminal as _,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use indicatif::{ProgressBar, ProgressStyle};
use twofa_core::{CodeRequest, CodeSource, Error, OneTimeCode};

/// The spinner, if one is shown.
#[derive(Debug)]
pub struct Progress {
    bar: Mutex<Option<ProgressBar>>,
    enabled: bool,
}

impl Progress {
    /// Starts a spinner saying `message`, when `wanted` and standard error is a terminal.
    pub fn start(wanted: bool, message: &str) -> Arc<Self> {
        let progress = Arc::new(Self { bar: Mutex::new(None), enabled: wanted && std::io::stderr().is_terminal() });
        progress.show(message);
        progress
    }

    /// Shows the spinner (again) with `message`.
    pub fn show(&self, message: &str) {
        if !self.enabled {
            return;
        }
        let bar = ProgressBar::new_spinner().with_message(message.to_owned());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(100));
        *self.bar.lock().unwrap_or_else(PoisonError::into_inner) = Some(bar);
    }

    /// Removes the spinner from the screen.
    pub fn clear(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(PoisonError::into_inner).take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}

/// A code source that clears the spinner while the code is asked for, and shows it again after.
#[derive(Debug)]
pub struct PauseForCode {
    /// Where the codes come from.
    pub inner: Arc<dyn CodeSource>,
    /// The spinner to clear.
    pub progress: Arc<Progress>,
}

#[async_trait]
impl CodeSource for PauseForCode {
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, Error> {
        self.progress.clear();
        let code = self.inner.code(request).await;
        self.progress.show("checking the code");
        code
    }

    async fn answered(&self, request: &CodeRequest, outcome: Result<(), &Error>) {
        self.inner.answered(request, outcome).await;
    }
}
