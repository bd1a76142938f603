//! `rigger test`: pick the scenarios, run them on disposable lab hosts,
//! report (recap on stderr, `--json` on stdout, `--junit FILE`); exit 0 when
//! every scenario passed, 1 otherwise.

use super::output::Out;
use crate::error::{Error, Result};
use crate::lab::{self, Image};
use crate::scenario::driver::DriverKind;
use crate::scenario::{self, report, RunOptions};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub struct TestArgs<'a> {
    pub scenarios: &'a [String],
    pub keep: bool,
    pub image: Option<&'a str>,
    /// `--driver`: overrides the scenarios' `driver:`.
    pub driver: Option<&'a str>,
    pub junit: Option<&'a Path>,
    /// None: one scenario per CPU.
    pub jobs: Option<usize>,
    pub project: &'a Path,
}

pub fn run(a: &TestArgs, out: &Out) -> Result<i32> {
    let t0 = Instant::now();
    let image: Option<Image> = a.image.map(|i| i.parse().map_err(Error::usage)).transpose()?;
    let driver: Option<DriverKind> = a.driver.map(|d| d.parse().map_err(Error::usage)).transpose()?;
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let jobs = a.jobs.unwrap_or(cpus);
    if jobs == 0 {
        return Err(Error::usage("-j takes at least 1"));
    }
    // Bad scenarios are found before any host exists, and before the root check.
    let scenarios = scenario::select(&a.project.join("roles"), a.scenarios)?;
    for sc in &scenarios {
        scenario::bindings::check(sc, &a.project.join("roles"))?;
    }
    if scenarios.is_empty() {
        return Err(Error::usage(format!("no scenario in {}/roles/*/tests/", a.project.display())));
    }
    lab::ensure_root("test")?;
    let opts = RunOptions { project: PathBuf::from(a.project), keep: a.keep, image, jobs, driver };
    out.eprint(&format!("rigger test: {} scenario(s), {} at a time\n", scenarios.len(), opts.jobs));
    let progress = |line: &str| eprintln!("  {line}");
    let reports = scenario::run_all(&scenarios, &opts, &progress);
    for r in &reports {
        for p in r.phases.iter().filter(|p| p.status == report::Status::Failed) {
            out.eprint(&format!("\n{} — {} failed:\n{}\n", r.scenario, p.phase.name(), p.message));
        }
    }
    out.eprint("\n");
    for r in &reports {
        out.eprint(&format!("{}\n", r.line()));
    }
    let seconds = t0.elapsed().as_secs_f64();
    if let Some(path) = a.junit {
        std::fs::write(path, report::junit(&reports)).map_err(|e| Error::io(path, e))?;
    }
    if out.json {
        out.document(&report::json(&reports, seconds));
    }
    let failed = reports.iter().filter(|r| !r.passed).count();
    out.eprint(&format!("{} passed, {failed} failed in {seconds:.1} s\n", reports.len() - failed));
    Ok(if failed == 0 { 0 } else { 1 })
}
