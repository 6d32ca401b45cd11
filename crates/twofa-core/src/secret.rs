//! Secret newtypes: values that never print, are zeroized on drop, and are read only through
//! an explicit `expose_secret()`.
//!
//! Distinct types keep a code from being passed where a password belongs. `Debug` prints
//! `Name([REDACTED])`, so a secret that slips into a log line or an error message stays hidden.
//! There is no `Display`: `format!("{secret}")` does not compile, so no secret is ever formatted
//! by accident; reading one takes the visible `expose_secret()`.
//!
//! Each `compile_fail` example below is this one with a single line changed, so it fails for
//! that line and no other reason (stable rustdoc does not check the error code):
//!
//! ```
//! let password = twofa_core::Password::new("hunter2");
//! let shown = format!("{password:?}");
//! assert_eq!(shown, "Password([REDACTED])");
//! let code = twofa_core::OneTimeCode::new("123456").unwrap();
//! println!("{code:?}");
//! let token = twofa_core::AccessToken::new("t");
//! let _ = token.expose_secret().to_string();
//! ```
//!
//! ```compile_fail,E0277
//! let password = twofa_core::Password::new("hunter2");
//! let shown = format!("{password}"); // error: `Password` doesn't implement `std::fmt::Display`
//! ```
//!
//! ```compile_fail,E0277
//! let code = twofa_core::OneTimeCode::new("123456").unwrap();
//! println!("{code}"); // error: `OneTimeCode` doesn't implement `std::fmt::Display`
//! ```
//!
//! ```compile_fail,E0599
//! let token = twofa_core::AccessToken::new("t");
//! let _ = token.to_string(); // error: no `to_string` without `Display`
//! ```

use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Deserializer};

use crate::Error;

macro_rules! secret_string {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::from(value.into()))
            }

            /// The secret itself. Every read of a secret goes through this visible call.
            pub fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([REDACTED])"))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::new)
            }
        }
    };
}

secret_string! {
    /// A user's password.
    Password
}
secret_string! {
    /// A security PIN (ETNA's `PinCode`): a standing secret like a password, sent when a login asks for it.
    Pin
}
secret_string! {
    /// An application or integrator key, such as ETNA's `Et-App-Key`.
    ApiKey
}
secret_string! {
    /// The secret half of an API key pair: it keys a request signature and never travels itself
    /// (the OMS's API secret, which signs `AuthenticateUser`).
    ApiSecret
}
secret_string! {
    /// The token that authorizes API calls once logged in.
    AccessToken
}
secret_string! {
    /// A token that renews a session without a new code: a refresh token or an OMS session token.
    RenewalToken
}
secret_string! {
    /// A TOTP seed, base32 as authenticator apps show it.
    TotpSeed
}
secret_string! {
    /// Any other secret: an interim ticket, a header value, authenticator setup data.
    Secret
}

/// A one-time verification code, validated: trimmed, not empty, no control characters.
#[derive(Clone)]
pub struct OneTimeCode(pub(crate) SecretString);

impl OneTimeCode {
    /// The longest code accepted; real codes are 4 to 10 characters.
    pub const MAX_LEN: usize = 64;

    /// Validates and wraps a code typed by a person or produced by a generator.
    ///
    /// ```
    /// use twofa_core::{Error, OneTimeCode};
    /// assert_eq!(OneTimeCode::new(" 123456\n")?.expose_secret(), "123456");
    /// assert!(matches!(OneTimeCode::new("   "), Err(Error::InvalidInput(_))));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(raw: impl Into<String>) -> Result<Self, Error> {
        let raw = zeroize::Zeroizing::new(raw.into());
        let code = raw.trim();
        if code.is_empty() {
            return Err(Error::InvalidInput("the verification code is empty".into()));
        }
        if code.chars().any(char::is_control) {
            return Err(Error::InvalidInput("the verification code contains control characters".into()));
        }
        if code.len() > Self::MAX_LEN {
            return Err(Error::InvalidInput(format!(
                "the verification code is longer than {} characters",
                Self::MAX_LEN
            )));
        }
        Ok(Self(SecretString::from(code.to_owned())))
    }

    /// The code itself.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::str::FromStr for OneTimeCode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let p = Password::new("hunter2-password");
        assert_eq!(format!("{p:?}"), "Password([REDACTED])");
        assert_eq!(p.expose_secret(), "hunter2-password");
        let t = AccessToken::from("tok-123");
        assert!(!format!("{t:?} {:?}", RenewalToken::new("ren-456")).contains("123"));
    }

    #[test]
    fn code_is_trimmed_and_validated() {
        assert_eq!(OneTimeCode::new("\t 042 \r\n").unwrap().expose_secret(), "042");
        assert!(matches!(OneTimeCode::new(""), Err(Error::InvalidInput(_))));
        assert!(matches!(OneTimeCode::new("12\u{0}34"), Err(Error::InvalidInput(_))));
        assert!(matches!(OneTimeCode::new("12\n34"), Err(Error::InvalidInput(_))));
        assert!(matches!(OneTimeCode::new("9".repeat(65)), Err(Error::InvalidInput(_))));
        assert!("123456".parse::<OneTimeCode>().is_ok());
    }

    #[test]
    fn code_errors_do_not_echo_the_input() {
        let Err(e) = OneTimeCode::new("55\u{7}secret-ish") else { panic!("accepted a bell") };
        assert!(!e.to_string().contains("secret-ish"));
        assert!(!format!("{e:?}").contains("secret-ish"));
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_a_code_or_an_invalid_input_error(raw in ".{0,80}") {
            match OneTimeCode::new(raw.clone()) {
                Ok(code) => proptest::prop_assert_eq!(code.expose_secret(), raw.trim()),
                Err(e) => proptest::prop_assert!(matches!(e, Error::InvalidInput(_))),
            }
        }

        #[test]
        fn stored_sessions_and_challenges_parse_or_fail_cleanly(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = serde_json::from_slice::<crate::Session>(&bytes);
            let _ = serde_json::from_slice::<crate::Challenge>(&bytes);
        }

        #[test]
        fn any_seed_or_uri_is_a_generator_or_an_error(text in ".{0,64}") {
            let _ = crate::code_source::Totp::from_base32(&TotpSeed::new(text.clone()));
            let _ = crate::code_source::Totp::from_otpauth_uri(&Secret::new(format!("otpauth://totp/x?{text}")));
        }
    }

    #[test]
    fn secrets_deserialize_from_strings() {
        let p: Password = serde_json::from_str("\"pw\"").unwrap();
        assert_eq!(p.expose_secret(), "pw");
    }
}
