//! A `reqwest-middleware` layer that authorizes every request through an [`Authenticator`]
//! (feature `reqwest-middleware`).
//!
//! ```
//! # fn demo(auth: twofa_core::Authenticator) {
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(twofa_core::middleware::AuthMiddleware::new(auth))
//!     .build();
//! # drop(client); }
//! ```

use async_trait::async_trait;
use http::Extensions;
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};

use crate::Authenticator;

/// Adds the session's headers to each request; on a 401, renews and retries once when the
/// request can be cloned (a streaming body cannot, and its 401 is returned as is).
#[derive(Debug, Clone)]
pub struct AuthMiddleware {
    auth: Authenticator,
}

impl AuthMiddleware {
    /// A middleware over `auth`.
    pub fn new(auth: Authenticator) -> Self {
        Self { auth }
    }
}

#[async_trait]
impl Middleware for AuthMiddleware {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let retry = req.try_clone();
        let session = self.auth.session().await.map_err(reqwest_middleware::Error::middleware)?;
        req.headers_mut().extend(session.headers().map_err(reqwest_middleware::Error::middleware)?);
        let response = next.clone().run(req, extensions).await?;
        let Some(mut retry) = retry.filter(|_| response.status() == StatusCode::UNAUTHORIZED) else {
            if response.status().is_success() {
                self.auth.touch();
            }
            return Ok(response);
        };
        self.auth.invalidate(&session);
        let session = self.auth.session().await.map_err(reqwest_middleware::Error::middleware)?;
        retry.headers_mut().extend(session.headers().map_err(reqwest_middleware::Error::middleware)?);
        let response = next.run(retry, extensions).await?;
        if response.status().is_success() {
            self.auth.touch();
        }
        Ok(response)
    }
}
