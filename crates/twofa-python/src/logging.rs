//! Rust `tracing` events reach Python `logging` (logger names are the Rust module paths, e.g.
//! `twofa_etna.flow`): tracing's `log` feature turns events into `log` records, and pyo3-log
//! hands them to Python. No record is passed on once the interpreter shuts down. twofa's events
//! carry no secret (the core's own tests check it), so none reaches a Python handler.

use log::{Log, Metadata, Record};
use pyo3::prelude::*;

use crate::bridge::shutting_down;

struct Guarded(pyo3_log::Logger);

impl Log for Guarded {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        !shutting_down() && self.0.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !shutting_down() {
            self.0.log(record);
        }
    }

    fn flush(&self) {}
}

/// Installs the bridge once; a second import (or another extension's logger) leaves it as is.
pub(crate) fn install(py: Python<'_>) {
    // Levels are not cached, so `logging.getLogger("twofa_etna").setLevel(...)` after import
    // still takes effect.
    let Ok(logger) = pyo3_log::Logger::new(py, pyo3_log::Caching::Loggers) else { return };
    let logger = logger.filter(log::LevelFilter::Debug);
    if log::set_boxed_logger(Box::new(Guarded(logger))).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
}
