//! What a run does on the wire, for `-vv` / `-vvv` and `RIGGER_LOG`: each
//! connection and script (where to, how long, how it ended) and, at the
//! third level, the scripts themselves. Lines go to stderr, every one passed
//! through the run's secrets (`Secrets::redact`); steps that depend on a
//! secret are shown sealed by whoever builds the text (`apply::shown`).

use crate::secret::Secrets;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// How much to tell: 0 nothing, 1 `-v` (skipped resources; the report's
/// business), 2 connections, commands and timings, 3 the scripts too.
static LEVEL: AtomicU8 = AtomicU8::new(0);
static SECRETS: OnceLock<Secrets> = OnceLock::new();

/// The level `RIGGER_LOG` asks for: `info` 1, `debug` 2, `trace` 3 (a number works too).
pub fn env_level(value: Option<&str>) -> u8 {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        Some("info") => 1,
        Some("debug") => 2,
        Some("trace") => 3,
        Some(n) => n.parse::<u8>().map(|n| n.min(3)).unwrap_or(0),
        None => 0,
    }
}

/// Set once at start: the higher of the flags and `RIGGER_LOG`; `secrets`
/// redact every line.
pub fn init(verbose: u8, secrets: &Secrets) {
    let level = verbose.max(env_level(std::env::var("RIGGER_LOG").ok().as_deref())).min(3);
    LEVEL.store(level, Ordering::Relaxed);
    let _ = SECRETS.set(secrets.clone());
}

pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

/// Whether lines of `level` are shown.
pub fn on(level: u8) -> bool {
    self::level() >= level
}

/// One event of `host`, shown at `level` and above.
pub fn event(level: u8, host: &str, what: &str) {
    if !on(level) {
        return;
    }
    let text = SECRETS.get().map(|s| s.redact(what)).unwrap_or_else(|| what.to_string());
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(&format!("[{host}] {line}\n"));
    }
    eprint!("{out}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rigger_log_names_the_levels() {
        assert_eq!(env_level(None), 0);
        assert_eq!(env_level(Some("debug")), 2);
        assert_eq!(env_level(Some("TRACE")), 3);
        assert_eq!(env_level(Some("info")), 1);
        assert_eq!(env_level(Some("9")), 3);
        assert_eq!(env_level(Some("loud")), 0);
    }
}
