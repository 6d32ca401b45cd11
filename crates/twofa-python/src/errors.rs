//! `twofa.Error` and one subclass per variant of `twofa::Error`, each with `kind`,
//! `is_retryable` and (on `RateLimited`) `retry_after`.

use pyo3::{create_exception, exceptions::PyException, prelude::*};

create_exception!(
    twofa,
    Error,
    PyException,
    "Every twofa failure; `kind`, `is_retryable` and `retry_after` say what to do next."
);
create_exception!(twofa, InvalidAppKey, Error, "The application key (or company code) is unknown to the provider.");
create_exception!(twofa, InvalidCredentials, Error, "The username or password was rejected.");
create_exception!(twofa, InvalidApiKey, Error, "An API-key login was refused (key, signature or user id).");
create_exception!(twofa, AccountLocked, Error, "The account is locked.");
create_exception!(twofa, PasswordExpired, Error, "The password has expired and must be changed first.");
create_exception!(twofa, PinNotSet, Error, "The account has no security PIN yet.");
create_exception!(twofa, InvalidPin, Error, "The security PIN was rejected.");
create_exception!(twofa, UnsupportedStep, Error, "The provider asks for a login step twofa does not support.");
create_exception!(twofa, InvalidCode, Error, "The verification code was rejected (ask for it again).");
create_exception!(twofa, ChallengeExpired, Error, "The challenge is no longer valid: start a new login.");
create_exception!(twofa, SessionExpired, Error, "The session expired or was revoked: log in again.");
create_exception!(
    twofa,
    RateLimited,
    Error,
    "Too many requests; `retry_after` (seconds or None) says how long to wait."
);
create_exception!(twofa, Unsupported, Error, "The provider cannot do this operation.");
create_exception!(twofa, ConfigError, Error, "The configuration is incomplete or invalid.");
create_exception!(twofa, InvalidInput, Error, "Input given by the caller or the user is invalid.");
create_exception!(twofa, CodeSourceError, Error, "The code source could not supply a code.");
create_exception!(twofa, TransportError, Error, "The request did not complete (connection, TLS, timeout).");
create_exception!(twofa, UnexpectedResponse, Error, "The provider answered something twofa does not understand.");
create_exception!(twofa, MalformedCredential, Error, "The provider sent a credential that is not safe to use.");
create_exception!(twofa, StoreError, Error, "A session store could not load, save or delete a session.");
create_exception!(twofa, ProviderError, Error, "The provider refused the request with its own code and message.");

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

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    m.add("InvalidAppKey", py.get_type::<InvalidAppKey>())?;
    m.add("InvalidCredentials", py.get_type::<InvalidCredentials>())?;
    m.add("InvalidApiKey", py.get_type::<InvalidApiKey>())?;
    m.add("AccountLocked", py.get_type::<AccountLocked>())?;
    m.add("PasswordExpired", py.get_type::<PasswordExpired>())?;
    m.add("PinNotSet", py.get_type::<PinNotSet>())?;
    m.add("InvalidPin", py.get_type::<InvalidPin>())?;
    m.add("UnsupportedStep", py.get_type::<UnsupportedStep>())?;
    m.add("InvalidCode", py.get_type::<InvalidCode>())?;
    m.add("ChallengeExpired", py.get_type::<ChallengeExpired>())?;
    m.add("SessionExpired", py.get_type::<SessionExpired>())?;
    m.add("RateLimited", py.get_type::<RateLimited>())?;
    m.add("Unsupported", py.get_type::<Unsupported>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("InvalidInput", py.get_type::<InvalidInput>())?;
    m.add("CodeSourceError", py.get_type::<CodeSourceError>())?;
    m.add("TransportError", py.get_type::<TransportError>())?;
    m.add("UnexpectedResponse", py.get_type::<UnexpectedResponse>())?;
    m.add("MalformedCredential", py.get_type::<MalformedCredential>())?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    m.add("ProviderError", py.get_type::<ProviderError>())?;
    Ok(())
}
