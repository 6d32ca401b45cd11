//! `twofa verify`: finishes the login `login --no-wait` left waiting for its code.

use std::sync::Arc;

use twofa_core::{Error, Secret, code_source::Prompt};
use twofa_ops::audit::Action;

use super::Context;
use crate::{
    input::{self, AskPin},
    ops,
    output::Failure,
    pending, secret_command,
    session::{self, Inputs, ProfileFirst},
    stores,
};

/// `twofa verify`: finishes the login `login --no-wait` left for profile `name`.
pub async fn verify(ctx: &Context, name: &str, code: Option<String>) -> Result<(), Failure> {
    let pending = pending::load(&ctx.settings.store_dir, name)?.ok_or_else(|| {
        Failure::usage(format!(
            "no login waits for a code under profile `{name}`; start one with `twofa login … --no-wait --profile {name}`"
        ))
    })?;
    if pending.expires_at <= time::OffsetDateTime::now_utc() {
        // The provider would refuse it: say so without sending the code (or the interim state).
        pending::delete(&ctx.settings.store_dir, name)?;
        return Err(Error::ChallengeExpired.into());
    }
    let challenge = pending.challenge;
    // The login's own profile, saved with its session only when the login completes.
    let profile = match pending.profile {
        Some(profile) => profile,
        None => ctx.profile(name)?,
    };
    let code = match code {
        Some(code) => Secret::new(code),
        None => Secret::new(input::stdin_line("code")?.as_str()),
    };
    let mut inputs = Inputs::from_profile(name, &profile);
    // The code given answers the code challenge; a PIN step still asks at the terminal.
    inputs.codes = Arc::new(AskPin::new(
        input::fixed_code(code),
        secret_command::pin(&profile).unwrap_or_else(|| Arc::new(Prompt::new().require_tty())),
    ));
    inputs.attempts = 1;
    let chosen = stores::open(profile.store, ctx.settings.sessions()).await.map_err(Failure::usage_error)?;
    let store = ProfileFirst { inner: chosen.store(), profile: profile.clone(), dir: ctx.settings.profiles() };
    let authenticator = session::authenticator(&ctx.settings, name, &profile, inputs, Some(Arc::new(store))).await?;
    let finished = authenticator.finish_login(challenge).await;
    ops::record(&ctx.settings, Action::Login, name, profile.provider(), "cli:verify", finished.as_deref())?;
    let session = match finished {
        // A wrong code leaves the login waiting, so the right one can follow.
        Err(e @ (Error::InvalidCode | Error::InvalidPin)) => {
            let mut failure = Failure::from(e);
            failure.hint =
                Some(format!("the login still waits: run `twofa verify --profile {name}` with the right code"));
            return Err(failure);
        }
        other => {
            pending::delete(&ctx.settings.store_dir, name)?;
            other?
        }
    };
    ctx.printer.logged_in(name, &session, &chosen.location(ctx.settings.sessions().dir(), name));
    Ok(())
}
