//! The proxy's own answers when a request ends without an upstream answer: a status and a short
//! JSON body (`{"error", "message", "where"?}`), never cached.

use http::{HeaderValue, Response, StatusCode, header};

use crate::body::{ProxyBody, full};

/// Why a request ended without an upstream answer; becomes a short JSON answer.
pub(crate) struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
    place: Option<String>,
}

impl Refusal {
    /// A refusal answered with `status`, a stable `code` and a sentence.
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), place: None }
    }

    /// Says where a person gives the code the renewal waits for (`"where"` in the answer).
    pub(crate) fn with_place(mut self, place: String) -> Self {
        self.place = Some(place);
        self
    }

    /// The JSON answer.
    pub(crate) fn into_response(self) -> Response<ProxyBody> {
        let mut body = serde_json::json!({ "error": self.code, "message": self.message });
        if let Some(place) = self.place {
            body["where"] = serde_json::Value::String(place);
        }
        let mut response = Response::new(full(body.to_string()));
        *response.status_mut() = self.status;
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
