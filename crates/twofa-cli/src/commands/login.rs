//! `twofa login`: a fresh login under a profile, the profile saved with its session.

use std::sync::Arc;

use twofa_core::{Step, store::check_profile};
use twofa_ops::audit::Action;

use super::Context;
use crate::{
    args::{Common, Provider, StoreArg, TransportArg},
    input::{self, AskPin, PasswordInput, ShowSetup},
    ops,
    output::{Failure, progress::PauseForCode},
    pending,
    profile::{ApiKeySource, Backend, OmsApiKey, Profile, StoreKind},
    secret_command,
    session::{self, Inputs, ProfileFirst, ProfilePassword},
    stores,
};

/// The profile `login`'s flags describe.
fn profile_of(provider: Provider) -> (Profile, Common, Option<String>) {
    let mut pin_command_flag = None;
    let (backend, common) = match provider {
        Provider::Etna { base_url, app_key_env, username, pin_env, pin_command, token_lifetime, common } => {
            pin_command_flag = pin_command;
            (Backend::Etna { base_url, app_key_env, username, pin_env, token_lifetime }, common)
        }
        Provider::Oms { url, transport, username, api_key_env, api_secret_env, user_id, common } => {
            let websocket = match transport {
                Some(TransportArg::Ws) => true,
                Some(TransportArg::Http) => false,
                None => url.trim_start().starts_with("ws"),
            };
            // clap requires the three API-key flags together.
            let api_key = match (api_key_env, api_secret_env, user_id) {
                (Some(api_key_env), Some(api_secret_env), Some(user_id)) => {
                    Some(OmsApiKey { user_id, source: ApiKeySource::Env { api_key_env, api_secret_env } })
                }
                _ => None,
            };
            (Backend::Oms { url, websocket, username, api_key }, common)
        }
        Provider::Onlineordering {
            base_url,
            company_code,
            api_credentials_env,
            email,
            remember_device,
            guest,
            common,
        } => (
            Backend::Onlineordering { base_url, company_code, api_credentials_env, email, remember_device, guest },
            common,
        ),
    };
    let profile = Profile {
        backend,
        password_env: common.password_env.clone(),
        code_env: common.code_env.clone(),
        totp_secret_env: common.totp_secret_env.clone(),
        password_command: None,
        code_command: None,
        pin_command: None,
        allow_insecure_http: common.allow_insecure_http,
        store: match common.store {
            StoreArg::File => StoreKind::File,
            StoreArg::Keyring => StoreKind::Keyring,
            StoreArg::Redis => StoreKind::Redis,
        },
        password_keyring: common.password_keyring,
        notify: common.notify.clone(),
    };
    (profile, common, pin_command_flag)
}

/// `twofa login`: always a fresh login, through the profile's [`Authenticator`](twofa_core::Authenticator).
pub async fn login(ctx: &Context, provider: Provider) -> Result<(), Failure> {
    let (mut profile, common, pin_command) = profile_of(provider);
    let name = common.profile.clone().unwrap_or_else(|| profile.provider().to_owned());
    check_profile(&name)?;
    profile.check()?;
    confirm_replace(ctx, &name, &profile, common.replace)?;
    let chosen = stores::open(profile.store, ctx.settings.sessions()).await.map_err(Failure::usage_error)?;
    profile.store = chosen.kind();
    let password_keyring = match common.password_keyring {
        true => Some(stores::password_keyring().await.map_err(Failure::usage_error)?),
        false => None,
    };
    secret_command::record(&mut profile, &common, pin_command.as_deref()).map_err(Failure::usage_error)?;
    let password_input = match (&common.password_env, common.password_stdin) {
        _ if profile.password_command.is_some() => secret_command::password(&profile).unwrap_or(PasswordInput::Prompt),
        (Some(var), _) => PasswordInput::Env(var.clone()),
        (None, true) => PasswordInput::Stdin,
        (None, false) => PasswordInput::Prompt,
    };
    if let Some(var) = &common.totp_secret_env {
        input::check_totp(var)?;
    }
    let prompt = input::login_prompt(common.password_stdin, common.code_stdin);
    let (codes, attempts) = secret_command::codes(&profile).unwrap_or_else(|| {
        input::codes(common.code.as_deref(), common.code_env.clone(), common.totp_secret_env.clone(), prompt.clone())
    });
    let codes = ShowSetup {
        inner: Arc::new(AskPin::new(codes, secret_command::pin(&profile).unwrap_or_else(|| Arc::new(prompt)))),
        enabled: ctx.printer.to_person(),
    };
    let notifier = ops::notifier(&profile.notify).map_err(Failure::usage_error)?;
    let codes = ops::notifying(Arc::new(codes), notifier.as_ref(), &name);
    let progress = ctx.printer.spinner(&format!("logging in to {}", profile.provider()));
    let password = Arc::new(ProfilePassword::new(&name, &profile, password_input, false));
    password.pause(Arc::clone(&progress));
    let inputs = Inputs {
        password: Arc::clone(&password),
        codes: Arc::new(PauseForCode { inner: codes, progress: Arc::clone(&progress) }),
        attempts,
        notifier: notifier.clone(),
    };
    let store = ProfileFirst { inner: chosen.store(), profile: profile.clone(), dir: ctx.settings.profiles() };
    let authenticator = session::authenticator(&ctx.settings, &name, &profile, inputs, Some(Arc::new(store))).await?;
    if common.no_wait {
        let started = authenticator.start_login().await;
        progress.clear();
        return match started? {
            Step::Authenticated(session) => {
                pending::delete(&ctx.settings.store_dir, &name)?;
                ctx.printer.logged_in(&name, &session, &chosen.location(ctx.settings.sessions().dir(), &name));
                Ok(())
            }
            Step::Challenge(challenge) => wait_for_verify(ctx, &name, &profile, &challenge),
        };
    }
    let session = authenticator.login().await;
    progress.clear();
    ops::flush(notifier.as_ref()).await;
    ops::record(&ctx.settings, Action::Login, &name, profile.provider(), "cli:login", session.as_deref())?;
    let session = session?;
    pending::delete(&ctx.settings.store_dir, &name)?;
    // An API-key profile has no password to remember.
    if let (Some(keyring), Some(password)) = (&password_keyring, password.typed().filter(|_| profile.uses_password())) {
        stores::remember_password(keyring, &name, &password).await?;
    }
    ctx.printer.logged_in(&name, &session, &chosen.location(ctx.settings.sessions().dir(), &name));
    Ok(())
}

/// Refuses to let a login under `name` take over a saved profile that logs in to another endpoint
/// or account, unless `replace` says so or the person at the terminal agrees: a second login
/// under the same name would otherwise silently replace the first.
fn confirm_replace(ctx: &Context, name: &str, profile: &Profile, replace: bool) -> Result<(), Failure> {
    // An unreadable profile file is replaced as before: nothing in it can be trusted anyway.
    let Some(existing) = Profile::load(&ctx.settings.profiles(), name).ok().flatten() else { return Ok(()) };
    let (old, new) = (existing.origin(), profile.origin());
    if replace || (existing.provider() == profile.provider() && old.is_some() && old == new) {
        return Ok(());
    }
    let shown = |origin: Option<twofa_core::Origin>| match origin {
        Some(origin) => origin.to_string(),
        None => "an endpoint that does not parse".to_owned(),
    };
    let (old, new) = (shown(old), shown(new));
    let question = format!("profile `{name}` logs in to {old}; replace it with {new}?");
    if input::confirm(&question) {
        return Ok(());
    }
    Err(Failure::usage(format!(
        "profile `{name}` already logs in to {old}: pass --replace to replace it with {new}, or choose another --profile"
    )))
}

/// Keeps a started login for `twofa verify`, with the profile it needs.
fn wait_for_verify(
    ctx: &Context,
    name: &str,
    profile: &Profile,
    challenge: &twofa_core::Challenge,
) -> Result<(), Failure> {
    if !challenge.is_portable() {
        return Err(Failure::usage(format!(
            "{} keeps this login on an open connection, which ends with this command: log in in one \
             invocation, without --no-wait (the code from --code-env, --totp-secret-env or the prompt)",
            profile.provider()
        )));
    }
    // The stored profile and session stay as they are until `verify` completes the login.
    let expires_at = pending::save(&ctx.settings.store_dir, name, profile, challenge)?;
    ctx.printer.waiting(name, challenge, expires_at);
    Ok(())
}
