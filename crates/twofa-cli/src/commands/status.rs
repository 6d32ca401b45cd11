//! `twofa status`: every stored profile, its provider, subject and expiry (never a secret).

use super::Context;
use crate::output::Failure;

/// `twofa status`.
pub async fn status(ctx: &Context) -> Result<(), Failure> {
    let names = ctx.settings.names().await?;
    let mut profiles = Vec::with_capacity(names.len());
    for name in names {
        let (profile, session) = ctx.settings.profile_and_session(&name).await;
        profiles.push((name, profile.map(|p| p.provider()), session));
    }
    ctx.printer.status(&profiles, &ctx.settings.store_dir);
    Ok(())
}
