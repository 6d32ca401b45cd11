use std::{fmt, future::Future};

use async_trait::async_trait;

use super::{CodeRequest, CodeSource};
use crate::{Error, OneTimeCode};

/// A code source backed by an async closure; made by [`from_fn`].
pub struct FnCodeSource<F>(F);

/// A code source that calls `f` for each code.
///
/// ```
/// use twofa_core::code_source::{self, CodeSource};
/// let source = code_source::from_fn(|request| async move {
///     // look the code up in a mailbox, a database, a queue…
///     Ok(format!("{}", 100000 + request.attempt))
/// });
/// # let _: &dyn CodeSource = &source;
/// ```
pub fn from_fn<F, Fut>(f: F) -> FnCodeSource<F>
where
    F: Fn(CodeRequest) -> Fut + Send + Sync,
    Fut: Future<Output = Result<String, Error>> + Send,
{
    FnCodeSource(f)
}

impl<F> fmt::Debug for FnCodeSource<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnCodeSource")
    }
}

#[async_trait]
impl<F, Fut> CodeSource for FnCodeSource<F>
where
    F: Fn(CodeRequest) -> Fut + Send + Sync,
    Fut: Future<Output = Result<String, Error>> + Send,
{
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, Error> {
        OneTimeCode::new((self.0)(request.clone()).await?)
    }
}
