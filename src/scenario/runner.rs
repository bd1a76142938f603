//! The scenario lifecycle on hosts of its own: create the hosts (by the
//! scenario's driver: lab containers or Vagrant VMs), converge (`rigger
//! apply`), idempotence (a second apply must change nothing), verify (each
//! check over SSH until it passes or its time is up), destroy.
//! Scenarios run `jobs` at a time, each on hosts and a network of its own.

use super::check::Check;
use super::driver::reach::{Login, Reach};
use super::driver::{self, DriverKind, Machines};
use super::idempotence;
use super::model::Scenario;
use super::report::{Phase, PhaseOutcome, ScenarioReport, Status};
use super::workspace;
use crate::lab::Image;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub project: PathBuf,
    pub keep: bool,
    /// Every host's image, whatever the scenarios say.
    pub image: Option<Image>,
    pub jobs: usize,
    /// Every scenario's driver, whatever the scenarios say.
    pub driver: Option<DriverKind>,
}

/// Runs every scenario, `jobs` at a time; reports in the scenarios' order.
/// `progress` gets one line per phase as it ends.
pub fn run_all(scenarios: &[Scenario], opts: &RunOptions, progress: &(dyn Fn(&str) + Sync)) -> Vec<ScenarioReport> {
    let next = Mutex::new(0usize);
    let done: Mutex<Vec<(usize, ScenarioReport)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.clamp(1, scenarios.len().max(1)) {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
                    *n += 1;
                    *n - 1
                };
                let Some(sc) = scenarios.get(i) else { break };
                let r = run_one(sc, opts, progress);
                done.lock().unwrap_or_else(|e| e.into_inner()).push((i, r));
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

fn outcome(phase: Phase, started: Instant, result: std::result::Result<(), String>) -> PhaseOutcome {
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(()) => PhaseOutcome { phase, status: Status::Passed, seconds, message: String::new() },
        Err(message) => PhaseOutcome { phase, status: Status::Failed, seconds, message },
    }
}

fn skipped(phase: Phase, why: &str) -> PhaseOutcome {
    PhaseOutcome { phase, status: Status::Skipped, seconds: 0.0, message: why.to_string() }
}

/// One scenario, start to end; never fails as a whole: a failure is a phase's.
fn run_one(sc: &Scenario, opts: &RunOptions, progress: &(dyn Fn(&str) + Sync)) -> ScenarioReport {
    let t0 = Instant::now();
    let id = sc.id();
    let mut phases = Vec::new();
    let kind = opts.driver.or(sc.driver).unwrap_or_default();
    let machines = driver::open(kind, sc, &opts.project, opts.image);
    let (lab, net) = machines.as_ref().map(|m| m.place()).unwrap_or_default();
    let report = |phases: Vec<PhaseOutcome>| {
        let passed = phases.iter().all(|p| p.status != Status::Failed);
        let (lab, net) = (lab.clone(), net.clone());
        let file = sc.path.display().to_string();
        ScenarioReport { scenario: id.clone(), file, passed, seconds: t0.elapsed().as_secs_f64(), lab, net, phases }
    };
    let done =
        |p: &PhaseOutcome| progress(&format!("{id}: {} {} ({:.1} s)", p.phase.name(), p.status.name(), p.seconds));
    let mut machines = match machines {
        Ok(m) => m,
        Err(e) => {
            record(&mut phases, &done, outcome(Phase::Create, t0, Err(e)));
            skip_rest(&mut phases, Phase::Converge);
            return report(phases);
        }
    };
    // Readying the driver (for Vagrant: libvirtd, the box) counts as create.
    lifecycle(sc, opts, t0, machines.as_mut(), &mut phases, &done);
    if opts.keep {
        phases.push(skipped(Phase::Destroy, "--keep"));
        progress(&format!("{id}: {}", machines.keep(sc)));
    } else {
        let t = Instant::now();
        let r = machines.destroy();
        phases.push(outcome(Phase::Destroy, t, r));
        done(phases.last().expect("just pushed"));
    }
    report(phases)
}

/// create → converge → idempotence → verify; a failed phase skips the rest.
fn lifecycle(
    sc: &Scenario,
    opts: &RunOptions,
    t: Instant,
    machines: &mut dyn Machines,
    phases: &mut Vec<PhaseOutcome>,
    done: &dyn Fn(&PhaseOutcome),
) {
    let reach = match machines.create(sc) {
        Ok(r) => r,
        Err(e) => {
            record(phases, done, outcome(Phase::Create, t, Err(e)));
            return skip_rest(phases, Phase::Converge);
        }
    };
    record(phases, done, outcome(Phase::Create, t, Ok(())));
    let ws = match tempfile::Builder::new().prefix("rigger-test.").tempdir() {
        Ok(d) => d,
        Err(e) => {
            record(phases, done, outcome(Phase::Converge, t, Err(e.to_string())));
            return skip_rest(phases, Phase::Idempotence);
        }
    };
    let t = Instant::now();
    let site = workspace::write(ws.path(), &opts.project, sc, &reach).map_err(|e| e.to_string());
    let first = site.clone().and_then(|site| apply(ws.path(), &site).map(|_| ()));
    if !record(phases, done, outcome(Phase::Converge, t, first)) {
        keep_workspace(ws, opts.keep);
        return skip_rest(phases, Phase::Idempotence);
    }
    let t = Instant::now();
    let second = site.and_then(|site| apply(ws.path(), &site)).and_then(|doc| {
        let changes = idempotence::changes(&doc);
        if changes.is_empty() {
            Ok(())
        } else {
            Err(format!("the second apply changed {} thing(s):\n{}", changes.len(), idempotence::explain(&changes)))
        }
    });
    record(phases, done, outcome(Phase::Idempotence, t, second));
    let t = Instant::now();
    let verified = verify(sc, &reach);
    record(phases, done, outcome(Phase::Verify, t, verified));
    keep_workspace(ws, opts.keep);
}

/// Keeps a phase's outcome and tells the progress; whether it passed.
fn record(phases: &mut Vec<PhaseOutcome>, done: &dyn Fn(&PhaseOutcome), p: PhaseOutcome) -> bool {
    done(&p);
    let ok = p.status == Status::Passed;
    phases.push(p);
    ok
}

fn skip_rest(phases: &mut Vec<PhaseOutcome>, from: Phase) {
    for p in Phase::ALL.into_iter().skip_while(|p| *p != from).filter(|p| *p != Phase::Destroy) {
        phases.push(skipped(p, "an earlier phase failed"));
    }
}

/// With --keep, the converged project stays for `rigger plan` by hand.
fn keep_workspace(ws: tempfile::TempDir, keep: bool) {
    if keep {
        let path = ws.keep();
        eprintln!(
            "project kept: {} (rigger plan -i {}/inventory {}/site.yaml)",
            path.display(),
            path.display(),
            path.display()
        );
    }
}

/// `rigger apply --yes --json` on the workspace: its run document, or what went wrong.
fn apply(dir: &Path, site: &Path) -> std::result::Result<serde_json::Value, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find rigger itself: {e}"))?;
    let out = Command::new(exe)
        .current_dir(dir)
        .args(["apply", "--yes", "--json", "--color", "never", "-i"])
        .arg(dir.join("inventory"))
        .arg(site)
        .env_remove("RIGGER_INVENTORY")
        .env("RIGGER_STATE_DIR", dir.join(".state"))
        .output()
        .map_err(|e| format!("cannot run rigger apply: {e}"))?;
    let doc: Option<serde_json::Value> = serde_json::from_slice(&out.stdout).ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
    match doc {
        Some(doc) if out.status.success() => Ok(doc),
        _ => Err(format!("rigger apply exited {}:\n{}", out.status.code().unwrap_or(-1), tail.join("\n"))),
    }
}

/// Every check, in order; all run, every failure is reported.
fn verify(sc: &Scenario, reach: &Reach) -> std::result::Result<(), String> {
    let mut failures = Vec::new();
    for check in &sc.verify {
        let check = check.expand(&reach.net);
        let Some(login) = reach.hosts.get(check.host()) else { continue };
        if let Err(m) = until_passes(&check, login) {
            failures.push(format!("{}: expected {}; saw {}", check.label(), m.expected, m.seen));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// Runs the check until it passes or `within` seconds are up: the last mismatch.
fn until_passes(check: &Check, login: &Login) -> std::result::Result<(), super::check::Mismatch> {
    let deadline = Instant::now() + Duration::from_secs(check.within());
    loop {
        let seen = login.run(&check.script());
        match check.judge(&seen) {
            Ok(()) => return Ok(()),
            Err(m) if Instant::now() >= deadline => return Err(m),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}
