//! Rust `tracing` events reach Python `logging` (logger names are the Rust module paths, e.g.
//! `twofa_core.login`): a small tracing layer turns each event into a `log` record (its message
//! and its fields, `key=value`), and pyo3-log hands it to Python. No record is passed on once the
//! interpreter shuts down. twofa's events carry no secret (the core's own tests check it, and
//! `tests/test_secrets.py` checks the records of a whole login), so none reaches a Python handler.
//!
//! A layer of our own rather than tracing's `log` feature: that feature would switch on for every
//! crate of the workspace built together with this one.

use std::fmt::Write as _;

use log::{Log, Metadata, Record};
use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing_subscriber::{Layer, layer::SubscriberExt as _};

use crate::interpreter::shutting_down;

/// Forwards tracing events to the `log` logger (pyo3-log), unless the interpreter is going away.
struct ToLog;

impl<S: tracing::Subscriber> Layer<S> for ToLog {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: tracing_subscriber::layer::Context<'_, S>) {
        if shutting_down() {
            return;
        }
        let meta = event.metadata();
        let level = match *meta.level() {
            tracing::Level::ERROR => log::Level::Error,
            tracing::Level::WARN => log::Level::Warn,
            tracing::Level::INFO => log::Level::Info,
            tracing::Level::DEBUG => log::Level::Debug,
            tracing::Level::TRACE => log::Level::Trace,
        };
        let target = meta.module_path().unwrap_or(meta.target()).replace("::", ".");
        let logger = log::logger();
        let probe = Metadata::builder().level(level).target(&target).build();
        if !logger.enabled(&probe) {
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        logger.log(&Record::builder().metadata(probe).args(format_args!("{}", text.0)).build());
    }
}

/// The event's message, then its other fields as `key=value`.
#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, "{}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            self.0.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }
}

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

/// Installs the bridge once; a second import (or another extension's logger or subscriber)
/// leaves what is there.
pub(crate) fn install(py: Python<'_>) {
    // Levels are not cached, so `logging.getLogger("twofa_core").setLevel(...)` after import
    // still takes effect.
    let Ok(logger) = pyo3_log::Logger::new(py, pyo3_log::Caching::Loggers) else { return };
    let logger = logger.filter(log::LevelFilter::Debug);
    if log::set_boxed_logger(Box::new(Guarded(logger))).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
    let subscriber =
        tracing_subscriber::registry().with(ToLog.with_filter(tracing_subscriber::filter::LevelFilter::DEBUG));
    let _ = tracing::subscriber::set_global_default(subscriber);
}
