//! `twofa totp`: the current code of a TOTP seed, to check a seed or answer a prompt by hand.

use super::Context;
use crate::{input, output::Failure, profile::secret_env};

/// `twofa totp --secret-env VAR`.
pub fn totp(ctx: &Context, var: &str) -> Result<(), Failure> {
    let value = secret_env(var, "the TOTP seed")?;
    let (code, valid_for) = input::totp(&value)?.current();
    ctx.printer.line(format_args!("{} (valid for {} s)", code.expose_secret(), valid_for.as_secs()));
    Ok(())
}
