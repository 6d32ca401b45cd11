//! Code sources and password sources given from Python: the Rust ones by name, or any callable.

use std::{fmt, sync::Arc, time::Duration};

use pyo3::{exceptions::PyTypeError, prelude::*};
use twofa::{CodeRequest, CodeSource, OneTimeCode, Password, PasswordSource, async_trait::async_trait};

use crate::{
    bridge::{call_python, runtime},
    errors::to_py_err,
    secret::{secret_arg, utc_datetime},
};

/// A built-in code source: `prompt()`, `totp(seed)`, `env(var)`, `console(url, profile)`.
#[pyclass(module = "twofa", frozen, name = "CodeSource")]
pub(crate) struct PyCodeSource {
    pub(crate) inner: Arc<dyn CodeSource>,
    label: &'static str,
}

#[pymethods]
impl PyCodeSource {
    /// Asks the person at the terminal (no echo).
    #[staticmethod]
    fn prompt() -> Self {
        Self { inner: Arc::new(twofa::code_source::Prompt::new()), label: "prompt" }
    }

    /// Computes the code from a base32 TOTP seed (a `str` or a `Secret`).
    #[staticmethod]
    fn totp(seed: &Bound<'_, PyAny>) -> PyResult<Self> {
        let seed = twofa::TotpSeed::new(secret_arg(seed)?);
        let totp = twofa::code_source::Totp::from_base32(&seed).map_err(to_py_err)?;
        Ok(Self { inner: Arc::new(totp), label: "totp" })
    }

    /// Reads the code from the environment variable `var` when a login needs it.
    #[staticmethod]
    fn env(var: String) -> Self {
        Self { inner: Arc::new(twofa::code_source::EnvCode::new(var)), label: "env" }
    }

    /// Asks a person through the `twofa serve` web console (`url` defaults to `$TWOFA_CONSOLE`).
    #[staticmethod]
    #[pyo3(signature = (profile, url = None, wait_limit = None))]
    fn console(profile: String, url: Option<String>, wait_limit: Option<f64>) -> PyResult<Self> {
        // The client builds an HTTP client, which wants a runtime context.
        let _entered = runtime().enter();
        let mut source = match url {
            Some(url) => twofa::console::ConsoleCodeSource::new(&url, profile),
            None => twofa::console::ConsoleCodeSource::from_env(profile),
        }
        .map_err(to_py_err)?;
        if let Some(wait) = wait_limit {
            source = source.wait_limit(Duration::from_secs_f64(wait.max(0.0)));
        }
        Ok(Self { inner: Arc::new(source), label: "console" })
    }

    fn __repr__(&self) -> String {
        format!("CodeSource.{}(…)", self.label)
    }
}

/// What a Python code callable receives: the challenge, without any secret.
#[pyclass(module = "twofa", frozen, name = "Challenge")]
pub(crate) struct PyChallenge {
    /// The provider asking.
    #[pyo3(get)]
    provider: String,
    /// How the code reaches the user: `email`, `sms`, `authenticator`, `security_pin`, …
    #[pyo3(get)]
    method: String,
    /// The provider's hint (a masked address…), if any.
    #[pyo3(get)]
    hint: Option<String>,
    /// 1 for the first try, 2 after a rejected code…
    #[pyo3(get)]
    attempt: u32,
    /// How many codes will be tried in all.
    #[pyo3(get)]
    max_attempts: u32,
    expires: Option<twofa::time::OffsetDateTime>,
}

#[pymethods]
impl PyChallenge {
    /// When the challenge stops accepting codes (aware UTC `datetime`), if known.
    #[getter]
    fn expires_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.expires.map(|t| utc_datetime(py, t)).transpose()
    }

    /// Whether the answer wanted is the security PIN rather than a one-time code.
    #[getter]
    fn wants_pin(&self) -> bool {
        self.method == "security_pin"
    }

    fn __repr__(&self) -> String {
        format!(
            "Challenge(provider={:?}, method={:?}, hint={:?}, attempt={})",
            self.provider, self.method, self.hint, self.attempt
        )
    }
}

/// A Python callable (`def` or `async def`) as a code source: called with a `Challenge`,
/// returns the code as `str` or `int`.
pub(crate) struct CallableCodes(pub(crate) Py<PyAny>);

impl fmt::Debug for CallableCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallableCodes")
    }
}

#[async_trait]
impl CodeSource for CallableCodes {
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, twofa::Error> {
        let challenge = PyChallenge {
            provider: request.provider.clone(),
            method: method_name(&request.method),
            hint: request.hint.clone(),
            attempt: request.attempt,
            max_attempts: request.max_attempts,
            expires: request.expires_at,
        };
        let callable = Python::attach(|py| self.0.clone_ref(py));
        let answer: CodeAnswer = call_python("code callable", callable, Some(challenge)).await?;
        OneTimeCode::new(answer.0)
    }
}

fn method_name(method: &twofa::Method) -> String {
    match method {
        twofa::Method::Other { name } => name.clone(),
        other => other.name().to_owned(),
    }
}

/// A code returned as `str` or `int` (leading zeros are the caller's business with an int).
struct CodeAnswer(String);

impl<'a, 'py> FromPyObject<'a, 'py> for CodeAnswer {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(s) = obj.extract::<String>() {
            return Ok(Self(s));
        }
        if let Ok(s) = obj.cast::<crate::secret::PySecret>() {
            return Ok(Self(s.get().value.expose_secret().to_owned()));
        }
        obj.extract::<u64>().map(|n| Self(n.to_string())).map_err(|_| PyTypeError::new_err("a code is a str or an int"))
    }
}

/// The code source a Python argument names: a `CodeSource`, a callable, or `None` (the prompt).
pub(crate) fn code_source_arg(codes: Option<&Bound<'_, PyAny>>) -> PyResult<Arc<dyn CodeSource>> {
    match codes {
        None => Ok(Arc::new(twofa::code_source::Prompt::new())),
        Some(c) if c.is_none() => Ok(Arc::new(twofa::code_source::Prompt::new())),
        Some(c) => {
            if let Ok(source) = c.cast::<PyCodeSource>() {
                Ok(Arc::clone(&source.get().inner))
            } else if c.is_callable() {
                Ok(Arc::new(CallableCodes(c.clone().unbind())))
            } else {
                Err(PyTypeError::new_err("codes must be a twofa.CodeSource or a callable taking a Challenge"))
            }
        }
    }
}

/// A password from a Python callable, asked only when a fresh login needs it.
pub(crate) struct CallablePassword(Py<PyAny>);

impl fmt::Debug for CallablePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallablePassword")
    }
}

#[async_trait]
impl PasswordSource for CallablePassword {
    async fn password(&self) -> Result<Password, twofa::Error> {
        let callable = Python::attach(|py| self.0.clone_ref(py));
        let answer: CodeAnswer = call_python::<_, PyChallenge>("password callable", callable, None).await?;
        Ok(Password::new(answer.0))
    }
}

/// A password from an environment variable, read only when a fresh login needs it.
#[derive(Debug)]
pub(crate) struct EnvPassword(String);

#[async_trait]
impl PasswordSource for EnvPassword {
    async fn password(&self) -> Result<Password, twofa::Error> {
        match std::env::var(&self.0) {
            Ok(v) if !v.is_empty() => Ok(Password::new(v)),
            _ => Err(twofa::Error::Config(format!("the environment variable {} holds no password", self.0))),
        }
    }
}

/// The password source of a flow: `password` (a `str`, a `Secret` or a callable) or `password_env`.
pub(crate) fn password_arg(
    password: Option<&Bound<'_, PyAny>>,
    password_env: Option<String>,
) -> PyResult<Option<Arc<dyn PasswordSource>>> {
    match (password, password_env) {
        (Some(_), Some(_)) => Err(PyTypeError::new_err("give password or password_env, not both")),
        (None, None) => Ok(None),
        (None, Some(var)) => Ok(Some(Arc::new(EnvPassword(var)))),
        (Some(p), None) if p.is_none() => Ok(None),
        (Some(p), None) => {
            if p.is_callable() && p.cast::<crate::secret::PySecret>().is_err() {
                Ok(Some(Arc::new(CallablePassword(p.clone().unbind()))))
            } else {
                Ok(Some(Arc::new(Password::new(secret_arg(p)?))))
            }
        }
    }
}
