//! Command-line interface: raw arguments (`args`) become validated settings
//! (`settings`) once, one command runs, and only its outcome is rendered
//! (`output`). Exit codes: 0 = success and nothing pending, 1 = error,
//! 2 = `plan` found changes.

// First, so the printing macros it defines are in scope for every command.
#[macro_use]
mod output;
mod args;
mod inventory;
mod manual;
mod project;
mod settings;
mod vault;

pub use args::{Cli, Command, Common, VaultAction};
pub use settings::{parse_extra_vars, Settings};

use crate::engine::{Project, Runner};
use crate::error::{Error, Result};
use crate::report::{self, RunReport};
use output::Out;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

/// Runs one invocation; returns its exit code.
pub fn run(cli: Cli) -> i32 {
    let name = cli.command.name();
    let common = cli.command.common();
    crate::secret::configure(common.vault_key.clone());
    let out = settings::output(common);
    dispatch(cli.command, out).unwrap_or_else(|e| out.fail(name, &e))
}

fn dispatch(command: Command, out: Out) -> Result<i32> {
    match command {
        Command::Check { site, out: render_to, common } => {
            project::check(&Settings::new(&common, out)?, &site, render_to.as_deref())
        }
        Command::Graph { site, dot, common } => project::graph(&Settings::new(&common, out)?, &site, dot),
        Command::Plan { site, out: save_to, common } => {
            run_site(&Settings::new(&common, out)?, &site, false, false, save_to.as_deref(), None)
        }
        Command::Apply { site, yes, common } => {
            // A saved plan is read first: it, not the flags, names the site, inventory and vars.
            let saved = read_saved(&site)?;
            run_site(&Settings::new(&common, out)?, &site, true, yes, None, saved)
        }
        Command::Facts { host, offline, common } => inventory::facts(&Settings::new(&common, out)?, &host, offline),
        Command::Inventory { from_vagrant: Some(dir), .. } => inventory::from_vagrant(&dir),
        Command::Inventory { list, host, from_vagrant: None, common } => {
            inventory::show(&common.inventory, &common.extra_vars, list, host.as_deref(), out)
        }
        Command::Vault { action, .. } => vault::run(&action),
        Command::Completions { shell, .. } => manual::completions(shell),
        Command::Man { .. } => manual::man(),
    }
}

/// `apply FILE.json`: the plan saved by `plan --out`; any other FILE is a site.
fn read_saved(site: &Path) -> Result<Option<crate::engine::SavedPlan>> {
    if !site.extension().is_some_and(|e| e == "json") {
        return Ok(None);
    }
    let text = std::fs::read_to_string(site).map_err(|e| Error::io(site, e))?;
    let plan: crate::engine::SavedPlan = serde_json::from_str(&text)
        .map_err(|source| Error::SavedPlanUnreadable { path: site.to_path_buf(), source })?;
    if plan.kind != "rigger-plan" || plan.schema != 1 {
        return Err(Error::SavedPlanKind { path: site.to_path_buf(), kind: plan.kind, schema: plan.schema });
    }
    Ok(Some(plan))
}

fn run_site(
    settings: &Settings,
    site: &Path,
    apply: bool,
    yes: bool,
    save_to: Option<&std::path::Path>,
    saved: Option<crate::engine::SavedPlan>,
) -> Result<i32, Error> {
    let started = Instant::now();
    let out = settings.out;
    let style = out.style;
    let common = out;
    let s = match &saved {
        Some(p) => p.settings(settings.connect.clone(), settings.forks),
        None => settings.project(site),
    };
    let project = Project::load(&s)?;
    let mut warnings = project.warnings.clone();
    out.warnings(&warnings);
    let forks = s.forks;
    let rt = tokio::runtime::Runtime::new().map_err(Error::System)?;
    let command = if apply { "apply" } else { "plan" };
    let save_settings = s.clone();
    // On a terminal: a spinner while hosts are probed, a bar while units converge.
    let tty = std::io::stderr().is_terminal() && !common.quiet;
    let host_count = project.hosts().len();
    let unit_count =
        project.graph.g.node_weights().filter(|n| !matches!(n, crate::graph::Node::Barrier { .. })).count();
    let code = rt.block_on(async {
        let spinner = tty.then(|| {
            let pb = indicatif::ProgressBar::new_spinner().with_message(format!("probing {host_count} host(s)…"));
            pb.enable_steady_tick(std::time::Duration::from_millis(100));
            pb
        });
        let (project, mut phase) = Runner { project, settings: s }.plan().await;
        if let Some(pb) = spinner {
            pb.finish_and_clear();
        }
        if let Some(saved) = saved {
            if let Err(stale) = phase.adopt(&project, saved) {
                reprintln!(
                    "{} the saved plan is stale; nothing was applied. Run `rigger plan --out` again.",
                    style.paint("1;31", "error:")
                );
                for s in stale {
                    reprintln!("  {s}");
                }
                phase.close().await;
                return 1;
            }
        }
        let planned = phase.reports(&project);
        if let Some(path) = save_to {
            let doc = serde_json::to_string_pretty(&phase.save(&project, &save_settings)).unwrap_or_default();
            if let Err(e) = std::fs::write(path, doc) {
                reprintln!("{} cannot write {}: {e}", style.paint("1;31", "error:"), path.display());
                phase.close().await;
                return 1;
            }
        }
        if !common.quiet {
            out.human(&report::render_units(&style, &planned.hosts, false, common.verbose));
        }
        let emit = |outcome: &crate::engine::Outcome, warnings: &[String]| {
            out.human(&report::recap(&style, &outcome.hosts));
            if common.json {
                let doc = RunReport {
                    schema: 1,
                    command: command.into(),
                    changes_pending: !apply && outcome.changes > 0,
                    failed: outcome.failed,
                    seconds: started.elapsed().as_secs_f64(),
                    warnings: warnings.to_vec(),
                    hosts: outcome.hosts.clone(),
                };
                rprintln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            }
        };
        if !apply || planned.failed || planned.changes == 0 {
            if apply && planned.failed {
                warnings.push("nothing was applied: fix the errors above first".into());
                reprintln!("{} nothing was applied: fix the errors above first", style.paint("1;31", "error:"));
            } else if planned.changes == 0 && !planned.failed {
                out.info("no changes: every host is in sync\n");
            }
            emit(&planned, &warnings);
            phase.close().await;
            return if planned.failed {
                1
            } else if planned.changes > 0 {
                2
            } else {
                0
            };
        }
        if !yes {
            // Refused or declined: nothing applied, but --json still gets its document.
            let refuse = |why: &str, warnings: &mut Vec<String>| {
                reprintln!("{} {why}", style.paint("1;31", "error:"));
                warnings.push(why.to_string());
                let outcome = crate::engine::Outcome {
                    hosts: planned.hosts.clone(),
                    changes: planned.changes,
                    failed: true,
                    aborted: true,
                };
                emit(&outcome, warnings);
            };
            if !std::io::stdin().is_terminal() {
                refuse(
                    &format!(
                        "refusing to apply {} change(s) without confirmation: stdin is not a terminal (pass --yes)",
                        planned.changes
                    ),
                    &mut warnings,
                );
                phase.close().await;
                return 1;
            }
            reprint!("Apply {} change(s)? [y/N] ", planned.changes);
            let mut answer = String::new();
            let _ = std::io::stdin().read_line(&mut answer);
            if !matches!(answer.trim(), "y" | "Y" | "yes") {
                refuse("aborted: nothing was changed", &mut warnings);
                phase.close().await;
                return 1;
            }
        }
        let quiet = common.quiet;
        let json = common.json;
        let bar = tty.then(|| {
            let pb = indicatif::ProgressBar::new(unit_count as u64);
            pb.set_style(
                indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} units {elapsed} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            pb.enable_steady_tick(std::time::Duration::from_millis(100));
            pb
        });
        let bar2 = bar.clone();
        let outcome = phase
            .apply(project, forks, move |line| {
                if let Some(pb) = &bar2 {
                    pb.inc(1);
                    pb.set_message(line.split_whitespace().nth(1).unwrap_or("").to_string());
                }
                if quiet {
                    return;
                }
                match (&bar2, json) {
                    (Some(pb), _) => pb.println(crate::secret::redact(line)),
                    (None, true) => reprintln!("{line}"),
                    (None, false) => rprintln!("{line}"),
                }
            })
            .await;
        if let Some(pb) = bar {
            pb.finish_and_clear();
        }
        if !common.quiet {
            let failures: Vec<_> =
                outcome.hosts.iter().filter(|h| h.counts.failed > 0 || h.error.is_some()).cloned().collect();
            out.human(&report::render_units(&style, &failures, true, false));
        }
        emit(&outcome, &warnings);
        if outcome.failed {
            1
        } else {
            0
        }
    });
    Ok(code)
}
