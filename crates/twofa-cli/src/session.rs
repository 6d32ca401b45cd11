//! The one login path every command takes: profile → [`Authenticator`] → flow → wire.
//!
//! [`authenticator`] builds the authenticator of a stored profile: its session store, a flow built
//! from the profile on first use, the password asked only when a fresh login starts
//! ([`ProfilePassword`]) and the code source of the command. Resuming, renewing, adopting a stored
//! session and saving the new one are the [`Authenticator`]'s; the commands only print.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, OnceLock, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use twofa_core::{
    Authenticator, Challenge, CodeSource, Error, LoginOptions, OneTimeCode, Password, PasswordSource, Session, Step,
    TwoFactorFlow,
    code_source::Prompt,
    store::{RenewalLease, SessionStore},
};

use crate::{
    api_key_store,
    input::{self, AskPin, PasswordInput},
    ops,
    output::progress::Progress,
    profile::{KeyPair, Profile},
    secret_command,
    settings::Settings,
    stores,
};

/// How a login of this command gets its secrets.
pub struct Inputs {
    /// The password, asked for only when a fresh login starts.
    pub password: Arc<ProfilePassword>,
    /// The second factor.
    pub codes: Arc<dyn CodeSource>,
    /// How many codes to try on one challenge.
    pub attempts: u32,
    /// Who is told when the login waits for a code (the profile's `--notify`), wrapped around
    /// `codes` already; kept to let its last notice go out before the command exits.
    pub notifier: Option<Arc<twofa_ops::notify::Notifier>>,
}

impl Inputs {
    /// What a command without login flags uses (`token`, `serve`): the profile's variables, the
    /// keyring-remembered password, else prompts.
    pub fn from_profile(name: &str, profile: &Profile) -> Self {
        let password = secret_command::password(profile)
            .unwrap_or_else(|| profile.password_env.clone().map_or(PasswordInput::Prompt, PasswordInput::Env));
        let (codes, attempts) = secret_command::codes(profile).unwrap_or_else(|| {
            input::codes(None, profile.code_env.clone(), profile.totp_secret_env.clone(), Prompt::new())
        });
        let codes: Arc<dyn CodeSource> =
            Arc::new(AskPin::new(codes, secret_command::pin(profile).unwrap_or_else(|| Arc::new(Prompt::new()))));
        // A notifier that cannot be built (its variable unset) must not stop a renewal.
        let notifier = ops::notifier(&profile.notify).unwrap_or_else(|e| {
            tracing::warn!(profile = name, error = %e, "nobody will be told when this login waits for a code");
            None
        });
        Self {
            password: Arc::new(ProfilePassword::new(name, profile, password, profile.password_keyring)),
            codes: ops::notifying(codes, notifier.as_ref(), name),
            attempts,
            notifier,
        }
    }
}

/// The authenticator of profile `name`, whose session lives in `store` (or the store the profile
/// names). Nothing is read, asked or sent until the authenticator is used; the flow is built from
/// the profile on first use, so `token` with a fresh stored session needs none of its variables.
///
/// # Errors
///
/// [`Error::InvalidInput`] for an invalid profile name.
pub async fn authenticator(
    settings: &Settings,
    name: &str,
    profile: &Profile,
    inputs: Inputs,
    store: Option<Arc<dyn SessionStore>>,
) -> Result<Authenticator, Error> {
    let store = match store {
        Some(store) => store,
        None => stores::open(profile.store, settings.sessions()).await?.store(),
    };
    // Online Ordering remembers a device id in the session; the flow sends it with a new login.
    let previous = store.load(name).await.ok().flatten();
    // A key `oms api-key create` stored: read now (the flow is built without awaiting), and a
    // failure kept for the login that needs the key.
    let stored = match profile.stored_api_key() {
        Some(kind) => Some(api_key_store::load(kind, &settings.store_dir, name).await),
        None => None,
    };
    let flow = ProfileFlow {
        stored,
        origin: profile.origin(),
        profile: profile.clone(),
        password: inputs.password,
        timeout: settings.timeout,
        previous,
        built: OnceLock::new(),
    };
    let options = LoginOptions::default().max_code_attempts(inputs.attempts).deadline(settings.deadline);
    let authenticator = Authenticator::builder(Arc::new(flow))
        .profile(name)
        .store(store)
        .code_source(inputs.codes)
        .login_options(options)
        // `token` hands the token on: a stored idle session is renewed so its user gets a whole window.
        .resume_stored_idle_sessions(true)
        .try_build()?;
    Ok(authenticator)
}

/// The OMS flow of an OMS profile, for a proxy's WebSocket relay (it logs its own gateway socket
/// in with the session, or with the profile's API key); `None` for another backend.
///
/// # Errors
///
/// The flow's configuration error (a variable the profile names is missing, …).
pub async fn oms_relay_flow(
    settings: &Settings,
    name: &str,
    profile: &Profile,
    password: Arc<ProfilePassword>,
) -> Option<Result<Arc<twofa_oms::OmsFlow>, Error>> {
    let stored = match profile.stored_api_key() {
        Some(kind) => Some(api_key_store::load(kind, &settings.store_dir, name).await),
        None => None,
    };
    let password: Arc<dyn PasswordSource> = password;
    Some(profile.oms_flow(password, settings.timeout, stored.as_ref())?.map(Arc::new))
}

/// A profile's flow, built when first used.
#[derive(Debug)]
struct ProfileFlow {
    /// The profile's endpoint and account, known without building the flow: the
    /// [`Authenticator`] ignores a stored session from elsewhere without reading a variable.
    origin: Option<twofa_core::Origin>,
    profile: Profile,
    password: Arc<ProfilePassword>,
    timeout: Duration,
    previous: Option<Session>,
    /// The stored API key of a profile `oms api-key create` made, as read.
    stored: Option<Result<KeyPair, Error>>,
    built: OnceLock<Result<Arc<dyn TwoFactorFlow>, Error>>,
}

impl ProfileFlow {
    fn flow(&self) -> Result<&Arc<dyn TwoFactorFlow>, Error> {
        let password: Arc<dyn PasswordSource> = Arc::clone(&self.password) as Arc<dyn PasswordSource>;
        self.built
            .get_or_init(|| self.profile.flow(password, self.timeout, self.previous.as_ref(), self.stored.as_ref()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

#[async_trait]
impl TwoFactorFlow for ProfileFlow {
    fn provider(&self) -> &'static str {
        self.profile.provider()
    }

    fn origin(&self) -> Option<&twofa_core::Origin> {
        self.origin.as_ref()
    }

    async fn start(&self) -> Result<Step, Error> {
        self.flow()?.start().await
    }

    async fn verify(&self, challenge: &Challenge, code: &OneTimeCode) -> Result<Step, Error> {
        self.flow()?.verify(challenge, code).await
    }

    /// Without the profile's variables (a cron job's bare environment) the flow cannot be built:
    /// that is "no resume here", so the [`Authenticator`] hands out a stored session that is still
    /// fresh, and only a real login (`start`) reports the missing variable.
    async fn resume(&self, session: &Session) -> Result<Session, Error> {
        match self.flow() {
            Ok(flow) => flow.resume(session).await,
            Err(Error::Config(_)) => Err(Error::Unsupported { operation: "resume" }),
            Err(e) => Err(e),
        }
    }

    async fn logout(&self, session: &Session) -> Result<(), Error> {
        self.flow()?.logout(session).await
    }

    fn waits_are_clamped(&self) -> bool {
        self.flow().is_ok_and(|flow| flow.waits_are_clamped())
    }
}

/// A profile's password: the keyring's when remembered there (and asked to look), else the
/// profile's variable, standard input or a prompt — read only when a fresh login starts.
#[derive(Debug)]
pub struct ProfilePassword {
    profile: String,
    who: String,
    input: PasswordInput,
    keyring_first: bool,
    /// The answer last read from `input` (not the keyring's), to remember after the login.
    typed: Mutex<Option<Password>>,
    /// The spinner to clear while a person types.
    progress: Mutex<Option<Arc<Progress>>>,
}

impl ProfilePassword {
    /// The password of `profile` (named `name`) from `input`, or first from the keyring.
    pub fn new(name: &str, profile: &Profile, input: PasswordInput, keyring_first: bool) -> Self {
        Self {
            profile: name.to_owned(),
            who: profile.who(),
            input,
            keyring_first: keyring_first && profile.uses_password(),
            typed: Mutex::new(None),
            progress: Mutex::new(None),
        }
    }

    /// Clears `progress` while the password is asked for.
    pub fn pause(&self, progress: Arc<Progress>) {
        *self.progress.lock().unwrap_or_else(PoisonError::into_inner) = Some(progress);
    }

    /// The password read from the input during this command, if one was.
    pub fn typed(&self) -> Option<Password> {
        self.typed.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[async_trait]
impl PasswordSource for ProfilePassword {
    async fn password(&self) -> Result<Password, Error> {
        if self.keyring_first
            && let Some(password) = stores::remembered_password(&self.profile).await
        {
            return Ok(password);
        }
        let progress = self.progress.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(progress) = &progress {
            progress.clear();
        }
        let password = input::password(&self.input, &self.who).await;
        if let Some(progress) = &progress {
            progress.show("logging in");
        }
        let password = password?;
        *self.typed.lock().unwrap_or_else(PoisonError::into_inner) = Some(password.clone());
        Ok(password)
    }
}

/// Saves the profile just before the session, so a refused profile file leaves the stored session
/// as it was and a failed login leaves both.
#[derive(Debug)]
pub struct ProfileFirst {
    /// The store the session goes to.
    pub inner: Arc<dyn SessionStore>,
    /// The profile saved first.
    pub profile: Profile,
    /// The directory of profiles.
    pub dir: PathBuf,
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

    async fn try_lock_renewal(&self, name: &str, lease: Duration) -> Result<Option<RenewalLease>, Error> {
        self.inner.try_lock_renewal(name, lease).await
    }

    async fn unlock_renewal(&self, name: &str, lease: RenewalLease) -> Result<(), Error> {
        self.inner.unlock_renewal(name, lease).await
    }
}
