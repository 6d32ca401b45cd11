//! `twofa serve --sandbox`: the sandbox, demo profiles over it, and a demo bot that waits for a
//! code in the console — the whole flow in one command, for a newcomer.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use twofa_console::{Account, ConsoleCodeSource};
use twofa_core::{
    Authenticator, CodeSource, Error, Password, TwoFactorFlow,
    store::{FileStore, SessionStore},
};
use twofa_etna::EtnaFlow;
use twofa_oms::{OmsFlow, Transport};
use twofa_onlineordering::OnlineOrderingFlow;
use twofa_sandbox::{Sandbox, etna, oms, onlineordering};

use crate::{
    args::ServeArgs,
    commands::sandbox,
    output::{Failure, Printer},
};

/// The demo bot's profile.
pub const BOT_PROFILE: &str = "etna-bot";

/// A demo profile: its name, provider, user, and who receives its codes (for the printed hint).
struct Demo {
    profile: &'static str,
    provider: &'static str,
    user: &'static str,
}

const DEMOS: [Demo; 4] = [
    Demo { profile: BOT_PROFILE, provider: "etna", user: etna::USER_2FA },
    Demo { profile: "etna-pin", provider: "etna", user: etna::USER_CODE_THEN_PIN },
    Demo { profile: "oms-enrolling", provider: "oms", user: oms::USER_ENROLLING },
    Demo { profile: "onlineordering", provider: "onlineordering", user: onlineordering::CUSTOMER_EMAIL_2FA },
];

/// The demo profiles over a running sandbox, sessions in a temporary directory.
#[derive(Debug)]
struct DemoAccounts {
    etna: String,
    oms: String,
    onlineordering: String,
    sessions: FileStore,
}

impl DemoAccounts {
    fn flow(&self, profile: &str) -> Result<Arc<dyn TwoFactorFlow>, Error> {
        let demo = DEMOS
            .iter()
            .find(|d| d.profile == profile)
            .ok_or_else(|| Error::Config(format!("no demo profile `{profile}`")))?;
        Ok(match demo.provider {
            "etna" => Arc::new(
                EtnaFlow::builder()
                    .base_url(&self.etna)
                    .app_key(etna::APP_KEY)
                    .username(demo.user)
                    .password(etna::PASSWORD)
                    .build()?,
            ),
            "oms" => Arc::new(
                OmsFlow::builder()
                    .endpoint(&self.oms)
                    .transport(Transport::WebSocket)
                    .username(demo.user)
                    .password(oms::PASSWORD)
                    .build()?,
            ),
            _ => Arc::new(
                OnlineOrderingFlow::builder()
                    .base_url(&self.onlineordering)
                    .company_code(onlineordering::COMPANY_CODE)
                    .integrator(onlineordering::API_USER, onlineordering::API_PASSWORD)
                    .email(demo.user)
                    .password(onlineordering::PASSWORD)
                    .build()?,
            ),
        })
    }

    fn authenticator(&self, profile: &str) -> Result<twofa_core::AuthenticatorBuilder, Error> {
        Ok(Authenticator::builder(self.flow(profile)?).profile(profile).store(Arc::new(self.sessions.clone())))
    }
}

#[async_trait]
impl twofa_console::Accounts for DemoAccounts {
    async fn list(&self) -> Result<Vec<Account>, Error> {
        let mut accounts = Vec::with_capacity(DEMOS.len());
        for demo in &DEMOS {
            let session = self.sessions.load(demo.profile).await.ok().flatten();
            accounts.push(Account::new(demo.profile, demo.provider, demo.user).with_session(session));
        }
        accounts.sort_by(|a, b| a.profile.cmp(&b.profile));
        Ok(accounts)
    }

    async fn login(&self, profile: &str, _: Option<Password>, codes: Arc<dyn CodeSource>) -> Result<(), Error> {
        self.authenticator(profile)?.code_source(codes).build().session().await.map(drop)
    }

    async fn logout(&self, profile: &str) -> Result<(), Error> {
        self.authenticator(profile)?.build().logout().await
    }
}

/// `twofa serve --sandbox`.
pub async fn run(printer: Printer, args: &ServeArgs) -> Result<(), Failure> {
    let sandbox = sandbox::start(Sandbox::builder()).await?;
    let dir = tempfile::Builder::new()
        .prefix("twofa-serve-sandbox-")
        .tempdir()
        .map_err(|e| Failure::usage(format!("cannot make a temporary directory: {e}")))?;
    let accounts = Arc::new(DemoAccounts {
        etna: sandbox.etna_base_url(),
        oms: sandbox.oms_ws_url(),
        onlineordering: sandbox.onlineordering_base_url(),
        sessions: FileStore::new(dir.path().join("sessions")),
    });
    let console =
        super::start(args, accounts.clone(), crate::ops::notifier(&args.notify).map_err(Failure::usage_error)?).await?;
    printer.line(format_args!(
        "twofa sandbox: {} (demo backends; every password is `{}`)",
        sandbox.base_url(),
        etna::PASSWORD
    ));
    printer.line(format_args!("  demo profiles: {}", DEMOS.map(|d| d.profile).join(", ")));
    printer.line(format_args!("  sessions in {} (removed at exit)", dir.path().display()));
    printer.line(format_args!(
        "  the authenticator seed offered to {} is {} (`TOTP_SEED={} twofa totp --secret-env TOTP_SEED` prints its code)",
        oms::USER_ENROLLING,
        oms::ENROLLING_SEED,
        oms::ENROLLING_SEED
    ));
    let written = super::announce(printer, &console, args)?;
    printer.line(format_args!(
        "\nThe demo bot `{BOT_PROFILE}` wants a token: its challenge waits on the Pending codes page."
    ));
    printer.line(format_args!("Codes sent by e-mail or SMS appear here:"));
    let bot = accounts
        .authenticator(BOT_PROFILE)?
        .code_source(Arc::new(ConsoleCodeSource::new(console.bot_url(BOT_PROFILE)?.expose_secret(), BOT_PROFILE)?))
        .build();
    tokio::spawn(demo_bot(printer, bot, format!("{}/v1.0/users/me", sandbox.etna_base_url())));
    sandbox::print_codes_until_stopped(printer, &sandbox).await;
    if let Some(path) = written {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Calls the sandbox's ETNA API every few seconds through `auth`: the first call waits for the
/// code typed in the console; after a log-out on the Sessions page the API answers 401 and the
/// bot asks for a code again.
async fn demo_bot(printer: Printer, auth: Authenticator, url: String) {
    let client = twofa_core::reqwest::Client::new();
    let mut last_ok = None;
    loop {
        let answer = auth.send_with_retry_on_401(|| client.get(&url).header("Et-App-Key", etna::APP_KEY)).await;
        let ok = match answer {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(format!("the API answered {}", response.status())),
            Err(e) => Err(e.to_string()),
        };
        if last_ok.as_ref() != Some(&ok) {
            match &ok {
                Ok(()) => printer.line(format_args!("  demo bot `{BOT_PROFILE}`: logged in, calling the API")),
                Err(e) => {
                    printer.line(format_args!("  demo bot `{BOT_PROFILE}`: {}", twofa_core::untrusted::escape(e)))
                }
            }
            last_ok = Some(ok);
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}
