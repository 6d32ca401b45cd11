//! The two documented calls that unblock an account a login refused: reset an expired password,
//! set a missing security PIN. Both answer `{"Errors":[…],"IsSucceed":…}`.

use reqwest::{
    Method, Url,
    header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE},
};
use serde_json::{Value, json};
use twofa_core::{
    Error, Password, Pin, PinSetup, Secret,
    http::{Answer, sensitive_value},
    json::from_slice_ci,
    provider::clip,
};

use crate::{EtnaFlow, wire::AccountReply};

impl EtnaFlow {
    /// Sets a new password after [`Error::PasswordExpired`], with the reset token it carries: the
    /// documented `PUT {base}/v1.0/users/passwords/reset/` with `{Token, Password,
    /// PasswordConfirmation}` ("Password Expiration" and "Update the Password" in ETNA's docs).
    /// Log in afresh with the new password afterwards.
    ///
    /// A refusal (`IsSucceed: false`) is [`Error::Provider`] with the server's messages; a 401 means
    /// the reset token is no longer valid ([`Error::ChallengeExpired`]).
    pub async fn reset_expired_password(&self, reset_token: &Secret, new_password: &Password) -> Result<(), Error> {
        if reset_token.expose_secret().is_empty() || new_password.expose_secret().is_empty() {
            return Err(Error::InvalidInput("the reset token and the new password must not be empty".into()));
        }
        let body = json!({
            "Token": reset_token.expose_secret(),
            "Password": new_password.expose_secret(),
            "PasswordConfirmation": new_password.expose_secret(),
        });
        self.account_call(Method::PUT, self.reset_url.clone(), None, &body, "password reset").await
    }

    /// Sets the security PIN after [`Error::PinNotSet`], with the tokens it carries: the documented
    /// `GET {base}/v1.0/users/pincode/change` (a GET with a body, as "Set a New PIN Code"
    /// documents it), authorized by the bearer, body `{Token: <ConfirmationToken>, Pin, ImageName,
    /// PersonalPhrase}`. Log in afresh afterwards, with the PIN ([`EtnaBuilder::pin`](crate::EtnaBuilder::pin)).
    ///
    /// `image_name` and `personal_phrase` are the anti-phishing picture and phrase the web app
    /// shows; the documents do not list the accepted image names.
    pub async fn set_pin(
        &self,
        setup: &PinSetup,
        pin: &Pin,
        image_name: &str,
        personal_phrase: &str,
    ) -> Result<(), Error> {
        let (Some(bearer), Some(confirmation)) = (&setup.bearer, &setup.confirmation) else {
            return Err(Error::InvalidInput("setting a PIN needs the bearer and confirmation tokens".into()));
        };
        if pin.expose_secret().is_empty() {
            return Err(Error::InvalidInput("the security PIN is empty".into()));
        }
        let body = json!({
            "Token": confirmation.expose_secret(),
            "Pin": pin.expose_secret(),
            "ImageName": image_name,
            "PersonalPhrase": personal_phrase,
        });
        self.account_call(Method::GET, self.pin_change_url.clone(), Some(bearer), &body, "PIN change").await
    }

    async fn account_call(
        &self,
        method: Method,
        url: Url,
        bearer: Option<&Secret>,
        body: &Value,
        what: &str,
    ) -> Result<(), Error> {
        let body = zeroize::Zeroizing::new(body.to_string());
        let mut request = self
            .http
            .request(method, url)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/json")
            .header("Et-App-Key", sensitive_value(self.app_key.expose_secret(), "the app key")?)
            .body(body.as_bytes().to_vec());
        if let Some(bearer) = bearer {
            let value = zeroize::Zeroizing::new(format!("Bearer {}", bearer.expose_secret()));
            request = request.header(AUTHORIZATION, sensitive_value(&value, "the PIN setup token")?);
        }
        account_result(&self.http.send(request).await?, what)
    }
}

/// `{"Errors":[…],"IsSucceed":true}` is done; `IsSucceed: false` is the server's refusal; a 401
/// means the token from the refused login is no longer valid.
fn account_result(answer: &Answer, what: &str) -> Result<(), Error> {
    match answer.status {
        429 => return Err(Error::RateLimited { retry_after: answer.retry_after() }),
        401 => return Err(Error::ChallengeExpired),
        _ => {}
    }
    let reply: AccountReply = from_slice_ci(&answer.body).map_err(|_| answer.unexpected("a JSON object"))?;
    match reply.is_succeed {
        Some(true) if answer.is_success() => Ok(()),
        Some(false) => {
            let messages: Vec<String> =
                reply.errors.iter().map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned)).collect();
            Err(Error::Provider {
                code: i64::from(answer.status),
                message: format!("{what} refused: {}", clip(&messages.join("; "))),
            })
        }
        _ => Err(answer.unexpected(&format!("IsSucceed in the {what} answer"))),
    }
}
