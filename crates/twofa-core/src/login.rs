//! The login driver: start → code → verify (→ next factor → verify …), with bounded retries and steps.

use std::time::Duration;

use tracing::{Instrument as _, debug, info, warn};

use crate::{
    Challenge, CodeSource, Error, Session, Step, TwoFactorFlow,
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
    /// How many challenges of different kinds one login may pass through (default 4; ETNA needs
    /// two at most: a code, then a PIN). A provider asking for more is refused, never followed forever.
    pub max_steps: u32,
}

impl Default for LoginOptions {
    fn default() -> Self {
        Self { max_code_attempts: 3, restart_on_expired: true, deadline: DEFAULT_DEADLINE, max_steps: 4 }
    }
}

impl LoginOptions {
    /// Sets [`LoginOptions::max_code_attempts`] (at least 1).
    pub fn max_code_attempts(mut self, attempts: u32) -> Self {
        self.max_code_attempts = attempts.max(1);
        self
    }

    /// Sets [`LoginOptions::max_steps`] (at least 1).
    pub fn max_steps(mut self, steps: u32) -> Self {
        self.max_steps = steps.max(1);
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

/// Logs in: starts the flow, asks `codes` for each factor the provider challenges with (a code,
/// a security PIN…), and verifies it, until the provider answers with a session.
///
/// Attempts are counted per challenge: a refused answer ([`Error::InvalidCode`] for a code,
/// [`Error::InvalidPin`] for a PIN, or the provider asking again for the same kind of factor) is
/// asked for again up to [`LoginOptions::max_code_attempts`] times. A challenge of another kind is
/// the next step, with fresh attempts; at most [`LoginOptions::max_steps`] steps are followed. An
/// expired challenge restarts the login once. Every other error ends the login and is returned as
/// is. Nothing is retried on transport errors: a repeated start could send the user a second code.
/// The provider's calls together take at most [`LoginOptions::deadline`] (waiting for the code
/// excluded), else a timeout error is returned.
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

/// Finishes a login started elsewhere — typically by another process, which saved the portable
/// [`Challenge`] (see [`Challenge::expose_secrets`]) — by answering it and every challenge after
/// it with `codes`, exactly as [`login`] does after `start`. An expired challenge is returned as
/// [`Error::ChallengeExpired`]: starting over would send a new code to someone not watching.
///
/// # Errors
///
/// As [`login`].
pub async fn login_from(
    flow: &dyn TwoFactorFlow,
    challenge: Challenge,
    codes: &dyn CodeSource,
    options: &LoginOptions,
) -> Result<Session, Error> {
    finish_within(flow, challenge, codes, options, &mut Budget::new(options.deadline)).await
}

/// [`login_from`] charging the provider's calls to `budget`, in a `login` span.
pub(crate) async fn finish_within(
    flow: &dyn TwoFactorFlow,
    challenge: Challenge,
    codes: &dyn CodeSource,
    options: &LoginOptions,
    budget: &mut Budget,
) -> Result<Session, Error> {
    let span = telemetry::span(telemetry::Operation::Login, flow.provider(), None);
    let answered = answer_challenges(flow, codes, options, challenge, budget).instrument(span.clone()).await;
    telemetry::finish(&span, answered)
}

async fn login_steps(
    flow: &dyn TwoFactorFlow,
    codes: &dyn CodeSource,
    options: &LoginOptions,
    budget: &mut Budget,
) -> Result<Session, Error> {
    let provider = flow.provider();
    let mut restarts_left = u32::from(options.restart_on_expired);
    loop {
        debug!(provider, "starting login");
        let challenge = match budget.run_for(flow, flow.start()).await? {
            Step::Authenticated(session) => {
                info!(provider, "logged in without a second factor");
                return Ok(session);
            }
            Step::Challenge(challenge) => challenge,
        };
        match answer_challenges(flow, codes, options, challenge, budget).await {
            Err(Error::ChallengeExpired) if restarts_left > 0 => {
                warn!(provider, "challenge expired; starting over");
                restarts_left -= 1;
            }
            other => return other,
        }
    }
}

/// Answers `challenge` and every challenge after it, until a session.
async fn answer_challenges(
    flow: &dyn TwoFactorFlow,
    codes: &dyn CodeSource,
    options: &LoginOptions,
    mut challenge: Challenge,
    budget: &mut Budget,
) -> Result<Session, Error> {
    let provider = flow.provider();
    let max = options.max_code_attempts.max(1);
    let mut step = 1;
    let mut attempt = 1;
    loop {
        let kind = challenge.method().name();
        info!(provider, step, method = kind, "second factor required");
        let request = CodeRequest::new(&challenge, attempt, max).at_step(step);
        let code = codes.code(&request).await?;
        let verified = budget.run_for(flow, flow.verify(&challenge, &code)).await;
        // Asked again for the same kind of factor: the answer was refused.
        let refusal = refused(&challenge);
        let outcome = match &verified {
            Ok(Step::Challenge(next)) if next.method().name() == kind => Err(&refusal),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        codes.answered(&request, outcome).await;
        match verified {
            Ok(Step::Authenticated(session)) => {
                info!(provider, step, attempt, "logged in");
                return Ok(session);
            }
            // Asked again for the same kind of factor: this answer was refused.
            Ok(Step::Challenge(next)) if next.method().name() == kind => {
                if attempt >= max {
                    return Err(refused(&challenge));
                }
                warn!(provider, step, attempt, max, "answer refused; asking again");
                attempt += 1;
                challenge = next;
            }
            Ok(Step::Challenge(next)) => {
                if step >= options.max_steps.max(1) {
                    return Err(Error::unexpected(
                        None,
                        format!("the provider asked for more than {} login steps", options.max_steps.max(1)),
                    ));
                }
                step += 1;
                attempt = 1;
                challenge = next;
            }
            Err(e) if attempt < max && is_refusal(&e, &challenge) => {
                warn!(provider, step, attempt, max, "answer refused; asking again");
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether `e` refuses the answer to `challenge` (and not, say, a PIN the flow sent by itself
/// while a code was asked for: that one is returned, not retried with another code).
fn is_refusal(e: &Error, challenge: &Challenge) -> bool {
    match e {
        Error::InvalidCode => !challenge.method().is_pin(),
        Error::InvalidPin => challenge.method().is_pin(),
        _ => false,
    }
}

fn refused(challenge: &Challenge) -> Error {
    if challenge.method().is_pin() { Error::InvalidPin } else { Error::InvalidCode }
}
