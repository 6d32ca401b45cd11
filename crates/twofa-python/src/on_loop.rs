//! An awaitable run on the caller's event loop as a task of its own, awaited from Rust, and
//! cancelled when Rust stops waiting for it: a login dropped because its asyncio task was
//! cancelled takes the `async def` code callback it was waiting on down with it, instead of
//! leaving the callback running until the loop closes.

use pyo3::{prelude::*, types::PyCFunction};
use pyo3_async_runtimes::TaskLocals;
use tokio::sync::oneshot;

use crate::interpreter::shutting_down;

/// `awaitable`'s result, run on `locals`' event loop (`asyncio.run_coroutine_threadsafe`).
///
/// # Errors
///
/// What the awaitable raised, `CancelledError` included, or a failure to schedule it.
pub(crate) async fn run(locals: &TaskLocals, awaitable: Py<PyAny>) -> PyResult<Py<PyAny>> {
    let (sender, receiver) = oneshot::channel::<PyResult<Py<PyAny>>>();
    let task = Python::attach(|py| -> PyResult<Py<PyAny>> {
        // A coroutine of any awaitable, as `run_coroutine_threadsafe` takes only coroutines.
        let coroutine = py.import("twofa._aio")?.call_method1("awaited", (awaitable,))?;
        let future =
            py.import("asyncio")?.call_method1("run_coroutine_threadsafe", (coroutine, locals.event_loop(py)))?;
        // `Fn` (Python may call it from any thread): the one sender behind a lock.
        let sender = std::sync::Mutex::new(Some(sender));
        // Runs on the loop's thread when the task ends: its result, or what it raised.
        let done = PyCFunction::new_closure(py, None, None, move |args, _kwargs| -> PyResult<()> {
            let result = args.get_item(0).and_then(|f| f.call_method0("result")).map(Bound::unbind);
            if let Some(sender) = sender.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
                // A receiver gone means Rust stopped waiting: nobody needs the answer.
                let _ = sender.send(result);
            }
            Ok(())
        })?;
        future.call_method1("add_done_callback", (done,))?;
        Ok(future.unbind())
    })?;
    let guard = CancelOnDrop(Some(task));
    let result = receiver.await;
    guard.disarm();
    result.unwrap_or_else(|_| {
        Err(pyo3::exceptions::PyRuntimeError::new_err("the event loop dropped the task without an answer"))
    })
}

/// Cancels the task (a `concurrent.futures.Future` chained to it) unless disarmed.
struct CancelOnDrop(Option<Py<PyAny>>);

impl CancelOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take()
            && !shutting_down()
        {
            // Thread-safe: the chained future asks the loop to cancel the task.
            Python::attach(|py| {
                let _ = task.bind(py).call_method0("cancel");
            });
        }
    }
}
