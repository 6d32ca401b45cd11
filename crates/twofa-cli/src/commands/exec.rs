//! `twofa exec --profile P [--profile Q] -- cmd args…`: runs a command with the profiles' tokens,
//! headers and expiries in its environment (the [token contract](crate::contract) as variables),
//! forwards SIGINT, SIGTERM and SIGHUP to it, and exits with its code (128 + the signal that killed
//! it). For runs longer than a token lives, the sessions are renewed before they expire and either
//! a headers file is rewritten (`--headers-file`, optionally signalling the command) or the command
//! is restarted with fresh variables (`--restart-on-renew`), as Vault Agent's supervisor does.
//! With `--proxy` the command gets a local proxy's base URL instead, and sends no credential.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

use time::OffsetDateTime;
use tokio::{process::Child, time::Instant};
use twofa_core::{Authenticator, Error, Session, store::private_fs};
use twofa_ops::audit::Action;
use twofa_proxy::RunningProxy;
use zeroize::Zeroizing;

use super::{Context, proxy};
use crate::{
    args::{ExecArgs, RenewSignal},
    contract, ops,
    output::Failure,
    profile::Profile,
    running_proxy,
    session::{self, Inputs},
    settings::Settings,
};

/// How long before a session's expiry (or idle timeout) it is renewed: inside the
/// [`Authenticator`]'s refresh margin (60 s), so asking for the session then renews it.
const RENEW_AHEAD: Duration = Duration::from_secs(55);
/// The shortest wait between two renewal rounds, so a session that lives less than the margin
/// never spins.
const MIN_WAIT: Duration = Duration::from_secs(5);
/// The wait before trying again after a renewal failed (the command keeps its old token meanwhile).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);
/// The variable (after the profile's prefix) holding `--proxy`'s base URL.
const PROXY_URL_VARIABLE: &str = "PROXY_URL";
/// The variable holding the headers file's path.
const HEADERS_FILE_ENV: &str = "TWOFA_HEADERS_FILE";

/// One profile of the run: its authenticator and the session the command has now.
struct Profiled {
    name: String,
    /// `TWOFA_` for a single profile, `TWOFA_{NAME}_` among several.
    prefix: String,
    /// The stored profile, to find a `twofa proxy` running for it.
    config: Profile,
    authenticator: Arc<Authenticator>,
    session: Arc<Session>,
    /// `--proxy`: the proxy the command reaches the API through.
    proxy: Option<RunningProxy>,
}

/// `twofa exec`.
pub async fn exec(ctx: &Context, args: ExecArgs) -> Result<ExitCode, Failure> {
    let mut profiles = Vec::with_capacity(args.profiles.len());
    let mut prefixes = BTreeSet::new();
    let single = args.profiles.len() == 1;
    for name in &args.profiles {
        let prefix = if single { "TWOFA_".to_owned() } else { contract::prefix_of(name) };
        if !prefixes.insert(prefix.clone()) {
            return Err(Failure::usage(format!(
                "--profile {name} gives the same variable names ({prefix}…) as another --profile: rename one"
            )));
        }
        let profile = ctx.profile(name)?;
        let inputs = Inputs::from_profile(name, &profile);
        let relay = match args.proxy {
            true => proxy::relay_flow(ctx, name, &profile, &inputs).await?,
            false => None,
        };
        let authenticator = Arc::new(session::authenticator(&ctx.settings, name, &profile, inputs, None).await?);
        let session = current(&ctx.settings, name, &profile, &authenticator).await;
        ops::record(&ctx.settings, Action::Token, name, profile.provider(), "cli:exec", session.as_deref())?;
        let session = session?;
        let proxy = match args.proxy {
            true => Some(
                proxy::builder(ctx, name, &profile, Arc::clone(&authenticator), relay, "twofa exec")
                    .listen_tcp(([127, 0, 0, 1], 0).into())
                    .await
                    .map_err(Failure::usage_error)?,
            ),
            false => None,
        };
        profiles.push(Profiled { name: name.clone(), prefix, config: profile, authenticator, session, proxy });
    }
    let headers_file = args.headers_file.as_deref();
    if let Some(path) = headers_file {
        write_headers_file(path, &profiles)?;
    }
    let renews = headers_file.is_some() || args.restart_on_renew;
    let outcome = supervise(ctx, &args, &mut profiles, renews).await;
    if let Some(path) = headers_file {
        // The tokens die with the run: leave no live-looking file behind.
        let _ = private_fs::remove(path);
    }
    for proxy in profiles.into_iter().filter_map(|p| p.proxy) {
        proxy.shutdown().await;
    }
    outcome
}

/// Runs the command until it exits, forwarding signals and renewing as `args` asks.
async fn supervise(
    ctx: &Context,
    args: &ExecArgs,
    profiles: &mut [Profiled],
    renews: bool,
) -> Result<ExitCode, Failure> {
    let mut signals = Signals::new()?;
    let mut child = spawn(args, profiles)?;
    let mut next = renews.then(|| next_renewal(profiles));
    loop {
        let renewal = async {
            match next {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            status = child.wait() => {
                let status = status.map_err(|e| Failure::usage(format!("cannot wait for the command: {e}")))?;
                return Ok(ExitCode::from(exit_code(status)));
            }
            signal = signals.recv() => forward(&child, signal),
            () = renewal => {
                let changed = match renew(&ctx.settings, profiles).await {
                    Ok(changed) => changed,
                    Err(e) => {
                        ctx.printer.warn(format_args!(
                            "cannot renew the session ({}); the command keeps its current token, retrying in {} s",
                            Failure::from(e).message,
                            RETRY_AFTER_FAILURE.as_secs()
                        ));
                        next = Some(Instant::now() + RETRY_AFTER_FAILURE);
                        continue;
                    }
                };
                if changed {
                    if let Some(path) = &args.headers_file {
                        write_headers_file(path, profiles)?;
                        if let Some(signal) = args.signal_on_renew {
                            send(&child, renew_signal(signal));
                        }
                    } else if args.restart_on_renew {
                        stop(&mut child, Duration::from_secs(args.stop_timeout)).await;
                        child = spawn(args, profiles)?;
                    }
                }
                next = Some(next_renewal(profiles));
            }
        }
    }
}

/// Starts the command with every profile's variables (and the headers file's path).
fn spawn(args: &ExecArgs, profiles: &[Profiled]) -> Result<Child, Failure> {
    let Some((program, rest)) = args.command.split_first() else {
        return Err(Failure::usage("name the command to run after `--`"));
    };
    let mut command = tokio::process::Command::new(program);
    command.args(rest);
    for profile in profiles {
        let headers = profile.session.header_list()?;
        for (name, value) in contract::variables(&profile.prefix, &profile.name, &profile.session, &headers) {
            command.env(name, value.as_str());
        }
    }
    if let Some(path) = &args.headers_file {
        command.env(HEADERS_FILE_ENV, absolute(path));
    }
    for profile in profiles {
        if let Some(proxy) = &profile.proxy {
            command.env(format!("{}{PROXY_URL_VARIABLE}", profile.prefix), proxy.base_url().expose_secret());
        }
    }
    command.spawn().map_err(|e| {
        let mut failure = Failure::usage(format!("cannot run {}: {e}", Path::new(program).display()));
        failure.code = match e.kind() {
            // As a shell says: 127 for a command not found, 126 for one that cannot run.
            std::io::ErrorKind::NotFound => 127,
            _ => 126,
        };
        failure
    })
}

/// `path` as the command sees it from any directory.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// When the first session needs renewing: its expiry (or idle timeout) less [`RENEW_AHEAD`], and
/// never sooner than [`MIN_WAIT`]; a session that never expires is never renewed.
fn next_renewal(profiles: &[Profiled]) -> Instant {
    let now = OffsetDateTime::now_utc();
    let wait = profiles
        .iter()
        .filter_map(|p| renew_in(&p.session, now))
        .min()
        // Nothing expires: look again in a day, which costs nothing.
        .unwrap_or(Duration::from_secs(86_400));
    Instant::now() + wait.max(MIN_WAIT)
}

/// How long until `session` should be renewed, if it ever expires.
fn renew_in(session: &Session, now: OffsetDateTime) -> Option<Duration> {
    let left = match (session.expires_at(), session.idle_timeout()) {
        (Some(at), _) => Duration::try_from(at - now).unwrap_or_default(),
        // An idle session is renewed (resumed) before it idles out: the command's use of the token
        // is invisible here.
        (None, Some(idle)) => idle,
        (None, None) => return None,
    };
    Some(left.saturating_sub(RENEW_AHEAD))
}

/// Asks each profile's authenticator for its session (renewing those inside the margin); whether
/// any token changed.
async fn renew(settings: &Settings, profiles: &mut [Profiled]) -> Result<bool, Error> {
    let mut changed = false;
    for profile in profiles.iter_mut() {
        let session = current(settings, &profile.name, &profile.config, &profile.authenticator).await?;
        if session.access_token().expose_secret() != profile.session.access_token().expose_secret() {
            changed = true;
        }
        profile.session = session;
    }
    Ok(changed)
}

/// Profile `name`'s session: the one a running `twofa proxy` of it holds (no round trip to the
/// API, no rewrite of the session file), else its authenticator's, renewed if needed.
async fn current(
    settings: &Settings,
    name: &str,
    profile: &Profile,
    authenticator: &Authenticator,
) -> Result<Arc<Session>, Error> {
    match running_proxy::session(settings, name, profile).await {
        Some(session) => Ok(session),
        None => authenticator.session().await,
    }
}

/// Writes the contract of every profile to `path`, 0600, atomically (a reader sees the old file or
/// the new one): one profile's object, or an object of them by name.
fn write_headers_file(path: &Path, profiles: &[Profiled]) -> Result<(), Failure> {
    let object = |p: &Profiled| p.session.header_list().map(|headers| contract::object(&p.name, &p.session, &headers));
    let value = match profiles {
        [one] => object(one)?,
        several => {
            let mut all = serde_json::Map::new();
            for p in several {
                all.insert(p.name.clone(), object(p)?);
            }
            serde_json::Value::Object(all)
        }
    };
    Ok(private_fs::write(path, Zeroizing::new(value.to_string()).as_bytes())?)
}

/// The command's exit code as a shell reports it: its own, or 128 + the signal that killed it.
fn exit_code(status: std::process::ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code & 0xff).unwrap_or(1);
    }
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return u8::try_from(128 + (signal & 0x7f)).unwrap_or(1);
    }
    1
}

/// Stops a command to restart it: SIGTERM, then SIGKILL after `grace`.
async fn stop(child: &mut Child, grace: Duration) {
    send(child, Signal::Term);
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

/// A signal `exec` sends to its command.
#[derive(Debug, Clone, Copy)]
enum Signal {
    Int,
    Term,
    Hup,
    Usr1,
    Usr2,
}

fn renew_signal(signal: RenewSignal) -> Signal {
    match signal {
        RenewSignal::Hup => Signal::Hup,
        RenewSignal::Usr1 => Signal::Usr1,
        RenewSignal::Usr2 => Signal::Usr2,
    }
}

/// Forwards `signal` (when one came) to the command.
fn forward(child: &Child, signal: Option<Signal>) {
    if let Some(signal) = signal {
        send(child, signal);
    }
}

#[cfg(unix)]
fn send(child: &Child, signal: Signal) {
    use rustix::process::{Pid, Signal as S, kill_process};
    let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()).and_then(Pid::from_raw) else { return };
    let signal = match signal {
        Signal::Int => S::INT,
        Signal::Term => S::TERM,
        Signal::Hup => S::HUP,
        Signal::Usr1 => S::USR1,
        Signal::Usr2 => S::USR2,
    };
    // The command may have just exited: nothing to tell it then.
    let _ = kill_process(pid, signal);
}

#[cfg(not(unix))]
fn send(_: &Child, _: Signal) {}

/// The signals `exec` catches to forward: SIGINT, SIGTERM and SIGHUP.
struct Signals {
    #[cfg(unix)]
    handlers: [(tokio::signal::unix::Signal, Signal); 3],
}

impl Signals {
    #[cfg(unix)]
    fn new() -> Result<Self, Failure> {
        use tokio::signal::unix::{SignalKind, signal};
        let handler = |kind: SignalKind| {
            signal(kind).map_err(|e| Failure::usage(format!("cannot catch signals to forward them: {e}")))
        };
        Ok(Self {
            handlers: [
                (handler(SignalKind::interrupt())?, Signal::Int),
                (handler(SignalKind::terminate())?, Signal::Term),
                (handler(SignalKind::hangup())?, Signal::Hup),
            ],
        })
    }

    #[cfg(not(unix))]
    fn new() -> Result<Self, Failure> {
        Ok(Self {})
    }

    /// The next signal caught; `None` when a handler is gone.
    #[cfg(unix)]
    async fn recv(&mut self) -> Option<Signal> {
        let [(int, i), (term, t), (hup, h)] = &mut self.handlers;
        tokio::select! {
            got = int.recv() => got.map(|()| *i),
            got = term.recv() => got.map(|()| *t),
            got = hup.recv() => got.map(|()| *h),
        }
    }

    #[cfg(not(unix))]
    async fn recv(&mut self) -> Option<Signal> {
        std::future::pending().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(expires_in: Option<i64>, idle: Option<u64>) -> Session {
        use twofa_core::{AccessToken, TokenPlacement};
        let now = OffsetDateTime::now_utc();
        let session = Session::new("etna", AccessToken::new("t"), TokenPlacement::Bearer, now)
            .with_expires_at(expires_in.map(|s| now + time::Duration::seconds(s)));
        match idle {
            Some(idle) => session.with_idle_timeout(Duration::from_secs(idle)),
            None => session,
        }
    }

    #[test]
    fn a_session_is_renewed_just_inside_the_authenticators_margin() {
        let now = OffsetDateTime::now_utc();
        let in_an_hour = renew_in(&session(Some(3600), None), now).unwrap();
        assert!((3544..=3545).contains(&in_an_hour.as_secs()), "{in_an_hour:?}");
        assert_eq!(renew_in(&session(None, Some(3600)), now), Some(Duration::from_secs(3545)));
        assert_eq!(renew_in(&session(Some(10), None), now), Some(Duration::ZERO));
        assert_eq!(renew_in(&session(None, None), now), None);
    }

    #[cfg(unix)]
    #[test]
    fn an_exit_status_maps_as_a_shell_reports_it() {
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(3 << 8)), 3);
        // Killed by SIGTERM (15): 143.
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(15)), 143);
    }
}
