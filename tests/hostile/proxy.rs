//! Proxy variables and the plain-HTTP rule: a login to a loopback server never goes to the proxy
//! named by `HTTP_PROXY`/`ALL_PROXY` (it would carry the password in clear to another process, or
//! to another machine), while HTTPS to a remote host still honours the variables.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{io::AsyncReadExt as _, net::TcpListener};
use twofa::{
    LoginOptions, TotpSeed, TwoFactorFlow, code_source::Totp, etna::EtnaFlow, http::HttpOptions, login, oms::OmsFlow,
};
use twofa_sandbox::{Sandbox, etna, oms};

use crate::child;

#[tokio::test]
#[ignore = "run by a_proxy_variable_never_sees_a_loopback_login, with the proxy variables set"]
async fn loopback_logins_child() {
    let sandbox = Sandbox::start().await.unwrap();
    let totp = Totp::from_base32(&TotpSeed::new(oms::TOTP_SEED)).unwrap();
    for endpoint in [sandbox.oms_ws_url(), sandbox.oms_http_url()] {
        let flow =
            OmsFlow::builder().endpoint(&endpoint).username(oms::USER_TOTP).password(oms::PASSWORD).build().unwrap();
        login(&flow, &totp, &LoginOptions::default()).await.unwrap();
    }
    let etna = EtnaFlow::builder()
        .base_url(sandbox.etna_base_url())
        .app_key(etna::APP_KEY)
        .username(etna::USER_2FA)
        .password(etna::PASSWORD)
        .build()
        .unwrap();
    etna.start().await.unwrap();
    // The control: HTTPS to a remote host goes to the proxy (which hangs up on it).
    let remote = EtnaFlow::builder()
        .base_url("https://broker.invalid/api")
        .app_key("k")
        .username("u")
        .password("p")
        .http(HttpOptions::default().timeout(Duration::from_secs(5)))
        .build()
        .unwrap();
    remote.start().await.unwrap_err();
}

#[tokio::test]
async fn a_proxy_variable_never_sees_a_loopback_login() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(2), socket.read(&mut buf)).await.ok().and_then(Result::ok);
            record.lock().unwrap().push(String::from_utf8_lossy(&buf[..n.unwrap_or(0)]).into_owned());
        }
    });
    let vars = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];
    let out = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = vars.iter().map(|v| (*v, proxy.as_str())).collect();
        child::run("proxy::loopback_logins_child", &env)
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", child::describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"), "{}", child::describe(&out));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "only the remote HTTPS login may reach the proxy: {seen:#?}");
    assert!(seen[0].starts_with("CONNECT broker.invalid:443 "), "{seen:#?}");
}
