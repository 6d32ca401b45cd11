//! The settings of one run, resolved from the flags and the environment: where sessions,
//! profiles and pending logins live, and the time limits of each request and login.

use std::{collections::BTreeSet, path::PathBuf, time::Duration};

use twofa_core::{
    Error, Session,
    store::{FileStore, SessionStore as _},
};

use crate::{args::Cli, profile::Profile, stores};

/// Where a profile's files live and the limits of one command.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The store directory (`sessions/`, `profiles/`, `pending/` below it).
    pub store_dir: PathBuf,
    /// The time limit of each request.
    pub timeout: Duration,
    /// The time limit of one login, renewal or logout (time typing a code excluded).
    pub deadline: Duration,
    /// The audit trail (`--audit-file`, `TWOFA_AUDIT_FILE`), if one is kept.
    pub audit_file: Option<PathBuf>,
}

impl Settings {
    /// The settings `cli`'s flags and `TWOFA_HOME` describe (clap reads the variable).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when no store directory is given and the platform has no data directory,
    /// or the one given is empty.
    pub fn from_args(cli: &Cli) -> Result<Self, Error> {
        let store_dir =
            cli.store_dir.clone().or_else(default_store_dir).ok_or_else(|| {
                Error::Config("no data directory found; pass --store-dir DIR or set TWOFA_HOME".into())
            })?;
        if store_dir.as_os_str().is_empty() {
            return Err(Error::Config("the store directory is empty".into()));
        }
        Ok(Self {
            store_dir,
            timeout: Duration::from_secs(cli.timeout.max(1)),
            deadline: Duration::from_secs(cli.deadline.max(1)),
            audit_file: cli.audit_file.clone().filter(|p| !p.as_os_str().is_empty()),
        })
    }

    /// The files store of sessions (`sessions/`); a keyring profile falls back to it.
    pub fn sessions(&self) -> FileStore {
        FileStore::new(self.store_dir.join("sessions"))
    }

    /// The key of the audit trail's token fingerprints: one per store directory.
    pub fn audit_key(&self) -> PathBuf {
        self.store_dir.join("audit.key")
    }

    /// The directory of profiles.
    pub fn profiles(&self) -> PathBuf {
        self.store_dir.join("profiles")
    }

    /// Every profile with a configuration or a session in the files store.
    pub async fn names(&self) -> Result<BTreeSet<String>, Error> {
        let mut names: BTreeSet<String> = self.sessions().profiles().await?.into_iter().collect();
        names.extend(Profile::names(&self.profiles())?);
        Ok(names)
    }

    /// A profile's configuration and its session, each when readable (for listings).
    pub async fn profile_and_session(&self, name: &str) -> (Option<Profile>, Option<Session>) {
        let profile = Profile::load(&self.profiles(), name).ok().flatten();
        let session = match stores::open(profile.as_ref().map(|p| p.store).unwrap_or_default(), self.sessions()).await {
            Ok(opened) => opened.store().load(name).await.ok().flatten(),
            Err(_) => None,
        };
        (profile, session)
    }
}

/// The default store: `$XDG_DATA_HOME/twofa` and its equivalents.
pub fn default_store_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("twofa"))
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(["twofa"].iter().chain(args)).unwrap()
    }

    #[test]
    fn flags_give_the_store_directory_and_limits() {
        let settings = Settings::from_args(&parse(&["--store-dir", "/s", "--timeout", "7", "status"])).unwrap();
        assert_eq!(settings.store_dir, PathBuf::from("/s"));
        assert_eq!((settings.timeout, settings.deadline), (Duration::from_secs(7), Duration::from_secs(60)));
        assert_eq!(settings.profiles(), PathBuf::from("/s/profiles"));
    }

    #[test]
    fn a_zero_limit_is_one_second_not_an_instant_failure() {
        let settings = Settings::from_args(&parse(&["--store-dir", "/s", "--deadline", "0", "status"])).unwrap();
        assert_eq!(settings.deadline, Duration::from_secs(1));
    }

    #[test]
    fn an_empty_store_directory_is_refused() {
        // clap refuses an empty --store-dir; an empty TWOFA_HOME reaches the settings.
        let cli = Cli { store_dir: Some(PathBuf::new()), ..parse(&["status"]) };
        let error = Settings::from_args(&cli).unwrap_err();
        assert!(matches!(&error, Error::Config(m) if m == "the store directory is empty"), "{error}");
    }
}
