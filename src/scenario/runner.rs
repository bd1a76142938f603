//! The scenario lifecycle on a lab of its own: create the hosts, converge
//! (`rigger apply`), idempotence (a second apply must change nothing),
//! verify (each check over SSH until it passes or its time is up), destroy.
//! Scenarios run `jobs` at a time, each on its own bridge and subnet
//! (10.78.K.0/24, lab `tK`), claimed with a lock so parallel runs never share.

use super::check::{Check, Seen};
use super::idempotence;
use super::model::Scenario;
use super::report::{Phase, PhaseOutcome, ScenarioReport, Status};
use super::workspace::{self, Reach};
use crate::error::{Error, Result};
use crate::lab::{self, Image, LabSpec};
use std::fs::File;
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
}

const LABS: &str = "/var/lib/rigger-lab/labs";
const SLOTS: &str = "/run/rigger-lab-slots";

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

/// A free lab slot K: its lock held (released when the File drops), no lab
/// state under its name, and its subnet 10.78.K.0/24 on no interface.
fn claim_slot() -> Result<(File, u8)> {
    std::fs::create_dir_all(SLOTS).map_err(|e| Error::io(Path::new(SLOTS), e))?;
    let addrs = Command::new("ip").args(["-o", "-4", "addr", "show"]).output().map_err(Error::System)?;
    let addrs = String::from_utf8_lossy(&addrs.stdout).into_owned();
    for k in 1..=250u8 {
        if Path::new(LABS).join(format!("t{k}")).exists() || addrs.contains(&format!(" 10.78.{k}.")) {
            continue;
        }
        let path = Path::new(SLOTS).join(format!("t{k}.lock"));
        let f = File::create(&path).map_err(|e| Error::io(&path, e))?;
        if f.try_lock().is_ok() {
            return Ok((f, k));
        }
    }
    Err(Error::Lab("no free lab slot (10.78.1-250.0/24 all taken)".into()))
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
    let slot = claim_slot();
    let (lab, net) = match &slot {
        Ok((_, k)) => (format!("t{k}"), format!("10.78.{k}")),
        Err(_) => (String::new(), String::new()),
    };
    let report = |phases: Vec<PhaseOutcome>| {
        let passed = phases.iter().all(|p| p.status != Status::Failed);
        let (lab, net) = (lab.clone(), net.clone());
        let file = sc.path.display().to_string();
        ScenarioReport { scenario: id.clone(), file, passed, seconds: t0.elapsed().as_secs_f64(), lab, net, phases }
    };
    if let Err(e) = &slot {
        phases.push(outcome(Phase::Create, t0, Err(e.to_string())));
        return report(phases);
    }
    let mut spec = match LabSpec::new(Some(&lab), Some(&net), Image::default()) {
        Ok(s) => s,
        Err(e) => {
            phases.push(outcome(Phase::Create, t0, Err(e.to_string())));
            return report(phases);
        }
    };
    spec.docker_hosts = workspace::docker_hosts(sc, &opts.project.join("roles"));
    // Disposable hosts: a short orderly poweroff, then the power is cut.
    spec.stop_wait = Some(5);
    let done =
        |p: &PhaseOutcome| progress(&format!("{id}: {} {} ({:.1} s)", p.phase.name(), p.status.name(), p.seconds));
    lifecycle(sc, opts, &spec, &net, &mut phases, &done);
    if opts.keep {
        phases.push(skipped(Phase::Destroy, "--keep"));
        progress(&format!(
            "{id}: hosts kept on lab {lab} ({net}.0/24): sudo rigger lab status --lab {lab}; sudo rigger lab ssh --lab {lab} {} ; sudo rigger lab down --lab {lab}",
            sc.hosts[0].name
        ));
    } else {
        let t = Instant::now();
        let r = lab::capture(&spec, &["down".to_string()]).map(|_| ()).map_err(|e| e.to_string());
        phases.push(outcome(Phase::Destroy, t, r));
        done(phases.last().expect("just pushed"));
    }
    report(phases)
}

/// create → converge → idempotence → verify; a failed phase skips the rest.
fn lifecycle(
    sc: &Scenario,
    opts: &RunOptions,
    spec: &LabSpec,
    net: &str,
    phases: &mut Vec<PhaseOutcome>,
    done: &dyn Fn(&PhaseOutcome),
) {
    let t = Instant::now();
    let specs: Vec<String> =
        sc.hosts.iter().zip(&sc.images).map(|(h, img)| format!("{}:{}", h.name, opts.image.unwrap_or(*img))).collect();
    let created = lab::capture(spec, &[vec!["create".to_string()], specs].concat()).map(|_| ());
    if !record(phases, done, outcome(Phase::Create, t, created.map_err(|e| e.to_string()))) {
        return skip_rest(phases, Phase::Converge);
    }
    let reach = Reach {
        net: net.to_string(),
        key: PathBuf::from(std::env::var("RIGGER_LAB_KEY").unwrap_or_else(|_| "/var/lib/rigger-lab/id_ed25519".into())),
        known_hosts: Path::new(LABS).join(spec.name.as_deref().unwrap_or_default()).join("known_hosts"),
    };
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
        let Some(addr) = reach.address(sc, check.host()) else { continue };
        if let Err(m) = until_passes(&check, &addr, reach) {
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
fn until_passes(check: &Check, addr: &str, reach: &Reach) -> std::result::Result<(), super::check::Mismatch> {
    let deadline = Instant::now() + Duration::from_secs(check.within());
    loop {
        let seen = ssh(addr, reach, &check.script());
        match check.judge(&seen) {
            Ok(()) => return Ok(()),
            Err(m) if Instant::now() >= deadline => return Err(m),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// One command on a lab host as root; nothing is installed there.
fn ssh(addr: &str, reach: &Reach, script: &str) -> Seen {
    let out = Command::new("ssh")
        .args(["-F", "none", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
        .args(["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", "-i"])
        .arg(&reach.key)
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", reach.known_hosts.display()))
        .arg(format!("root@{addr}"))
        .arg(script)
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) => Seen {
            rc: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        },
        Err(e) => Seen { rc: -1, stdout: String::new(), stderr: format!("cannot run ssh: {e}") },
    }
}
