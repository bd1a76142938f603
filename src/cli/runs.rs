//! `rigger runs`: the recorded runs (`report::history`) — a list, one run
//! in full (`show`, `--report FILE.html` draws it again), and what differs
//! between two runs per host and resource (`diff`). `--json` on each.

use super::output::Out;
use crate::error::{Error, Result};
use crate::report::history::{self, Difference, Record, Seen};
use crate::report::{html, Document};
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug, Clone)]
pub enum RunsAction {
    /// One recorded run in full: hosts, units, changes (diffs sealed).
    Show {
        /// A run id (`rigger runs` lists them), a unique prefix of one, `last` or `last~N`.
        id: String,
        /// Also write the run's self-contained HTML report to FILE.
        #[arg(long, value_name = "FILE.html")]
        report: Option<PathBuf>,
    },
    /// What differs between two runs, per host and resource (e.g. drift since the last green apply).
    Diff {
        /// The earlier run (id, prefix, `last`, `last~N`).
        a: String,
        /// The later run.
        b: String,
    },
}

/// Where runs are recorded: `--runs-dir`, else `.rigger/runs/` beside the inventory.
pub fn dir(runs_dir: Option<&Path>, inventory: &Path) -> PathBuf {
    match runs_dir {
        Some(d) => d.to_path_buf(),
        None => crate::project::fact_cache::dir(inventory).with_file_name("runs"),
    }
}

fn load(e: history::HistoryError) -> Error {
    Error::Load(Box::new(e))
}

pub fn run(action: Option<&RunsAction>, dir: &Path, out: &Out) -> Result<i32> {
    match action {
        None => list(dir, out),
        Some(RunsAction::Show { id, report }) => show(dir, id, report.as_deref(), out),
        Some(RunsAction::Diff { a, b }) => diff(dir, a, b, out),
    }
}

fn list(dir: &Path, out: &Out) -> Result<i32> {
    let runs: Vec<_> = history::list(dir).map_err(load)?.iter().map(Record::summary).collect();
    if out.json {
        out.document(&serde_json::json!({ "schema": 1, "command": "runs", "runs": runs }));
        return Ok(0);
    }
    if runs.is_empty() {
        out.human(&format!("no recorded runs in {}\n", dir.display()));
        return Ok(0);
    }
    let width = runs.iter().map(|r| r.id.len()).max().unwrap_or(2);
    let mut text = format!(
        "{:<width$}  {:<19}  {:<7} {:>5} {:>7} {:>6} {:>9}\n",
        "ID", "TIME (UTC)", "COMMAND", "HOSTS", "CHANGED", "FAILED", "DURATION"
    );
    for r in &runs {
        text.push_str(&format!(
            "{:<width$}  {:<19}  {:<7} {:>5} {:>7} {:>6} {:>8.1}s\n",
            r.id, r.time, r.command, r.hosts, r.changed, r.failed, r.seconds
        ));
    }
    out.human(&text);
    Ok(0)
}

fn show(dir: &Path, id: &str, report: Option<&Path>, out: &Out) -> Result<i32> {
    let run = history::find(dir, id).map_err(load)?;
    if let Some(path) = report {
        std::fs::write(path, out.secrets.redact(&html::render(&run))).map_err(Error::System)?;
    }
    if out.json {
        out.document(&serde_json::json!({ "id": run.id, "started_at": run.started_at, "run": Document { report: &run.report, groups: &run.groups } }));
        return Ok(0);
    }
    let s = run.summary();
    out.human(&format!(
        "run {} — {} at {} UTC, {:.1}s: {} host(s), {} changed, {} failed\ninventory {}, site {}\n",
        run.id, s.command, s.time, s.seconds, s.hosts, s.changed, s.failed, run.inventory, run.site
    ));
    let style = out.style;
    out.human(&crate::report::render_grouped(&style, &run.report.hosts, &run.groups, run.report.command == "apply"));
    out.human(&crate::report::recap(&style, &run.report.hosts, run.report.interrupted));
    Ok(0)
}

fn diff(dir: &Path, a: &str, b: &str, out: &Out) -> Result<i32> {
    let (ra, rb) = (history::find(dir, a).map_err(load)?, history::find(dir, b).map_err(load)?);
    let found = history::diff(&ra, &rb);
    if out.json {
        out.document(
            &serde_json::json!({ "schema": 1, "command": "runs diff", "a": ra.id, "b": rb.id, "differences": found }),
        );
        return Ok(0);
    }
    let mut text = format!("{} → {}\n", ra.id, rb.id);
    if found.is_empty() {
        text.push_str("no differences\n");
    }
    for d in &found {
        text.push_str(&line(d));
    }
    out.human(&text);
    Ok(0)
}

fn line(d: &Difference) -> String {
    let seen = |s: &Option<Seen>| match s {
        None => "absent".to_string(),
        Some(s) if s.actions.is_empty() => s.status.clone(),
        Some(s) => format!("{} ({})", s.status, s.actions.join(", ")),
    };
    let what = if d.what.is_empty() { String::new() } else { format!(" {}", d.what) };
    let mut text = format!("  {}{what}: {} → {}\n", d.host, seen(&d.before), seen(&d.after));
    if let Some(after) = &d.after {
        for diff in after.diffs.iter().filter(|x| d.before.as_ref().is_none_or(|b| !b.diffs.contains(x))) {
            text.push_str(&diff.lines().map(|l| format!("      {l}\n")).collect::<String>());
        }
    }
    text
}
