//! The report of one run, per host and unit: what `--json` prints, what
//! run history records and what the text, JUnit and HTML renderings read.

use crate::plan::{ResourcePlan, Status};
use serde::{Deserialize, Serialize};

/// The message of a unit (or gate) an interrupt kept from starting.
pub const INTERRUPTED: &str = "interrupted";

/// When a unit ran, in seconds since the Unix epoch: the HTML report's
/// timeline draws every host's units on one time axis from these.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub start: f64,
    pub end: f64,
}

impl Span {
    /// From `started` to now.
    pub fn since(started: std::time::SystemTime) -> Self {
        Span { start: unix(started), end: unix(std::time::SystemTime::now()) }
    }

    /// The same start, `seconds` long.
    pub fn with_length(self, seconds: f64) -> Self {
        Span { start: self.start, end: self.start + seconds }
    }
}

/// Seconds since the Unix epoch (0 for a clock set before it).
pub fn unix(t: std::time::SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnitReport {
    pub role: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub resources: Vec<ResourcePlan>,
    pub handlers: Vec<String>,
    pub seconds: f64,
    /// When it ran (units that ran; a plan's units span their host's probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    pub ok: usize,
    pub changed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Resources that read the result of a command that runs first: known at apply (`plan` only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub conditional: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostReport {
    pub host: String,
    pub reachable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// SSH round trips (remote scripts run) for this host in this run.
    pub round_trips: usize,
    pub seconds: f64,
    pub counts: Counts,
    pub units: Vec<UnitReport>,
    /// When its connection and probe ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<Span>,
}

impl HostReport {
    pub fn new(host: &str) -> Self {
        HostReport {
            host: host.into(),
            reachable: true,
            error: None,
            round_trips: 0,
            seconds: 0.0,
            counts: Counts::default(),
            units: vec![],
            probe: None,
        }
    }

    pub fn recount(&mut self) {
        let mut c = Counts::default();
        for u in &self.units {
            for r in &u.resources {
                match r.status {
                    Status::Ok => c.ok += 1,
                    Status::Changed => c.changed += 1,
                    Status::Failed => c.failed += 1,
                    Status::Skipped => c.skipped += 1,
                    Status::Conditional => c.conditional += 1,
                }
            }
            c.changed += u.handlers.len();
            if u.status == Status::Failed && !u.resources.iter().any(|r| r.status == Status::Failed) {
                c.failed += 1;
            }
        }
        if !self.reachable && c.failed == 0 {
            c.failed = 1;
        }
        self.counts = c;
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// Bumped on any incompatible change to this document.
    pub schema: u32,
    pub command: String,
    pub changes_pending: bool,
    pub failed: bool,
    /// A SIGINT/SIGTERM stopped the apply; only written when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    pub seconds: f64,
    pub warnings: Vec<String>,
    pub hosts: Vec<HostReport>,
    /// The gates of serial bindings (after each batch: its failure budget and
    /// health check), with their spans, for the timeline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<UnitReport>,
}
