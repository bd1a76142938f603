//! The run lock and interrupts through the real binary, on one
//! `ansible_connection: local` host whose state folder (and so its lock) is
//! under the test's temp dir (`RIGGER_HOST_STATE_DIR`). A unit that must be
//! "running" touches a file and then waits for the test's go-ahead file, so
//! every step waits for a settled state, with a deadline, never for a time.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A project: role `slow` logs `slow` once (`creates:`), after touching
/// `started` and waiting for `go`; role `next` (after it) logs `next` once.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = |f: &str| dir.path().join(f).display().to_string();
        write(&dir.path().join("inventory/hosts.yaml"), "all:\n  hosts:\n    me: { ansible_connection: local }\n");
        write(&dir.path().join("site.yaml"), "- hosts: all\n  roles: [slow, next]\n");
        let wait = format!("i=0; while [ ! -e {go} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done", go = p("go"));
        let slow = format!(
            "touch {started}; {wait}; echo slow >> {log}; touch {done}",
            started = p("started"),
            log = p("log"),
            done = p("slow.done")
        );
        write(
            &dir.path().join("roles/slow/role.yaml"),
            &format!("resources:\n  - command: {{ cmd: '{slow}', creates: {} }}\n", p("slow.done")),
        );
        let next = format!("echo next >> {}; touch {}", p("log"), p("next.done"));
        write(
            &dir.path().join("roles/next/role.yaml"),
            &format!("requires: [slow]\nresources:\n  - command: {{ cmd: '{next}', creates: {} }}\n", p("next.done")),
        );
        Site { dir }
    }

    fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }

    fn lock(&self) -> PathBuf {
        self.path("host-state/me/lock")
    }

    fn rigger(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rigger"));
        c.args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env("RIGGER_HOST_STATE_DIR", self.path("host-state"))
            .env_remove("RIGGER_INVENTORY");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.rigger(args).output().unwrap()
    }

    /// rigger in the background, its stderr lines sent as they come.
    fn spawn(&self, args: &[&str]) -> (Child, Receiver<String>) {
        let mut child = self.rigger(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let (tx, rx) = channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        (child, rx)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("log")).unwrap_or_default()
    }

    fn go(&self) {
        write(&self.path("go"), "");
    }
}

/// Waits for `what` to hold, or fails the test at the deadline.
fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < DEADLINE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads stderr lines until one contains `text`; all lines read so far.
fn line_with(rx: &Receiver<String>, text: &str, seen: &mut Vec<String>) {
    let start = Instant::now();
    while !seen.iter().any(|l| l.contains(text)) {
        let left = DEADLINE.checked_sub(start.elapsed()).unwrap_or_default();
        match rx.recv_timeout(left) {
            Ok(l) => seen.push(l),
            Err(e) => panic!("no line with {text:?} ({e}); stderr so far:\n{}", seen.join("\n")),
        }
    }
}

/// Waits for the child; its exit code, stdout and the rest of its stderr.
fn finish(mut child: Child, rx: &Receiver<String>, seen: &mut Vec<String>) -> (i32, String) {
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    let code = child.wait().unwrap().code().unwrap_or(-1);
    // The reader thread ends with the pipe, and the sender with it.
    seen.extend(rx.iter());
    (code, stdout)
}

fn signal(child: &Child, sig: &str) {
    assert!(Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap().success());
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn a_second_run_is_refused_at_once_naming_the_holder_and_only_one_runs_the_command() {
    let s = Site::new();
    let (a, rx) = s.spawn(&["apply", "--yes", "--json"]);
    until("the first run's unit to start", || s.path("started").exists());
    for args in [&["apply", "--yes"][..], &["plan"][..]] {
        let started = Instant::now();
        let b = s.run(args);
        let out = text(&b);
        assert_eq!(b.status.code(), Some(1), "{out}");
        assert!(started.elapsed() < Duration::from_secs(10), "refused at once, not after waiting");
        let holder = format!("(pid {}, `rigger apply --yes --json`, started ", a.id());
        assert!(out.contains("the run lock ") && out.contains(" is held by ") && out.contains(&holder), "{out}");
        assert!(out.contains(" since ") && out.contains("--lock-timeout"), "{out}");
    }
    s.go();
    let mut seen = Vec::new();
    let (code, stdout) = finish(a, &rx, &mut seen);
    assert_eq!(code, 0, "{}", seen.join("\n"));
    assert_eq!(s.log(), "slow\nnext\n", "the run-once command ran once");
    assert!(!s.lock().exists(), "given back at the end");
    // The probe, then each unit: the first unit's script reads the host
    // again at its end for the second (issue 22), whose script gives the lock back.
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["hosts"][0]["round_trips"], 3, "{report}");
    // A no-op run still costs one round trip: its probe reads without taking the lock.
    let again = s.run(&["apply", "--yes", "--json"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(report["hosts"][0]["round_trips"], 1, "{report}");
}

#[test]
fn a_run_waits_for_the_lock_with_lock_timeout() {
    let s = Site::new();
    let (a, rx) = s.spawn(&["apply", "--yes"]);
    until("the first run's unit to start", || s.path("started").exists());
    let (b, brx) = s.spawn(&["apply", "--yes", "--lock-timeout", "60"]);
    // Settled: the second run's probe sleeps, waiting for the lock.
    until("the second run to wait", || descendant_named(b.id(), "sleep"));
    s.go();
    let mut seen = Vec::new();
    assert_eq!(finish(a, &rx, &mut seen).0, 0, "{}", seen.join("\n"));
    let mut seen = Vec::new();
    assert_eq!(finish(b, &brx, &mut seen).0, 0, "{}", seen.join("\n"));
    assert_eq!(s.log(), "slow\nnext\n", "the second run found the host in sync");
}

#[test]
fn an_interrupt_lets_the_running_unit_finish_starts_no_other_and_exits_130() {
    let s = Site::new();
    let (a, rx) = s.spawn(&["apply", "--yes", "--json"]);
    until("the unit to start", || s.path("started").exists());
    signal(&a, "-INT");
    let mut seen = Vec::new();
    line_with(&rx, "interrupted: no new unit will start; finishing slow@me", &mut seen);
    s.go();
    let (code, stdout) = finish(a, &rx, &mut seen);
    let err = seen.join("\n");
    assert_eq!(code, 130, "{err}");
    assert_eq!(s.log(), "slow\n", "the running unit completed, the next one never started");
    assert!(err.contains("RECAP (interrupted)") && err.contains("not started (interrupted): next@me"), "{err}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["interrupted"], true);
    let units = &report["hosts"][0]["units"];
    assert_eq!((&units[0]["status"], &units[1]["status"]), (&"changed".into(), &"skipped".into()), "{units}");
    assert_eq!(units[1]["message"], "interrupted");
    assert!(!s.lock().exists(), "given back after draining");
    let next = s.run(&["apply", "--yes"]);
    assert_eq!(next.status.code(), Some(0), "{}", text(&next));
    assert_eq!(s.log(), "slow\nnext\n", "the next run converges");
}

#[test]
fn a_second_interrupt_aborts_at_once_naming_the_host_mid_unit() {
    let s = Site::new();
    let (a, rx) = s.spawn(&["apply", "--yes"]);
    until("the unit to start", || s.path("started").exists());
    signal(&a, "-INT");
    let mut seen = Vec::new();
    line_with(&rx, "interrupted: no new unit will start", &mut seen);
    signal(&a, "-TERM");
    let (code, _) = finish(a, &rx, &mut seen);
    let err = seen.join("\n");
    assert_eq!(code, 130, "{err}");
    assert!(err.contains("aborted: me may be mid-unit (its script runs on there: slow@me)"), "{err}");
    assert!(!s.path("slow.done").exists(), "rigger did not wait for the unit");
    // The unit's script runs on; when it ends, its run is gone, so it gives the lock back itself.
    s.go();
    until("the orphaned unit to finish", || s.path("slow.done").exists());
    until("the lock to be given back", || !s.lock().exists());
    let next = s.run(&["apply", "--yes"]);
    assert_eq!(next.status.code(), Some(0), "{}", text(&next));
    assert_eq!(s.log(), "slow\nnext\n", "the next run converges");
}

/// A lock as another run would leave it: owner record, holder, last use.
fn plant(s: &Site, holder: &str, seen: u64) {
    let lock = s.lock();
    write(
        &lock.join("owner"),
        "token=old\nby=bob@ci\npid=77\nstarted=1700000000\ncommand=rigger apply --yes\nsince=1700000005\n",
    );
    write(&lock.join("holder"), &format!("{holder}\n"));
    write(&lock.join("seen"), &format!("{seen}\n"));
}

#[test]
fn a_stale_lock_left_by_a_dead_run_is_broken_and_the_run_proceeds() {
    let s = Site::new();
    s.go();
    // A holder that is alive (this test) keeps the lock, however old its last use.
    let me = std::fs::read_to_string("/proc/self/stat").unwrap();
    let start = me.rsplit_once(") ").unwrap().1.split(' ').nth(19).unwrap().to_string();
    plant(&s, &format!("{} {start}", std::process::id()), 0);
    let held = s.run(&["apply", "--yes"]);
    assert_eq!(held.status.code(), Some(1));
    assert!(text(&held).contains("is held by bob@ci (pid 77, `rigger apply --yes`"), "{}", text(&held));
    assert_eq!(s.log(), "");
    // Its pid dead (no such process) and unused since long ago: stale.
    plant(&s, "99999999 1", 0);
    let o = s.run(&["apply", "--yes"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("warning: me: broke a stale run lock") && out.contains("left by bob@ci (pid 77"), "{out}");
    assert_eq!(s.log(), "slow\nnext\n");
    assert!(!s.lock().exists());
}

/// Whether a process named `name` runs below `pid` (read from /proc).
fn descendant_named(pid: u32, name: &str) -> bool {
    let parent_of = |p: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        stat.rsplit_once(") ")?.1.split(' ').nth(1)?.parse().ok()
    };
    let Ok(entries) = std::fs::read_dir("/proc") else { return false };
    entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()).any(|p| {
        let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
        let mut up = Some(p);
        comm.trim() == name
            && std::iter::from_fn(|| {
                up = up.and_then(parent_of).filter(|&q| q > 1);
                up
            })
            .any(|q| q == pid)
    })
}
