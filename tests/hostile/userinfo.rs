//! A base URL or endpoint with userinfo (`https://user:secret@host/`) would send that secret with
//! every request and store it in profiles: every builder refuses it, and the message quotes
//! neither the password nor the user name.

use twofa::{Error, etna::EtnaFlow, oms::OmsFlow, onlineordering::OnlineOrderingFlow};

const USER: &str = "userinfo-name";
const SECRET: &str = "userinfo-s3cret";

fn urls(scheme: &str, path: &str) -> Vec<String> {
    vec![
        format!("{scheme}://{USER}:{SECRET}@127.0.0.1:9/{path}"),
        format!("{scheme}://{USER}:{SECRET}@example.com/{path}"),
        format!("{scheme}://{USER}@example.com/{path}"),
        format!("{scheme}://:{SECRET}@example.com/{path}"),
        format!(" {scheme}://{USER}:{SECRET}@example.com/{path} "),
    ]
}

fn assert_refused<T: std::fmt::Debug>(result: Result<T, Error>, url: &str) {
    let err = result.expect_err(&format!("{url} was accepted"));
    assert!(matches!(err, Error::Config(_)), "{url}: {err:?}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(SECRET), "{url}: the password is echoed: {text}");
        assert!(!text.contains(USER), "{url}: the user name is echoed: {text}");
        assert!(text.contains("user"), "{url}: the message does not say what is wrong: {text}");
    }
}

#[test]
fn etna_refuses_userinfo_in_its_base_url() {
    for url in urls("https", "api").into_iter().chain(urls("http", "api")) {
        let b = EtnaFlow::builder().base_url(&url).app_key("k").username("u").password("p");
        assert_refused(b.build(), &url);
    }
}

#[test]
fn online_ordering_refuses_userinfo_in_its_base_url() {
    for url in urls("https", "").into_iter().chain(urls("http", "")) {
        let b = OnlineOrderingFlow::builder()
            .base_url(&url)
            .company_code("C")
            .integrator("i", "p")
            .email("e@x")
            .password("p");
        assert_refused(b.build(), &url);
    }
}

#[test]
fn oms_refuses_userinfo_in_http_and_websocket_endpoints() {
    let all = [urls("https", ""), urls("http", ""), urls("wss", "WSGateway"), urls("ws", "WSGateway")].concat();
    for url in all {
        assert_refused(OmsFlow::builder().endpoint(&url).username("u").password("p").build(), &url);
    }
}

#[test]
fn urls_without_userinfo_still_build() {
    assert!(
        EtnaFlow::builder()
            .base_url("https://example.com/api")
            .app_key("k")
            .username("u")
            .password("p")
            .build()
            .is_ok()
    );
    assert!(OmsFlow::builder().endpoint("wss://example.com/WSGateway").username("u").password("p").build().is_ok());
    assert!(OmsFlow::builder().endpoint("https://example.com").username("u").password("p").build().is_ok());
}
