//! `twofa sandbox`: its `--variant KEY=VALUE` and `--help` come from the sandbox's one table of
//! variants, and its banner lists every demo account, the locked ones too (issue 26 item 1).
#![cfg(feature = "sandbox")]

use std::{
    io::{BufRead as _, BufReader},
    process::Stdio,
};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use twofa_sandbox::{oms, onlineordering, variants::KNOBS};

use crate::common::{env, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_lists_every_variant_and_its_values() {
    let e = env().await;
    let out = e.run(&["sandbox", "--help"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let help = text(&out.stdout);
    assert!(help.contains("--variant <KEY=VALUE>"), "{help}");
    for knob in KNOBS {
        let line = format!("{}  ", knob.key);
        let listed = help.lines().find(|l| l.trim_start().starts_with(&line)).unwrap_or_else(|| panic!("{help}"));
        assert!(listed.ends_with(&knob.values.join(" | ")), "{listed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_variant_is_a_usage_error_naming_the_valid_ones() {
    let e = env().await;
    let out = e.run(&["sandbox", "--variant", "oms.userid=number"]).await;
    assert_eq!(out.status.code(), Some(2));
    let keys = KNOBS.iter().map(|k| k.key).collect::<Vec<_>>().join(", ");
    assert!(
        text(&out.stderr).contains(&format!("unknown variant `oms.userid`; the keys are: {keys}")),
        "{}",
        text(&out.stderr)
    );
    let out = e.run(&["sandbox", "--variant", "oms.user-id=int"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("`int` is not a value of `oms.user-id`; it takes: string|number"),
        "{}",
        text(&out.stderr)
    );
}

/// The banner, up to the line after which it prints codes, and the HTTP address it listens on.
fn banner(child: &mut std::process::Child) -> String {
    let stdout = child.stdout.take().unwrap();
    let mut banner = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if line.starts_with("Codes sent by email/SMS appear here") {
            break;
        }
    }
    banner
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_banner_lists_every_account_and_the_variants_take_effect() {
    let e = env().await;
    let mut cmd = e.command(&["sandbox", "--variant", "oms.ping=string"]);
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let shown = tokio::task::spawn_blocking(move || (banner(&mut child), child)).await.unwrap();
    let (shown, mut child) = shown;
    for account in [
        oms::USER_TOTP,
        oms::USER_ENROLLING,
        oms::USER_NO_2FA,
        oms::USER_LOCKED,
        onlineordering::CUSTOMER_EMAIL_2FA,
        onlineordering::CUSTOMER_TOTP,
        onlineordering::CUSTOMER_NO_2FA,
        onlineordering::CUSTOMER_LOCKED,
        "alice",
        "bob",
        "carol",
        "dave",
        "erin",
        "frank",
    ] {
        assert!(shown.contains(account), "{account} missing from:\n{shown}");
    }
    assert!(shown.contains(&format!("{} (locked)", oms::USER_LOCKED)), "{shown}");
    assert!(shown.contains(&format!("{} (locked)", onlineordering::CUSTOMER_LOCKED)), "{shown}");
    assert!(shown.contains("Variants: oms.ping=string\n"), "{shown}");
    let addr = shown
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_digit()).to_owned())
        .unwrap_or_else(|| panic!("{shown}"));
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream.write_all(b"GET /AP/Ping HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("\r\n\r\n\"PONG\""), "{reply}");
}
