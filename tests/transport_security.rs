//! TLS by rustls with the platform's roots: a server with a self-signed certificate is refused
//! before any credential is sent, over HTTPS and WSS alike; one added root is trusted by both
//! transports; plain text is refused off loopback.
#![cfg(all(feature = "etna", feature = "oms"))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use tokio::{
    io::AsyncReadExt as _,
    net::{TcpListener, TcpStream},
};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{ServerConfig, pki_types::PrivateKeyDer},
};
use twofa::{
    Error, LoginOptions, TotpSeed, TwoFactorFlow, code_source::Totp, etna::EtnaFlow, http::HttpOptions, login,
    oms::OmsFlow,
};
use twofa_sandbox::{Sandbox, oms};

/// A TLS server for `localhost` whose certificate nobody trusts; counts requests that got through.
async fn self_signed_server() -> (u16, Arc<AtomicUsize>) {
    let (port, _, requests) = self_signed_front(None).await;
    (port, requests)
}

/// A TLS server for `localhost` with a self-signed certificate (returned as PEM) that forwards
/// every decrypted connection to `upstream`, or else reads one request; counts the connections
/// whose handshake succeeded and that sent something.
async fn self_signed_front(upstream: Option<SocketAddr>) -> (u16, String, Arc<AtomicUsize>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let pem = certified.cert.pem();
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
                let Ok(mut tls) = acceptor.accept(stream).await else { return };
                match upstream {
                    None => {
                        let mut buf = [0u8; 1024];
                        if tls.read(&mut buf).await.unwrap_or(0) > 0 {
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Some(upstream) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let mut plain = TcpStream::connect(upstream).await.unwrap();
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    }
                }
            });
        }
    });
    (port, pem, requests)
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

#[tokio::test]
async fn one_added_root_is_trusted_over_https_and_wss_alike() {
    let sandbox = Sandbox::start().await.unwrap();
    let (port, pem, connections) = self_signed_front(Some(sandbox.addr())).await;
    let totp = Totp::from_base32(&TotpSeed::new(oms::TOTP_SEED)).unwrap();
    for endpoint in [format!("wss://localhost:{port}/WSGateway"), format!("https://localhost:{port}")] {
        let flow = |http: HttpOptions| {
            OmsFlow::builder()
                .endpoint(&endpoint)
                .username(oms::USER_TOTP)
                .password(oms::PASSWORD)
                .http(http)
                .build()
                .unwrap()
        };
        let before = connections.load(Ordering::SeqCst);
        let err = login(&flow(HttpOptions::default()), &totp, &LoginOptions::default()).await.unwrap_err();
        assert!(matches!(err, Error::Transport { .. }), "{endpoint} without the root: {err:?}");
        assert_eq!(connections.load(Ordering::SeqCst), before, "{endpoint}: nothing crossed the refused handshake");
        let trusted = flow(HttpOptions::default().add_root_certificate(&pem));
        let session = login(&trusted, &totp, &LoginOptions::default()).await.unwrap();
        assert_eq!(session.provider(), "oms", "{endpoint}");
        assert!(connections.load(Ordering::SeqCst) > before, "{endpoint} went through the TLS front");
    }
}

#[test]
fn a_root_that_is_not_pem_is_a_configuration_error() {
    let build = |pem: &str| {
        OmsFlow::builder()
            .endpoint("wss://broker.example/WSGateway")
            .username("u")
            .password("p")
            .http(HttpOptions::default().add_root_certificate(pem))
            .build()
    };
    assert!(matches!(build("not a certificate"), Err(Error::Config(_))));
    let pem = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap().cert.pem();
    assert!(build(&pem).is_ok());
}
