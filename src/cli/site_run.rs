//! `plan` and `apply`: load the project, probe every host (a spinner on a
//! terminal), show the plan, ask, converge the units (a progress bar), then
//! the recap and, under `--json`, the run report. The exit code is decided
//! here: 0 in sync or applied, 1 failed or refused, 2 `plan` found changes.

use super::output::Out;
use super::settings::Settings;
use crate::engine::{Outcome, Phase, Runner};
use crate::error::{Error, Result};
use crate::project::{self as engine, Project};
use crate::report::{self, RunReport};
use crate::saved_plan::SavedPlan;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `plan SITE`: 0 in sync, 2 changes pending, 1 failed. `--out FILE` saves the plan.
pub fn plan(s: &Settings, site: &Path, save_to: Option<&Path>) -> Result<i32> {
    SiteRun::new(s.out.clone(), false, false, save_to).execute(s.project(site), None)
}

/// `apply SITE` or `apply FILE.json` (a plan saved by `plan --out`): 0 applied or in sync, 1 otherwise.
pub fn apply(s: &Settings, site: &Path, yes: bool, saved: Option<SavedPlan>) -> Result<i32> {
    // A saved plan names its own site, inventory and vars; the flags only say
    // how to connect and how many hosts at once.
    let settings = match &saved {
        Some(p) => p.settings(s.connect.clone(), s.forks, s.out.secrets.clone()),
        None => s.project(site),
    };
    SiteRun::new(s.out.clone(), true, yes, None).execute(settings, saved)
}

/// `apply FILE.json`: the plan saved by `plan --out`; any other FILE is a site.
pub fn read_saved(site: &Path) -> Result<Option<SavedPlan>> {
    if site.extension().is_none_or(|e| e != "json") {
        return Ok(None);
    }
    let text = std::fs::read_to_string(site).map_err(|e| Error::io(site, e))?;
    let plan: SavedPlan = serde_json::from_str(&text)
        .map_err(|source| Error::SavedPlanUnreadable { path: site.to_path_buf(), source })?;
    if plan.kind != "rigger-plan" || plan.schema != 1 {
        return Err(Error::SavedPlanKind { path: site.to_path_buf(), kind: plan.kind, schema: plan.schema });
    }
    Ok(Some(plan))
}

/// One `plan` or `apply` invocation: what it was asked and how it prints.
struct SiteRun<'a> {
    out: Out,
    apply: bool,
    /// `--yes`: apply without asking.
    yes: bool,
    save_to: Option<&'a Path>,
    /// On a terminal: a spinner while hosts are probed, a bar while units converge.
    tty: bool,
    started: Instant,
}

impl SiteRun<'_> {
    fn new(out: Out, apply: bool, yes: bool, save_to: Option<&Path>) -> SiteRun<'_> {
        let tty = std::io::stderr().is_terminal() && !out.quiet;
        SiteRun { out, apply, yes, save_to, tty, started: Instant::now() }
    }

    fn execute(&self, settings: engine::Settings, saved: Option<SavedPlan>) -> Result<i32> {
        let project = Project::load(&settings)?;
        self.out.warnings(&project.warnings);
        let rt = tokio::runtime::Runtime::new().map_err(Error::System)?;
        Ok(rt.block_on(self.converge(project, settings, saved)))
    }

    /// Probe and plan; then stop (plan, nothing to do, refused) or apply. The exit code.
    async fn converge(&self, project: Project, settings: engine::Settings, saved: Option<SavedPlan>) -> i32 {
        // Refusals are added to the loading warnings, so the --json report says why nothing happened.
        let mut warnings = project.warnings.clone();
        let forks = settings.forks;
        let units = project.graph.g.node_weights().filter(|n| !matches!(n, crate::graph::Node::Barrier { .. })).count();
        let (project, mut phase) = self.probe(project, settings.clone()).await;
        if let Some(saved) = saved {
            if !self.adopt(&mut phase, &project, saved) {
                phase.close().await;
                return 1;
            }
        }
        let planned = phase.reports(&project);
        self.out.warnings(&planned.warnings);
        warnings.extend(planned.warnings.iter().cloned());
        if !self.save(&phase, &project, &settings) {
            phase.close().await;
            return 1;
        }
        if !self.out.quiet {
            self.out.human(&report::render_units(&self.out.style, &planned.hosts, false, self.out.verbose));
        }
        if !self.apply || planned.failed || planned.changes == 0 {
            let code = self.conclude_unapplied(&planned, &mut warnings);
            phase.close().await;
            return code;
        }
        if !self.yes && !self.confirm(&planned, &mut warnings) {
            phase.close().await;
            return 1;
        }
        let outcome = self.apply_units(phase, project, forks, units).await;
        if !self.out.quiet {
            let failures: Vec<_> =
                outcome.hosts.iter().filter(|h| h.counts.failed > 0 || h.error.is_some()).cloned().collect();
            self.out.human(&report::render_units(&self.out.style, &failures, true, false));
        }
        self.out.warnings(&outcome.warnings);
        warnings.extend(outcome.warnings.iter().cloned());
        self.report(&outcome, &warnings);
        if outcome.failed {
            1
        } else {
            0
        }
    }

    /// Connects to and probes every host, then plans every unit.
    async fn probe(&self, project: Project, settings: engine::Settings) -> (Arc<Project>, Phase) {
        let spinner = self.tty.then(|| {
            let pb = ProgressBar::new_spinner().with_message(format!("probing {} host(s)…", project.hosts().len()));
            pb.enable_steady_tick(Duration::from_millis(100));
            pb
        });
        let planned = Runner { project, settings }.plan().await;
        if let Some(pb) = spinner {
            pb.finish_and_clear();
        }
        planned
    }

    /// `apply FILE.json`: take the saved steps, or refuse them if any host changed since.
    fn adopt(&self, phase: &mut Phase, project: &Project, saved: SavedPlan) -> bool {
        let Err(stale) = phase.adopt(project, saved) else {
            return true;
        };
        self.out.error("the saved plan is stale; nothing was applied. Run `rigger plan --out` again.");
        for s in stale {
            self.out.eprint(&format!("  {s}\n"));
        }
        false
    }

    /// `plan --out FILE`: save the plan and what each host looked like; false if it cannot be written.
    fn save(&self, phase: &Phase, project: &Project, settings: &engine::Settings) -> bool {
        let Some(path) = self.save_to else {
            return true;
        };
        let doc = serde_json::to_string_pretty(&phase.save(project, settings)).unwrap_or_default();
        if let Err(e) = std::fs::write(path, doc) {
            self.out.error(&format!("cannot write {}: {e}", path.display()));
            return false;
        }
        true
    }

    /// Ends a run that applies nothing: a plan, an apply with nothing to do, or one that failed to plan.
    fn conclude_unapplied(&self, planned: &Outcome, warnings: &mut Vec<String>) -> i32 {
        if self.apply && planned.failed {
            warnings.push("nothing was applied: fix the errors above first".into());
            self.out.error("nothing was applied: fix the errors above first");
        } else if planned.changes == 0 && !planned.failed {
            self.out.info("no changes: every host is in sync\n");
        }
        self.report(planned, warnings);
        if planned.failed {
            1
        } else if planned.changes > 0 {
            2
        } else {
            0
        }
    }

    /// Without `--yes`, only a terminal that answers `y` lets the run apply.
    fn confirm(&self, planned: &Outcome, warnings: &mut Vec<String>) -> bool {
        if !std::io::stdin().is_terminal() {
            let why = format!(
                "refusing to apply {} change(s) without confirmation: stdin is not a terminal (pass --yes)",
                planned.changes
            );
            self.refuse(&why, planned, warnings);
            return false;
        }
        self.out.eprint(&format!("Apply {} change(s)? [y/N] ", planned.changes));
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            self.refuse("aborted: nothing was changed", planned, warnings);
            return false;
        }
        true
    }

    /// Refused or declined: nothing applied, but `--json` still gets its document.
    fn refuse(&self, why: &str, planned: &Outcome, warnings: &mut Vec<String>) {
        self.out.error(why);
        warnings.push(why.to_string());
        let outcome = Outcome {
            hosts: planned.hosts.clone(),
            changes: planned.changes,
            failed: true,
            aborted: true,
            warnings: vec![],
        };
        self.report(&outcome, warnings);
    }

    /// Converges the units, one progress line each (above the bar on a terminal).
    async fn apply_units(&self, phase: Phase, project: Arc<Project>, forks: Option<usize>, units: usize) -> Outcome {
        let bar = self.tty.then(|| progress_bar(units));
        let (out, shown) = (self.out.clone(), bar.clone());
        let outcome = phase.apply(project, forks, move |line| progress(&out, shown.as_ref(), line)).await;
        if let Some(pb) = bar {
            pb.finish_and_clear();
        }
        outcome
    }

    /// The recap, and under `--json` the run report on stdout.
    fn report(&self, outcome: &Outcome, warnings: &[String]) {
        self.out.human(&report::recap(&self.out.style, &outcome.hosts));
        if self.out.json {
            self.out.document(&RunReport {
                schema: 1,
                command: if self.apply { "apply" } else { "plan" }.into(),
                changes_pending: !self.apply && outcome.changes > 0,
                failed: outcome.failed,
                seconds: self.started.elapsed().as_secs_f64(),
                warnings: warnings.to_vec(),
                hosts: outcome.hosts.clone(),
            });
        }
    }
}

fn progress_bar(units: usize) -> ProgressBar {
    let pb = ProgressBar::new(units as u64);
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} units {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.enable_steady_tick(Duration::from_millis(100));
    pb
}

/// One converged unit: advance the bar (its message is the unit's name) and print the line.
fn progress(out: &Out, bar: Option<&ProgressBar>, line: &str) {
    if let Some(pb) = bar {
        pb.inc(1);
        pb.set_message(line.split_whitespace().nth(1).unwrap_or("").to_string());
    }
    if out.quiet {
        return;
    }
    match (bar, out.json) {
        (Some(pb), _) => pb.println(out.secrets.redact(line)),
        (None, true) => out.eprint(&format!("{line}\n")),
        (None, false) => out.print(&format!("{line}\n")),
    }
}
