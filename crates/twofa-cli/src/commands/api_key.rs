//! `twofa oms api-key create|list|remove`: "2FA once, then an API key". The session of an OMS
//! profile (stored, resumed, or a fresh login that asks for the code) manages the user's keys with
//! `AddUserAPIKey`, `GetUserAPIKeys` and `RemoveUserAPIKey` (docs/protocols/oms.md#api-keys); a new
//! key's pair goes to the keyring or a 0600 file and an API-key profile is written that logs in
//! with it, no code.

use std::sync::Arc;

use twofa_core::{ApiKey, Error, PasswordSource, Session, store::check_profile};
use twofa_oms::{OmsFlow, Permission};

use super::Context;
use crate::{
    api_key_store,
    args::ApiKeyCommand,
    output::Failure,
    profile::{ApiKeySource, ApiKeyStore, Backend, OmsApiKey, Profile, StoreKind},
    session::{self, Inputs},
};

/// `twofa oms api-key …`.
pub async fn api_key(ctx: &Context, command: ApiKeyCommand) -> Result<(), Failure> {
    match command {
        ApiKeyCommand::Create { profile, permissions, key_profile, show_secret } => {
            let key_profile = key_profile.unwrap_or_else(|| format!("{profile}-api-key"));
            create(ctx, &profile, &permissions, &key_profile, show_secret).await
        }
        ApiKeyCommand::List { profile } => {
            let (_, flow, session) = session_of(ctx, &profile).await?;
            let keys = flow.api_keys(&session)?;
            ctx.printer.api_keys(keys.user_id(), &keys.list().await?);
            Ok(())
        }
        ApiKeyCommand::Remove { profile, key, key_profile } => {
            let key = match (key, key_profile) {
                (_, Some(holder)) => key_of(ctx, &holder).await?,
                (Some(key), None) => ApiKey::new(key.trim()),
                (None, None) => return Err(Failure::usage("name the KEY or a --key-profile")),
            };
            let (_, flow, session) = session_of(ctx, &profile).await?;
            flow.api_keys(&session)?.remove(&key).await?;
            ctx.printer.api_key_removed();
            Ok(())
        }
    }
}

async fn create(
    ctx: &Context,
    name: &str,
    permissions: &[String],
    key_profile: &str,
    show_secret: bool,
) -> Result<(), Failure> {
    let permissions = permissions
        .iter()
        .map(|p| p.parse::<Permission>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::usage_error)?;
    check_profile(key_profile).map_err(Failure::usage_error)?;
    let profiles = ctx.settings.profiles();
    if Profile::load(&profiles, key_profile)?.is_some() {
        return Err(Failure::usage(format!(
            "a profile `{key_profile}` exists already; name another with --key-profile, or `twofa logout --profile \
             {key_profile}` first"
        )));
    }
    let (profile, flow, session) = session_of(ctx, name).await?;
    let keys = flow.api_keys(&session)?;
    let made = keys.create(&permissions).await?;
    let (url, websocket) = profile.oms_endpoint().unwrap_or_default();
    let wanted = if profile.store == StoreKind::Keyring { ApiKeyStore::Keyring } else { ApiKeyStore::File };
    let dir = &ctx.settings.store_dir;
    let saved = async {
        let kind = api_key_store::save(wanted, dir, key_profile, &made.key, &made.secret).await?;
        key_profile_of(&profile, url, websocket, made.user_id, kind).save(&profiles, key_profile)?;
        Ok::<_, Error>(kind)
    };
    let kind = match saved.await {
        Ok(kind) => kind,
        Err(e) => {
            // Nothing holds the secret now: take the key back rather than leave it orphaned.
            if let Err(undo) = keys.remove(&made.key).await {
                ctx.printer.warn(format_args!(
                    "the new API key could not be removed again ({undo}); remove it with `twofa oms api-key list` \
                     and `remove`"
                ));
            }
            return Err(e.into());
        }
    };
    ctx.printer.api_key_created(key_profile, &made, &api_key_store::location(kind, dir, key_profile), show_secret);
    Ok(())
}

/// The API-key profile of a key of `user_id` made with `parent`'s session: the same endpoint
/// (`url`, `websocket`) and session store; the key pair in `kind`.
fn key_profile_of(parent: &Profile, url: &str, websocket: bool, user_id: u64, kind: ApiKeyStore) -> Profile {
    Profile {
        backend: Backend::Oms {
            url: url.to_owned(),
            websocket,
            username: None,
            api_key: Some(OmsApiKey { user_id, source: ApiKeySource::Stored { api_key_store: kind } }),
        },
        password_env: None,
        code_env: None,
        totp_secret_env: None,
        password_command: None,
        code_command: None,
        pin_command: None,
        allow_insecure_http: parent.allow_insecure_http,
        store: parent.store,
        password_keyring: false,
        // An API-key login asks no person for a code.
        notify: Vec::new(),
    }
}

/// The OMS profile `name`, its flow, and a live session from its authenticator.
async fn session_of(ctx: &Context, name: &str) -> Result<(Profile, OmsFlow, Arc<Session>), Failure> {
    let profile = ctx.profile(name)?;
    if profile.oms_endpoint().is_none() {
        return Err(Failure::usage(format!(
            "`{name}` is a {} profile; `twofa oms api-key` manages the keys of an OMS profile",
            profile.provider()
        )));
    }
    let inputs = Inputs::from_profile(name, &profile);
    let password: Arc<dyn PasswordSource> = Arc::clone(&inputs.password) as Arc<dyn PasswordSource>;
    let authenticator = session::authenticator(&ctx.settings, name, &profile, inputs, None).await?;
    let session = authenticator.session().await?;
    let stored = match profile.stored_api_key() {
        Some(kind) => Some(api_key_store::load(kind, &ctx.settings.store_dir, name).await),
        None => None,
    };
    let flow = match profile.oms_flow(password, ctx.settings.timeout, stored.as_ref()) {
        Some(flow) => flow.map_err(Failure::usage_error)?,
        None => return Err(Failure::usage(format!("`{name}` is not an OMS profile"))),
    };
    Ok((profile, flow, session))
}

/// The API key the API-key profile `holder` logs in with.
async fn key_of(ctx: &Context, holder: &str) -> Result<ApiKey, Failure> {
    let profile = ctx.profile(holder)?;
    let Backend::Oms { api_key: Some(key), .. } = &profile.backend else {
        return Err(Failure::usage(format!("`{holder}` is not an OMS API-key profile")));
    };
    let stored = match profile.stored_api_key() {
        Some(kind) => Some(api_key_store::load(kind, &ctx.settings.store_dir, holder).await),
        None => None,
    };
    key.pair(stored.as_ref()).map(|(key, _)| key).map_err(Failure::usage_error)
}
