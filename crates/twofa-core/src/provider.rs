//! The skeleton every provider crate fills in, so that a provider holds only its own `config`
//! fields, its `wire` messages and its `flow` steps.
//!
//! A builder embeds a [`ProviderConfig`] (field `common`) for what every provider has: the URL,
//! the login name, the password (or a [`PasswordSource`] asked at login), [`HttpOptions`] and the [`Clock`]; [`provider_setters!`](crate::provider_setters)
//! writes the matching builder methods. `build()` turns it into an [`Endpoint`] with
//! [`ProviderConfig::resolve`]: required fields checked, the URL parsed by the rule the provider
//! picks (no userinfo, HTTPS unless loopback), the HTTP client built once.
//!
//! Also here: [`required`] for the provider's own fields, [`clip`] for server text kept in
//! errors, and [`basic_auth`] for HTTP Basic credentials.

use std::{sync::Arc, time::Duration};

use base64::Engine as _;
use reqwest::Url;

use crate::{
    Clock, Error, LoginPassword, Password, PasswordSource, Secret, SystemClock,
    http::{Http, HttpOptions},
};

/// How a provider names itself and its common fields in configuration errors.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The provider as a sentence's subject: `ETNA`, `the OMS`, `Online Ordering`.
    pub name: &'static str,
    /// What the URL is, with an example: `a base URL (e.g. twofa_etna::DEMO_TRADER_API)`.
    pub url: &'static str,
    /// What the login name is: `a username`, `the customer's email`.
    pub login: &'static str,
    /// What the password is: `a password`, `the customer's password`.
    pub password: &'static str,
}

impl Spec {
    /// A spec from its four phrases, in field order: name, URL, login, password.
    pub const fn new(name: &'static str, url: &'static str, login: &'static str, password: &'static str) -> Self {
        Self { name, url, login, password }
    }
}

/// What every provider's builder holds besides its own fields.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    url: Option<String>,
    login: Option<String>,
    password: Option<Arc<dyn PasswordSource>>,
    http: HttpOptions,
    clock: Arc<dyn Clock>,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self { url: None, login: None, password: None, http: HttpOptions::default(), clock: Arc::new(SystemClock) }
    }
}

impl ProviderConfig {
    /// The base URL or endpoint, as given (checked in [`ProviderConfig::resolve`]).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// The login name (a username or an email).
    pub fn login(mut self, login: impl Into<String>) -> Self {
        self.login = Some(login.into());
        self
    }

    /// The password, fixed.
    pub fn password(mut self, password: impl Into<Password>) -> Self {
        self.password = Some(Arc::new(password.into()));
        self
    }

    /// Where the password comes from, asked only when a fresh login starts.
    pub fn password_source(mut self, source: Arc<dyn PasswordSource>) -> Self {
        self.password = Some(source);
        self
    }

    /// Network settings.
    pub fn http(mut self, http: HttpOptions) -> Self {
        self.http = http;
        self
    }

    /// The clock that stamps sessions and challenges.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the common fields and builds the HTTP handle. `parse` turns the raw URL into the
    /// provider's endpoint, usually [`HttpOptions::base_url`].
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a missing or empty field or a refused URL.
    pub fn resolve(
        self,
        spec: &Spec,
        parse: impl FnOnce(&HttpOptions, &str) -> Result<Url, Error>,
    ) -> Result<Endpoint, Error> {
        let url = parse(&self.http, &required(self.url, spec.name, spec.url)?)?;
        let login = required(self.login, spec.name, spec.login)?;
        let password = required(self.password, spec.name, spec.password)?;
        let empty = format!("{} needs {} and {}, both non-empty", spec.name, spec.login, spec.password);
        // A fixed password is checked now; one from a source when the login asks for it.
        if login.is_empty() || password.known().is_some_and(|p| p.expose_secret().is_empty()) {
            return Err(Error::Config(empty));
        }
        let password = LoginPassword::new(password, empty);
        Ok(Endpoint { url, login, password, http: self.http.build()?, options: self.http, clock: self.clock })
    }

    /// Whether a login name or a password was given: for a provider with another way to log in,
    /// to tell which one the caller chose.
    pub fn has_password_login(&self) -> bool {
        self.login.is_some() || self.password.is_some()
    }

    /// Like [`ProviderConfig::resolve`], for a flow that logs in with `other` (e.g. `an API key`)
    /// instead of the login and password: the URL, the HTTP handle and the clock, no credentials.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a missing URL or a refused one, and when a login or a password was
    /// given as well: the two ways to log in exclude each other.
    pub fn resolve_without_password(
        self,
        spec: &Spec,
        other: &str,
        parse: impl FnOnce(&HttpOptions, &str) -> Result<Url, Error>,
    ) -> Result<Network, Error> {
        if self.has_password_login() {
            return Err(Error::Config(format!(
                "{} takes either {} and {}, or {other}, not both",
                spec.name, spec.login, spec.password
            )));
        }
        let url = parse(&self.http, &required(self.url, spec.name, spec.url)?)?;
        Ok(Network { url, http: self.http.build()?, options: self.http, clock: self.clock })
    }

    /// Like [`ProviderConfig::resolve`], for a login with a name but no password (e.g. a guest
    /// checkout): `login` is that name and the endpoint's password is empty. `what` names the login
    /// in errors (`a guest email`).
    ///
    /// # Errors
    ///
    /// As [`ProviderConfig::resolve_without_password`], and [`Error::Config`] when `login` is empty.
    pub fn resolve_passwordless(
        self,
        spec: &Spec,
        login: String,
        what: &str,
        parse: impl FnOnce(&HttpOptions, &str) -> Result<Url, Error>,
    ) -> Result<Endpoint, Error> {
        let Network { url, http, options, clock } = self.resolve_without_password(spec, what, parse)?;
        if login.is_empty() {
            return Err(Error::Config(format!("{} needs {what}, non-empty", spec.name)));
        }
        let password =
            LoginPassword::new(Arc::new(Password::new("")), format!("{} logs in with {what} only", spec.name));
        Ok(Endpoint { url, login, password, http, options, clock })
    }
}

/// The credential-free part of a built flow, from [`ProviderConfig::resolve_without_password`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Network {
    /// The checked URL.
    pub url: Url,
    /// The HTTP handle, one per flow.
    pub http: Http,
    /// The settings the handle was built from (timeouts for other transports).
    pub options: HttpOptions,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

/// The common part of a built flow: where it talks, as whom, and with what.
#[derive(Debug)]
#[non_exhaustive]
pub struct Endpoint {
    /// The checked URL; a base URL ends in `/`.
    pub url: Url,
    /// The login name, non-empty.
    pub login: String,
    /// The password, asked for when a login starts: non-empty (an empty answer is refused), or
    /// empty from [`ProviderConfig::resolve_passwordless`].
    pub password: LoginPassword,
    /// The HTTP handle, one per flow.
    pub http: Http,
    /// The settings the handle was built from (timeouts for other transports).
    pub options: HttpOptions,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl Endpoint {
    /// Splits the endpoint into its network part and its login and password, for a provider that
    /// keeps its credentials in its own shape.
    pub fn into_parts(self) -> (Network, String, LoginPassword) {
        let network = Network { url: self.url, http: self.http, options: self.options, clock: self.clock };
        (network, self.login, self.password)
    }

    /// `path` joined under the URL.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the result is not a URL.
    pub fn join(&self, path: &str) -> Result<Url, Error> {
        self.url.join(path).map_err(|e| Error::Config(format!("invalid base URL: {e}")))
    }

    /// The time limit to open a connection.
    pub fn connect_timeout(&self) -> Duration {
        self.options.connect_time_limit()
    }

    /// The time limit of each request.
    pub fn timeout(&self) -> Duration {
        self.options.request_timeout()
    }
}

/// `value`, or [`Error::Config`] saying that `provider` needs `what`.
///
/// # Errors
///
/// [`Error::Config`] when `value` is `None`.
pub fn required<T>(value: Option<T>, provider: &str, what: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::Config(format!("{provider} needs {what}")))
}

/// The most characters of server text kept in an error message.
pub const CLIP_CHARS: usize = 200;

/// Server-supplied text, kept short for error messages (escaped only when printed).
pub fn clip(text: &str) -> String {
    text.chars().take(CLIP_CHARS).collect()
}

/// `Basic base64(user:password)`, as a secret.
pub fn basic_auth(user: &str, password: &str) -> Secret {
    let pair = zeroize::Zeroizing::new(format!("{user}:{password}"));
    let encoded = zeroize::Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()));
    Secret::new(format!("Basic {}", encoded.as_str()))
}

/// Writes the builder methods of the common fields, for a builder whose [`ProviderConfig`] field
/// is named `common`: the URL setter and the login setter under the provider's own names and
/// docs, then `password`, `http` and `clock`.
///
/// ```ignore
/// impl EtnaBuilder {
///     twofa_core::provider_setters!(base_url: "The API base. Required.", username: "The user's login. Required.");
/// }
/// ```
#[macro_export]
macro_rules! provider_setters {
    ($url:ident: $url_doc:literal, $login:ident: $login_doc:literal) => {
        #[doc = $url_doc]
        pub fn $url(mut self, url: impl Into<String>) -> Self {
            self.common = self.common.url(url);
            self
        }

        #[doc = $login_doc]
        pub fn $login(mut self, login: impl Into<String>) -> Self {
            self.common = self.common.login(login);
            self
        }

        /// The password. Required, unless a [`password_source`](Self::password_source) is given.
        pub fn password(mut self, password: impl Into<$crate::Password>) -> Self {
            self.common = self.common.password(password);
            self
        }

        /// Where the password comes from, asked only when a fresh login starts (never to resume or
        /// log out): a prompt, a variable, a keyring. Replaces [`password`](Self::password).
        pub fn password_source(mut self, source: ::std::sync::Arc<dyn $crate::PasswordSource>) -> Self {
            self.common = self.common.password_source(source);
            self
        }

        /// Network settings: client, timeouts, insecure-HTTP opt-in (see [`HttpOptions`]($crate::http::HttpOptions)).
        pub fn http(mut self, http: $crate::http::HttpOptions) -> Self {
            self.common = self.common.http(http);
            self
        }

        /// The clock that stamps sessions (default: the system clock).
        pub fn clock(mut self, clock: ::std::sync::Arc<dyn $crate::Clock>) -> Self {
            self.common = self.common.clock(clock);
            self
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Spec = Spec::new("Test", "a base URL", "a username", "a password");

    fn full() -> ProviderConfig {
        ProviderConfig::default().url("https://example.com/api").login("u").password("p")
    }

    #[test]
    fn resolve_checks_every_common_field() {
        let ep = full().resolve(&SPEC, HttpOptions::base_url).unwrap();
        assert_eq!(ep.join("token").unwrap().as_str(), "https://example.com/api/token");
        assert_eq!((ep.login.as_str(), ep.password.known().map(Password::expose_secret)), ("u", Some("p")));
        assert_eq!(ep.timeout(), HttpOptions::default().request_timeout());
        let missing = |c: ProviderConfig| match c.resolve(&SPEC, HttpOptions::base_url) {
            Err(Error::Config(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(missing(ProviderConfig::default()), "Test needs a base URL");
        assert_eq!(missing(ProviderConfig::default().url("https://h")), "Test needs a username");
        assert_eq!(missing(ProviderConfig::default().url("https://h").login("u")), "Test needs a password");
        assert_eq!(missing(full().login("")), "Test needs a username and a password, both non-empty");
        assert!(matches!(
            full().url("http://example.com").resolve(&SPEC, HttpOptions::base_url),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn resolve_without_password_refuses_a_password_login_too() {
        let keyed = ProviderConfig::default().url("https://example.com/api");
        assert!(!keyed.has_password_login());
        let network = keyed.resolve_without_password(&SPEC, "an API key", HttpOptions::base_url).unwrap();
        assert_eq!(network.url.as_str(), "https://example.com/api/");
        for both in [
            full(),
            ProviderConfig::default().url("https://h").login("u"),
            ProviderConfig::default().url("https://h").password("p"),
        ] {
            assert!(both.has_password_login());
            match both.resolve_without_password(&SPEC, "an API key", HttpOptions::base_url) {
                Err(Error::Config(m)) => {
                    assert_eq!(m, "Test takes either a username and a password, or an API key, not both")
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            ProviderConfig::default().resolve_without_password(&SPEC, "an API key", HttpOptions::base_url),
            Err(Error::Config(m)) if m == "Test needs a base URL"
        ));
    }

    #[test]
    fn passwordless_resolve_refuses_a_mix_and_an_empty_login() {
        let ep = ProviderConfig::default()
            .url("https://example.com/api")
            .resolve_passwordless(&SPEC, "g@example.com".into(), "a guest email", HttpOptions::base_url)
            .unwrap();
        assert_eq!((ep.login.as_str(), ep.password.known().map(Password::expose_secret)), ("g@example.com", Some("")));
        let refused = |c: ProviderConfig, login: &str| match c.resolve_passwordless(
            &SPEC,
            login.into(),
            "a guest email",
            HttpOptions::base_url,
        ) {
            Err(Error::Config(m)) => m,
            other => panic!("{other:?}"),
        };
        let both = "Test takes either a username and a password, or a guest email, not both";
        assert_eq!(refused(full(), "g@example.com"), both);
        assert_eq!(refused(ProviderConfig::default().url("https://h").password("p"), "g@example.com"), both);
        assert_eq!(refused(ProviderConfig::default().url("https://h"), ""), "Test needs a guest email, non-empty");
        assert_eq!(refused(ProviderConfig::default(), "g@example.com"), "Test needs a base URL");
        assert!(!ProviderConfig::default().has_password_login());
        assert!(ProviderConfig::default().login("u").has_password_login());
    }

    #[test]
    fn basic_auth_and_clip() {
        assert_eq!(basic_auth("Aladdin", "open sesame").expose_secret(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(clip(&"é".repeat(300)).chars().count(), CLIP_CHARS);
        assert_eq!(clip("short"), "short");
    }
}
