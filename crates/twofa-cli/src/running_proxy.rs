//! The note a running `twofa proxy` leaves for the same user's `twofa token`: where it listens
//! and the owner token that lets it hand its session over, so `token` answers from the proxy's
//! memory — no round trip to the API, no rewrite of the session file — while the proxy runs.
//!
//! The note is `run/<profile>.proxy.json` under the store directory, 0600 in a 0700 directory
//! (the store's own file rules: another user's file or a symbolic link is refused). Only a digest
//! of the owner token is sent, only to a loopback `http://` URL; the session that comes back is
//! used only with the proxy's proof that it holds the owner token (a process that took a dead
//! proxy's port has none), and only if it was issued for the profile's provider, endpoint and
//! account.

use std::{path::PathBuf, sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use twofa_core::{Error, Secret, Session, reqwest, store::private_fs};
use twofa_proxy::owner;
use zeroize::Zeroizing;

use crate::{profile::Profile, settings::Settings};

/// How long `token` waits for the proxy before it goes its own way.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Serialize, Deserialize)]
struct Note {
    url: String,
    owner: String,
}

fn path(settings: &Settings, name: &str) -> PathBuf {
    settings.store_dir.join("run").join(format!("{name}.proxy.json"))
}

/// Leaves the note of a proxy for profile `name` at `url` (its base URL), with `owner`.
///
/// # Errors
///
/// The store's error when the note cannot be written.
pub fn write(settings: &Settings, name: &str, url: &Secret, owner: &Secret) -> Result<(), Error> {
    let note = Note { url: url.expose_secret().to_owned(), owner: owner.expose_secret().to_owned() };
    let json = Zeroizing::new(serde_json::to_vec(&note).map_err(|e| Error::Config(format!("proxy note: {e}")))?);
    private_fs::write(&path(settings, name), &json)
}

/// Removes the note of profile `name`'s proxy.
pub fn remove(settings: &Settings, name: &str) {
    let _ = private_fs::remove(&path(settings, name));
}

/// The session of the proxy running for profile `name`, if one runs and answers with a session of
/// this profile; `None` otherwise (no note, a stale one, a refusal): the caller goes its own way.
pub async fn session(settings: &Settings, name: &str, profile: &Profile) -> Option<Arc<Session>> {
    let bytes = private_fs::read(&path(settings, name)).ok()??;
    let note: Note = serde_json::from_slice(&bytes).ok()?;
    let url = reqwest::Url::parse(&note.url).ok()?;
    let host = url.host_str()?.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if url.scheme() != "http" || !loopback {
        return None;
    }
    let client = reqwest::Client::builder().timeout(ASK_TIMEOUT).no_proxy().build().ok()?;
    let owner = Secret::new(note.owner.as_str());
    let answer = client
        .get(url.join("_twofa/session").ok()?)
        .header(owner::OWNER_HEADER, owner::request_value(&owner))
        .send()
        .await
        .ok()?;
    if !answer.status().is_success() {
        return None;
    }
    let proof = answer.headers().get(owner::PROOF_HEADER)?.to_str().ok()?.to_owned();
    let body = Zeroizing::new(answer.bytes().await.ok()?.to_vec());
    // Only the proxy that wrote the note can prove it holds the owner token: not a process that
    // took the port of one that died.
    if !owner::verify(&owner, &body, &proof) {
        return None;
    }
    let session: Session = serde_json::from_slice(&body).ok()?;
    session.ensure_issued_by(profile.provider(), &profile.origin()?).ok()?;
    Some(Arc::new(session))
}
