//! Where a profile made by `twofa oms api-key create` keeps its API key and secret: the OS keyring
//! (items `twofa/api-key:{profile}` and `twofa/api-secret:{profile}`) or a 0600 file
//! `api-keys/{profile}.json` under the store directory — never the profile file, never a terminal.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use twofa_core::{
    ApiKey, ApiSecret, Error,
    store::{check_profile, private_fs},
};
use zeroize::{Zeroize as _, Zeroizing};

use crate::{
    profile::{ApiKeyStore, KeyPair},
    stores,
};

const VERSION: u32 = 1;

/// The file's JSON: the key and the secret (wiped from memory when dropped).
#[derive(Serialize, Deserialize)]
struct KeyFile {
    version: u32,
    api_key: String,
    api_secret: String,
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        self.api_key.zeroize();
        self.api_secret.zeroize();
    }
}

fn path(store_dir: &Path, profile: &str) -> Result<PathBuf, Error> {
    check_profile(profile)?;
    Ok(store_dir.join("api-keys").join(format!("{profile}.json")))
}

/// Keeps `profile`'s key pair in the keyring when `wanted` is [`ApiKeyStore::Keyring`] and one
/// answers (else, warned, in the file); where it went.
///
/// # Errors
///
/// [`Error::Store`] when the keyring or the file refuses it.
pub async fn save(
    wanted: ApiKeyStore,
    store_dir: &Path,
    profile: &str,
    key: &ApiKey,
    secret: &ApiSecret,
) -> Result<ApiKeyStore, Error> {
    if wanted == ApiKeyStore::Keyring {
        match stores::keyring_if_answers().await {
            Some(keyring) => return keyring.save_api_key(profile, key, secret).await.map(|()| ApiKeyStore::Keyring),
            None => tracing::warn!(profile, "no OS keyring answers; the API key goes to a 0600 file instead"),
        }
    }
    let file = KeyFile {
        version: VERSION,
        api_key: key.expose_secret().to_owned(),
        api_secret: secret.expose_secret().to_owned(),
    };
    let json = Zeroizing::new(serde_json::to_vec(&file).map_err(|e| Error::Config(e.to_string()))?);
    private_fs::write(&path(store_dir, profile)?, &json).map(|()| ApiKeyStore::File)
}

/// `profile`'s key pair from `kind`.
///
/// # Errors
///
/// [`Error::Config`] when the store holds none (the profile's key was removed or never saved),
/// [`Error::Store`] when it cannot be read.
pub async fn load(kind: ApiKeyStore, store_dir: &Path, profile: &str) -> Result<KeyPair, Error> {
    let missing = || {
        Error::Config(format!(
            "the API key of profile `{profile}` is not in {}; create one with `twofa oms api-key create`",
            location(kind, store_dir, profile)
        ))
    };
    match kind {
        ApiKeyStore::Keyring => {
            let keyring = stores::keyring_if_answers().await.ok_or_else(|| {
                Error::Config(format!(
                    "the API key of profile `{profile}` is in the OS keyring, and no keyring answers"
                ))
            })?;
            keyring.load_api_key(profile).await?.ok_or_else(missing)
        }
        ApiKeyStore::File => {
            let path = path(store_dir, profile)?;
            let bytes = private_fs::read(&path)?.ok_or_else(missing)?;
            let file: KeyFile = serde_json::from_slice(&bytes).map_err(|e| Error::Store {
                path: Some(path.clone()),
                detail: format!("corrupt API-key file: {}", twofa_core::json::describe_error(&e)),
            })?;
            if file.version != VERSION {
                return Err(Error::Store { path: Some(path), detail: format!("unsupported version {}", file.version) });
            }
            Ok((ApiKey::new(file.api_key.as_str()), ApiSecret::new(file.api_secret.as_str())))
        }
    }
}

/// Forgets `profile`'s key pair (at logout); forgetting none is not an error.
///
/// # Errors
///
/// [`Error::Store`] when the keyring or the file refuses.
pub async fn delete(kind: ApiKeyStore, store_dir: &Path, profile: &str) -> Result<(), Error> {
    match kind {
        ApiKeyStore::Keyring => match stores::keyring_if_answers().await {
            Some(keyring) => keyring.delete_api_key(profile).await,
            None => Ok(()),
        },
        ApiKeyStore::File => private_fs::remove(&path(store_dir, profile)?),
    }
}

/// Where `profile`'s key pair is, for people.
pub fn location(kind: ApiKeyStore, store_dir: &Path, profile: &str) -> String {
    match kind {
        ApiKeyStore::Keyring => format!("the OS keyring (twofa/api-key:{profile}, twofa/api-secret:{profile})"),
        ApiKeyStore::File => store_dir.join("api-keys").join(format!("{profile}.json")).display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[tokio::test]
    async fn a_file_key_pair_round_trips_0600_and_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let (key, secret) = (ApiKey::new("key-VALUE-1"), ApiSecret::new("secret-VALUE-2"));
        let went = save(ApiKeyStore::File, dir.path(), "bot", &key, &secret).await.unwrap();
        assert_eq!(went, ApiKeyStore::File);
        let file = dir.path().join("api-keys").join("bot.json");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let (k, s) = load(ApiKeyStore::File, dir.path(), "bot").await.unwrap();
        assert_eq!((k.expose_secret(), s.expose_secret()), ("key-VALUE-1", "secret-VALUE-2"));
        delete(ApiKeyStore::File, dir.path(), "bot").await.unwrap();
        let Err(Error::Config(message)) = load(ApiKeyStore::File, dir.path(), "bot").await else { panic!() };
        assert!(message.contains("`bot`") && message.contains("api-key create"), "{message}");
        assert!(!message.contains("VALUE"), "{message}");
    }
}
