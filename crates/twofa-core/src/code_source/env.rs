use async_trait::async_trait;

use super::{CodeRequest, CodeSource};
use crate::{Error, OneTimeCode};

/// Reads the code from an environment variable (for scripts and CI).
#[derive(Debug, Clone)]
pub struct EnvCode {
    var: String,
}

impl EnvCode {
    /// A source reading `var` each time a code is asked for.
    pub fn new(var: impl Into<String>) -> Self {
        Self { var: var.into() }
    }
}

#[async_trait]
impl CodeSource for EnvCode {
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, Error> {
        super::refuse_pin(request, &format!("the code variable {}", self.var))?;
        let value = std::env::var(&self.var)
            .map_err(|_| Error::CodeSource(format!("the environment variable {} is not set", self.var)))?;
        OneTimeCode::new(value)
    }
}
