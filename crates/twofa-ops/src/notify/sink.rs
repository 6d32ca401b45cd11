//! The sinks and the JSON body each one documents: a generic webhook, ntfy, Slack and Discord
//! incoming webhooks, and Telegram's `sendMessage`.

use serde_json::{Value, json};
use twofa_core::Secret;
use url::Url;

use super::message::{Event, Notice};
use crate::OpsError;

/// Where notices go, and in which shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SinkKind {
    /// `POST` of the [`Notice`] itself as JSON (`docs/operations.md` documents the schema).
    Webhook,
    /// ntfy's JSON publishing: `POST` to the server's root with the topic in the body.
    Ntfy,
    /// A Slack incoming webhook: `{"text": …}`.
    Slack,
    /// A Discord webhook: `{"content": …}`, mentions disabled.
    Discord,
    /// Telegram's Bot API `sendMessage`: `{"chat_id": …, "text": …}`.
    Telegram,
}

impl SinkKind {
    /// The name in a notify spec: `webhook`, `ntfy`, `slack`, `discord`, `telegram`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Ntfy => "ntfy",
            Self::Slack => "slack",
            Self::Discord => "discord",
            Self::Telegram => "telegram",
        }
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Webhook, Self::Ntfy, Self::Slack, Self::Discord, Self::Telegram].into_iter().find(|k| k.name() == name)
    }
}

/// How a sink authenticates, taken from the URL's user info.
#[derive(Clone)]
enum Auth {
    None,
    /// `https://:TOKEN@host/…`: `Authorization: Bearer TOKEN` (an ntfy access token).
    Bearer(Secret),
    /// `https://USER:PASSWORD@host/…`: HTTP Basic.
    Basic(String, Secret),
}

/// One configured sink. The URL is a secret (a Slack or Discord webhook URL, a Telegram bot
/// token, is a credential in itself): `Debug` and errors show the kind and host only.
#[derive(Clone)]
pub struct Sink {
    kind: SinkKind,
    /// Where to `POST`, user info and (for Telegram) the query removed.
    url: Secret,
    host: String,
    auth: Auth,
    /// ntfy's topic, Telegram's chat id.
    target: Option<String>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink").field("kind", &self.kind).field("host", &self.host).finish_non_exhaustive()
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

impl Sink {
    /// A sink of `kind` at `url`:
    ///
    /// - `webhook`, `slack`, `discord`: the URL to `POST` to;
    /// - `ntfy`: `https://ntfy.sh/TOPIC` (or your server's), the token as `https://:tk_…@host/TOPIC`;
    /// - `telegram`: `https://api.telegram.org/botTOKEN/sendMessage?chat_id=ID`.
    ///
    /// User info in the URL is sent as `Authorization` (Bearer with an empty user name, else Basic).
    ///
    /// # Errors
    ///
    /// [`OpsError::Config`] for a URL that does not parse, plain `http://` to a host other than
    /// loopback, an ntfy URL without a topic or a Telegram URL without `chat_id`. The message never
    /// holds the URL.
    pub fn new(kind: SinkKind, url: &str) -> Result<Self, OpsError> {
        let bad = |why: &str| OpsError::Config(format!("the {} notification URL {why}", kind.name()));
        let mut url = Url::parse(url.trim()).map_err(|_| bad("is not a URL"))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => return Err(bad("must be https:// (plain http:// is for loopback only)")),
            _ => return Err(bad("must be https://")),
        }
        let host = url.host_str().unwrap_or_default().to_owned();
        let auth = match (url.username(), url.password()) {
            ("", None) => Auth::None,
            ("", Some(token)) => Auth::Bearer(Secret::new(decode(token))),
            (user, password) => Auth::Basic(decode(user), Secret::new(password.map(decode).unwrap_or_default())),
        };
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let target = match kind {
            SinkKind::Ntfy => {
                let topic = url.path().trim_matches('/').to_owned();
                if topic.is_empty() || topic.contains('/') {
                    return Err(bad("must name the topic: https://ntfy.sh/TOPIC"));
                }
                url.set_path("/");
                Some(topic)
            }
            SinkKind::Telegram => {
                let chat = url.query_pairs().find(|(k, _)| k == "chat_id").map(|(_, v)| v.into_owned());
                let chat = chat.filter(|c| !c.is_empty()).ok_or_else(|| bad("must end in ?chat_id=ID"))?;
                url.set_query(None);
                Some(chat)
            }
            _ => None,
        };
        Ok(Self { kind, url: Secret::new(url.to_string()), host, auth, target })
    }

    /// Which sink.
    pub fn kind(&self) -> SinkKind {
        self.kind
    }

    /// The host notices go to (not a secret; for messages).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The JSON body this sink takes for `notice`.
    pub fn body(&self, notice: &Notice) -> Value {
        let target = self.target.clone().unwrap_or_default();
        match self.kind {
            SinkKind::Webhook => serde_json::to_value(notice).unwrap_or(Value::Null),
            SinkKind::Slack => json!({ "text": notice.text }),
            SinkKind::Discord => json!({ "content": notice.text, "allowed_mentions": { "parse": [] } }),
            SinkKind::Telegram => json!({ "chat_id": target, "text": notice.text, "disable_web_page_preview": true }),
            SinkKind::Ntfy => {
                let (priority, tag) = match notice.event {
                    Event::Waiting => (4, "key"),
                    Event::Answered => (3, "white_check_mark"),
                    Event::Refused => (3, "x"),
                    Event::Expired => (3, "hourglass"),
                };
                let mut body = json!({
                    "topic": target,
                    "title": notice.title(),
                    "message": notice.text,
                    "priority": priority,
                    "tags": [tag],
                });
                if let Some(url) = &notice.pending_url {
                    body["click"] = Value::String(url.clone());
                }
                body
            }
        }
    }

    /// The request that delivers `notice`.
    pub(crate) fn request(&self, http: &reqwest::Client, notice: &Notice) -> reqwest::RequestBuilder {
        let request = http.post(self.url.expose_secret()).json(&self.body(notice));
        match &self.auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token.expose_secret()),
            Auth::Basic(user, password) => request.basic_auth(user, Some(password.expose_secret())),
        }
    }
}

/// Percent-decoded user info (`%40` → `@`).
fn decode(part: &str) -> String {
    url::form_urlencoded::parse(format!("x={part}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_never_shown() {
        let secret = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";
        let sink = Sink::new(SinkKind::Slack, secret).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format!("{sink:?}"), "Sink { kind: Slack, host: \"hooks.slack.com\", .. }");
        let plain = Sink::new(SinkKind::Webhook, "http://hooks.example/x?k=SECRET");
        assert!(matches!(&plain, Err(OpsError::Config(m)) if m.contains("https") && !m.contains("SECRET")));
        assert!(Sink::new(SinkKind::Webhook, "http://127.0.0.1:9/hook").is_ok());
        assert!(
            matches!(Sink::new(SinkKind::Ntfy, "https://ntfy.sh/"), Err(OpsError::Config(m)) if m.contains("topic"))
        );
        let tg = Sink::new(SinkKind::Telegram, "https://api.telegram.org/bot123:SECRET/sendMessage");
        assert!(matches!(&tg, Err(OpsError::Config(m)) if m.contains("chat_id") && !m.contains("SECRET")));
        assert_eq!(SinkKind::from_name("discord"), Some(SinkKind::Discord));
        assert_eq!(SinkKind::from_name("email"), None);
    }
}
