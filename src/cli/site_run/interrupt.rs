//! Ctrl-C and SIGTERM during `plan` and `apply`. The first sets the run's
//! [`Interrupt`]: no new unit starts, running ones finish (each is one
//! all-or-nothing script; local ones run in their own process group, so the
//! terminal's Ctrl-C reaches rigger alone), then the recap, exit 130. The
//! second exits at once and names the hosts whose unit may still be running.

use crate::cli::output::Out;
use crate::schedule::Interrupt;
use tokio::signal::unix::{signal, SignalKind};

/// The exit code of an interrupted run: 128 + SIGINT, as a shell reports one.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Catches SIGINT and SIGTERM for the rest of the process (in place of
/// dying at once); an error if they cannot be caught. Needs the runtime.
pub fn listen(interrupt: Interrupt, out: Out) -> std::io::Result<()> {
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        interrupt.trigger();
        let running = interrupt.running();
        let waiting = if running.is_empty() { String::new() } else { format!("; finishing {}", running.join(", ")) };
        out.error(&format!("interrupted: no new unit will start{waiting}. Interrupt again to abort at once."));
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        out.error(&aborted(&interrupt.running()));
        std::process::exit(EXIT_INTERRUPTED);
    });
    Ok(())
}

/// What the second signal says: which hosts may be mid-unit (`role@host` of the units running).
fn aborted(running: &[String]) -> String {
    let mut hosts: Vec<&str> = running.iter().filter_map(|u| u.rsplit_once('@').map(|(_, h)| h)).collect();
    hosts.dedup();
    if hosts.is_empty() {
        return "aborted: no unit was running".into();
    }
    format!(
        "aborted: {} may be mid-unit (its script runs on there: {}); the next run converges",
        hosts.join(", "),
        running.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_abort_names_the_hosts_that_may_be_mid_unit() {
        assert_eq!(aborted(&[]), "aborted: no unit was running");
        assert_eq!(
            aborted(&["app@web1".into(), "db@db1".into()]),
            "aborted: web1, db1 may be mid-unit (its script runs on there: app@web1, db@db1); the next run converges"
        );
    }
}
