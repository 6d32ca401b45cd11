//! [`Notifying`]: a code source that notifies while it waits.

use std::sync::Arc;

use async_trait::async_trait;
use twofa_core::{CodeRequest, CodeSource, Error, OneTimeCode};

use super::{Event, Notifier};

/// Wraps any [`CodeSource`]: when a code is asked for, the [`Notifier`] says so (profile, method,
/// time left, the console's page); when the provider answered, it says whether the code was
/// accepted or refused; when the source gives up (or the login is cancelled while it waits), that
/// the code expired. The code itself never reaches the notifier.
#[derive(Debug)]
pub struct Notifying {
    inner: Arc<dyn CodeSource>,
    notifier: Arc<Notifier>,
    profile: String,
}

impl Notifying {
    /// `inner`, announcing the waits of `profile` through `notifier`.
    pub fn new(inner: Arc<dyn CodeSource>, notifier: Arc<Notifier>, profile: impl Into<String>) -> Self {
        Self { inner, notifier, profile: profile.into() }
    }
}

/// Sends the "expired" follow-up if the wait ends without a code: an error, or a cancelled future.
struct Expiry<'a> {
    source: &'a Notifying,
    request: &'a CodeRequest,
    armed: bool,
}

impl Drop for Expiry<'_> {
    fn drop(&mut self) {
        if self.armed {
            let (n, r) = (self.source, self.request);
            n.notifier.follow_up(Event::Expired, &n.profile, &r.provider, r.method.name(), false);
        }
    }
}

#[async_trait]
impl CodeSource for Notifying {
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, Error> {
        self.notifier.waiting(&self.profile, &request.provider, request.method.name(), request.expires_at);
        let mut expiry = Expiry { source: self, request, armed: true };
        let code = self.inner.code(request).await;
        expiry.armed = code.is_err();
        code
    }

    async fn answered(&self, request: &CodeRequest, outcome: Result<(), &Error>) {
        self.inner.answered(request, outcome).await;
        let (event, retry) = match outcome {
            Ok(()) => (Event::Answered, false),
            Err(e) => (Event::Refused, e.is_second_factor_rejected() && request.attempt < request.max_attempts),
        };
        self.notifier.follow_up(event, &self.profile, &request.provider, request.method.name(), retry);
    }
}
