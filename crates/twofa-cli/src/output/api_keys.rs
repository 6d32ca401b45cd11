//! What `twofa oms api-key` prints: a created key (its pair only with `--show-secret`), the
//! listing (keys and permissions, never a secret), a removal.

use serde_json::json;
use twofa_oms::{ApiKeyEntry, NewApiKey, Permission};

use super::Printer;

fn names(permissions: &[Permission]) -> Vec<&str> {
    permissions.iter().map(Permission::as_str).collect()
}

impl Printer {
    /// A key `made` and the profile `profile` that logs in with it, its pair kept in `location`;
    /// the key and the secret themselves only when `show_secret`.
    pub fn api_key_created(&self, profile: &str, made: &NewApiKey, location: &str, show_secret: bool) {
        let permissions = names(&made.permissions);
        if self.is_json() {
            let mut out = json!({
                "profile": profile, "user_id": made.user_id, "permissions": permissions, "stored_in": location,
            });
            if show_secret {
                out["api_key"] = json!(made.key.expose_secret());
                out["api_secret"] = json!(made.secret.expose_secret());
            }
            return self.json(&out);
        }
        self.line(format_args!(
            "Created an API key for user id {} ({}).\nProfile `{profile}` logs in with it, no code: twofa token \
             --profile {profile}\nThe key and its secret are in {location}.",
            made.user_id,
            permissions.join(", ")
        ));
        if show_secret {
            // Both were checked as visible ASCII when they arrived: nothing to escape.
            self.line(format_args!("API key:    {}", made.key.expose_secret()));
            self.line(format_args!("API secret: {}", made.secret.expose_secret()));
        }
    }

    /// The keys of `user_id`, one a line with its permissions.
    pub fn api_keys(&self, user_id: u64, keys: &[ApiKeyEntry]) {
        if self.is_json() {
            let keys: Vec<_> = keys
                .iter()
                .map(|k| json!({ "api_key": k.key.expose_secret(), "permissions": names(&k.permissions) }))
                .collect();
            return self.json(&json!({ "user_id": user_id, "keys": keys }));
        }
        if keys.is_empty() {
            return self.line(format_args!("User id {user_id} has no API key."));
        }
        self.line(format_args!("{:<40}  PERMISSIONS", "API KEY"));
        for key in keys {
            self.line(format_args!("{:<40}  {}", key.key.expose_secret(), names(&key.permissions).join(",")));
        }
    }

    /// A removed key.
    pub fn api_key_removed(&self) {
        if self.is_json() {
            return self.json(&json!({ "removed": true }));
        }
        self.line("Removed the API key: it no longer logs in.");
    }
}
