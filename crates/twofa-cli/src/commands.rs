//! `login`, `verify`, `token`, `status`, `logout` and `totp`: thin shells over the profile's
//! [`Authenticator`](twofa_core::Authenticator) (see [`crate::authenticate`]) and the stores.

use std::{
    io::IsTerminal as _,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use async_trait::async_trait;
use twofa_core::{
    Error, Secret, Session, Step,
    code_source::Prompt,
    store::{SessionStore, check_profile},
};

use crate::{
    authenticate::{self, Inputs, ProfileAuth, ProfilePassword, Settings},
    cli::{Format, Provider, TransportArg},
    input::{self, AskPin, PasswordInput, ShowSetup},
    output::{self, Failure},
    pending,
    profile::{Backend, OmsApiKey, Profile, secret_env},
    progress::{PauseForCode, Progress},
    secret_command, stores,
};

/// Where things live, the limits of one command, and how it prints.
pub struct Context {
    pub settings: Settings,
    pub format: Format,
    /// Whether a spinner may show on a terminal (not with `-q`).
    pub progress: bool,
}

impl Context {
    fn profile(&self, name: &str) -> Result<Profile, Failure> {
        Profile::load(&self.settings.profiles(), name)?
            .ok_or_else(|| Failure::usage(format!("there is no profile `{name}`; log in first with `twofa login`")))
    }
}

/// The profile `login`'s flags describe.
fn profile_of(provider: Provider) -> (Profile, crate::cli::Common, Option<String>) {
    let mut pin_command_flag = None;
    let (backend, common) = match provider {
        Provider::Etna { base_url, app_key_env, username, pin_env, pin_command, common } => {
            pin_command_flag = pin_command;
            (Backend::Etna { base_url, app_key_env, username, pin_env }, common)
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
                    Some(OmsApiKey { user_id, api_key_env, api_secret_env })
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
        store: common.store,
        password_keyring: common.password_keyring,
    };
    (profile, common, pin_command_flag)
}

/// Saves the profile just before the session, so a refused profile file leaves the stored session
/// as it was and a failed login leaves both.
#[derive(Debug)]
struct ProfileFirst {
    inner: Arc<dyn SessionStore>,
    profile: Profile,
    dir: PathBuf,
}

#[async_trait]
impl SessionStore for ProfileFirst {
    async fn load(&self, name: &str) -> Result<Option<Session>, Error> {
        self.inner.load(name).await
    }

    async fn save(&self, name: &str, session: &Session) -> Result<(), Error> {
        self.profile.save(&self.dir, name)?;
        self.inner.save(name, session).await
    }

    async fn delete(&self, name: &str) -> Result<(), Error> {
        self.inner.delete(name).await
    }

    async fn profiles(&self) -> Result<Vec<String>, Error> {
        self.inner.profiles().await
    }

    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }

    async fn try_lock_renewal(
        &self,
        name: &str,
        lease: Duration,
    ) -> Result<Option<twofa_core::store::RenewalLease>, Error> {
        self.inner.try_lock_renewal(name, lease).await
    }

    async fn unlock_renewal(&self, name: &str, lease: twofa_core::store::RenewalLease) -> Result<(), Error> {
        self.inner.unlock_renewal(name, lease).await
    }
}

/// `twofa login`: always a fresh login, through the profile's [`Authenticator`](twofa_core::Authenticator).
pub async fn login(ctx: &Context, provider: Provider) -> Result<(), Failure> {
    let (mut profile, common, pin_command) = profile_of(provider);
    let name = common.profile.clone().unwrap_or_else(|| profile.provider().to_owned());
    check_profile(&name)?;
    profile.check()?;
    confirm_replace(ctx, &name, &profile, common.replace)?;
    let chosen = stores::open(common.store, ctx.settings.sessions()).await;
    profile.store = stores::kind(&chosen);
    let password_keyring = match common.password_keyring {
        true => Some(stores::password_keyring().await?),
        false => None,
    };
    secret_command::record(&mut profile, &common, pin_command.as_deref())?;
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
        enabled: ctx.format == Format::Text && std::io::stdout().is_terminal(),
    };
    let progress = Progress::start(ctx.progress, &format!("logging in to {}", profile.provider()));
    let password = Arc::new(ProfilePassword::new(&name, &profile, password_input, false));
    password.pause(Arc::clone(&progress));
    let inputs = Inputs {
        password: Arc::clone(&password),
        codes: Arc::new(PauseForCode { inner: Arc::new(codes), progress: Arc::clone(&progress) }),
        attempts,
    };
    let store = ProfileFirst { inner: chosen.store(), profile: profile.clone(), dir: ctx.settings.profiles() };
    let ProfileAuth { authenticator, .. } =
        authenticate::authenticator(&ctx.settings, &name, &profile, inputs, Some(Arc::new(store))).await?;
    if common.no_wait {
        let started = authenticator.start_login().await;
        progress.clear();
        return match started? {
            Step::Authenticated(session) => {
                pending::delete(&ctx.settings.store_dir, &name)?;
                output::logged_in(
                    ctx.format,
                    &name,
                    &session,
                    &stores::location(&chosen, ctx.settings.sessions().dir(), &name),
                );
                Ok(())
            }
            Step::Challenge(challenge) => wait_for_verify(ctx, &name, &profile, &challenge),
        };
    }
    let session = authenticator.login().await;
    progress.clear();
    let session = session?;
    pending::delete(&ctx.settings.store_dir, &name)?;
    // An API-key profile has no password to remember.
    if let (Some(keyring), Some(password)) = (&password_keyring, password.typed().filter(|_| profile.uses_password())) {
        stores::remember_password(keyring, &name, &password).await?;
    }
    output::logged_in(ctx.format, &name, &session, &stores::location(&chosen, ctx.settings.sessions().dir(), &name));
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
    output::waiting(ctx.format, name, challenge, expires_at);
    Ok(())
}

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
    let chosen = stores::open(profile.store, ctx.settings.sessions()).await;
    let store = ProfileFirst { inner: chosen.store(), profile: profile.clone(), dir: ctx.settings.profiles() };
    let ProfileAuth { authenticator, .. } =
        authenticate::authenticator(&ctx.settings, name, &profile, inputs, Some(Arc::new(store))).await?;
    let session = match authenticator.finish_login(challenge).await {
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
    output::logged_in(ctx.format, name, &session, &stores::location(&chosen, ctx.settings.sessions().dir(), name));
    Ok(())
}

/// `twofa token`: the profile's session from its [`Authenticator`](twofa_core::Authenticator) —
/// stored, resumed or logged in afresh, as it decides.
pub async fn token(ctx: &Context, name: &str, header: bool) -> Result<(), Failure> {
    let profile = ctx.profile(name)?;
    let inputs = Inputs::from_profile(name, &profile);
    let ProfileAuth { authenticator, .. } =
        authenticate::authenticator(&ctx.settings, name, &profile, inputs, None).await?;
    let session = authenticator.session().await?;
    crate::token_format::print(ctx.format, name, &session, header)
}

pub async fn status(ctx: &Context) -> Result<(), Failure> {
    let names = ctx.settings.names().await?;
    if ctx.format == Format::Json {
        let mut profiles = Vec::with_capacity(names.len());
        for name in &names {
            let (profile, session) = ctx.settings.profile_and_session(name).await;
            let provider = profile.as_ref().map(|p| p.provider());
            profiles.push(output::status_json(name, provider, session.as_ref()));
        }
        println!("{}", serde_json::json!({ "profiles": profiles }));
        return Ok(());
    }
    if names.is_empty() {
        println!("No stored profiles in {}.", ctx.settings.store_dir.display());
        return Ok(());
    }
    let mut rows = vec![["PROFILE", "PROVIDER", "SUBJECT", "EXPIRES IN", "RENEWABLE"].map(String::from)];
    for name in &names {
        let (profile, session) = ctx.settings.profile_and_session(name).await;
        let provider = profile.as_ref().map_or("?", |p| p.provider());
        rows.push(output::status_row(name, provider, session.as_ref()));
    }
    let widths: Vec<usize> = (0..5).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    for row in rows {
        let line: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        println!("{}", line.join("  ").trim_end());
    }
    Ok(())
}

pub async fn logout(ctx: &Context, name: Option<String>, all: bool) -> Result<(), Failure> {
    let names: Vec<String> = match (name, all) {
        (_, true) => ctx.settings.names().await?.into_iter().collect(),
        (Some(name), false) => vec![name],
        (None, false) => return Err(Failure::usage("name a --profile or pass --all")),
    };
    for name in names {
        check_profile(&name)?;
        let profile = Profile::load(&ctx.settings.profiles(), &name).ok().flatten();
        let store =
            stores::open(profile.as_ref().map(|p| p.store).unwrap_or_default(), ctx.settings.sessions()).await.store();
        if !all && profile.is_none() && store.load(&name).await.ok().flatten().is_none() {
            return Err(Failure::usage(format!("there is no profile `{name}`; `twofa status` lists them")));
        }
        match &profile {
            // The provider's logout (when it has one) and the stored session, by the authenticator.
            Some(profile) => {
                let inputs = Inputs::from_profile(&name, profile);
                let auth = authenticate::authenticator(&ctx.settings, &name, profile, inputs, None).await?;
                match auth.authenticator.logout().await {
                    Ok(()) => {}
                    Err(e @ Error::Store { .. }) => return Err(e.into()),
                    Err(e) => eprintln!(
                        "warning: the provider's logout of `{name}` failed ({}); removing the local session anyway",
                        twofa_core::untrusted::escape(&e.to_string())
                    ),
                }
            }
            // A session without its profile: nothing to tell a provider.
            None => store.delete(&name).await?,
        }
        if profile.as_ref().is_some_and(|p| p.password_keyring) {
            stores::forget_password(&name).await;
        }
        pending::delete(&ctx.settings.store_dir, &name)?;
        Profile::delete(&ctx.settings.profiles(), &name)?;
        println!("Logged out of `{name}`.");
    }
    Ok(())
}

pub fn totp(var: &str) -> Result<(), Failure> {
    let value = secret_env(var, "the TOTP seed")?;
    let (code, valid_for) = input::totp(&value)?.current();
    println!("{} (valid for {} s)", code.expose_secret(), valid_for.as_secs());
    Ok(())
}

/// The default store: `$XDG_DATA_HOME/twofa` and its equivalents.
pub fn default_store_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("twofa"))
}

pub fn check_dir(dir: &Path) -> Result<(), Failure> {
    if dir.as_os_str().is_empty() {
        return Err(Failure::usage("the store directory is empty"));
    }
    Ok(())
}
