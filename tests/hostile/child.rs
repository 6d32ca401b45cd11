//! Runs one ignored test of this binary in a child process: for attacks that need their own
//! environment variables (`std::env::set_var` is unsafe, and unsafe code is forbidden) or their own
//! memory measurement (the other tests share this process).

use std::process::{Command, Output};

/// Runs the ignored test `name` (its full path, e.g. `proxy::child`) alone, with `env` added and
/// the proxy exclusions of the caller's environment removed.
pub fn run(name: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = Command::new(exe);
    command.args([name, "--exact", "--ignored", "--nocapture", "--test-threads=1"]);
    for var in ["NO_PROXY", "no_proxy", "REQUEST_METHOD"] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    command.output().expect("the child test runs")
}

/// The child's output, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A line of `/proc/self/status` in bytes (e.g. `VmRSS`, `VmHWM`); 0 where there is none.
pub fn proc_status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
