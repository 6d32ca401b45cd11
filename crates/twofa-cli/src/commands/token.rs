//! `twofa token`: the token contract every language reads (see `docs/cli.md`).

use twofa_ops::audit::Action;

use super::Context;
use crate::{
    ops,
    output::Failure,
    running_proxy,
    session::{self, Inputs},
};

/// `twofa token`: the profile's session from its running proxy, else from its
/// [`Authenticator`](twofa_core::Authenticator) — stored, resumed or logged in afresh, as it decides.
pub async fn token(ctx: &Context, name: &str, header: bool) -> Result<(), Failure> {
    let profile = ctx.profile(name)?;
    // A `twofa proxy` of this profile holds the session in memory: no round trip, no file rewrite.
    if let Some(session) = running_proxy::session(&ctx.settings, name, &profile).await {
        ops::record(&ctx.settings, Action::Token, name, profile.provider(), "cli:token", Ok(&session))?;
        return ctx.printer.token(name, &session, header).map_err(Failure::usage_error);
    }
    let inputs = Inputs::from_profile(name, &profile);
    let notifier = inputs.notifier.clone();
    let authenticator = session::authenticator(&ctx.settings, name, &profile, inputs, None).await?;
    let session = authenticator.session().await;
    ops::flush(notifier.as_ref()).await;
    // Audited before it is printed: no token leaves unrecorded.
    ops::record(&ctx.settings, Action::Token, name, profile.provider(), "cli:token", session.as_deref())?;
    ctx.printer.token(name, &*session?, header).map_err(Failure::usage_error)
}
