//! What a `plan` or `apply` leaves behind besides its output: the run's
//! record in the history (unless `--no-record`), `--junit FILE` and
//! `--report FILE.html`. Everything is sealed first, once: the record is
//! turned into JSON, every secret the run knew is replaced in the value
//! tree, and the files are made from that sealed copy only.

use crate::cli::output::Out;
use crate::cli::report_args::ReportArgs;
use crate::report::group::Group;
use crate::report::history::{self, Record};
use crate::report::svg::Sketch;
use crate::report::{html, junit, RunReport};
use std::path::{Path, PathBuf};

/// What the run knows of itself beyond its report: set once the project is loaded.
pub struct Context {
    pub runs_dir: PathBuf,
    pub inventory: String,
    pub site: String,
    pub sketch: Sketch,
    pub started_at: f64,
}

/// Records the run and writes the files asked for; false (said on stderr)
/// when a file asked for could not be written. A history that cannot be
/// written is a warning: the run itself is done.
pub fn write(args: &ReportArgs, ctx: &Context, out: &Out, report: &RunReport, groups: &[Group]) -> bool {
    let record = Record {
        id: history::new_id(&ctx.runs_dir, ctx.started_at, &report.command),
        started_at: ctx.started_at,
        inventory: ctx.inventory.clone(),
        site: ctx.site.clone(),
        report: report.clone(),
        groups: groups.to_vec(),
        graph: ctx.sketch.clone(),
    };
    let mut value = serde_json::to_value(&record).unwrap_or_default();
    out.secrets.seal_json(&mut value);
    let Ok(sealed) = serde_json::from_value::<Record>(value) else {
        out.error("the run's report could not be sealed; no history, JUnit or HTML written");
        return false;
    };
    if !args.no_record {
        // Silent, like the fact cache: `rigger runs` finds it, and the run's own output stays the same run to run.
        if let Err(e) = history::write(&ctx.runs_dir, &sealed, &out.secrets) {
            out.warnings(&[format!("{e}; the run was not recorded")]);
        }
    }
    let mut ok = true;
    if let Some(path) = &args.junit {
        ok &= save(out, path, &junit::render(&sealed.report), "JUnit report");
    }
    if let Some(path) = &args.report {
        ok &= save(out, path, &html::render(&sealed), "HTML report");
    }
    ok
}

fn save(out: &Out, path: &Path, text: &str, what: &str) -> bool {
    // Text substitution too: a secret's value inside an error message or a label is not a JSON leaf.
    match std::fs::write(path, out.secrets.redact(text)) {
        Ok(()) => true,
        Err(e) => {
            out.error(&format!("{what} not written to {}: {e}", path.display()));
            false
        }
    }
}
