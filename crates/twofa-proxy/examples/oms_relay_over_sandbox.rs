//! The OMS WebSocket relay over an in-process sandbox, for clients written in other languages
//! (`.ci/third-party` runs AlphaPoint's npm client through it).
//!
//! Starts the sandbox, logs `trader.totp` in (its TOTP seed answers the second factor), starts
//! the proxy with the relay, prints the gateway's URL through the proxy on the first line of
//! stdout (`ws://127.0.0.1:PORT/<access token>/WSGateway/`: a client needs nothing else), and
//! runs until SIGINT or SIGTERM, then prints how many of each call reached the sandbox's gateway.
//!
//! ```sh
//! cargo run -p twofa-proxy --example oms_relay_over_sandbox
//! ```

use std::{net::SocketAddr, sync::Arc};

use twofa_core::{Authenticator, TotpSeed, code_source::Totp};
use twofa_oms::OmsFlow;
use twofa_proxy::Proxy;
use twofa_sandbox::{Sandbox, oms as demo};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start().await?;
    let flow = Arc::new(
        OmsFlow::builder().endpoint(sandbox.oms_ws_url()).username(demo::USER_TOTP).password(demo::PASSWORD).build()?,
    );
    let codes = Arc::new(Totp::from_base32(&TotpSeed::new(demo::TOTP_SEED))?);
    let auth = Arc::new(Authenticator::builder(flow.clone()).code_source(codes).build());
    auth.session().await?; // logged in before the first client comes
    let proxy = Proxy::builder(auth, sandbox.oms_http_url())
        .oms_gateway(flow)
        .listen_tcp(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await?;
    println!("{}WSGateway/", proxy.base_url().expose_secret().replace("http://", "ws://"));
    eprintln!("the relay runs for {} until SIGINT or SIGTERM", demo::USER_TOTP);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    proxy.shutdown().await;
    for function in ["AuthenticateUser", "WebAuthenticateUser", "Authenticate2FA", "LogOut", "GetUserInfo", "Ping"] {
        println!("sandbox oms.ws.{function} {}", sandbox.stats().requests(&format!("oms.ws.{function}")));
    }
    Ok(())
}
