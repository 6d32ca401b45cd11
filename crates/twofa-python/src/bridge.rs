//! The bridge between Python threads and the tokio runtime: waiting with the GIL released, Ctrl-C,
//! and the shutdown flag that keeps Rust from calling into a finalizing interpreter.

use std::{
    future::Future,
    pin::pin,
    sync::{
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

/// Runs `fut` to completion for a synchronous Python caller.
///
/// A future that is ready at once (a fresh session in memory) is answered inline, without a task
/// or a thread switch. Otherwise it runs on the runtime while this thread waits with the GIL
/// released, waking every [`SIGNAL_POLL`] to run Python's signal handlers: a `KeyboardInterrupt`
/// aborts the task (dropping the Rust future) and is raised at once.
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
    let (tx, rx) = mpsc::sync_channel(1);
    let task = runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    let mut rx = rx;
    loop {
        // The receiver moves into the detached closure and back: it is `Send`, not `Sync`.
        let (answer, back) = py.detach(move || (rx.recv_timeout(SIGNAL_POLL), rx));
        rx = back;
        match answer {
            Ok(result) => return result.map_err(to_py_err),
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

/// Polls a future once inline; for the fast path of [`wait`]-like callers that must not spawn.
#[allow(dead_code)]
pub(crate) fn poll_once<F: Future>(fut: F) -> Option<F::Output> {
    let _entered = runtime().enter();
    match pin!(fut).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Runs a Python callable off the runtime's workers (it may block on `input()` or hold the GIL for
/// long), awaiting an `async def` result on the caller's event loop when the call came from
/// asyncio, else in a private loop (`asyncio.run`) in that blocking thread.
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
        return Err(twofa::Error::CodeSource("the Python interpreter is shutting down".into()));
    }
    let locals = Python::attach(|py| pyo3_async_runtimes::tokio::get_current_locals(py).ok());
    let failed = move |e: PyErr| twofa::Error::CodeSource(format!("the Python {what} raised {}", error_name(&e)));
    let on_loop = locals.is_some();
    let called = tokio::task::spawn_blocking(move || -> Result<Result<T, Py<PyAny>>, twofa::Error> {
        if shutting_down() {
            return Err(twofa::Error::CodeSource("the Python interpreter is shutting down".into()));
        }
        Python::attach(|py| {
            let answer = match arg {
                Some(arg) => callable.bind(py).call1((arg,)),
                None => callable.bind(py).call0(),
            }
            .map_err(failed)?;
            let is_awaitable = answer.hasattr("__await__").map_err(failed)?;
            if !is_awaitable {
                return answer.extract::<T>().map(Ok).map_err(|_| bad_type(what));
            }
            if on_loop {
                return Ok(Err(answer.unbind()));
            }
            let asyncio = py.import("asyncio").map_err(failed)?;
            let awaited = asyncio.call_method1("run", (answer,)).map_err(failed)?;
            awaited.extract::<T>().map(Ok).map_err(|_| bad_type(what))
        })
    })
    .await
    .map_err(|_| twofa::Error::CodeSource(format!("the Python {what} panicked")))??;
    match (called, locals) {
        (Ok(value), _) => Ok(value),
        (Err(awaitable), Some(locals)) => {
            let fut =
                Python::attach(|py| pyo3_async_runtimes::into_future_with_locals(&locals, awaitable.into_bound(py)))
                    .map_err(failed)?;
            let value = fut.await.map_err(failed)?;
            if shutting_down() {
                return Err(twofa::Error::CodeSource("the Python interpreter is shutting down".into()));
            }
            Python::attach(|py| value.bind(py).extract::<T>().map_err(|_| bad_type(what)))
        }
        (Err(_), None) => {
            Err(twofa::Error::CodeSource(format!("the Python {what} returned an awaitable with no event loop")))
        }
    }
}

fn bad_type(what: &str) -> twofa::Error {
    twofa::Error::CodeSource(format!("the Python {what} returned a value of the wrong type"))
}

/// The exception's type name only: its message could quote a secret the callable handled.
fn error_name(e: &PyErr) -> String {
    Python::attach(|py| e.get_type(py).name().map(|n| n.to_string()).unwrap_or_else(|_| "an exception".into()))
}
