//! The login driver: start → code → verify, with bounded retries.

use std::time::Duration;

use tracing::{Instrument as _, debug, info, warn};

use crate::{
    CodeSource, Error, Session, Step, TwoFactorFlow,
    code_source::CodeRequest,
    deadline::{Budget, DEFAULT_DEADLINE},
    telemetry,
};

/// How [`login`] handles rejected codes and expired challenges.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoginOptions {
    /// How many codes to try on one challenge before giving up (default 3). Providers lock
    /// accounts after a few wrong codes, so keep it small.
    pub max_code_attempts: u32,
    /// Whether to start over once when the challenge expires (default true).
    pub restart_on_expired: bool,
    /// The network time one login (or one renewal, resume and login together) may take, retries
    /// included; time spent waiting for the code is not counted (default 60 s, see
    /// [`deadline`](crate::deadline)).
    pub deadline: Duration,
}

impl Default for LoginOptions {
    fn default() -> Self {
        Self { max_code_attempts: 3, restart_on_expired: true, deadline: DEFAULT_DEADLINE }
    }
}

impl LoginOptions {
    /// Sets [`LoginOptions::max_code_attempts`] (at least 1).
    pub fn max_code_attempts(mut self, attempts: u32) -> Self {
        self.max_code_attempts = attempts.max(1);
        self
    }

    /// Sets [`LoginOptions::restart_on_expired`].
    pub fn restart_on_expired(mut self, restart: bool) -> Self {
        self.restart_on_expired = restart;
        self
    }

    /// Sets [`LoginOptions::deadline`].
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }
}

/// Logs in: starts the flow, asks `codes` for the second factor when challenged, and verifies it.
///
/// A wrong code ([`Error::InvalidCode`]) is asked for again up to
/// [`LoginOptions::max_code_attempts`] times; an expired challenge restarts the login once. Every
/// other error ends the login and is returned as is. Nothing is retried on transport errors: a
/// repeated start could send the user a second code. The provider's calls together take at most
/// [`LoginOptions::deadline`] (waiting for the code excluded), else a timeout error is returned.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let sandbox = twofa_sandbox::Sandbox::start().await?;
/// # let flow = twofa_etna::EtnaFlow::builder().base_url(sandbox.etna_base_url())
/// #     .app_key(twofa_sandbox::etna::APP_KEY).username(twofa_sandbox::etna::USER_2FA)
/// #     .password(twofa_sandbox::etna::PASSWORD).build()?;
/// # let outbox = sandbox.outbox();
/// use twofa_core::{code_source, login, LoginOptions};
/// let codes = code_source::from_fn(move |_request| {
///     let outbox = outbox.clone();
///     async move { outbox.latest_code(twofa_sandbox::etna::USER_2FA).ok_or_else(|| twofa_core::Error::CodeSource("no mail".into())) }
/// });
/// let session = login(&flow, &codes, &LoginOptions::default()).await?;
/// assert_eq!(session.provider(), "etna");
/// # Ok(()) }
/// ```
pub async fn login(flow: &dyn TwoFactorFlow, codes: &dyn CodeSource, options: &LoginOptions) -> Result<Session, Error> {
    login_within(flow, codes, options, &mut Budget::new(options.deadline)).await
}

/// [`login`] charging the provider's calls to `budget`, in a `login` span that records the outcome.
pub(crate) async fn login_within(
    flow: &dyn TwoFactorFlow,
    codes: &dyn CodeSource,
    options: &LoginOptions,
    budget: &mut Budget,
) -> Result<Session, Error> {
    let span = telemetry::span(telemetry::Operation::Login, flow.provider(), None);
    telemetry::finish(&span, login_steps(flow, codes, options, budget).instrument(span.clone()).await)
}

async fn login_steps(
    flow: &dyn TwoFactorFlow,
    codes: &dyn CodeSource,
    options: &LoginOptions,
    budget: &mut Budget,
) -> Result<Session, Error> {
    let provider = flow.provider();
    let max = options.max_code_attempts.max(1);
    let mut restarts_left = u32::from(options.restart_on_expired);
    loop {
        debug!(provider, "starting login");
        let challenge = match budget.run(flow.start()).await? {
            Step::Authenticated(session) => {
                info!(provider, "logged in without a second factor");
                return Ok(session);
            }
            Step::Challenge(challenge) => challenge,
        };
        info!(provider, method = challenge.method().name(), "second factor required");
        let mut attempt = 1;
        loop {
            let code = codes.code(&CodeRequest::new(&challenge, attempt, max)).await?;
            match budget.run(flow.verify(&challenge, &code)).await {
                Ok(session) => {
                    info!(provider, attempt, "logged in");
                    return Ok(session);
                }
                Err(Error::InvalidCode) if attempt < max => {
                    warn!(provider, attempt, max, "verification code rejected; asking again");
                    attempt += 1;
                }
                Err(Error::ChallengeExpired) if restarts_left > 0 => {
                    warn!(provider, "challenge expired; starting over");
                    restarts_left -= 1;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
    }
}
