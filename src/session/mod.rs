//! A host session: one connection (`transport`) and the wire protocol spoken
//! over it — the probe script and its parsing (`probe`), the apply script
//! and its parsing (`apply`), health checks — each a POSIX sh script sent to
//! the host's open sh, one round trip, its answer delimited by a marker
//! unique to the run.
//! A session given a run lock (`lock`) folds it into its probe and apply
//! scripts.

pub mod apply;
pub mod host_state;
pub mod lock;
pub mod probe;
pub mod shell_channel;
pub mod ssh_args;
pub mod ssh_masters;
pub mod target;
pub mod transport;

use crate::plan::UnitPlan;
use lock::{HostLock, LockError};
use probe::{HostState, ProbeError, Query};
use std::collections::BTreeSet;
use std::sync::Mutex;
use target::Target;
use tokio::task::AbortHandle;
use transport::{ConnectOptions, Connection, TransportError};

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
    /// The run lock keeps this run out, or this run lost it.
    #[error(transparent)]
    Lock(LockError),
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
    /// The answers to the queries asked after the steps (`Session::apply`),
    /// when asked and answered in full.
    pub then: Option<HostState>,
}

pub struct Session {
    conn: Connection,
    lock: Option<HostLock>,
    /// While the lock is held: what keeps the ssh master (its holder) from closing.
    keep_alive: Mutex<Option<AbortHandle>>,
}

impl Session {
    pub async fn open(target: &Target, opts: &ConnectOptions) -> Result<Self, SessionError> {
        Connection::open(target, opts)
            .await
            .map(|conn| Session { conn, lock: None, keep_alive: Mutex::new(None) })
            .map_err(SessionError::Transport)
    }

    /// This session's scripts take, keep and check `lock`.
    pub fn locked(mut self, lock: HostLock) -> Self {
        self.lock = Some(lock);
        self
    }

    /// What the lock had to say since the last call (a stale lock broken, no lock possible).
    pub fn lock_notes(&self) -> Vec<String> {
        self.lock.as_ref().map(HostLock::take_notes).unwrap_or_default()
    }

    /// Reads the lock's lines out of `stdout`; the rest is the script's own answer.
    fn read_lock(&self, stdout: &str, marker: &str) -> Result<String, SessionError> {
        let Some(lock) = &self.lock else { return Ok(stdout.to_string()) };
        let (lines, rest) = lock::split(stdout, marker);
        let read = lock.read(&lines, marker);
        let mut alive = self.keep_alive.lock().unwrap();
        match (lock.held(), alive.is_some()) {
            (true, false) => *alive = self.conn.keep_alive(),
            (false, true) => alive.take().into_iter().for_each(|h| h.abort()),
            _ => {}
        }
        read.map_err(SessionError::Lock)?;
        Ok(rest)
    }

    /// Gives the host's lock back, if this run holds it: one round trip.
    pub async fn release(&self) -> Result<(), SessionError> {
        let m = marker();
        let Some(script) = self.lock.as_ref().and_then(|l| l.release_script(&m, &self.head(""))) else { return Ok(()) };
        let out = self.conn.run(&script).await.map_err(SessionError::Transport)?;
        self.read_lock(&out.stdout, &m).map(drop)
    }

    /// What every script runs first: where rigger's state folder is, then `guard`.
    fn head(&self, guard: &str) -> String {
        let configured = host_state::configured(&self.conn.target);
        format!("{}{guard}", host_state::shell_line(configured.as_deref()))
    }

    /// Scripts run so far on this host.
    pub fn round_trips(&self) -> usize {
        self.conn.round_trips()
    }

    /// Asks every query (and the facts, when wanted) in one round trip; a
    /// second one, taking the lock, when another run applied while it read.
    pub async fn probe(&self, queries: &BTreeSet<Query>, facts: bool) -> Result<HostState, SessionError> {
        match self.probe_once(queries, facts).await {
            Err(SessionError::Lock(LockError::Moved)) => self.probe_once(queries, facts).await,
            answer => answer,
        }
    }

    async fn probe_once(&self, queries: &BTreeSet<Query>, facts: bool) -> Result<HostState, SessionError> {
        let m = marker();
        let guard = self.lock.as_ref().map(|l| l.probe_guard(&m)).unwrap_or_default();
        let script = probe::script_guarded(queries, facts, &m, &self.head(&guard.head), &guard.tail);
        let out = self.conn.run(&script).await.map_err(SessionError::Transport)?;
        let stdout = self.read_lock(&out.stdout, &m)?;
        probe::parse(queries, &stdout, &m).map_err(|source| {
            let stderr = out.stderr.trim().to_string();
            // No marker at all: the script never started, so sudo refused it.
            if self.conn.target.become_ && !out.stdout.contains(&m) {
                let stderr = match self.conn.target.become_password {
                    // `sudo -S -v`'s own words are not shown (they could echo input).
                    Some(_) => format!(
                        "{stderr} (with ansible_become_password: sudo refused the password, or keeps no \
                         credential from one sudo to the next)"
                    ),
                    None => stderr,
                };
                SessionError::Become { stderr }
            } else {
                SessionError::Probe { source, stderr }
            }
        })
    }

    /// Runs a unit's planned steps and handlers in one round trip; with
    /// `release`, the same script gives the host's lock back at its end.
    /// `then` is asked after the steps, in the same script: the host's
    /// state as the next unit will find it, without a probe of its own.
    pub async fn apply(
        &self,
        role: &str,
        plan: &UnitPlan,
        release: bool,
        then: &BTreeSet<Query>,
    ) -> Result<Applied, SessionError> {
        let m = marker();
        let guard = self.lock.as_ref().map(|l| l.apply_guard(&m, release)).unwrap_or_default();
        // Its own marker: the apply's parser and the probe's never read each other's lines.
        let pm = format!("{m}p");
        let tail = match then.is_empty() {
            true => guard.tail,
            false => format!("{}{}", probe::body(then, false, &pm), guard.tail),
        };
        let script = apply::script_guarded(role, plan, &m, &self.head(&guard.head), &tail);
        let shown = match crate::trace::on(3) {
            true => apply::script_guarded(role, &apply::shown(plan), &m, &self.head(&guard.head), &tail),
            false => String::new(),
        };
        let out = self.conn.run_shown(&script, &shown).await.map_err(SessionError::Transport)?;
        let stdout = self.read_lock(&out.stdout, &m)?;
        // Everything from the probe's first section on is the probe's.
        let (ours, asked) = match stdout.find(&format!("\n{pm} ")) {
            Some(at) => stdout.split_at(at + 1),
            None => (stdout.as_str(), ""),
        };
        let then = (!then.is_empty()).then(|| probe::parse(then, asked, &pm).ok()).flatten();
        Ok(Applied { result: apply::parse(ours, &m), stderr: out.stderr.trim().to_string(), then })
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
        if let Some(h) = self.keep_alive.lock().unwrap().take() {
            h.abort();
        }
        self.conn.close().await
    }
}

/// A line no script or file prints by chance: the time and the process id.
fn marker() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("@@rigger-{:x}-{}@@", nanos, std::process::id())
}
