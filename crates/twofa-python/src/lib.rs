//! The Python package of twofa (`import twofa`): PyO3 bindings over the twofa crates, built with
//! maturin. The Python-facing API is documented in `docs/python.md` and in the `.pyi` stubs;
//! this crate only adapts the Rust API (flows, code sources, `Authenticator`, the sandbox) to
//! Python, and re-implements nothing.

mod auth;
mod bridge;
mod errors;
mod flows;
mod interpreter;
mod logging;
mod on_loop;
mod sandbox;
mod secret;
mod sources;

use pyo3::prelude::*;

/// The extension module `twofa._twofa`, re-exported by the pure-Python package `twofa`.
#[pymodule]
fn _twofa(m: &Bound<'_, PyModule>) -> PyResult<()> {
    logging::install(m.py());
    errors::register(m)?;
    m.add_class::<secret::PySecret>()?;
    m.add_class::<secret::PySession>()?;
    m.add_class::<sources::PyCodeSource>()?;
    m.add_class::<sources::PyChallenge>()?;
    m.add_class::<flows::PyFlow>()?;
    m.add_class::<flows::PyEtnaFlow>()?;
    m.add_class::<flows::PyOmsFlow>()?;
    m.add_class::<flows::PyOnlineOrderingFlow>()?;
    m.add_class::<auth::PyStore>()?;
    m.add_class::<auth::PyAuthenticator>()?;
    m.add_class::<sandbox::PySandbox>()?;
    m.add_function(wrap_pyfunction!(interpreter::_shutdown, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
