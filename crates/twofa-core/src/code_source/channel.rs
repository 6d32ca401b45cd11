use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Mutex, mpsc};

use super::{CodeRequest, CodeSource};
use crate::{Error, OneTimeCode};

/// A code source fed by another task (an HTTP handler, a chat bot…); made by [`code_channel`].
#[derive(Debug)]
pub struct ChannelCodeSource {
    requests: mpsc::UnboundedSender<CodeRequest>,
    codes: Mutex<mpsc::Receiver<String>>,
    wait: Option<Duration>,
}

/// The other end of a [`ChannelCodeSource`]: learns when a code is wanted, and supplies it.
#[derive(Debug)]
pub struct CodeSender {
    requests: Mutex<mpsc::UnboundedReceiver<CodeRequest>>,
    codes: mpsc::Sender<String>,
}

/// A connected source and sender.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), twofa_core::Error> {
/// use twofa_core::code_source::{code_channel, CodeSource};
/// let (source, sender) = code_channel();
/// tokio::spawn(async move {
///     if let Some(request) = sender.next_request().await {
///         println!("asked for a {}", request.method);
///         let _ = sender.send("123456").await;
///     }
/// });
/// # let challenge = twofa_core::Challenge::portable("demo", twofa_core::Method::Email,
/// #     time::OffsetDateTime::UNIX_EPOCH, twofa_core::Secret::new("s"));
/// # let request = twofa_core::code_source::CodeRequest::new(&challenge, 1, 3);
/// let code = source.code(&request).await?;
/// assert_eq!(code.expose_secret(), "123456");
/// # Ok(()) }
/// ```
pub fn code_channel() -> (ChannelCodeSource, CodeSender) {
    let (request_tx, request_rx) = mpsc::unbounded_channel();
    let (code_tx, code_rx) = mpsc::channel(4);
    (
        ChannelCodeSource { requests: request_tx, codes: Mutex::new(code_rx), wait: None },
        CodeSender { requests: Mutex::new(request_rx), codes: code_tx },
    )
}

impl ChannelCodeSource {
    /// Gives up with [`Error::CodeSource`] when no code arrives within `wait`.
    pub fn with_wait_limit(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }
}

#[async_trait]
impl CodeSource for ChannelCodeSource {
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, Error> {
        // Nobody listening for requests is fine: the sender may push codes unasked.
        let _ = self.requests.send(request.clone());
        let mut codes = self.codes.lock().await;
        let received = match self.wait {
            Some(wait) => tokio::time::timeout(wait, codes.recv())
                .await
                .map_err(|_| Error::CodeSource(format!("no code arrived within {wait:?}")))?,
            None => codes.recv().await,
        };
        OneTimeCode::new(received.ok_or_else(|| Error::CodeSource("the code channel was closed".into()))?)
    }
}

impl CodeSender {
    /// Waits until the source asks for a code; `None` once the source is gone.
    pub async fn next_request(&self) -> Option<CodeRequest> {
        self.requests.lock().await.recv().await
    }

    /// Supplies a code.
    pub async fn send(&self, code: impl Into<String>) -> Result<(), Error> {
        self.codes.send(code.into()).await.map_err(|_| Error::CodeSource("the code source is gone".into()))
    }
}
