use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use tokio::sync::broadcast;

use crate::Shared;

/// A code the sandbox "sent" by email or SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Which backend sent it (`etna`, …).
    pub provider: &'static str,
    /// The user it was sent to.
    pub recipient: String,
    /// The channel (`email`, `sms`).
    pub channel: &'static str,
    /// The code.
    pub code: String,
}

/// Every code the sandbox delivered; clones share the same box.
#[derive(Debug, Clone)]
pub struct Outbox {
    sent: Arc<Mutex<Vec<Delivery>>>,
    notify: broadcast::Sender<Delivery>,
}

impl Default for Outbox {
    fn default() -> Self {
        Self { sent: Arc::default(), notify: broadcast::channel(256).0 }
    }
}

impl Outbox {
    pub(crate) fn deliver(&self, delivery: Delivery) {
        tracing::debug!(provider = delivery.provider, recipient = %delivery.recipient, "sandbox delivered a code");
        self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(delivery.clone());
        let _ = self.notify.send(delivery);
    }

    /// The newest code sent to `recipient`.
    pub fn latest_code(&self, recipient: &str) -> Option<String> {
        let sent = self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        sent.iter().rev().find(|d| d.recipient == recipient).map(|d| d.code.clone())
    }

    /// Everything delivered so far, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// A feed of deliveries from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Delivery> {
        self.notify.subscribe()
    }
}

/// `GET /_sandbox/outbox/latest?recipient=NAME`: the newest code, for clients outside the process.
pub(crate) async fn latest_code(State(s): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    match q.get("recipient").and_then(|r| s.outbox.latest_code(r)) {
        Some(code) => code.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
