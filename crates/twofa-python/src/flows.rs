//! `EtnaFlow`, `OmsFlow` and `OnlineOrderingFlow`, built with keyword arguments over the Rust
//! builders (every check is theirs).

use std::{sync::Arc, time::Duration};

use pyo3::{exceptions::PyValueError, prelude::*};
use twofa::{LoginOptions, TwoFactorFlow};

use crate::{
    bridge::wait,
    errors::to_py_err,
    secret::{PySession, secret_arg},
    sources::{code_source_arg, password_arg},
};

/// What every flow class shares: the built Rust flow.
#[pyclass(module = "twofa", subclass, frozen, name = "Flow")]
pub(crate) struct PyFlow {
    pub(crate) inner: Arc<dyn TwoFactorFlow>,
}

#[pymethods]
impl PyFlow {
    /// Logs in once (no store, no renewal), asking `codes` for the second factor; returns the
    /// `Session`. `max_code_attempts` codes are tried before `InvalidCode` is raised.
    ///
    /// With `restart_on_expired=False` an expired challenge raises `ChallengeExpired` instead of
    /// starting the login over once.
    #[pyo3(signature = (*, codes = None, max_code_attempts = None, deadline = None, restart_on_expired = true))]
    fn login(
        &self,
        py: Python<'_>,
        codes: Option<&Bound<'_, PyAny>>,
        max_code_attempts: Option<u32>,
        deadline: Option<f64>,
        restart_on_expired: bool,
    ) -> PyResult<PySession> {
        let codes = code_source_arg(codes)?;
        let options = login_options(max_code_attempts, deadline).restart_on_expired(restart_on_expired);
        let flow = Arc::clone(&self.inner);
        let session = wait(py, async move { twofa::login(flow.as_ref(), codes.as_ref(), &options).await })?;
        Ok(PySession { inner: Arc::new(session) })
    }

    fn __repr__(&self) -> String {
        format!("{:?}", self.inner)
    }
}

/// The login options from Python's keywords.
pub(crate) fn login_options(max_code_attempts: Option<u32>, deadline: Option<f64>) -> LoginOptions {
    let mut options = LoginOptions::default();
    if let Some(n) = max_code_attempts {
        options = options.max_code_attempts(n);
    }
    if let Some(d) = deadline {
        options = options.deadline(Duration::from_secs_f64(d.max(0.0)));
    }
    options
}

fn seconds(value: f64, name: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| PyValueError::new_err(format!("{name} must be a non-negative number of seconds")))
}

/// ETNA Trader / AutoShares: `POST /token` with `Et-App-Key`, then the emailed code.
#[pyclass(module = "twofa", extends = PyFlow, frozen, name = "EtnaFlow")]
pub(crate) struct PyEtnaFlow;

#[pymethods]
impl PyEtnaFlow {
    #[new]
    #[pyo3(signature = (*, base_url, app_key, username, password = None, password_env = None, pin = None, token_lifetime = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        base_url: String,
        app_key: &Bound<'_, PyAny>,
        username: String,
        password: Option<&Bound<'_, PyAny>>,
        password_env: Option<String>,
        pin: Option<&Bound<'_, PyAny>>,
        token_lifetime: Option<f64>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let mut builder =
            twofa::etna::EtnaFlow::builder().base_url(base_url).app_key(secret_arg(app_key)?).username(username);
        if let Some(source) = password_arg(password, password_env)? {
            builder = builder.password_source(source);
        }
        if let Some(pin) = pin {
            builder = builder.pin(secret_arg(pin)?);
        }
        if let Some(lifetime) = token_lifetime {
            builder = builder.token_lifetime(seconds(lifetime, "token_lifetime")?);
        }
        let flow = builder.build().map_err(to_py_err)?;
        Ok(PyClassInitializer::from(PyFlow { inner: Arc::new(flow) }).add_subclass(Self))
    }
}

/// The exchange OMS (AlphaPoint APEX): WebSocket (`wss://…/WSGateway`) or HTTP (`https://host`)
/// gateway, with a password and TOTP, or an API key (`user_id`, `api_key`, `api_secret`).
#[pyclass(module = "twofa", extends = PyFlow, frozen, name = "OmsFlow")]
pub(crate) struct PyOmsFlow;

#[pymethods]
impl PyOmsFlow {
    #[new]
    #[pyo3(signature = (*, endpoint, username = None, password = None, password_env = None, user_id = None, api_key = None, api_secret = None, transport = None, oms_id = None, idle_timeout = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        endpoint: String,
        username: Option<String>,
        password: Option<&Bound<'_, PyAny>>,
        password_env: Option<String>,
        user_id: Option<u64>,
        api_key: Option<&Bound<'_, PyAny>>,
        api_secret: Option<&Bound<'_, PyAny>>,
        transport: Option<String>,
        oms_id: Option<u32>,
        idle_timeout: Option<f64>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let mut builder = twofa::oms::OmsFlow::builder().endpoint(endpoint);
        if let Some(username) = username {
            builder = builder.username(username);
        }
        if let Some(source) = password_arg(password, password_env)? {
            builder = builder.password_source(source);
        }
        match (user_id, api_key, api_secret) {
            (None, None, None) => {}
            (Some(id), Some(key), Some(secret)) => builder = builder.api_key(id, secret_arg(key)?, secret_arg(secret)?),
            _ => return Err(PyValueError::new_err("an API-key login needs user_id, api_key and api_secret together")),
        }
        if let Some(transport) = transport {
            builder = builder.transport(match transport.as_str() {
                "websocket" => twofa::oms::Transport::WebSocket,
                "http" => twofa::oms::Transport::Http,
                _ => return Err(PyValueError::new_err("transport is \"websocket\" or \"http\"")),
            });
        }
        if let Some(id) = oms_id {
            builder = builder.oms_id(id);
        }
        if let Some(idle) = idle_timeout {
            builder = builder.idle_timeout(seconds(idle, "idle_timeout")?);
        }
        let flow = builder.build().map_err(to_py_err)?;
        Ok(PyClassInitializer::from(PyFlow { inner: Arc::new(flow) }).add_subclass(Self))
    }
}

/// NCR Aloha Online Ordering: a customer (email and password, or a guest) of a company, through
/// an integrator's API user.
#[pyclass(module = "twofa", extends = PyFlow, frozen, name = "OnlineOrderingFlow")]
pub(crate) struct PyOnlineOrderingFlow;

#[pymethods]
impl PyOnlineOrderingFlow {
    #[new]
    #[pyo3(signature = (*, base_url, company_code, api_user, api_password, email = None, password = None, password_env = None, guest = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        base_url: String,
        company_code: String,
        api_user: String,
        api_password: &Bound<'_, PyAny>,
        email: Option<String>,
        password: Option<&Bound<'_, PyAny>>,
        password_env: Option<String>,
        guest: Option<String>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let mut builder = twofa::onlineordering::OnlineOrderingFlow::builder()
            .base_url(base_url)
            .company_code(company_code)
            .integrator(api_user, secret_arg(api_password)?);
        if let Some(email) = email {
            builder = builder.email(email);
        }
        if let Some(source) = password_arg(password, password_env)? {
            builder = builder.password_source(source);
        }
        if let Some(guest) = guest {
            builder = builder.guest(guest);
        }
        let flow = builder.build().map_err(to_py_err)?;
        Ok(PyClassInitializer::from(PyFlow { inner: Arc::new(flow) }).add_subclass(Self))
    }
}
