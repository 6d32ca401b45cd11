//! The CLI's profiles as the console's accounts: listed from the profile directory and the
//! session stores, logged in and out on the one login path of every command
//! ([`session::authenticator`]), with the console as the code source.

use std::sync::Arc;

use async_trait::async_trait;
use twofa_console::Account;
use twofa_core::{CodeRequest, CodeSource, Error, OneTimeCode, Password, code_source::Prompt, store::SessionStore};

use twofa_ops::audit::Action;

use crate::{
    input::{self, PasswordInput},
    ops,
    profile::Profile,
    session::{self, Inputs, ProfilePassword},
    settings::Settings,
};

/// How many codes a person may type for one challenge.
const ATTEMPTS: u32 = 3;

/// The profiles under a store directory.
#[derive(Debug)]
pub struct ProfileAccounts {
    settings: Settings,
}

impl ProfileAccounts {
    /// The profiles of `settings`' store directory.
    pub fn new(settings: Settings) -> Self {
        Self { settings }
    }

    fn profile(&self, name: &str) -> Result<Profile, Error> {
        Profile::load(&self.settings.profiles(), name)?
            .ok_or_else(|| Error::Config(format!("there is no profile `{name}`; log in once with `twofa login`")))
    }

    /// Whether the page must ask for the password: no variable or keyring holds it.
    fn asks_password(profile: &Profile) -> bool {
        profile.uses_password() && profile.password_env.is_none() && !profile.password_keyring
    }

    /// The profile's inputs in the console: its password variable or keyring, else the typed
    /// password; its own code variable or TOTP seed, else (and for PINs) the console.
    fn inputs(name: &str, profile: &Profile, typed: Option<Password>, console: Arc<dyn CodeSource>) -> Inputs {
        let password = match (&profile.password_env, typed) {
            (_, Some(typed)) => PasswordInput::Typed(Some(typed)),
            (Some(var), None) => PasswordInput::Env(var.clone()),
            (None, None) => PasswordInput::Typed(None),
        };
        let password = Arc::new(ProfilePassword::new(name, profile, password, profile.password_keyring));
        let (codes, attempts): (Arc<dyn CodeSource>, u32) = match (&profile.code_env, &profile.totp_secret_env) {
            (None, None) => (console, ATTEMPTS),
            (code_env, totp) => {
                let prompt = Prompt::new().require_tty();
                let (own, attempts) = input::codes(None, code_env.clone(), totp.clone(), prompt);
                (Arc::new(PinToConsole { codes: own, console }), attempts)
            }
        };
        // The console tells of its own waits (`serve --notify`): the profile's notifier would repeat it.
        Inputs { password, codes, attempts, notifier: None }
    }
}

#[async_trait]
impl twofa_console::Accounts for ProfileAccounts {
    async fn list(&self) -> Result<Vec<Account>, Error> {
        let names = self.settings.names().await?;
        let mut accounts = Vec::with_capacity(names.len());
        for name in names {
            let (profile, session) = self.settings.profile_and_session(&name).await;
            let account = match &profile {
                Some(p) => Account::new(&name, p.provider(), p.who()).asks_password(Self::asks_password(p)),
                // A session some program stored without a CLI profile: shown, not logged in from here.
                None => Account::new(&name, session.as_ref().map_or("?", |s| s.provider()), "").can_log_in(false),
            };
            accounts.push(account.with_session(session));
        }
        Ok(accounts)
    }

    async fn login(&self, name: &str, typed: Option<Password>, console: Arc<dyn CodeSource>) -> Result<(), Error> {
        let profile = self.profile(name)?;
        let inputs = Self::inputs(name, &profile, typed, console);
        let auth = session::authenticator(&self.settings, name, &profile, inputs, None).await?;
        let session = auth.session().await;
        ops::record(&self.settings, Action::Login, name, profile.provider(), "console", session.as_deref())?;
        session.map(drop)
    }

    async fn logout(&self, name: &str) -> Result<(), Error> {
        let Some(profile) = Profile::load(&self.settings.profiles(), name)? else {
            // A session without its profile: nothing to tell a provider.
            return self.settings.sessions().delete(name).await;
        };
        let inputs = Self::inputs(name, &profile, None, Arc::new(NoCodes));
        let auth = session::authenticator(&self.settings, name, &profile, inputs, None).await?;
        let done = auth.logout().await;
        ops::record_outcome(&self.settings, Action::Logout, name, profile.provider(), "console", done.as_ref().err())?;
        done
    }
}

/// Codes from the profile's own source; security PINs asked for in the console (a code must never
/// be sent as a PIN).
#[derive(Debug)]
struct PinToConsole {
    codes: Arc<dyn CodeSource>,
    console: Arc<dyn CodeSource>,
}

#[async_trait]
impl CodeSource for PinToConsole {
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, Error> {
        if request.wants_pin() { self.console.code(request).await } else { self.codes.code(request).await }
    }

    async fn answered(&self, request: &CodeRequest, outcome: Result<(), &Error>) {
        if request.wants_pin() {
            self.console.answered(request, outcome).await;
        }
    }
}

/// A logout asks for no code.
#[derive(Debug)]
struct NoCodes;

#[async_trait]
impl CodeSource for NoCodes {
    async fn code(&self, _: &CodeRequest) -> Result<OneTimeCode, Error> {
        Err(Error::CodeSource("a logout asks for no code".into()))
    }
}
