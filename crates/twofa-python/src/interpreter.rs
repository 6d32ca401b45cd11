//! The shutdown flag that keeps Rust from calling into a finalizing interpreter.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;

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
