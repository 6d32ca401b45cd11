//! What the relay does with each frame a client sends: its own login frames are answered from
//! the proxy's session (or refused), frames that carry credentials are refused, and everything
//! else goes to the gateway exactly as it was decoded, `i` and `n` kept.

use serde_json::{Value, json};
use twofa_core::Session;
use twofa_oms::frame::{self, ERROR, Frame, REPLY, REQUEST};

/// The `SessionToken` the proxy's own login replies carry: a placeholder, never the session's.
/// A client that resumes with it (`WebAuthenticateUser {SessionToken}`) is answered locally too.
pub const PLACEHOLDER_SESSION_TOKEN: &str = "twofa-proxy-session";

/// Payload keys that are login credentials: a frame that carries one never reaches the gateway.
/// (A `Code` is not among them: `Validate2FA {Code}` is a step-up the client's person answers.)
const CREDENTIAL_KEYS: &[&str] =
    &["password", "apikey", "signature", "sessiontoken", "jwttoken", "pending2fatoken", "aptoken"];

/// What to do with one client frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Send this text to the gateway.
    Forward(String),
    /// Answer the client with this text; nothing goes to the gateway.
    Answer(String),
    /// Not an APEX frame: close the client's connection with this reason.
    Close(&'static str),
}

/// The client's view of the proxy's session: what a local login reply says about the user.
#[derive(Debug)]
pub(crate) struct LocalLogin {
    user_id: Value,
    oms_id: Value,
}

impl LocalLogin {
    /// The user id and OMS id of `session` (numbers when they are numeric, as the gateway sends).
    pub(crate) fn of(session: &Session) -> Self {
        let number_or_text = |text: &str| text.parse::<u64>().map_or_else(|_| json!(text), |n| json!(n));
        let user_id = session.subject().get("UserId").map_or(Value::Null, |id| number_or_text(id));
        let oms_id = match session.extras().get("OMSId") {
            Some(Value::String(id)) => number_or_text(id),
            Some(other) => other.clone(),
            None => Value::Null,
        };
        Self { user_id, oms_id }
    }

    /// The verdict on a text message from the client.
    pub(crate) fn judge(&self, text: &str) -> Verdict {
        let Ok(frame) = frame::decode(text) else {
            return Verdict::Close("not an APEX frame {m, i, n, o}");
        };
        let name = frame.n.trim().to_ascii_lowercase();
        let payload: Value = serde_json::from_str(&frame.o).unwrap_or(Value::Null);
        let has = |key: &str| payload.as_object().is_some_and(|o| o.keys().any(|k| k.eq_ignore_ascii_case(key)));
        let request = frame.m == REQUEST;
        match name.as_str() {
            "authenticateuser" | "authenticate" | "webauthenticateuser" if request => self.logged_in(&frame),
            // foxbit-client resumes with `Authenticate2FA {SessionToken}`; a code is refused.
            "authenticate2fa" if request && has("sessiontoken") && !has("code") => self.logged_in(&frame),
            "logout" if request => Verdict::Answer(reply(
                &frame,
                REPLY,
                json!({ "result": true, "errormsg": null, "errorcode": 0,
                        "detail": "twofa proxy: the shared session stays logged in; close the socket to end" }),
            )),
            "authenticateuser" | "authenticate" | "webauthenticateuser" | "authenticate2fa" | "logout" => {
                Verdict::Answer(refusal(
                    &frame,
                    "twofa proxy: the proxy logs in with its own session; this login frame is refused",
                ))
            }
            _ if CREDENTIAL_KEYS.iter().any(|key| has(key)) => Verdict::Answer(refusal(
                &frame,
                "twofa proxy: this frame carries credentials, which never go through the proxy",
            )),
            _ => Verdict::Forward(frame.to_text()),
        }
    }

    /// The documented success reply of a login (§2.3/§2.4), from the proxy's session.
    fn logged_in(&self, request: &Frame) -> Verdict {
        let body = json!({
            "Authenticated": true,
            "SessionToken": PLACEHOLDER_SESSION_TOKEN,
            "UserId": self.user_id,
            "User": { "UserId": self.user_id, "OMSId": self.oms_id },
            "Locked": false,
            "Requires2FA": false,
            "TwoFAType": null,
            "twoFAToken": "",
            "AuthType": "",
            "errormsg": null,
        });
        Verdict::Answer(reply(request, REPLY, body))
    }
}

/// A frame of type `m` answering `request` (its `i` and `n`) with `body`.
fn reply(request: &Frame, m: u8, body: Value) -> String {
    Frame::new(m, request.i, request.n.clone(), body.to_string()).to_text()
}

/// An error frame (`m:5`) with the generic response (§2.7), code 20 "Not Authorized".
fn refusal(request: &Frame, message: &str) -> String {
    reply(request, ERROR, json!({ "result": false, "errormsg": message, "errorcode": 20, "detail": null }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use twofa_core::{AccessToken, TokenPlacement};

    use super::*;

    fn local() -> LocalLogin {
        let session = Session::new(
            "oms",
            AccessToken::new("real-session-token"),
            TokenPlacement::Header { name: "aptoken".into() },
            twofa_core::time::OffsetDateTime::UNIX_EPOCH,
        )
        .with_subject("UserId", "7")
        .with_extra("OMSId", json!("1"));
        LocalLogin::of(&session)
    }

    fn answered(verdict: Verdict) -> Frame {
        match verdict {
            Verdict::Answer(text) => frame::decode(&text).unwrap(),
            other => panic!("not answered locally: {other:?}"),
        }
    }

    #[test]
    fn logins_are_answered_from_the_session_with_a_placeholder_token() {
        for name in ["AuthenticateUser", "webauthenticateuser", " WebAuthenticateUser", "Authenticate"] {
            let text = frame::encode(4, name, &json!({ "UserName": "u", "Password": "client-password" }));
            let out = answered(local().judge(&text));
            assert_eq!((out.m, out.i, out.n.as_str()), (REPLY, 4, name));
            let body: Value = serde_json::from_str(&out.o).unwrap();
            assert_eq!(body["Authenticated"], true);
            assert_eq!(body["Requires2FA"], false);
            assert_eq!(body["SessionToken"], PLACEHOLDER_SESSION_TOKEN);
            assert_eq!((body["UserId"].clone(), body["User"]["OMSId"].clone()), (json!(7), json!(1)));
            assert!(!out.o.contains("real-session-token") && !out.o.contains("client-password"));
        }
        let resume = frame::encode(6, "Authenticate2FA", &json!({ "SessionToken": "x" }));
        assert_eq!(answered(local().judge(&resume)).m, REPLY);
    }

    #[test]
    fn a_code_logout_and_credentials_in_other_frames_stay_here() {
        let code = answered(local().judge(&frame::encode(2, "Authenticate2FA", &json!({ "Code": "123456" }))));
        assert_eq!(code.m, ERROR);
        assert!(code.o.contains("\"errorcode\":20"), "{}", code.o);
        let out = answered(local().judge(&frame::encode(8, "LogOut", &json!({}))));
        assert_eq!((out.m, out.i), (REPLY, 8));
        assert!(out.o.contains("\"result\":true"));
        let sneaky = frame::encode(10, "GetUserInfo", &json!({ "sessionToken": "stolen" }));
        assert_eq!(answered(local().judge(&sneaky)).m, ERROR);
        let as_reply = Frame::new(REPLY, 12, "WebAuthenticateUser", "{}").to_text();
        assert_eq!(answered(local().judge(&as_reply)).m, ERROR, "a login name under another type is refused");
    }

    #[test]
    fn other_frames_go_through_as_decoded_and_garbage_closes() {
        let text = r#"{"m":0,"i":14,"n":"GetUserInfo","o":"{}"}"#;
        assert_eq!(local().judge(text), Verdict::Forward(text.to_owned()));
        let object = r#"{"m":2,"i":16,"n":"SubscribeLevel1","o":{"InstrumentId":1}}"#;
        assert_eq!(
            local().judge(object),
            Verdict::Forward(r#"{"m":2,"i":16,"n":"SubscribeLevel1","o":"{\"InstrumentId\":1}"}"#.to_owned())
        );
        assert!(matches!(local().judge("hello"), Verdict::Close(_)));
        assert!(matches!(local().judge(r#"{"m":0,"i":2,"n":"Ping","n":"LogOut","o":"{}"}"#), Verdict::Close(_)));
    }
}
