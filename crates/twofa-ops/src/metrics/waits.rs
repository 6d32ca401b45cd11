//! [`CodeWaits`]: counts the codes a code source waits for, and how long each took.

use std::{sync::Arc, time::Instant};

use async_trait::async_trait;
use twofa_core::{CodeRequest, CodeSource, Error, OneTimeCode};

use super::Metrics;

/// Wraps any [`CodeSource`] that asks a person: each request counts in `twofa_codes_waited_total`
/// and `twofa_pending_codes` while it waits; each code typed, in `twofa_code_wait_seconds`.
#[derive(Debug)]
pub struct CodeWaits {
    inner: Arc<dyn CodeSource>,
    metrics: Arc<Metrics>,
}

impl CodeWaits {
    /// `inner`, counted in `metrics`.
    pub fn new(inner: Arc<dyn CodeSource>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

/// Takes the wait off `twofa_pending_codes` however it ends (a cancelled login too).
struct Pending<'a>(&'a Metrics);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.add_pending(-1);
    }
}

#[async_trait]
impl CodeSource for CodeWaits {
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, Error> {
        self.metrics.code_asked(&request.provider, request.method.name());
        self.metrics.add_pending(1);
        let _pending = Pending(&self.metrics);
        let asked = Instant::now();
        let code = self.inner.code(request).await;
        if code.is_ok() {
            self.metrics.code_typed(&request.provider, asked.elapsed());
        }
        code
    }

    async fn answered(&self, request: &CodeRequest, outcome: Result<(), &Error>) {
        self.inner.answered(request, outcome).await;
    }
}
