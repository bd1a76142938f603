//! A host session: one connection (`transport`) and the wire protocol spoken
//! over it — the probe script and its parsing (`probe`), the apply script
//! and its parsing (`apply`), health checks — each a POSIX sh script sent on
//! stdin, one round trip, its answer delimited by a marker unique to the run.

pub mod apply;
pub mod lock;
pub mod probe;
pub mod transport;

use crate::plan::UnitPlan;
use probe::{HostState, ProbeError, Query};
use std::collections::BTreeSet;
use transport::{ConnectOptions, Connection, Target, TransportError};

/// Why a script's answer could not be had or used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    /// ssh (or the local sh) failed; its own words.
    #[error(transparent)]
    Transport(TransportError),
    /// `sudo -n` refused before the script ran.
    #[error("become failed: {stderr}")]
    Become { stderr: String },
    #[error("probe failed: {source}{}", if .stderr.is_empty() { String::new() } else { format!(": {}", .stderr) })]
    Probe { source: ProbeError, stderr: String },
}

/// A check command that did not exit 0 (`None`: killed by a signal).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("exit {code:?}: {stderr}")]
pub struct CheckFailed {
    pub code: Option<i32>,
    pub stderr: String,
}

/// What running a unit's apply script told.
#[derive(Debug)]
pub struct Applied {
    pub result: apply::ApplyResult,
    /// What the host's sh said on stderr (why a script was cut short).
    pub stderr: String,
}

pub struct Session {
    conn: Connection,
}

impl Session {
    pub async fn open(target: &Target, opts: &ConnectOptions) -> Result<Self, SessionError> {
        Connection::open(target, opts).await.map(|conn| Session { conn }).map_err(SessionError::Transport)
    }

    /// Scripts run so far on this host.
    pub fn round_trips(&self) -> usize {
        self.conn.round_trips()
    }

    /// Asks every query (and the facts, when wanted) in one round trip.
    pub async fn probe(&self, queries: &BTreeSet<Query>, facts: bool) -> Result<HostState, SessionError> {
        let m = marker();
        let out = self.conn.run(&probe::script(queries, facts, &m)).await.map_err(SessionError::Transport)?;
        probe::parse(queries, &out.stdout, &m).map_err(|source| {
            let stderr = out.stderr.trim().to_string();
            // No marker at all: the script never started, so sudo refused it.
            if self.conn.target.become_ && !out.stdout.contains(&m) {
                SessionError::Become { stderr }
            } else {
                SessionError::Probe { source, stderr }
            }
        })
    }

    /// Runs a unit's planned steps and handlers in one round trip.
    pub async fn apply(&self, role: &str, plan: &UnitPlan) -> Result<Applied, SessionError> {
        let m = marker();
        let out = self.conn.run(&apply::script(role, plan, &m)).await.map_err(SessionError::Transport)?;
        Ok(Applied { result: apply::parse(&out.stdout, &m), stderr: out.stderr.trim().to_string() })
    }

    /// Runs a read-only check command: `Ok` when it exits 0, else how it failed.
    pub async fn check(&self, cmd: &str) -> Result<Result<(), CheckFailed>, SessionError> {
        let out = self
            .conn
            .run(&format!("sh -c {} </dev/null\n", crate::shell::quote(cmd)))
            .await
            .map_err(SessionError::Transport)?;
        Ok(if out.code == Some(0) {
            Ok(())
        } else {
            Err(CheckFailed { code: out.code, stderr: out.stderr.trim().into() })
        })
    }

    pub async fn close(self) {
        self.conn.close().await
    }
}

/// A line no script or file prints by chance: the time and the process id.
fn marker() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("@@rigger-{:x}-{}@@", nanos, std::process::id())
}
