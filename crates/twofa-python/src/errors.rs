//! `twofa.Error` and one subclass per variant of `twofa::Error`, each with `kind`,
//! `is_retryable` and (on `RateLimited`) `retry_after`.

use pyo3::{create_exception, exceptions::PyException, prelude::*};

create_exception!(
    twofa,
    Error,
    PyException,
    "Every twofa failure; `kind`, `is_retryable` and `retry_after` say what to do next."
);

/// Declares each subclass of `Error` once, and the function that adds them all to the module.
macro_rules! subclasses {
    ($($name:ident: $doc:literal,)*) => {
        $(create_exception!(twofa, $name, Error, $doc);)*

        /// Adds `Error` and its subclasses to the module.
        pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
            let py = m.py();
            m.add("Error", py.get_type::<Error>())?;
            $(m.add(stringify!($name), py.get_type::<$name>())?;)*
            Ok(())
        }
    };
}

subclasses! {
    InvalidAppKey: "The application key (or company code) is unknown to the provider.",
    InvalidCredentials: "The username or password was rejected.",
    InvalidApiKey: "An API-key login was refused (key, signature or user id).",
    AccountLocked: "The account is locked.",
    PasswordExpired: "The password has expired and must be changed first.",
    PinNotSet: "The account has no security PIN yet.",
    InvalidPin: "The security PIN was rejected.",
    UnsupportedStep: "The provider asks for a login step twofa does not support.",
    InvalidCode: "The verification code was rejected (ask for it again).",
    ChallengeExpired: "The challenge is no longer valid: start a new login.",
    SessionExpired: "The session expired or was revoked: log in again.",
    RateLimited: "Too many requests; `retry_after` (seconds or None) says how long to wait.",
    Unsupported: "The provider cannot do this operation.",
    ConfigError: "The configuration is incomplete or invalid.",
    InvalidInput: "Input given by the caller or the user is invalid.",
    CodeSourceError: "The code source could not supply a code.",
    TransportError: "The request did not complete (connection, TLS, timeout).",
    UnexpectedResponse: "The provider answered something twofa does not understand.",
    MalformedCredential: "The provider sent a credential that is not safe to use.",
    StoreError: "A session store could not load, save or delete a session.",
    ProviderError: "The provider refused the request with its own code and message.",
}

/// The Python exception for a `twofa::Error`: the class of its variant, its (secret-free) message,
/// and the attributes a caller branches on.
pub(crate) fn to_py_err(e: twofa::Error) -> PyErr {
    use twofa::Error as E;
    let message = e.to_string();
    let err = match &e {
        E::InvalidAppKey => InvalidAppKey::new_err(message),
        E::InvalidCredentials => InvalidCredentials::new_err(message),
        E::InvalidApiKey => InvalidApiKey::new_err(message),
        E::AccountLocked => AccountLocked::new_err(message),
        E::PasswordExpired { .. } => PasswordExpired::new_err(message),
        E::PinNotSet { .. } => PinNotSet::new_err(message),
        E::InvalidPin => InvalidPin::new_err(message),
        E::UnsupportedStep { .. } => UnsupportedStep::new_err(message),
        E::InvalidCode => InvalidCode::new_err(message),
        E::ChallengeExpired => ChallengeExpired::new_err(message),
        E::SessionExpired => SessionExpired::new_err(message),
        E::RateLimited { .. } => RateLimited::new_err(message),
        E::Unsupported { .. } => Unsupported::new_err(message),
        E::Config(_) => ConfigError::new_err(message),
        E::InvalidInput(_) => InvalidInput::new_err(message),
        E::CodeSource(_) => CodeSourceError::new_err(message),
        E::Transport { .. } => TransportError::new_err(message),
        E::UnexpectedResponse { .. } => UnexpectedResponse::new_err(message),
        E::MalformedCredential { .. } => MalformedCredential::new_err(message),
        E::Store { .. } => StoreError::new_err(message),
        E::Provider { .. } => ProviderError::new_err(message),
        _ => Error::new_err(message),
    };
    let retry_after = match &e {
        E::RateLimited { retry_after } => retry_after.map(|d| d.as_secs_f64()),
        _ => None,
    };
    Python::attach(|py| {
        let value = err.value(py);
        // Attributes on a fresh exception instance cannot fail short of memory exhaustion; the
        // exception is raised either way.
        let _ = value.setattr("kind", e.kind());
        let _ = value.setattr("is_retryable", e.is_retryable());
        let _ = value.setattr("retry_after", retry_after);
    });
    err
}
