//! Helpers shared by the test binaries: running `rigger lab` and
//! commands on lab hosts, running rigger (on the lab, or against the local
//! host in a test's own folder), reading its `--json` report, recording figures.
//! Each test binary uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod browser;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rigger")).arg("lab").args(args).output().expect("run rigger lab")
}

/// Starts h1..hN (those already running stay as they are).
pub fn lab_up(n: usize) {
    let out = lab(&["up", &n.to_string()]);
    assert!(out.status.success(), "lab up failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Back to bare hosts: their disk state is thrown away and they boot from the base.
pub fn wipe(hosts: &[&str]) {
    let mut args = vec!["wipe"];
    args.extend_from_slice(hosts);
    let out = lab(&args);
    assert!(out.status.success(), "lab.sh wipe {hosts:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Runs a command on a lab host: its stdout (trimmed; stderr follows when
/// the command fails) and whether it succeeded.
pub fn on(host: &str, cmd: &str) -> (String, bool) {
    let out = lab(&["ssh", host, cmd]);
    let mut s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        s.push_str(&format!("\n{}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    (s, out.status.success())
}

pub fn on_ok(host: &str, cmd: &str) -> String {
    let (out, ok) = on(host, cmd);
    assert!(ok, "`{cmd}` failed on {host}:\n{out}");
    out
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// rigger in `dir`, plain output, no inventory from the environment.
pub fn rigger_in(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RIGGER_INVENTORY")
        .output()
        .expect("run rigger");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// Writes `text` to `dir/rel`, making the folders above it.
pub fn write(dir: &Path, rel: &str, text: &str) {
    std::fs::create_dir_all(dir.join(rel).parent().unwrap()).unwrap();
    std::fs::write(dir.join(rel), text).unwrap();
}

/// A project folder with one `ansible_connection: local` host `me`, whose
/// vars are `out` (the folder's `out/`, made) and `vars` (YAML lines);
/// the site and roles are each test's own.
pub fn local_project(vars: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let vars: String = vars.lines().map(|l| format!("    {l}\n")).collect();
    let hosts =
        format!("all:\n  hosts:\n    me: {{ ansible_connection: local }}\n  vars:\n    out: {}\n{vars}", out.display());
    write(d.path(), "inventory/hosts.yaml", &hosts);
    d
}

/// rigger in `dir` against the local host: plain output, nothing read from
/// the user's environment, and its state (the plan key, the run lock, the
/// vault key `vault.key`) in `dir`, not in the user's home or /var/lib/rigger.
pub fn rigger_local(dir: &Path, args: &[&str]) -> Run {
    rigger_local_with(dir, args, &[])
}

/// `rigger_local` with `envs` set too (a `PATH` with a stand-in first).
pub fn rigger_local_with(dir: &Path, args: &[&str], envs: &[(&str, String)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(args)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("RIGGER_VAULT_KEY_FILE", dir.join("vault.key"))
        .env_remove("RIGGER_VAULT_PASSWORD")
        .env_remove("RIGGER_VAULT_PASSWORD_FILE")
        .env_remove("RIGGER_INVENTORY")
        .env("RIGGER_STATE_DIR", dir.join(".state"))
        .env("RIGGER_HOST_STATE_DIR", dir.join("host-state"))
        .output()
        .expect("run rigger");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

pub fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", run.stdout, run.stderr))
}

/// A count (`changed`, `failed`, …) summed over the hosts of a `--json` report.
pub fn total(report: &serde_json::Value, key: &str) -> u64 {
    report["hosts"].as_array().unwrap().iter().map(|h| h["counts"][key].as_u64().unwrap()).sum()
}

/// Prints a figure and appends it to target/lab-figures.txt (tests/run.sh shows them).
pub fn figure(line: &str) {
    println!("FIGURE {line}");
    let p = root().join("target/lab-figures.txt");
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(p).unwrap();
    writeln!(f, "{line}").unwrap();
}

/// Polls `f` every `every` until it holds; panics after `limit`. Returns how long it took.
pub fn wait_for(what: &str, limit: Duration, every: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(every);
    }
    t.elapsed()
}

/// `GET /` over HTTP/1.0: the whole response when the status is 200, else its first line.
pub fn http_get(addr: &str, port: u16, timeout: Duration) -> Result<String, String> {
    let sa: SocketAddr = format!("{addr}:{port}").parse().unwrap();
    let mut s = TcpStream::connect_timeout(&sa, timeout).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout)).ok();
    s.set_write_timeout(Some(timeout)).ok();
    s.write_all(b"GET / HTTP/1.0\r\nHost: lab\r\n\r\n").map_err(|e| e.to_string())?;
    let mut body = String::new();
    s.read_to_string(&mut body).map_err(|e| e.to_string())?;
    if body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200") {
        Ok(body)
    } else {
        Err(body.lines().next().unwrap_or("empty response").to_string())
    }
}
