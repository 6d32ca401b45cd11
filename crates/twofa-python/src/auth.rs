//! `Authenticator`: keeps a login alive over a store, single-flight across threads and tasks
//! (and across processes through the store's lease), sync and asyncio.

use std::{sync::Arc, time::Duration};

use pyo3::{exceptions::PyTypeError, prelude::*, types::PyDict};
use twofa::store::SessionStore;

use crate::{
    bridge::{runtime, wait},
    errors::to_py_err,
    flows::{PyFlow, login_options},
    secret::{PySecret, PySession, headers_dict},
    sources::code_source_arg,
};

/// Where sessions are kept between runs: `Store.file(dir)`, `Store.memory()`,
/// `Store.redis(url)`, `Store.keyring(service)`.
#[pyclass(module = "twofa", frozen, name = "Store")]
pub(crate) struct PyStore {
    inner: Arc<dyn SessionStore>,
    label: String,
}

#[pymethods]
impl PyStore {
    /// Files (0600, in a 0700 directory) under `dir`, one per profile.
    #[staticmethod]
    fn file(dir: std::path::PathBuf) -> Self {
        let label = format!("Store.file({})", dir.display());
        Self { inner: Arc::new(twofa::store::FileStore::new(dir)), label }
    }

    /// Memory only: gone when the process ends.
    #[staticmethod]
    fn memory() -> Self {
        Self { inner: Arc::new(twofa::store::MemoryStore::new()), label: "Store.memory()".into() }
    }

    /// Redis, shared by a fleet, with a renewal lease so one process logs in for all.
    #[staticmethod]
    #[pyo3(signature = (url, *, prefix = None))]
    fn redis(py: Python<'_>, url: String, prefix: Option<String>) -> PyResult<Self> {
        let store = wait(py, async move { twofa::redis::RedisStore::connect(&url).await })?;
        let store = match prefix {
            Some(p) => store.with_prefix(p),
            None => store,
        };
        Ok(Self { inner: Arc::new(store), label: "Store.redis(…)".into() })
    }

    /// The OS keyring under `service`.
    #[staticmethod]
    fn keyring(service: String) -> Self {
        let label = format!("Store.keyring({service:?})");
        Self { inner: Arc::new(twofa::keyring::KeyringStore::new(service)), label }
    }

    fn __repr__(&self) -> String {
        self.label.clone()
    }
}

/// Keeps one login alive: `token()`, `headers()` and `session()` log in or renew only when needed,
/// one renewal at a time however many threads or tasks ask.
#[pyclass(module = "twofa", frozen, name = "Authenticator")]
pub(crate) struct PyAuthenticator {
    inner: Arc<twofa::Authenticator>,
}

#[pymethods]
impl PyAuthenticator {
    #[new]
    #[pyo3(signature = (flow, *, codes = None, store = None, profile = None, refresh_margin = None, max_code_attempts = None, deadline = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        flow: &Bound<'_, PyFlow>,
        codes: Option<&Bound<'_, PyAny>>,
        store: Option<&Bound<'_, PyAny>>,
        profile: Option<String>,
        refresh_margin: Option<f64>,
        max_code_attempts: Option<u32>,
        deadline: Option<f64>,
    ) -> PyResult<Self> {
        let mut builder =
            twofa::Authenticator::builder(Arc::clone(&flow.get().inner)).code_source(code_source_arg(codes)?);
        if let Some(store) = store.filter(|s| !s.is_none()) {
            let store = store.cast::<PyStore>().map_err(|_| PyTypeError::new_err("store must be a twofa.Store"))?;
            builder = builder.store(Arc::clone(&store.get().inner));
        }
        if let Some(profile) = profile {
            builder = builder.profile(profile);
        }
        if let Some(margin) = refresh_margin {
            builder = builder.refresh_margin(Duration::from_secs_f64(margin.max(0.0)));
        }
        if max_code_attempts.is_some() || deadline.is_some() {
            builder = builder.login_options(login_options(max_code_attempts, deadline));
        }
        // Building may start background work on the runtime (store watchers).
        let _entered = runtime().enter();
        let inner = builder.try_build().map_err(to_py_err)?;
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The profile (store key) this authenticator keeps.
    #[getter]
    fn profile(&self) -> &str {
        self.inner.profile()
    }

    /// The access token, renewed first when it is about to expire.
    fn token(&self, py: Python<'_>) -> PyResult<PySecret> {
        let auth = Arc::clone(&self.inner);
        let token = wait(py, async move { auth.token().await })?;
        Ok(PySecret { value: twofa::Secret::new(token.expose_secret().to_owned()) })
    }

    /// Every header an API call needs (values in clear), renewing first when needed.
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let session = self.session_now(py)?;
        headers_dict(py, &session)
    }

    /// The current `Session`, renewed first when needed.
    fn session(&self, py: Python<'_>) -> PyResult<PySession> {
        Ok(PySession { inner: self.session_now(py)? })
    }

    /// The session in memory, fresh or not, without logging in; `None` before the first login.
    fn peek(&self) -> Option<PySession> {
        self.inner.peek().map(|inner| PySession { inner })
    }

    /// Forgets `session` (the API answered 401 with it), so the next call logs in again. A newer
    /// session that another caller already got is kept: many 401s make one renewal.
    fn invalidate(&self, session: &Bound<'_, PySession>) {
        self.inner.invalidate(&session.get().inner);
    }

    /// Logs out at the provider and removes the stored session.
    fn logout(&self, py: Python<'_>) -> PyResult<()> {
        let auth = Arc::clone(&self.inner);
        wait(py, async move { auth.logout().await })
    }

    /// `token()` for asyncio: `await auth.token_async()`. Cancelling the task cancels the login.
    fn token_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let auth = Arc::clone(&self.inner);
        spawn_async(py, async move {
            let token = auth.token().await?;
            Ok(PySecret { value: twofa::Secret::new(token.expose_secret().to_owned()) })
        })
    }

    /// `session()` for asyncio.
    fn session_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let auth = Arc::clone(&self.inner);
        spawn_async(py, async move { Ok(PySession { inner: auth.session().await? }) })
    }

    /// `headers()` for asyncio.
    fn headers_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let auth = Arc::clone(&self.inner);
        spawn_async(py, async move { Ok(PySession { inner: auth.session().await? }) }).and_then(|awaitable| {
            let helper = py.import("twofa._aio")?;
            helper.call_method1("headers_of", (awaitable,))
        })
    }

    /// `logout()` for asyncio.
    fn logout_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let auth = Arc::clone(&self.inner);
        spawn_async(py, async move { auth.logout().await })
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        false
    }

    fn __repr__(&self) -> String {
        format!("Authenticator(profile={:?})", self.inner.profile())
    }
}

impl PyAuthenticator {
    fn session_now(&self, py: Python<'_>) -> PyResult<Arc<twofa::Session>> {
        let auth = Arc::clone(&self.inner);
        wait(py, async move { auth.session().await })
    }
}

/// An asyncio awaitable running `fut` on the runtime, in the caller's task-local scope so that an
/// `async def` code callback runs on the caller's event loop.
fn spawn_async<'py, T, F>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
    F: std::future::Future<Output = Result<T, twofa::Error>> + Send + 'static,
{
    let locals = pyo3_async_runtimes::tokio::get_current_locals(py)?;
    let scoped = pyo3_async_runtimes::tokio::scope(locals.clone(), async move { fut.await.map_err(to_py_err) });
    pyo3_async_runtimes::tokio::future_into_py_with_locals(py, locals, scoped)
}
