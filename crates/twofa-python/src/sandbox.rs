//! `twofa.sandbox.Sandbox`: the local simulator of all three backends, for tests and demos
//! (always in the wheel: it is small and serves only loopback).

use std::time::Duration;

use pyo3::{prelude::*, types::PyDict};
use twofa_sandbox::{etna, oms, oms_api_key, onlineordering};

use crate::bridge::{runtime, wait};

/// A running sandbox on 127.0.0.1: its URLs, its demo users and the codes it "sent".
#[pyclass(module = "twofa.sandbox", frozen, name = "Sandbox")]
pub(crate) struct PySandbox {
    inner: std::sync::Mutex<Option<twofa_sandbox::Sandbox>>,
    base_url: String,
}

#[pymethods]
impl PySandbox {
    #[new]
    #[pyo3(signature = (*, ticket_ttl = None, max_code_attempts = None, etna_token_lifetime = None, etna_rate_limit = None))]
    fn new(
        py: Python<'_>,
        ticket_ttl: Option<f64>,
        max_code_attempts: Option<u32>,
        etna_token_lifetime: Option<f64>,
        etna_rate_limit: Option<u32>,
    ) -> PyResult<Self> {
        let mut builder = twofa_sandbox::Sandbox::builder();
        if let Some(ttl) = ticket_ttl {
            builder = builder.ticket_ttl(Duration::from_secs_f64(ttl.max(0.0)));
        }
        if let Some(n) = max_code_attempts {
            builder = builder.max_code_attempts(n);
        }
        if let Some(lifetime) = etna_token_lifetime {
            builder = builder.etna_token_lifetime(Duration::from_secs_f64(lifetime.max(0.0)));
        }
        if etna_rate_limit.is_some() {
            builder = builder.etna_rate_limit(etna_rate_limit);
        }
        let sandbox = wait(py, async move {
            builder.start().await.map_err(|e| twofa::Error::Config(format!("the sandbox did not start: {e}")))
        })?;
        let base_url = sandbox.base_url();
        Ok(Self { inner: std::sync::Mutex::new(Some(sandbox)), base_url })
    }

    /// The root URL, `http://127.0.0.1:PORT`.
    #[getter]
    fn base_url(&self) -> &str {
        &self.base_url
    }

    /// ETNA's API base (`…/api`).
    #[getter]
    fn etna_base_url(&self) -> PyResult<String> {
        self.with(|s| s.etna_base_url())
    }

    /// The OMS WebSocket gateway (`ws://…/WSGateway`).
    #[getter]
    fn oms_ws_url(&self) -> PyResult<String> {
        self.with(|s| s.oms_ws_url())
    }

    /// The OMS HTTP gateway root (before `/AP/`).
    #[getter]
    fn oms_http_url(&self) -> PyResult<String> {
        self.with(|s| s.oms_http_url())
    }

    /// The Online Ordering API root (before `v1/`).
    #[getter]
    fn onlineordering_base_url(&self) -> PyResult<String> {
        self.with(|s| s.onlineordering_base_url())
    }

    /// The demo accounts and their credentials (they are public test values, not secrets).
    #[getter]
    fn users<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let users = PyDict::new(py);
        let etna_users = PyDict::new(py);
        for (k, v) in [
            ("app_key", etna::APP_KEY),
            ("password", etna::PASSWORD),
            ("user_2fa", etna::USER_2FA),
            ("user_no_2fa", etna::USER_NO_2FA),
            ("user_password_expired", etna::USER_PASSWORD_EXPIRED),
            ("user_pin", etna::USER_PIN),
            ("user_pin_not_set", etna::USER_PIN_NOT_SET),
            ("pin", etna::PIN),
        ] {
            etna_users.set_item(k, v)?;
        }
        let oms_users = PyDict::new(py);
        for (k, v) in [
            ("password", oms::PASSWORD),
            ("user_totp", oms::USER_TOTP),
            ("user_no_2fa", oms::USER_NO_2FA),
            ("user_locked", oms::USER_LOCKED),
            ("totp_seed", oms::TOTP_SEED),
            ("api_key", oms_api_key::API_KEY),
            ("api_secret", oms_api_key::API_SECRET),
        ] {
            oms_users.set_item(k, v)?;
        }
        oms_users.set_item("api_user_id", oms_api_key::API_USER_ID.to_string())?;
        let oo_users = PyDict::new(py);
        for (k, v) in [
            ("company_code", onlineordering::COMPANY_CODE),
            ("api_user", onlineordering::API_USER),
            ("api_password", onlineordering::API_PASSWORD),
            ("password", onlineordering::PASSWORD),
            ("customer_email_2fa", onlineordering::CUSTOMER_EMAIL_2FA),
            ("customer_totp", onlineordering::CUSTOMER_TOTP),
            ("customer_no_2fa", onlineordering::CUSTOMER_NO_2FA),
            ("customer_locked", onlineordering::CUSTOMER_LOCKED),
        ] {
            oo_users.set_item(k, v)?;
        }
        users.set_item("etna", etna_users)?;
        users.set_item("oms", oms_users)?;
        users.set_item("onlineordering", oo_users)?;
        Ok(users)
    }

    /// The newest code sent to `recipient` (an ETNA username, a customer email…), if any.
    fn latest_code(&self, recipient: &str) -> PyResult<Option<String>> {
        self.with(|s| s.outbox().latest_code(recipient))
    }

    /// Every code sent so far, oldest first, as dicts (`provider`, `recipient`, `channel`, `code`).
    fn deliveries<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let deliveries = self.with(|s| s.outbox().deliveries())?;
        deliveries
            .into_iter()
            .map(|d| {
                let dict = PyDict::new(py);
                dict.set_item("provider", d.provider)?;
                dict.set_item("recipient", d.recipient)?;
                dict.set_item("channel", d.channel)?;
                dict.set_item("code", d.code)?;
                Ok(dict)
            })
            .collect()
    }

    /// How many requests reached `endpoint` (e.g. `etna.token`).
    fn requests(&self, endpoint: &str) -> PyResult<u64> {
        self.with(|s| s.stats().requests(endpoint))
    }

    /// Moves the sandbox's clock forward (ticket and token expiry), without sleeping.
    fn advance(&self, seconds: f64) -> PyResult<()> {
        self.with(|s| s.clock().advance(Duration::from_secs_f64(seconds.max(0.0))))
    }

    /// Turns ETNA's per-minute rate limit on (`n`) or off (`None`).
    #[pyo3(signature = (per_minute))]
    fn set_etna_rate_limit(&self, per_minute: Option<u32>) -> PyResult<()> {
        self.with(|s| s.set_etna_rate_limit(per_minute))
    }

    /// Locks or unlocks an Online Ordering customer.
    fn set_customer_locked(&self, email: &str, locked: bool) -> PyResult<()> {
        self.with(|s| s.set_customer_locked(email, locked))
    }

    /// Stops the sandbox.
    fn close(&self) {
        let sandbox = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(sandbox) = sandbox {
            // Dropped inside the runtime: its server tasks end with it.
            let _entered = runtime().enter();
            drop(sandbox);
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        format!("Sandbox({})", self.base_url)
    }
}

impl PySandbox {
    fn with<T>(&self, f: impl FnOnce(&twofa_sandbox::Sandbox) -> T) -> PyResult<T> {
        let guard = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.as_ref().map(f).ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("the sandbox is closed"))
    }
}
