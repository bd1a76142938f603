//! `plan` and `apply`: load the project, probe every host (a spinner on a
//! terminal), show the plan, ask, converge the units (a progress bar), then
//! the recap and, under `--json`, the run report. The exit code is decided
//! here: 0 in sync or applied, 1 failed or refused, 2 `plan` found changes,
//! 130 interrupted (`interrupt`).

mod artifacts;
mod interrupt;

use super::output::Out;
use super::report_args::ReportArgs;
use super::settings::Settings;
use crate::engine::{Outcome, Phase, Runner};
use crate::error::{Error, Result};
use crate::project::{self as engine, Project};
use crate::report::{self, group, Document, HostReport, RunReport};
use crate::saved_plan::{self, SavedPlan};
use crate::schedule::Interrupt;
use artifacts::Context;
use indicatif::{ProgressBar, ProgressStyle};
use interrupt::EXIT_INTERRUPTED;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// `plan SITE`: 0 in sync, 2 changes pending, 1 failed. `--out FILE` saves the plan.
pub fn plan(s: &Settings, site: &Path, save_to: Option<&Path>, report: &ReportArgs) -> Result<i32> {
    SiteRun::new(s.out.clone(), false, false, save_to, report).execute(s.project(site), None)
}

/// `apply SITE` or `apply FILE.json` (a plan saved by `plan --out`): 0 applied or in sync, 1 otherwise.
pub fn apply(s: &Settings, site: &Path, yes: bool, saved: Option<SavedPlan>, report: &ReportArgs) -> Result<i32> {
    // A saved plan names its own site, inventory and vars; the flags only say
    // how to connect and how many hosts at once.
    let settings = match &saved {
        Some(p) => p.settings(s.connect.clone(), s.forks, s.out.secrets.clone()),
        None => s.project(site),
    };
    SiteRun::new(s.out.clone(), true, yes, None, report).execute(settings, saved)
}

/// `apply FILE.json`: the plan saved by `plan --out`, its seal checked
/// before anything uses it; any other FILE is a site.
pub fn read_saved(site: &Path) -> Result<Option<SavedPlan>> {
    if site.extension().is_none_or(|e| e != "json") {
        return Ok(None);
    }
    Ok(Some(saved_plan::read_for_user(site)?))
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
    /// `--no-group`, `--junit`, `--report`, the run history.
    artifacts: &'a ReportArgs,
    /// Set once the project is loaded.
    context: OnceLock<Context>,
}

impl<'a> SiteRun<'a> {
    fn new(out: Out, apply: bool, yes: bool, save_to: Option<&'a Path>, artifacts: &'a ReportArgs) -> SiteRun<'a> {
        let tty = std::io::stderr().is_terminal() && !out.quiet;
        SiteRun { out, apply, yes, save_to, tty, started: Instant::now(), artifacts, context: OnceLock::new() }
    }

    fn execute(&self, settings: engine::Settings, saved: Option<SavedPlan>) -> Result<i32> {
        let started_at = report::history::now();
        let project = Project::load(&settings)?;
        let _ = self.context.set(Context {
            runs_dir: super::runs::dir(self.artifacts.runs_dir.as_deref(), &settings.inventory),
            inventory: settings.inventory.display().to_string(),
            site: settings.site.display().to_string(),
            sketch: report::svg::Sketch::of(&project.graph),
            started_at,
        });
        self.out.warnings(&project.warnings);
        let rt = tokio::runtime::Runtime::new().map_err(Error::System)?;
        let code = rt.block_on(self.converge(project, settings, saved));
        // A prompt cut short by Ctrl-C leaves a thread reading stdin: do not wait for it.
        rt.shutdown_background();
        Ok(code)
    }

    /// Probe and plan; then stop (plan, nothing to do, refused) or apply. The exit code.
    async fn converge(&self, project: Project, settings: engine::Settings, saved: Option<SavedPlan>) -> i32 {
        // Refusals are added to the loading warnings, so the --json report says why nothing happened.
        let mut warnings = project.warnings.clone();
        let forks = settings.forks;
        let units = project.graph.g.node_weights().filter(|n| !matches!(n, crate::graph::Node::Barrier { .. })).count();
        let interrupt = Interrupt::default();
        if let Err(e) = interrupt::listen(interrupt.clone(), self.out.clone()) {
            self.out.warnings(&[format!("Ctrl-C cannot be caught ({e}): it will stop rigger at once")]);
        }
        let (project, mut phase) = tokio::select! {
            planned = self.probe(project, settings.clone()) => planned,
            _ = interrupt.triggered() => {
                // Probes change nothing, and each lets go of its host's lock itself.
                self.out.error("interrupted while probing: nothing was applied");
                return EXIT_INTERRUPTED;
            }
        };
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
            self.out.human(&self.render(&planned.hosts, false, self.out.verbose));
        }
        if !self.apply || planned.failed || planned.changes == 0 {
            let code = self.conclude_unapplied(&planned, &mut warnings);
            phase.close().await;
            return code;
        }
        if !self.yes && !self.confirm(&planned, &mut warnings, &interrupt).await {
            phase.close().await;
            return if interrupt.is_set() { EXIT_INTERRUPTED } else { 1 };
        }
        let outcome = self.apply_units(phase, project, forks, units, &interrupt).await;
        if !self.out.quiet {
            let failures: Vec<_> =
                outcome.hosts.iter().filter(|h| h.counts.failed > 0 || h.error.is_some()).cloned().collect();
            self.out.human(&self.render(&failures, true, false));
        }
        self.out.warnings(&outcome.warnings);
        warnings.extend(outcome.warnings.iter().cloned());
        let written = self.report(&outcome, &warnings);
        if outcome.interrupted {
            EXIT_INTERRUPTED
        } else if outcome.failed || !written {
            1
        } else {
            0
        }
    }

    /// Hosts' changes as text: identical ones grouped across hosts, unless `--no-group`.
    fn render(&self, hosts: &[HostReport], applied: bool, verbose: bool) -> String {
        if self.artifacts.no_group {
            return report::render_units(&self.out.style, hosts, applied, verbose);
        }
        report::render_grouped(&self.out.style, hosts, &group::groups(hosts, &self.out.secrets, verbose), applied)
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

    /// `plan --out FILE`: save the plan and what each host looked like,
    /// sealed and private; false if it cannot be written.
    fn save(&self, phase: &Phase, project: &Project, settings: &engine::Settings) -> bool {
        let Some(path) = self.save_to else {
            return true;
        };
        let mut plan = phase.save(project, settings);
        // A saved plan applies exactly what it shows; a conditional resource
        // is planned only once the command before it has run.
        if let Some(what) = plan.conditional() {
            self.out.error(&format!(
                "cannot save the plan to {}: {what} reads a registered result known only at apply (it is \
                 `? conditional`); nothing was saved. Run `rigger apply` without a saved plan, or first apply \
                 the command that registers it.",
                path.display()
            ));
            return false;
        }
        // What `show` prints must be safe without the vault: hide secrets now,
        // while loading has told `secrets` which values they are.
        plan.hide_secrets(&self.out.secrets);
        if let Err(e) = saved_plan::write_for_user(path, &plan) {
            self.out.error(&e.to_string());
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
        let written = self.report(planned, warnings);
        if planned.failed || !written {
            1
        } else if planned.changes > 0 {
            2
        } else {
            0
        }
    }

    /// Without `--yes`, only a terminal that answers `y` lets the run apply;
    /// an interrupt at the prompt is a no.
    async fn confirm(&self, planned: &Outcome, warnings: &mut Vec<String>, interrupt: &Interrupt) -> bool {
        if !std::io::stdin().is_terminal() {
            let why = format!(
                "refusing to apply {} change(s) without confirmation: stdin is not a terminal (pass --yes)",
                planned.changes
            );
            self.refuse(&why, planned, warnings);
            return false;
        }
        self.out.eprint(&format!("Apply {} change(s)? [y/N] ", planned.changes));
        let read = tokio::task::spawn_blocking(|| {
            let mut answer = String::new();
            let _ = std::io::stdin().read_line(&mut answer);
            answer
        });
        let answer = tokio::select! {
            answer = read => answer.unwrap_or_default(),
            _ = interrupt.triggered() => String::new(),
        };
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
            interrupted: false,
            warnings: vec![],
            gates: vec![],
        };
        self.report(&outcome, warnings);
    }

    /// Converges the units, one progress line each (above the bar on a terminal).
    async fn apply_units(
        &self,
        phase: Phase,
        project: Arc<Project>,
        forks: Option<usize>,
        units: usize,
        interrupt: &Interrupt,
    ) -> Outcome {
        let bar = self.tty.then(|| progress_bar(units));
        let (out, shown) = (self.out.clone(), bar.clone());
        // The bar names what runs now, per host, not the last unit that ended.
        let ticker = bar.clone().map(|pb| {
            let interrupt = interrupt.clone();
            tokio::spawn(async move {
                loop {
                    pb.set_message(running_now(&interrupt.running()));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
        });
        let outcome = phase.apply(project, forks, move |line| progress(&out, shown.as_ref(), line), interrupt).await;
        if let Some(t) = ticker {
            t.abort();
        }
        if let Some(pb) = bar {
            pb.finish_and_clear();
        }
        outcome
    }

    /// The recap, under `--json` the run report on stdout, and what the run
    /// leaves behind (`artifacts`); false if a file asked for was not written.
    fn report(&self, outcome: &Outcome, warnings: &[String]) -> bool {
        self.out.human(&report::recap(&self.out.style, &outcome.hosts, outcome.interrupted));
        let run = RunReport {
            schema: 1,
            command: if self.apply { "apply" } else { "plan" }.into(),
            changes_pending: !self.apply && outcome.changes > 0,
            failed: outcome.failed,
            interrupted: outcome.interrupted,
            seconds: self.started.elapsed().as_secs_f64(),
            warnings: warnings.to_vec(),
            hosts: outcome.hosts.clone(),
            gates: outcome.gates.clone(),
        };
        let groups = group::groups(&run.hosts, &self.out.secrets, false);
        if self.out.json {
            self.out.document(&Document { report: &run, groups: &groups });
        }
        self.context.get().is_none_or(|ctx| artifacts::write(self.artifacts, ctx, &self.out, &run, &groups))
    }
}

fn progress_bar(units: usize) -> ProgressBar {
    let pb = ProgressBar::new(units as u64);
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} units done {elapsed}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.enable_steady_tick(Duration::from_millis(100));
    pb
}

/// The bar's message: the units running now (`role@host`), the first few.
fn running_now(units: &[String]) -> String {
    const SHOWN: usize = 4;
    match units.len() {
        0 => String::new(),
        n if n <= SHOWN => format!("running: {}", units.join(", ")),
        n => format!("running: {} (+{} more)", units[..SHOWN].join(", "), n - SHOWN),
    }
}

/// One converged unit: advance the bar and print the line.
fn progress(out: &Out, bar: Option<&ProgressBar>, line: &str) {
    if let Some(pb) = bar {
        pb.inc(1);
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

#[cfg(test)]
mod tests {
    use super::running_now;

    #[test]
    fn the_bar_names_what_runs_now() {
        let units = |n: usize| (1..=n).map(|i| format!("web@h{i}")).collect::<Vec<_>>();
        assert_eq!(running_now(&[]), "");
        assert_eq!(running_now(&units(2)), "running: web@h1, web@h2");
        assert_eq!(running_now(&units(6)), "running: web@h1, web@h2, web@h3, web@h4 (+2 more)");
    }
}
