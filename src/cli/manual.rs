//! `completions` and `man`: both generated from the clap definitions in
//! `args`, so they can never drift from the flags rigger really takes.

use super::args::Cli;
use crate::error::{Error, Result};
use std::io::Write;

/// Shell completions for `shell`, on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<i32> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "rigger", &mut std::io::stdout());
    Ok(0)
}

/// The man page (roff), on stdout.
pub fn man() -> Result<i32> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf).map_err(Error::System)?;
    std::io::stdout().write_all(&buf).map_err(Error::System)?;
    Ok(0)
}
