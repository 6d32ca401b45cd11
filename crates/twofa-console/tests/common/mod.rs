//! What the console tests share: a sandbox, ETNA accounts in a file store, a person's browser.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{collections::BTreeMap, path::PathBuf, sync::Arc, time::Duration};

use twofa_console::{Account, Accounts, Console, server::SessionState};
use twofa_core::{
    Authenticator, CodeSource, Error, Password, TwoFactorFlow,
    async_trait::async_trait,
    store::{FileStore, SessionStore},
};
use twofa_etna::EtnaFlow;
use twofa_sandbox::{Sandbox, etna};

/// ETNA sandbox users as console profiles, sessions in a file store.
#[derive(Debug)]
pub struct EtnaAccounts {
    pub base_url: String,
    pub dir: PathBuf,
    /// profile → user
    pub users: BTreeMap<String, String>,
}

impl EtnaAccounts {
    pub fn store(&self) -> FileStore {
        FileStore::new(&self.dir)
    }

    pub fn flow(&self, user: &str, password: &str) -> Arc<dyn TwoFactorFlow> {
        Arc::new(
            EtnaFlow::builder()
                .base_url(&self.base_url)
                .app_key(etna::APP_KEY)
                .username(user)
                .password(password)
                .build()
                .unwrap(),
        )
    }
}

#[async_trait]
impl Accounts for EtnaAccounts {
    async fn list(&self) -> Result<Vec<Account>, Error> {
        let mut out = Vec::new();
        for (profile, user) in &self.users {
            let session = self.store().load(profile).await?;
            out.push(Account::new(profile, "etna", user).with_session(session).asks_password(profile.ends_with("-pw")));
        }
        Ok(out)
    }

    async fn login(&self, profile: &str, password: Option<Password>, codes: Arc<dyn CodeSource>) -> Result<(), Error> {
        let user = &self.users[profile];
        let password = password.map_or(etna::PASSWORD.to_owned(), |p| p.expose_secret().to_owned());
        let auth = Authenticator::builder(self.flow(user, &password))
            .profile(profile)
            .store(Arc::new(self.store()))
            .code_source(codes)
            .build();
        auth.session().await.map(drop)
    }

    async fn logout(&self, profile: &str) -> Result<(), Error> {
        let auth = Authenticator::builder(self.flow(&self.users[profile], etna::PASSWORD))
            .profile(profile)
            .store(Arc::new(self.store()))
            .build();
        auth.logout().await
    }
}

pub struct Env {
    pub sandbox: Sandbox,
    pub console: Console,
    pub accounts: Arc<EtnaAccounts>,
    pub dir: tempfile::TempDir,
}

pub async fn env() -> Env {
    env_with(|builder| builder).await
}

/// As [`env`], with `more` settings of the console.
pub async fn env_with(more: impl FnOnce(twofa_console::ConsoleBuilder) -> twofa_console::ConsoleBuilder) -> Env {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let users = [
        ("alice", etna::USER_2FA),
        ("alice-pw", etna::USER_2FA),
        ("bob", etna::USER_NO_2FA),
        ("erin", etna::USER_CODE_THEN_PIN),
    ]
    .map(|(p, u)| (p.to_owned(), u.to_owned()))
    .into();
    let accounts =
        Arc::new(EtnaAccounts { base_url: sandbox.etna_base_url(), dir: dir.path().join("sessions"), users });
    let console = more(Console::builder().accounts(accounts.clone())).start().await.unwrap();
    Env { sandbox, console, accounts, dir }
}

/// A person's browser: keeps the console cookie, follows no redirect by itself.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: Option<String>,
}

pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of the first `name="…" value="…"` hidden field.
    pub fn csrf(&self) -> String {
        let start = self.body.find("name=\"csrf\" value=\"").expect("a form with a CSRF field") + 19;
        self.body[start..].split('"').next().unwrap().to_owned()
    }

    /// The action of the code form of `profile`'s pending card.
    pub fn code_action(&self, profile: &str) -> String {
        let card = &self.body[self.body.find(&format!("id=\"pending-{profile}\"")).expect("the profile's card")..];
        let start = card.find("action=\"/pending/").expect("a code field") + 8;
        card[start..].split('"').next().unwrap().to_owned()
    }

    pub fn location(&self) -> &str {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

impl Browser {
    pub fn new(console: &Console) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, base: console.base_url().trim_end_matches('/').to_owned(), cookie: None }
    }

    /// Opens the printed link and keeps the cookie it sets.
    pub async fn open(console: &Console) -> Self {
        let mut browser = Self::new(console);
        let page = browser.get(&format!("/?token={}", console.token().expose_secret())).await;
        assert_eq!(page.status, 303);
        assert_eq!(page.location(), "/");
        let cookie = page.headers.get("set-cookie").unwrap().to_str().unwrap();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
        browser.cookie = Some(cookie.split(';').next().unwrap().to_owned());
        browser
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Page {
        let request = match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        };
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        Page { status, headers, body: response.text().await.unwrap() }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(self.http.get(format!("{}{path}", self.base))).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        self.post_raw(path, body).await
    }

    pub async fn post_raw(&self, path: &str, body: String) -> Page {
        let request =
            self.http.post(format!("{}{path}", self.base)).header("content-type", "application/x-www-form-urlencoded");
        self.send(request.body(body)).await
    }
}

pub fn state_of(page: &Page, profile: &str) -> SessionState {
    let row = &page.body[page.body.find(&format!("id=\"profile-{profile}\"")).expect("the profile's row")..];
    let start = row.find("class=\"state ").unwrap() + 13;
    match row[start..].split('"').next().unwrap() {
        "valid" => SessionState::Valid,
        "expiring" => SessionState::Expiring,
        "idle-expired" => SessionState::IdleExpired,
        "expired" => SessionState::Expired,
        _ => SessionState::None,
    }
}

/// A bot speaking the channel (`twofa_console::channel`) by hand: a session after its hello, then
/// sealed calls. Checks the console's proof and opens every answer, as `ConsoleCodeSource` does.
pub struct Channel {
    http: reqwest::Client,
    base: String,
    session: String,
    keys: twofa_console::channel::SessionKey,
    seq: std::sync::atomic::AtomicU64,
}

impl Channel {
    /// Says hello to the console at `base` as a bot of `profile` holding `key`.
    pub async fn open(
        http: &reqwest::Client,
        base: &str,
        key: &twofa_core::Secret,
        profile: &str,
    ) -> Result<Self, reqwest::Error> {
        use twofa_console::channel::{Hello, HelloAnswer, SessionKey, new_nonce};
        let nonce = new_nonce();
        let hello = serde_json::to_vec(&Hello { profile: profile.into(), nonce: nonce.clone() }).unwrap();
        let answer = http
            .post(format!("{base}api/hello"))
            .header("content-type", "application/json")
            .body(hello)
            .send()
            .await?
            .error_for_status()?;
        let answer: HelloAnswer = serde_json::from_slice(&answer.bytes().await?).unwrap();
        let keys = SessionKey::derive(key, profile, &nonce, &answer.nonce);
        assert!(keys.proof_matches(&answer.proof), "the console proved itself");
        Ok(Self { http: http.clone(), base: base.into(), session: answer.session, keys, seq: Default::default() })
    }

    /// A sealed call of `path` (relative, query included): the status and the opened answer.
    pub async fn try_call(&self, path: &str, body: &[u8]) -> Result<(u16, String), reqwest::Error> {
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let sealed = self.keys.seal_request(&self.session, seq, "POST", path, body);
        let answer = self
            .http
            .post(format!("{}{path}", self.base))
            .header(twofa_console::channel::SESSION_HEADER, &self.session)
            .header(twofa_console::channel::SEQ_HEADER, seq.to_string())
            .body(sealed)
            .send()
            .await?;
        assert_eq!(answer.status(), 200, "a sealed answer travels as a 200");
        let body = answer.bytes().await?;
        let (status, opened) = self.keys.open_answer(&self.session, seq, &body).expect("a sealed answer");
        Ok((status, String::from_utf8(opened).unwrap()))
    }

    pub async fn call(&self, path: &str, body: &[u8]) -> (u16, String) {
        self.try_call(path, body).await.unwrap()
    }

    /// The raw pieces, for a test that forges a call: the session id and the next sequence number.
    pub fn session(&self) -> (&str, u64) {
        (&self.session, self.seq.load(std::sync::atomic::Ordering::Relaxed) + 1)
    }

    pub fn keys(&self) -> &twofa_console::channel::SessionKey {
        &self.keys
    }
}

/// A person typing the code on the Pending page for `profile`, as soon as it shows.
pub async fn type_code(person: &Browser, profile: &str, code: impl Fn() -> String) {
    for _ in 0..200 {
        let page = person.get("/pending").await;
        if page.body.contains(&format!("id=\"pending-{profile}\"")) && page.body.contains("action=\"/pending/") {
            let answer = person.post(&page.code_action(profile), &[("csrf", &page.csrf()), ("code", &code())]).await;
            assert_eq!(answer.status, 303, "{}", answer.body);
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no pending code for {profile}");
}
