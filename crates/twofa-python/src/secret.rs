//! `twofa.Secret` and `twofa.Session`: values that never show themselves.

use std::sync::Arc;

use pyo3::{
    exceptions::PyTypeError,
    prelude::*,
    types::{PyDict, PyTuple},
};

/// A secret string: `repr`/`str` print `Secret('***')`; `expose_secret()` gives the value; it
/// cannot be pickled or copied into a bytes-like form by accident.
#[pyclass(module = "twofa", frozen, name = "Secret")]
pub(crate) struct PySecret {
    pub(crate) value: twofa::Secret,
}

#[pymethods]
impl PySecret {
    #[new]
    fn new(value: String) -> Self {
        Self { value: twofa::Secret::new(value) }
    }

    /// The value itself.
    fn expose_secret(&self) -> &str {
        self.value.expose_secret()
    }

    fn __repr__(&self) -> &'static str {
        "Secret('***')"
    }

    fn __str__(&self) -> &'static str {
        "***"
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PySecret>().is_ok_and(|o| o.get().value.expose_secret() == self.value.expose_secret())
    }

    fn __hash__(&self) -> u64 {
        // Equal secrets hash alike without the hash revealing more than a constant would.
        0
    }

    fn __reduce__(&self) -> PyResult<Py<PyTuple>> {
        Err(PyTypeError::new_err("a twofa Secret cannot be pickled"))
    }

    fn __getstate__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err("a twofa Secret cannot be pickled"))
    }
}

/// A secret given from Python: a `str` or a `Secret`.
pub(crate) fn secret_arg(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = value.cast::<PySecret>() {
        return Ok(s.get().value.expose_secret().to_owned());
    }
    value.extract::<String>().map_err(|_| PyTypeError::new_err("expected a str or a twofa.Secret"))
}

/// A logged-in session: every header to send, its expiry and who it is for.
#[pyclass(module = "twofa", frozen, name = "Session")]
pub(crate) struct PySession {
    pub(crate) inner: Arc<twofa::Session>,
}

#[pymethods]
impl PySession {
    /// The provider that issued it (`etna`, `oms`, `onlineordering`).
    #[getter]
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    /// The access token, as a `Secret`.
    #[getter]
    fn access_token(&self) -> PySecret {
        PySecret { value: twofa::Secret::new(self.inner.access_token().expose_secret().to_owned()) }
    }

    /// Every header an API call needs, values in clear (they are what you send).
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        headers_dict(py, &self.inner)
    }

    /// When the session ends, as an aware UTC `datetime`, or `None` when the provider did not say.
    #[getter]
    fn expires_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner.expires_at().map(|t| utc_datetime(py, t)).transpose()
    }

    /// When it was issued, as an aware UTC `datetime`.
    #[getter]
    fn issued_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        utc_datetime(py, self.inner.issued_at())
    }

    /// Who the session is for (user id, account, …), as the provider said.
    #[getter]
    fn subject<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (k, v) in self.inner.subject() {
            dict.set_item(k, v)?;
        }
        Ok(dict)
    }

    /// Whether it expires within `margin` seconds.
    #[pyo3(signature = (margin = 0.0))]
    fn is_expired(&self, margin: f64) -> bool {
        self.inner.is_expired(std::time::Duration::from_secs_f64(margin.max(0.0)))
    }

    fn __repr__(&self) -> String {
        let names: Vec<&str> =
            std::iter::once(self.inner.header_name()).chain(self.inner.extra_header_names()).collect();
        format!(
            "Session(provider={:?}, expires_at={:?}, headers={names:?})",
            self.inner.provider(),
            self.inner.expires_at()
        )
    }

    fn __reduce__(&self) -> PyResult<Py<PyTuple>> {
        Err(PyTypeError::new_err("a twofa Session cannot be pickled"))
    }
}

/// Every header of `session` as a dict of clear values.
pub(crate) fn headers_dict<'py>(py: Python<'py>, session: &twofa::Session) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (name, value) in session.header_list().map_err(crate::errors::to_py_err)? {
        dict.set_item(name, value.expose_secret())?;
    }
    Ok(dict)
}

/// `t` as an aware UTC `datetime.datetime`.
pub(crate) fn utc_datetime(py: Python<'_>, t: twofa::time::OffsetDateTime) -> PyResult<Bound<'_, PyAny>> {
    let datetime = py.import("datetime")?;
    let utc = datetime.getattr("timezone")?.getattr("utc")?;
    let secs = t.unix_timestamp_nanos() as f64 / 1e9;
    datetime.getattr("datetime")?.call_method1("fromtimestamp", (secs, utc))
}
