//! The flags `plan` and `apply` share for what a run leaves behind: grouped
//! output, the run history, JUnit and HTML reports. One clap struct,
//! flattened into both commands.

use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone, Default)]
pub struct ReportArgs {
    /// Print every host's changes apart, even when several hosts have the same change.
    #[arg(long)]
    pub no_group: bool,
    /// Do not record this run in the run history (`rigger runs`).
    #[arg(long)]
    pub no_record: bool,
    /// Where runs are recorded (default: `.rigger/runs/` beside the inventory).
    #[arg(long, value_name = "DIR", env = "RIGGER_RUNS_DIR")]
    pub runs_dir: Option<PathBuf>,
    /// Also write the run as JUnit XML to FILE (one testcase per host and unit; under `plan`, pending changes fail).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write a self-contained HTML report to FILE: failures, grouped diffs, per-host timeline, dependency graph.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}
