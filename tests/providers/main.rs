//! The three providers against the sandbox: the shared conformance suite once per provider (and
//! per token placement), plus each provider's own guarantees. One test binary, since linking one
//! per provider is most of a test run on 2 cores.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod conformance;

mod etna;
mod oms;
mod onlineordering;
