//! `twofa proxy`: a local reverse proxy to one profile's API that adds the session's headers, so
//! a client in any language changes only its base URL (see `docs/proxy.md`).

use std::{path::PathBuf, sync::Arc, time::Duration};

use twofa_core::{Authenticator, http::HttpOptions};
use twofa_oms::OmsFlow;
use twofa_proxy::{Proxy, ProxyBuilder, RunningProxy};

use super::Context;
use crate::{
    args::ProxyArgs,
    link_file, ops,
    output::{Failure, Printer},
    profile::Profile,
    running_proxy,
    session::{self, Inputs},
};

/// `twofa proxy`: serves until SIGINT or SIGTERM, then finishes the requests in flight.
pub async fn run(ctx: &Context, args: ProxyArgs) -> Result<(), Failure> {
    let name = &args.profile;
    let profile = ctx.profile(name)?;
    let inputs = Inputs::from_profile(name, &profile);
    let relay = relay_flow(ctx, name, &profile, &inputs).await?;
    let auth = Arc::new(session::authenticator(&ctx.settings, name, &profile, inputs, None).await?);
    let owner = twofa_proxy::random_token();
    let builder = builder(ctx, name, &profile, auth, relay, "twofa proxy")
        .code_wait(Duration::from_secs(args.code_wait))
        .owner_token(owner.clone());
    let proxy = match &args.unix {
        Some(path) => builder.listen_unix(path).await,
        None => builder.listen_tcp(args.listen).await,
    }
    .map_err(Failure::usage_error)?;
    // `twofa token` of this profile asks the proxy meanwhile (TCP only: it speaks no Unix socket).
    let noted =
        proxy.local_addr().is_some() && running_proxy::write(&ctx.settings, name, proxy.base_url(), &owner).is_ok();
    let written = announce(ctx.printer, &proxy, &args).inspect_err(|_| {
        if noted {
            running_proxy::remove(&ctx.settings, name);
        }
    })?;
    stopped().await;
    if noted {
        running_proxy::remove(&ctx.settings, name);
    }
    ctx.printer.line(format_args!("stopping: finishing the requests in flight"));
    proxy.shutdown().await;
    if let Some(path) = written {
        // The access token dies with the proxy: leave no live-looking URL behind.
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// The flow the proxy's WebSocket relay logs its gateway socket in with: an OMS profile's.
pub(super) async fn relay_flow(
    ctx: &Context,
    name: &str,
    profile: &Profile,
    inputs: &Inputs,
) -> Result<Option<Arc<OmsFlow>>, Failure> {
    match session::oms_relay_flow(&ctx.settings, name, profile, Arc::clone(&inputs.password)).await {
        Some(flow) => Ok(Some(flow.map_err(Failure::usage_error)?)),
        None => Ok(None),
    }
}

/// A proxy to `profile`'s API over `auth` (and, with `relay`, to its OMS WebSocket gateway), whose
/// code prompts show in the terminal running `command` (`twofa proxy`, `twofa exec`), counting in
/// the process's metrics and writing an audit line (actor `proxy`) for each session it takes into use.
pub(super) fn builder(
    ctx: &Context,
    name: &str,
    profile: &Profile,
    auth: Arc<Authenticator>,
    relay: Option<Arc<OmsFlow>>,
    command: &str,
) -> ProxyBuilder {
    let builder = Proxy::builder(auth, profile.http_origin())
        .http_options(
            HttpOptions::default().timeout(ctx.settings.timeout).allow_insecure_http(profile.allow_insecure_http),
        )
        .code_where(format!("the terminal running `{command} --profile {name}`"))
        .metrics(ops::metrics());
    let builder = match relay {
        Some(flow) => builder.oms_gateway(flow),
        None => builder,
    };
    // Opened already by `observe` for the commands that run a proxy (an error stopped them there).
    match ops::audit(&ctx.settings).ok().flatten() {
        Some(log) => builder.audit(log),
        None => builder,
    }
}

/// Prints (or writes to `--url-file`) the base URL clients use; returns the file written.
fn announce(printer: Printer, proxy: &RunningProxy, args: &ProxyArgs) -> Result<Option<PathBuf>, Failure> {
    let url = proxy.base_url().expose_secret();
    let written = match (&args.url_file, proxy.socket_path()) {
        (Some(path), _) => {
            link_file::create(path, "the URL file", url).map_err(Failure::usage_error)?;
            printer.line(format_args!(
                "twofa proxy: {} for profile {} (the base URL is in {}, mode 0600)",
                listening_on(proxy),
                args.profile,
                path.display()
            ));
            Some(path.clone())
        }
        (None, Some(_)) => {
            printer.line(format_args!("twofa proxy: {} for profile {}", listening_on(proxy), args.profile));
            None
        }
        (None, None) => {
            printer.line(format_args!("twofa proxy: {url}"));
            printer.line(format_args!(
                "  The base URL for profile {}: it holds the proxy's access token, so hand it only to your clients.",
                args.profile
            ));
            None
        }
    };
    printer.line(format_args!("  Ctrl-C (or SIGTERM) stops the proxy once the requests in flight are answered."));
    Ok(written)
}

/// Where the proxy listens, without its access token.
fn listening_on(proxy: &RunningProxy) -> String {
    match (proxy.local_addr(), proxy.socket_path()) {
        (Some(addr), _) => format!("http://{addr}/"),
        (None, Some(path)) => format!("the Unix socket {}", path.display()),
        (None, None) => "an unknown address".to_owned(),
    }
}

/// Until SIGINT or SIGTERM (Ctrl-C only, where there is no SIGTERM).
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
