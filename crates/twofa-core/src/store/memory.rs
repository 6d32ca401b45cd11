use std::{
    collections::BTreeMap,
    sync::{Mutex, PoisonError},
};

use async_trait::async_trait;

use super::{SessionStore, check_profile};
use crate::{Error, Session};

/// Sessions in memory, for tests and short-lived processes.
#[derive(Debug, Default)]
pub struct MemoryStore {
    sessions: Mutex<BTreeMap<String, Session>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn load(&self, profile: &str) -> Result<Option<Session>, Error> {
        check_profile(profile)?;
        Ok(self.sessions.lock().unwrap_or_else(PoisonError::into_inner).get(profile).cloned())
    }

    async fn save(&self, profile: &str, session: &Session) -> Result<(), Error> {
        check_profile(profile)?;
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner).insert(profile.to_owned(), session.clone());
        Ok(())
    }

    async fn delete(&self, profile: &str) -> Result<(), Error> {
        check_profile(profile)?;
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner).remove(profile);
        Ok(())
    }

    async fn profiles(&self) -> Result<Vec<String>, Error> {
        Ok(self.sessions.lock().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect())
    }
}
