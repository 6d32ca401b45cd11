//! The bridge between Python threads and the tokio runtime: waiting with the GIL released, Ctrl-C,
//! and callbacks into Python (never once the interpreter shuts down).

use std::{
    future::Future,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll, Waker},
    time::Duration,
};

use pyo3::prelude::*;

use crate::{errors::to_py_err, interpreter::shutting_down};

/// How often a waiting Python thread wakes up to look for Ctrl-C: well under the 200 ms a person
/// notices, and rare enough to cost nothing.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// The one runtime every call runs on (the one pyo3-async-runtimes hands to asyncio too).
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

tokio::task_local! {
    /// Set while a synchronous call drives its future on the calling Python thread: callbacks
    /// then run right there, and a `KeyboardInterrupt` they raise is kept here for the caller.
    static ON_CALLER: Arc<Mutex<Option<PyErr>>>;
}

/// Runs `fut` to completion for a synchronous Python caller, on the calling thread.
///
/// A future that is ready at once (a fresh session in memory) is answered inline. Otherwise this
/// thread drives it (`block_on`; the runtime's workers do the I/O) with the GIL released, so
/// Python callbacks run right here with no thread hop (`input()` and Ctrl-C behave as in any
/// Python code), and it stops every [`SIGNAL_POLL`] to run Python's signal handlers: a
/// `KeyboardInterrupt` drops the Rust future and is raised at once.
pub(crate) fn wait<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T, twofa::Error>> + Send + 'static,
{
    let mut fut = Box::pin(fut);
    {
        let _entered = runtime().enter();
        if let Poll::Ready(result) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            // Ready at once (a fresh session). A callback asked during this poll, before the scope
            // below exists, runs on a blocking thread instead (`call_python`).
            return result.map_err(to_py_err);
        }
    }
    let interrupt = Arc::new(Mutex::new(None));
    let mut fut = Box::pin(ON_CALLER.scope(Arc::clone(&interrupt), fut));
    loop {
        let polled = py.detach(|| runtime().block_on(async { tokio::time::timeout(SIGNAL_POLL, fut.as_mut()).await }));
        match polled {
            Ok(result) => return finish(&interrupt, result),
            Err(_elapsed) => py.check_signals()?,
        }
    }
}

/// The caller's answer: a `KeyboardInterrupt` a callback raised comes first.
fn finish<T>(interrupt: &Mutex<Option<PyErr>>, result: Result<T, twofa::Error>) -> PyResult<T> {
    if let Some(interrupted) = interrupt.lock().unwrap_or_else(PoisonError::into_inner).take() {
        return Err(interrupted);
    }
    result.map_err(to_py_err)
}

/// Calls a Python callable and gives its answer, from a Rust task.
///
/// - From a synchronous call ([`wait`]), it runs on the caller's thread; an `async def` result
///   runs there in a private loop (`asyncio.run`).
/// - From asyncio (the task-local event loop of [`pyo3_async_runtimes::tokio::scope`]), it runs
///   in a blocking thread and an `async def` result is awaited on the caller's event loop.
/// - Otherwise (a renewal task spawned by the Authenticator), it runs in a blocking thread.
///
/// Nothing runs once the interpreter shuts down.
pub(crate) async fn call_python<T, A>(
    what: &'static str,
    callable: Py<PyAny>,
    arg: Option<A>,
) -> Result<T, twofa::Error>
where
    T: for<'py> FromPyObjectOwned<'py> + Send + 'static,
    A: for<'py> IntoPyObject<'py> + Send + 'static,
{
    if shutting_down() {
        return Err(gone());
    }
    if let Ok(interrupt) = ON_CALLER.try_with(Arc::clone) {
        // On the caller's own thread, detached: attach again and call.
        return Python::attach(|py| match call_now::<T, A>(py, what, &callable, arg, false) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_awaitable)) => Err(bad_type(what)),
            Err(Failure::Interrupted(e)) => {
                *interrupt.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                Err(twofa::Error::CodeSource(format!("the Python {what} was interrupted")))
            }
            Err(Failure::Error(e)) => Err(e),
        });
    }
    let locals = Python::attach(|py| pyo3_async_runtimes::tokio::get_current_locals(py).ok());
    let on_loop = locals.is_some();
    let called = tokio::task::spawn_blocking(move || -> Result<Result<T, Py<PyAny>>, twofa::Error> {
        if shutting_down() {
            return Err(gone());
        }
        Python::attach(|py| {
            call_now::<T, A>(py, what, &callable, arg, on_loop).map_err(|f| match f {
                Failure::Interrupted(_) => twofa::Error::CodeSource(format!("the Python {what} was interrupted")),
                Failure::Error(e) => e,
            })
        })
    })
    .await
    .map_err(|_| twofa::Error::CodeSource(format!("the Python {what} panicked")))??;
    let failed = move |e: PyErr| raised(what, &e);
    match (called, locals) {
        (Ok(value), _) => Ok(value),
        (Err(awaitable), Some(locals)) => {
            let value = crate::on_loop::run(&locals, awaitable).await.map_err(failed)?;
            if shutting_down() {
                return Err(gone());
            }
            Python::attach(|py| value.bind(py).extract::<T>().map_err(|_| bad_type(what)))
        }
        (Err(_), None) => {
            Err(twofa::Error::CodeSource(format!("the Python {what} returned an awaitable with no event loop")))
        }
    }
}

/// Why a callback gave no answer: Ctrl-C (or another `BaseException` that is not an
/// `Exception`, raised again in the caller's thread), or an error for the login.
enum Failure {
    Interrupted(PyErr),
    Error(twofa::Error),
}

/// Calls `callable` now, with the GIL; an awaitable is handed back when `keep_awaitable`, else
/// run to completion with `asyncio.run`.
fn call_now<T, A>(
    py: Python<'_>,
    what: &'static str,
    callable: &Py<PyAny>,
    arg: Option<A>,
    keep_awaitable: bool,
) -> Result<Result<T, Py<PyAny>>, Failure>
where
    T: for<'py> FromPyObjectOwned<'py>,
    A: for<'py> IntoPyObject<'py>,
{
    let failed = |e: PyErr| {
        if e.is_instance_of::<pyo3::exceptions::PyException>(py) {
            Failure::Error(raised(what, &e))
        } else {
            Failure::Interrupted(e)
        }
    };
    let answer = match arg {
        Some(arg) => callable.bind(py).call1((arg,)),
        None => callable.bind(py).call0(),
    }
    .map_err(failed)?;
    let is_awaitable = answer.hasattr("__await__").map_err(failed)?;
    let answer = if !is_awaitable {
        answer
    } else if keep_awaitable {
        return Ok(Err(answer.unbind()));
    } else {
        py.import("asyncio").and_then(|asyncio| asyncio.call_method1("run", (answer,))).map_err(failed)?
    };
    answer.extract::<T>().map(Ok).map_err(|_| Failure::Error(bad_type(what)))
}

fn gone() -> twofa::Error {
    twofa::Error::CodeSource("the Python interpreter is shutting down".into())
}

/// The error for an exception a callable raised: its type only, as its message could quote a
/// secret the callable handled.
fn raised(what: &str, e: &PyErr) -> twofa::Error {
    twofa::Error::CodeSource(format!("the Python {what} raised {}", error_name(e)))
}

fn bad_type(what: &str) -> twofa::Error {
    twofa::Error::CodeSource(format!("the Python {what} returned a value of the wrong type"))
}

/// The exception's type name only: its message could quote a secret the callable handled.
fn error_name(e: &PyErr) -> String {
    Python::attach(|py| e.get_type(py).name().map(|n| n.to_string()).unwrap_or_else(|_| "an exception".into()))
}
