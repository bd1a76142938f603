//! "Bad input gets a clear error and changes nothing": the corpus in
//! `tests/bad_input/`, one directory per case. Each case is a tiny project
//! (`site.yaml`, `inventory/`, `roles/`) plus:
//!
//! - `cmd`: the rigger arguments on one line (default `check`);
//! - `expected`: the exact stderr rigger must print (the temp dir is `$DIR`);
//! - `expected_stdout` (optional): the exact stdout; without it stdout must be empty;
//! - `pending` (optional): one line naming a defect of rigger. The case pins
//!   the message rigger *should* print; it is run but not asserted, and the
//!   summary says when it starts passing so the `pending` file can go.
//!
//! Every case must exit 1. `UPDATE_EXPECTED=1 cargo test --test bad_input`
//! rewrites `expected` (and an existing `expected_stdout`) of the cases that are
//! not pending from what rigger prints now; review the diff before committing.
//!
//! Commands that connect (`plan`, `apply`, `facts`) are only allowed when every
//! host of the case's inventory is `127.0.0.1` port 9, where nothing listens:
//! the runner checks that before running them, so nothing leaves this machine.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MIN_CASES: usize = 40;
const TIMEOUT: Duration = Duration::from_secs(60);
/// Files of a case that belong to the runner, not to the project under test.
const CONTROL_FILES: &[&str] = &["cmd", "expected", "expected_stdout", "pending"];

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("bad_input")
}

fn copy_dir(from: &Path, to: &Path, top: bool) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if top && CONTROL_FILES.iter().any(|c| name == *c) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&src, &dst, false);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Runs rigger in `dir` with `args`, stdout/stderr to files (no pipe deadlock), with a timeout.
fn rigger(dir: &Path, args: &[String]) -> Output {
    let logs = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (logs.path().join("stdout"), logs.path().join("stderr"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RIGGER_INVENTORY")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("run rigger");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |p: &Path| String::from_utf8_lossy(&fs::read(p).unwrap_or_default()).into_owned();
    let mut stderr = read(&err_path);
    if status.is_none() {
        stderr.push_str(&format!("\n[runner: killed after {TIMEOUT:?}]\n"));
    }
    Output { code: status.and_then(|s| s.code()), stdout: read(&out_path), stderr }
}

/// Replaces the temp dir (as given and canonicalized) with `$DIR`.
fn scrub(s: &str, dir: &Path) -> String {
    let mut s = s.to_string();
    let mut forms = vec![dir.to_string_lossy().into_owned()];
    if let Ok(c) = dir.canonicalize() {
        forms.push(c.to_string_lossy().into_owned());
    }
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    for f in forms {
        s = s.replace(&f, "$DIR");
    }
    s
}

/// The values of `-i`/`-e` (and their long forms) in `args`, to ask rigger what the hosts resolve to.
fn inventory_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-i" | "--inventory" | "-e" | "--extra-vars" => {
                if let Some(v) = it.next() {
                    out.push(a.clone());
                    out.push(v.clone());
                }
            }
            _ if a.starts_with("--inventory=") || a.starts_with("--extra-vars=") => out.push(a.clone()),
            _ => {}
        }
    }
    out
}

/// For a command that connects: every host must be 127.0.0.1 port 9 and the
/// site must not override connection vars. An inventory that does not load
/// is fine: the command fails on the same loader before connecting.
fn network_guard(dir: &Path, args: &[String]) -> Result<(), String> {
    let site = fs::read_to_string(dir.join("site.yaml")).unwrap_or_default();
    if site.contains("ansible_") {
        return Err("site.yaml of a connecting case must not set ansible_* vars".into());
    }
    let mut list_args = vec!["inventory".to_string()];
    list_args.extend(inventory_args(args));
    let listed = rigger(dir, &list_args);
    if listed.code != Some(0) {
        return Ok(());
    }
    let all = listed.stdout.lines().find_map(|l| l.strip_prefix("all: ")).unwrap_or("");
    for host in all.split(", ").map(str::trim).filter(|h| !h.is_empty()) {
        let mut host_args = list_args.clone();
        host_args.extend(["--host".to_string(), host.to_string()]);
        let vars = rigger(dir, &host_args);
        let v = vars.stdout.as_str();
        let safe = vars.code == Some(0)
            && v.contains("\"ansible_host\": \"127.0.0.1\"")
            && v.contains("\"ansible_port\": 9\n")
            && !v.contains("ansible_ssh_host")
            && !v.contains("ansible_ssh_port")
            && !v.contains("ansible_connection")
            && !v.contains("ansible_ssh_common_args")
            && !v.contains("ansible_ssh_extra_args");
        if !safe {
            return Err(format!("host {host} must be ansible_host: 127.0.0.1 with ansible_port: 9 and nothing else that connects; it resolves to:\n{v}"));
        }
    }
    Ok(())
}

fn show(s: &str) -> String {
    if s.is_empty() {
        return "    (empty)\n".into();
    }
    s.lines().map(|l| format!("    |{l}\n")).collect()
}

enum Verdict {
    Pass,
    Fail(String),
}

fn run_case(case: &Path, update: bool) -> Verdict {
    let name = case.file_name().unwrap().to_string_lossy().into_owned();
    let cmd = fs::read_to_string(case.join("cmd")).unwrap_or_else(|_| "check".into());
    let args: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
    if args.is_empty() {
        return Verdict::Fail(format!("{name}: `cmd` is empty"));
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("project");
    copy_dir(case, &dir, true);
    if matches!(args[0].as_str(), "plan" | "apply" | "facts") {
        if let Err(e) = network_guard(&dir, &args) {
            return Verdict::Fail(format!("{name}: refusing to run `{}`: {e}", cmd.trim()));
        }
    }
    let out = rigger(&dir, &args);
    let stdout = scrub(&out.stdout, &dir);
    let stderr = scrub(&out.stderr, &dir);
    let pending = case.join("pending").exists();
    let stdout_file = case.join("expected_stdout");
    if update && !pending {
        fs::write(case.join("expected"), &stderr).unwrap();
        if stdout_file.exists() {
            fs::write(&stdout_file, &stdout).unwrap();
        }
    }
    let expected = fs::read_to_string(case.join("expected")).unwrap_or_default();
    let expected_stdout = fs::read_to_string(&stdout_file).unwrap_or_default();
    let mut problems = Vec::new();
    if !case.join("expected").exists() {
        problems.push("no `expected` file (run with UPDATE_EXPECTED=1 to create it)".to_string());
    }
    if out.code != Some(1) {
        problems.push(format!("exit code {:?}, expected 1", out.code));
    }
    if stdout != expected_stdout {
        problems.push(format!("stdout differs\n  expected:\n{}  actual:\n{}", show(&expected_stdout), show(&stdout)));
    }
    if stderr != expected {
        problems.push(format!("stderr differs\n  expected:\n{}  actual:\n{}", show(&expected), show(&stderr)));
    }
    if problems.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail(format!("{name} (rigger {}):\n  {}", cmd.trim(), problems.join("\n  ")))
    }
}

#[test]
fn bad_input_corpus() {
    let update = std::env::var_os("UPDATE_EXPECTED").is_some_and(|v| v == "1");
    let mut cases: Vec<PathBuf> = fs::read_dir(corpus_dir())
        .expect("tests/bad_input/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= MIN_CASES, "the corpus has {} cases, expected at least {MIN_CASES}", cases.len());

    let mut failures = Vec::new();
    let mut now_passing = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let verdict = run_case(case, update);
        if let Ok(why) = fs::read_to_string(case.join("pending")) {
            println!("pending  {name}: {}", why.trim());
            if let Verdict::Pass = verdict {
                now_passing.push(name);
            }
            continue;
        }
        match verdict {
            Verdict::Pass => println!("ok       {name}"),
            Verdict::Fail(msg) => {
                println!("FAILED   {name}");
                failures.push(msg);
            }
        }
    }
    let pending = cases.iter().filter(|c| c.join("pending").exists()).count();
    let checked = cases.len() - pending;
    println!(
        "bad_input: {} cases, {checked} checked, {pending} pending{}",
        cases.len(),
        if update { " (expected files updated)" } else { "" }
    );
    for name in &now_passing {
        println!("note: pending case {name} now passes: remove its `pending` file");
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} bad-input cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
