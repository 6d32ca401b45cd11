//! TLS by rustls with the platform's roots: a server with a self-signed certificate is refused
//! before any credential is sent; plain text is refused off loopback.
#![cfg(all(feature = "etna", feature = "oms"))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tokio::{io::AsyncReadExt as _, net::TcpListener};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{ServerConfig, pki_types::PrivateKeyDer},
};
use twofa::{Error, TwoFactorFlow, etna::EtnaFlow, oms::OmsFlow};

/// A TLS server for `localhost` whose certificate nobody trusts; counts requests that got through.
async fn self_signed_server() -> (u16, Arc<AtomicUsize>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der()).unwrap();
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, counter) = (acceptor.clone(), Arc::clone(&counter));
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let mut buf = [0u8; 1024];
                    if tls.read(&mut buf).await.unwrap_or(0) > 0 {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    (port, requests)
}

#[tokio::test]
async fn an_invalid_certificate_is_refused_before_credentials_are_sent() {
    let (port, requests) = self_signed_server().await;
    let etna = EtnaFlow::builder()
        .base_url(format!("https://localhost:{port}/api"))
        .app_key("k")
        .username("u")
        .password("p")
        .build()
        .unwrap();
    let err = etna.start().await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    let oms = OmsFlow::builder()
        .endpoint(format!("wss://localhost:{port}/WSGateway"))
        .username("u")
        .password("p")
        .build()
        .unwrap();
    let err = oms.start().await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(requests.load(Ordering::SeqCst), 0, "no request crossed the refused handshake");
}

#[test]
fn plain_text_is_refused_off_loopback_unless_opted_in() {
    let etna = |url: &str, insecure: bool| {
        EtnaFlow::builder()
            .base_url(url)
            .app_key("k")
            .username("u")
            .password("p")
            .http(twofa::http::HttpOptions::default().allow_insecure_http(insecure))
            .build()
    };
    assert!(matches!(etna("http://broker.example/api", false), Err(Error::Config(_))));
    assert!(etna("http://broker.example/api", true).is_ok());
    assert!(etna("http://127.0.0.1:9/api", false).is_ok());
    assert!(etna("https://broker.example/api", false).is_ok());
}
