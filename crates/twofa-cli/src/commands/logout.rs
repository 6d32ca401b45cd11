//! `twofa logout`: ends a session at the provider and forgets it, with its profile.

use twofa_core::{Error, store::check_profile};

use twofa_ops::audit::Action;

use super::Context;
use crate::{
    api_key_store, ops,
    output::Failure,
    pending,
    profile::Profile,
    session::{self, Inputs},
    stores,
};

/// `twofa logout --profile NAME` or `--all`.
pub async fn logout(ctx: &Context, name: Option<String>, all: bool) -> Result<(), Failure> {
    let names: Vec<String> = match (name, all) {
        (_, true) => ctx.settings.names().await?.into_iter().collect(),
        (Some(name), false) => vec![name],
        (None, false) => return Err(Failure::usage("name a --profile or pass --all")),
    };
    for name in names {
        check_profile(&name)?;
        let profile = Profile::load(&ctx.settings.profiles(), &name).ok().flatten();
        let store = stores::open(profile.as_ref().map(|p| p.store).unwrap_or_default(), ctx.settings.sessions())
            .await
            .map_err(Failure::usage_error)?
            .store();
        if !all && profile.is_none() && store.load(&name).await.ok().flatten().is_none() {
            return Err(Failure::usage(format!("there is no profile `{name}`; `twofa status` lists them")));
        }
        match &profile {
            // The provider's logout (when it has one) and the stored session, by the authenticator.
            Some(profile) => {
                let inputs = Inputs::from_profile(&name, profile);
                let auth = session::authenticator(&ctx.settings, &name, profile, inputs, None).await?;
                let done = auth.logout().await;
                ops::record_outcome(
                    &ctx.settings,
                    Action::Logout,
                    &name,
                    profile.provider(),
                    "cli:logout",
                    done.as_ref().err(),
                )?;
                match done {
                    Ok(()) => {}
                    Err(e @ Error::Store { .. }) => return Err(e.into()),
                    Err(e) => ctx.printer.warn(format_args!(
                        "the provider's logout of `{name}` failed ({}); removing the local session anyway",
                        twofa_core::untrusted::escape(&e.to_string())
                    )),
                }
            }
            // A session without its profile: nothing to tell a provider.
            None => store.delete(&name).await?,
        }
        if profile.as_ref().is_some_and(|p| p.password_keyring) {
            stores::forget_password(&name).await;
        }
        // The key `oms api-key create` stored for this profile goes with it (it stays valid at
        // the gateway until `oms api-key remove`).
        if let Some(kind) = profile.as_ref().and_then(Profile::stored_api_key) {
            api_key_store::delete(kind, &ctx.settings.store_dir, &name).await?;
        }
        pending::delete(&ctx.settings.store_dir, &name)?;
        Profile::delete(&ctx.settings.profiles(), &name)?;
        ctx.printer.line(format_args!("Logged out of `{name}`."));
    }
    Ok(())
}
