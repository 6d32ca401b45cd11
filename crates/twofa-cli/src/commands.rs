//! `login`, `token`, `status`, `logout` and `totp`.

use std::{
    collections::BTreeSet,
    io::IsTerminal as _,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use twofa_core::{
    Error, LoginOptions, Password, Session,
    code_source::Prompt,
    deadline::{self, Budget},
    store::{FileStore, SessionStore, check_profile},
};

use crate::{
    cli::{Format, Provider, TransportArg},
    input::{self, AskPin, PasswordInput, ShowSetup},
    output::{self, Failure},
    profile::{Backend, OmsApiKey, Profile, secret_env},
    progress::{PauseForCode, Progress},
    stores,
};

/// A stand-in password for flows used only to resume or log out, or for a passwordless login:
/// those never send it.
const UNUSED_PASSWORD: &str = "unused-by-resume-and-logout";

/// Where things live, the request time limit, and the deadline of one login, renewal or logout.
pub struct Context {
    pub store_dir: PathBuf,
    pub timeout: Duration,
    pub format: Format,
    /// Whether a spinner may show on a terminal (not with `-q`).
    pub progress: bool,
    pub deadline: Duration,
}

impl Context {
    fn sessions(&self) -> FileStore {
        FileStore::new(self.store_dir.join("sessions"))
    }

    /// The session store a profile uses.
    async fn store(&self, kind: stores::StoreKind) -> twofa_keyring::Chosen {
        stores::open(kind, self.sessions()).await
    }

    /// A profile's configuration and its session, each when readable (for `status`).
    async fn profile_and_session(&self, name: &str) -> (Option<Profile>, Option<Session>) {
        let profile = Profile::load(&self.profiles(), name).ok().flatten();
        let store = self.store(profile.as_ref().map(|p| p.store).unwrap_or_default()).await.store();
        (profile, store.load(name).await.ok().flatten())
    }

    fn profiles(&self) -> PathBuf {
        self.store_dir.join("profiles")
    }

    fn profile(&self, name: &str) -> Result<Profile, Failure> {
        Profile::load(&self.profiles(), name)?
            .ok_or_else(|| Failure::usage(format!("there is no profile `{name}`; log in first with `twofa login`")))
    }

    /// Every profile with a configuration or a session.
    async fn names(&self) -> Result<BTreeSet<String>, Failure> {
        let mut names: BTreeSet<String> = self.sessions().profiles().await?.into_iter().collect();
        names.extend(Profile::names(&self.profiles())?);
        Ok(names)
    }
}

/// The password for a login from `input`, or a stand-in when the profile logs in without one.
fn password_for(profile: &Profile, input: PasswordInput<'_>) -> Result<Password, Error> {
    if profile.uses_password() { input::password(input, &profile.who()) } else { Ok(Password::new(UNUSED_PASSWORD)) }
}

pub async fn login(ctx: &Context, provider: Provider) -> Result<(), Failure> {
    let (backend, common) = match provider {
        Provider::Etna { base_url, app_key_env, username, pin_env, common } => {
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
    let mut profile = Profile {
        backend,
        password_env: common.password_env.clone(),
        code_env: common.code_env.clone(),
        totp_secret_env: common.totp_secret_env.clone(),
        allow_insecure_http: common.allow_insecure_http,
        store: common.store,
        password_keyring: common.password_keyring,
    };
    let name = common.profile.clone().unwrap_or_else(|| profile.provider().to_owned());
    check_profile(&name)?;
    profile.check()?;
    let chosen = ctx.store(common.store).await;
    profile.store = stores::kind(&chosen);
    let password_keyring = match common.password_keyring {
        true => Some(stores::password_keyring().await?),
        false => None,
    };
    let password_input = match (&common.password_env, common.password_stdin) {
        (Some(var), _) => PasswordInput::Env(var),
        (None, true) => PasswordInput::Stdin,
        (None, false) => PasswordInput::Prompt,
    };
    let password = password_for(&profile, password_input)?;
    // An API-key profile has no password to remember.
    let remembered = password_keyring.as_ref().filter(|_| profile.uses_password()).map(|_| password.clone());
    let store = chosen.store();
    let previous = store.load(&name).await.ok().flatten();
    let flow = profile.flow(password, ctx.timeout, previous.as_ref())?;
    let prompt = input::login_prompt(common.password_stdin, common.code_stdin);
    let (codes, attempts) = input::codes(
        common.code.as_deref(),
        common.code_env.as_deref(),
        common.totp_secret_env.as_deref(),
        prompt.clone(),
    )?;
    let codes = ShowSetup {
        inner: Arc::new(AskPin::new(codes, prompt)),
        enabled: ctx.format == Format::Text && std::io::stdout().is_terminal(),
    };
    let progress = Progress::start(ctx.progress, &format!("logging in to {}", profile.provider()));
    let codes = PauseForCode { inner: Arc::new(codes), progress: Arc::clone(&progress) };
    let options = LoginOptions::default().max_code_attempts(attempts).deadline(ctx.deadline);
    let session = twofa_core::login(flow.as_ref(), &codes, &options).await;
    progress.clear();
    let session = session?;
    // The profile first: a refused profile file leaves the stored session as it was.
    profile.save(&ctx.profiles(), &name)?;
    store.save(&name, &session).await?;
    if let (Some(keyring), Some(password)) = (&password_keyring, &remembered) {
        stores::remember_password(keyring, &name, password).await?;
    }
    output::logged_in(ctx.format, &name, &session, &stores::location(&chosen, ctx.sessions().dir(), &name));
    Ok(())
}

/// The stored session if fresh; else resumed without a code; else a new login from the profile.
async fn valid_session(ctx: &Context, name: &str, profile: &Profile) -> Result<Session, Error> {
    let store = ctx.store(profile.store).await.store();
    let previous = match store.load(name).await {
        Ok(session) => session,
        Err(e) => {
            tracing::warn!(profile = name, error = %e, "the stored session is unreadable; logging in again");
            None
        }
    };
    // Resume and login share one deadline.
    let mut budget = Budget::new(ctx.deadline);
    if let Some(session) = &previous {
        // A session with an idle timeout may have idled out since it was stored: resume it (cheap, no code).
        if !session.is_expired(Duration::from_secs(60)) && session.idle_timeout().is_none() {
            return Ok(session.clone());
        }
        if session.renewal_token().is_some() {
            let flow = profile.flow(Password::new(UNUSED_PASSWORD), ctx.timeout, Some(session))?;
            match budget.run(flow.resume(session)).await {
                Ok(renewed) => {
                    store.save(name, &renewed).await?;
                    return Ok(renewed);
                }
                // No resume call (the OMS over HTTP): a session still inside the idle window it
                // was issued with is alive whatever happened since; past it, log in again.
                Err(Error::Unsupported { .. }) if within_idle_window(session) => return Ok(session.clone()),
                Err(Error::SessionExpired | Error::Unsupported { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let remembered = match profile.password_keyring && profile.uses_password() {
        true => stores::remembered_password(name).await,
        false => None,
    };
    let password = match remembered {
        Some(password) => password,
        None => {
            let password_input = profile.password_env.as_deref().map_or(PasswordInput::Prompt, PasswordInput::Env);
            password_for(profile, password_input)?
        }
    };
    let flow = profile.flow(password, ctx.timeout, previous.as_ref())?;
    let (codes, attempts) =
        input::codes(None, profile.code_env.as_deref(), profile.totp_secret_env.as_deref(), Prompt::new())?;
    let codes = AskPin::new(codes, Prompt::new());
    let options = LoginOptions::default().max_code_attempts(attempts).deadline(budget.left());
    let session = twofa_core::login(flow.as_ref(), &codes, &options).await?;
    store.save(name, &session).await?;
    Ok(session)
}

/// Whether `session` is inside the idle window counted from its issue, a minute to spare.
fn within_idle_window(session: &Session) -> bool {
    let Some(idle) = session.idle_timeout() else { return false };
    let window = idle.saturating_sub(Duration::from_secs(60));
    !session.is_expired(Duration::from_secs(60))
        && session.issued_at() + window > twofa_core::time::OffsetDateTime::now_utc()
}

pub async fn token(ctx: &Context, name: &str, header: bool) -> Result<(), Failure> {
    let profile = ctx.profile(name)?;
    let session = valid_session(ctx, name, &profile).await?;
    if header {
        println!("{}: {}", session.header_name(), session.header_value().expose_secret());
    } else {
        println!("{}", session.access_token().expose_secret());
    }
    Ok(())
}

pub async fn status(ctx: &Context) -> Result<(), Failure> {
    let names = ctx.names().await?;
    if ctx.format == Format::Json {
        let mut profiles = Vec::with_capacity(names.len());
        for name in &names {
            let (profile, session) = ctx.profile_and_session(name).await;
            let provider = profile.as_ref().map(|p| p.provider());
            profiles.push(output::status_json(name, provider, session.as_ref()));
        }
        println!("{}", serde_json::json!({ "profiles": profiles }));
        return Ok(());
    }
    if names.is_empty() {
        println!("No stored profiles in {}.", ctx.store_dir.display());
        return Ok(());
    }
    let mut rows = vec![["PROFILE", "PROVIDER", "SUBJECT", "EXPIRES IN", "RENEWABLE"].map(String::from)];
    for name in &names {
        let (profile, session) = ctx.profile_and_session(name).await;
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
        (_, true) => ctx.names().await?.into_iter().collect(),
        (Some(name), false) => vec![name],
        (None, false) => return Err(Failure::usage("name a --profile or pass --all")),
    };
    for name in names {
        check_profile(&name)?;
        let profile = Profile::load(&ctx.profiles(), &name).ok().flatten();
        let store = ctx.store(profile.as_ref().map(|p| p.store).unwrap_or_default()).await.store();
        let session = store.load(&name).await.ok().flatten();
        if !all && profile.is_none() && session.is_none() {
            return Err(Failure::usage(format!("there is no profile `{name}`; `twofa status` lists them")));
        }
        if let (Some(profile), Some(session)) = (&profile, &session) {
            let remote = match profile.flow(Password::new(UNUSED_PASSWORD), ctx.timeout, Some(session)) {
                Ok(flow) => deadline::within(ctx.deadline, flow.logout(session)).await,
                Err(e) => Err(e),
            };
            match remote {
                Ok(()) | Err(Error::Unsupported { .. }) => {}
                Err(e) => eprintln!(
                    "warning: the provider's logout of `{name}` failed ({}); removing the local session anyway",
                    twofa_core::untrusted::escape(&e.to_string())
                ),
            }
        }
        store.delete(&name).await?;
        if profile.as_ref().is_some_and(|p| p.password_keyring) {
            stores::forget_password(&name).await;
        }
        Profile::delete(&ctx.profiles(), &name)?;
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
