//! The same logins written by hand with raw reqwest / tokio-tungstenite on one client: the floor
//! the library is measured against.

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use twofa_sandbox::{etna, oms, onlineordering};

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The hand-written side's client: no redirects followed, and twofa's `User-Agent`, so that both
/// sides send the same bytes and the sandbox does the same work for each (parsing that one
/// header costs it about 1,500 instructions a request; `docs/benchmarks.md`).
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(twofa_core::http::USER_AGENT)
        .build()
}

/// `code` reads the code the sandbox mailed to `user`.
pub async fn etna_login<E>(
    client: &reqwest::Client,
    token_url: &str,
    user: &str,
    code: impl AsyncFnOnce() -> std::result::Result<String, E>,
) -> Result<String>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let first = client
        .post(token_url)
        .header("Accept", "application/json")
        .header("Content-Length", "0")
        .header("Et-App-Key", etna::APP_KEY)
        .header("Username", user)
        .header("Password", etna::PASSWORD)
        .send()
        .await?;
    let interim: Value = serde_json::from_slice(&first.bytes().await?)?;
    let code = code().await?;
    let second = client
        .post(token_url)
        .header("Accept", "application/json")
        .header("Content-Length", "0")
        .header("Et-App-Key", etna::APP_KEY)
        .header("Username", user)
        .header("Password", etna::PASSWORD)
        .header("Authorization", format!("Bearer {}", interim["Token"].as_str().ok_or("no interim token")?))
        .header("VerificationCode", code)
        .send()
        .await?;
    let token: Value = serde_json::from_slice(&second.bytes().await?)?;
    Ok(token["Token"].as_str().ok_or("no token")?.to_owned())
}

/// `client` must not follow redirects.
pub async fn onlineordering_login(client: &reqwest::Client, base: &str, code: &str) -> Result<String> {
    let basic = "Basic c2FuZGJveC1pbnRlZ3JhdG9yOnNhbmRib3gtYXBpLXBhc3N3b3Jk"; // sandbox-integrator:sandbox-api-password
    let first = client
        .post(format!("{base}/v1/Authenticate/2FA?sendEmail=false"))
        .header("Authorization", basic)
        .header("X-Api-CompanyCode", onlineordering::COMPANY_CODE)
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .body(json!({ "Email": onlineordering::CUSTOMER_TOTP, "Password": onlineordering::PASSWORD }).to_string())
        .send()
        .await?;
    if first.status() != 303 {
        return Err("no challenge".into());
    }
    let _ = first.bytes().await?;
    let url = reqwest::Url::parse_with_params(
        &format!("{base}/v1/Authenticate/2FA"),
        [("email", onlineordering::CUSTOMER_TOTP), ("code", code), ("rememberMe", "false"), ("nickname", "")],
    )?;
    let second = client
        .get(url)
        .header("Authorization", basic)
        .header("X-Api-CompanyCode", onlineordering::COMPANY_CODE)
        .header("Accept", "application/json")
        .send()
        .await?;
    let token: Value = serde_json::from_slice(&second.bytes().await?)?;
    Ok(token["access_token"].as_str().ok_or("no token")?.to_owned())
}

pub async fn oms_login(url: &str, code: &str) -> Result<String> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let credentials = json!({ "UserName": oms::USER_TOTP, "Password": oms::PASSWORD }).to_string();
    ws.send(Message::text(json!({ "m": 0, "i": 2, "n": "WebAuthenticateUser", "o": credentials }).to_string())).await?;
    reply(&mut ws, 2).await?;
    let code = json!({ "Code": code }).to_string();
    ws.send(Message::text(json!({ "m": 0, "i": 4, "n": "Authenticate2FA", "o": code }).to_string())).await?;
    let answer = reply(&mut ws, 4).await?;
    let _ = ws.close(None).await;
    Ok(answer["SessionToken"].as_str().ok_or("no session token")?.to_owned())
}

async fn reply<S>(ws: &mut S, i: u64) -> Result<Value>
where
    S: futures_util::Stream<Item = std::result::Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    while let Some(message) = ws.next().await {
        if let Message::Text(text) = message? {
            let frame: Value = serde_json::from_str(&text)?;
            if frame["i"] == i && frame["m"] == 1 {
                return Ok(serde_json::from_str(frame["o"].as_str().ok_or("no payload")?)?);
            }
        }
    }
    Err("closed".into())
}
