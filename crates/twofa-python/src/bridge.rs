//! The bridge between Python threads and the tokio runtime: waiting with the GIL released, Ctrl-C,
//! and the shutdown flag that keeps Rust from calling into a finalizing interpreter.

use std::{
    future::Future,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
        mpsc::{self, RecvTimeoutError},
    },
    task::{Context, Poll, Waker},
    time::Duration,
};

use pyo3::{exceptions::PyRuntimeError, prelude::*};

use crate::errors::to_py_err;

/// How often a waiting Python thread wakes up to look for Ctrl-C: well under the 200 ms a person
/// notices, and rare enough to cost nothing.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// Called by `atexit`: from now on no Rust task calls into Python (code and password callbacks
/// fail with `CodeSource`, log records are dropped).
#[pyfunction]
pub(crate) fn _shutdown() {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
}

/// Whether the interpreter has started to shut down.
pub(crate) fn shutting_down() -> bool {
    SHUTTING_DOWN.load(Ordering::SeqCst)
}

/// The one runtime every call runs on (the one pyo3-async-runtimes hands to asyncio too).
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Work a Rust task hands to the Python thread that waits for it (a code or password callback);
/// it returns the `KeyboardInterrupt` (or other `BaseException`) to raise in that thread, if any.
type Job = Box<dyn FnOnce(Python<'_>) -> Option<PyErr> + Send>;

tokio::task_local! {
    /// The waiting Python thread of a synchronous call: callbacks run there, with the GIL it
    /// already holds, instead of on a fresh thread.
    static CALLER: mpsc::Sender<Job>;
}

/// Runs `fut` to completion for a synchronous Python caller.
///
/// A future that is ready at once (a fresh session in memory) is answered inline, without a task
/// or a thread switch. Otherwise it runs on the runtime while this thread waits with the GIL
/// released, runs the Python callbacks the task hands back (so `input()` and Ctrl-C behave as in
/// any Python code), and wakes every [`SIGNAL_POLL`] to run Python's signal handlers: a
/// `KeyboardInterrupt` aborts the task (dropping the Rust future) and is raised at once.
pub(crate) fn wait<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T, twofa::Error>> + Send + 'static,
{
    let mut fut = Box::pin(fut);
    {
        let _entered = runtime().enter();
        if let Poll::Ready(result) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            return result.map_err(to_py_err);
        }
    }
    let (tx, rx) = mpsc::channel::<Job>();
    let slot: Arc<Mutex<Option<Result<T, twofa::Error>>>> = Arc::new(Mutex::new(None));
    let (done, answer) = (tx.clone(), Arc::clone(&slot));
    let task = runtime().spawn(CALLER.scope(tx, async move {
        let result = fut.await;
        *answer.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
        let _ = done.send(Box::new(|_| None));
    }));
    let mut rx = rx;
    loop {
        // The receiver moves into the detached closure and back: it is `Send`, not `Sync`.
        let (message, back) = py.detach(move || (rx.recv_timeout(SIGNAL_POLL), rx));
        rx = back;
        match message {
            Ok(job) => {
                if let Some(interrupted) = job(py) {
                    task.abort();
                    return Err(interrupted);
                }
                if let Some(result) = slot.lock().unwrap_or_else(PoisonError::into_inner).take() {
                    return result.map_err(to_py_err);
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Err(interrupted) = py.check_signals() {
                    task.abort();
                    return Err(interrupted);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err("the twofa task ended without an answer"));
            }
        }
    }
}

/// Calls a Python callable and gives its answer, from a Rust task.
///
/// - From a synchronous call ([`wait`]), the waiting Python thread runs it; an `async def`
///   result runs there in a private loop (`asyncio.run`).
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
    if let Ok(caller) = CALLER.try_with(mpsc::Sender::clone) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |py| {
            let (answer, interrupt) = match call_now::<T, A>(py, what, &callable, arg, false) {
                Ok(Ok(value)) => (Ok(value), None),
                Ok(Err(_awaitable)) => (Err(bad_type(what)), None),
                Err(Failure::Interrupted(e)) => {
                    (Err(twofa::Error::CodeSource(format!("the Python {what} was interrupted"))), Some(e))
                }
                Err(Failure::Error(e)) => (Err(e), None),
            };
            let _ = tx.send(answer);
            interrupt
        });
        if caller.send(job).is_ok() {
            return rx
                .await
                .unwrap_or_else(|_| Err(twofa::Error::CodeSource(format!("the Python {what} did not answer"))));
        }
        return Err(twofa::Error::CodeSource(format!("the Python {what} has no thread to run on")));
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
            let fut =
                Python::attach(|py| pyo3_async_runtimes::into_future_with_locals(&locals, awaitable.into_bound(py)))
                    .map_err(failed)?;
            let value = fut.await.map_err(failed)?;
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
