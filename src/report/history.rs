//! Run history: every `plan` and `apply` records its report — what ran
//! where, when, the outcome, per-resource changes with diffs sealed — as
//! one JSON file in `.rigger/runs/` beside the inventory, so `rigger runs`
//! answers "what changed, where, when" without scrolling job logs, and
//! `runs diff` tells two runs apart per host and resource.

use super::group::Group;
use super::run::{unix, RunReport};
use super::svg::Sketch;
use crate::secret::Secrets;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why the history could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("run history {}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("run history {}: not a recorded run: {source}", .path.display())]
    Corrupt { path: PathBuf, source: serde_json::Error },
    #[error("no recorded run {id:?} in {} (`rigger runs` lists them)", .dir.display())]
    Unknown { id: String, dir: PathBuf },
    #[error("run {id:?} is ambiguous in {}: {}", .dir.display(), .matches.join(", "))]
    Ambiguous { id: String, dir: PathBuf, matches: Vec<String> },
}

/// One recorded run: its report as `--json` printed it, and what the HTML
/// report needs to draw it again (its groups, its dependency graph).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// Seconds since the Unix epoch.
    pub started_at: f64,
    pub inventory: String,
    pub site: String,
    #[serde(flatten)]
    pub report: RunReport,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub graph: Sketch,
}

/// A run's line in `rigger runs`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: String,
    pub started_at: f64,
    /// UTC, `2025-01-31 12:00:00`.
    pub time: String,
    pub command: String,
    pub hosts: usize,
    pub changed: usize,
    pub failed: usize,
    pub seconds: f64,
}

impl Record {
    pub fn summary(&self) -> Summary {
        let h = &self.report.hosts;
        Summary {
            id: self.id.clone(),
            started_at: self.started_at,
            time: utc(self.started_at),
            command: self.report.command.clone(),
            hosts: h.len(),
            changed: h.iter().filter(|h| h.counts.changed > 0).count(),
            failed: h.iter().filter(|h| h.counts.failed > 0 || h.error.is_some()).count(),
            seconds: self.report.seconds,
        }
    }
}

/// A new id for a run started at `started_at`: its UTC time and command,
/// sortable as text, made unique in `dir` with a counter.
pub fn new_id(dir: &Path, started_at: f64, command: &str) -> String {
    let base = format!("{}-{command}", utc(started_at).replace(['-', ':'], "").replace(' ', "-"));
    (1..)
        .map(|n| if n == 1 { base.clone() } else { format!("{base}-{n}") })
        .find(|id| !file(dir, id).exists())
        .unwrap_or(base)
}

fn file(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.json"))
}

/// Writes `record` to `dir` (whole or not at all), sealed: every value the
/// run knew as secret is replaced in the value tree, as `--json` does.
pub fn write(dir: &Path, record: &Record, secrets: &Secrets) -> Result<PathBuf, HistoryError> {
    let io = |source| HistoryError::Io { path: dir.to_path_buf(), source };
    std::fs::create_dir_all(dir).map_err(io)?;
    if let Some(parent) = dir.parent().filter(|p| p.file_name().is_some_and(|n| n == ".rigger")) {
        let ignore = parent.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, "# rigger's caches: per machine, not for version control\n*\n").map_err(io)?;
        }
    }
    let mut value = serde_json::to_value(record).unwrap_or_default();
    secrets.seal_json(&mut value);
    let text = serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(text.as_bytes()).map_err(io)?;
    let path = file(dir, &record.id);
    tmp.persist(&path).map_err(|e| io(e.error))?;
    Ok(path)
}

/// Every recorded run in `dir`, oldest first; no folder is no runs.
pub fn list(dir: &Path) -> Result<Vec<Record>, HistoryError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(source) => return Err(HistoryError::Io { path: dir.to_path_buf(), source }),
    };
    let mut runs = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_some_and(|x| x == "json") {
            runs.push(read_file(&path)?);
        }
    }
    runs.sort_by(|a, b| a.started_at.total_cmp(&b.started_at).then_with(|| a.id.cmp(&b.id)));
    Ok(runs)
}

fn read_file(path: &Path) -> Result<Record, HistoryError> {
    let text = std::fs::read_to_string(path).map_err(|source| HistoryError::Io { path: path.into(), source })?;
    serde_json::from_str(&text).map_err(|source| HistoryError::Corrupt { path: path.into(), source })
}

/// The run `id` names: an id, a unique prefix of one, `last`, or `last~N` (N runs before it).
pub fn find(dir: &Path, id: &str) -> Result<Record, HistoryError> {
    let runs = list(dir)?;
    let unknown = || HistoryError::Unknown { id: id.into(), dir: dir.into() };
    if let Some(back) = id.strip_prefix("last") {
        let n: usize = if back.is_empty() {
            0
        } else {
            back.strip_prefix('~').and_then(|n| n.parse().ok()).ok_or_else(unknown)?
        };
        return runs.len().checked_sub(n + 1).map(|i| runs[i].clone()).ok_or_else(unknown);
    }
    if let Some(r) = runs.iter().find(|r| r.id == id) {
        return Ok(r.clone());
    }
    let matches: Vec<&Record> = runs.iter().filter(|r| r.id.starts_with(id)).collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(unknown()),
        many => Err(HistoryError::Ambiguous {
            id: id.into(),
            dir: dir.into(),
            matches: many.iter().map(|r| r.id.clone()).collect(),
        }),
    }
}

/// What one resource (or a unit, or a host) looked like in a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Seen {
    pub status: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diffs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One thing that differs between two runs: `before` in the first, `after` in the second.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    pub host: String,
    /// `role` for a unit, `role: resource` for a resource, empty for the host itself.
    pub what: String,
    pub before: Option<Seen>,
    pub after: Option<Seen>,
}

/// Per host and resource, what differs between runs `a` and `b` (both already sealed).
pub fn diff(a: &Record, b: &Record) -> Vec<Difference> {
    let (before, after) = (inventory_of(a), inventory_of(b));
    let mut keys: Vec<&(String, String)> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| Difference {
            host: k.0.clone(),
            what: k.1.clone(),
            before: before.get(k).cloned(),
            after: after.get(k).cloned(),
        })
        .collect()
}

/// (host, what) → how it was, for every host, unit and resource of a run.
fn inventory_of(r: &Record) -> BTreeMap<(String, String), Seen> {
    let mut out = BTreeMap::new();
    let word = |s: crate::plan::Status| {
        serde_json::to_value(s).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
    };
    for h in &r.report.hosts {
        let status = if h.error.is_some() { "unreachable" } else { "reached" };
        let seen = Seen { status: status.into(), actions: vec![], diffs: vec![], message: h.error.clone() };
        out.insert((h.host.clone(), String::new()), seen);
        for u in &h.units {
            let seen = Seen { status: word(u.status), actions: vec![], diffs: vec![], message: u.message.clone() };
            out.insert((h.host.clone(), u.role.clone()), seen);
            for res in &u.resources {
                let seen = Seen {
                    status: word(res.status),
                    actions: res.steps.iter().map(|s| s.action.clone()).collect(),
                    diffs: res.steps.iter().filter_map(|s| s.diff.clone()).collect(),
                    message: res.message.clone(),
                };
                out.insert((h.host.clone(), format!("{}: {}", u.role, res.resource)), seen);
            }
        }
    }
    out
}

/// `2025-01-31 12:00:00` (UTC) from seconds since the epoch.
pub fn utc(t: f64) -> String {
    let secs = t.max(0.0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Now, in seconds since the epoch.
pub fn now() -> f64 {
    unix(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_are_civil() {
        assert_eq!(utc(0.0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400.0), "2000-02-29 00:00:00");
        assert_eq!(utc(1_735_689_599.0), "2024-12-31 23:59:59");
    }
}
