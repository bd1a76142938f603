//! The run lock: one run per host at a time, taken and released by the
//! scripts a run already sends, so it costs no round trip of its own except
//! one release at the end on hosts that changed.
//!
//! The lock is the directory `STATE/lock` on the host (`mkdir` is atomic).
//! Inside: `owner` (who: user@machine, pid, command, run start, when taken),
//! `holder` (a host-side process whose life spans the holder's run: rigger
//! itself for a local host, else the sshd process serving its connection),
//! `seen` (when a script of the run last used it) and `busy` (the script
//! running now). `STATE/last` names the last run that applied on the host.
//!
//! - A probe reads without taking the lock when no run holds it (and a
//!   run has been there before): no program runs for it on the host, so
//!   `plan` and a no-op `apply` cost the host what their questions cost.
//!   `STATE/last`, read at its start and again at its end, tells whether a
//!   run applied meanwhile (`moved`): then rigger probes again, taking the
//!   lock and releasing it in the same script, as a probe does whenever the
//!   lock is held or the state folder is new. Either way `plan` and a no-op
//!   `apply` stay one round trip per host, and neither acts on what it read
//!   while another run applied there.
//! - The first apply script on a host takes it again and keeps it; it first
//!   checks that no run applied since this run's probe (`STATE/last`), else
//!   applies nothing. Later scripts check the lock is still theirs. A last
//!   round trip releases it when the host's last unit is done.
//! - Stale: a lock whose holder and busy processes are gone (pid and start
//!   time, from /proc) is broken at once, under a second lock (`lock.break`)
//!   so two runs cannot both break it. The run that lost it finds, at its
//!   next script, that the lock is no longer its own, and changes nothing.
//!   A lock whose holder cannot be checked is never broken automatically.

mod sh;

use crate::session::host_state;
use crate::session::target::Target;
use crate::shell::quote;
use sh::{
    APPLY_HEAD, APPLY_TAIL, BUSY, FUNCTIONS, HELD_HEAD, KEEP_RUNNING, PROBE_HEAD, PROBE_TAIL, READ_HEAD, READ_TAIL,
    RELEASE,
};
use std::fmt;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Who runs: what a lock's owner record says, so a refused run can name it.
#[derive(Debug, Clone, PartialEq)]
pub struct Owner {
    /// Unique to this run: tells its own lock from another's.
    pub token: String,
    pub user: String,
    pub machine: String,
    pub pid: u32,
    /// When the run started, in seconds since the epoch.
    pub started: u64,
    pub command: String,
}

impl Owner {
    /// This process.
    pub fn this_run() -> Self {
        let machine = machine_name();
        let pid = std::process::id();
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        Owner {
            token: format!("{machine}-{pid}-{nanos:x}"),
            user: user_name(),
            machine,
            pid,
            started: now(),
            command: command_line(std::env::args()),
        }
    }

    /// The owner record's lines, as written on the host.
    fn record(&self) -> String {
        let one_line = |s: &str| s.replace(['\n', '\r'], " ");
        format!(
            "token={}\nby={}@{}\npid={}\nstarted={}\ncommand={}",
            one_line(&self.token),
            one_line(&self.user),
            one_line(&self.machine),
            self.pid,
            self.started,
            one_line(&self.command)
        )
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Who runs rigger: `$USER`, else the name of this process's uid (cron and
/// systemd often set no `$USER`), else the uid itself.
fn user_name() -> String {
    let env = ["USER", "LOGNAME"].iter().find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()));
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    env.unwrap_or_else(|| user_of(&read("/proc/self/status"), &read("/etc/passwd")))
}

/// The name of the uid in `status` (/proc/PID/status) as `passwd` (/etc/passwd) has it.
fn user_of(status: &str, passwd: &str) -> String {
    let Some(uid) = status.lines().find_map(|l| l.strip_prefix("Uid:")?.split_whitespace().next()) else {
        return "unknown".into();
    };
    let entry = passwd.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.len() > 2 && f[2] == uid);
    entry.map(|f| f[0].to_string()).unwrap_or(format!("uid {uid}"))
}

fn machine_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// The command line as others may see it: `-e` values can be secrets, so they are left out.
fn command_line(args: impl Iterator<Item = String>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut hide_next = false;
    for (i, a) in args.enumerate() {
        let shown = if i == 0 {
            a.rsplit('/').next().unwrap_or(&a).to_string()
        } else if hide_next {
            "…".into()
        } else if let Some(flag) = ["--extra-vars=", "-e"].iter().find(|f| a.starts_with(**f) && a.len() > f.len()) {
            format!("{flag}…")
        } else {
            a.clone()
        };
        hide_next = i > 0 && !hide_next && (a == "-e" || a == "--extra-vars");
        out.push(shown);
    }
    out.join(" ")
}

/// Seconds since the epoch as `2025-01-02 10:00:03 UTC`.
fn utc(secs: u64) -> String {
    format!("{} UTC", crate::report::history::utc(secs as f64))
}

/// A lock's (or the last run's) record, as the host printed it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    fields: Vec<(String, String)>,
}

impl Record {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn time(&self, key: &str) -> Option<String> {
        self.get(key).and_then(|v| v.parse().ok()).map(utc)
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(by) = self.get("by") else { return f.write_str("a run that left no owner record") };
        write!(f, "{by} (pid {}", self.get("pid").unwrap_or("?"))?;
        if let Some(c) = self.get("command") {
            write!(f, ", `{c}`")?;
        }
        if let Some(t) = self.time("started") {
            write!(f, ", started {t}")?;
        }
        f.write_str(")")?;
        if let Some(t) = self.time("since") {
            write!(f, " since {t}")?;
        }
        if let Some(t) = self.time("at") {
            write!(f, " at {t}")?;
        }
        Ok(())
    }
}

/// Why a host's lock keeps this run out (or this run lost it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LockError {
    #[error("{}", held(.path, .by))]
    Held { path: String, by: Record },
    /// Two inventory hosts of one run are the same machine with the same state folder.
    #[error("the run lock {path} is held by this same run: another host of the inventory is this machine (give each its own state folder)")]
    Shared { path: String },
    /// Another run applied between this run's probe and its first change here.
    #[error(
        "changed since it was probed: another run, {by}, applied here meanwhile; nothing was applied here, run again"
    )]
    Changed { by: Record },
    /// Another run applied while this run's probe read without the lock
    /// (what it read may be half of that run's work): probe again.
    #[error("another run applied here while this run read the host")]
    Moved,
    #[error("this run's lock {path} was broken by another run{}: stopped here", .by.as_ref().filter(|r| r.get("by").is_some()).map(|r| format!(" ({r})")).unwrap_or_default())]
    Lost { path: String, by: Option<Record> },
}

fn held(path: &str, by: &Record) -> String {
    let hint = match by.get("state") {
        Some("gone") => format!(
            " Its holder is gone (last used {}): the next run breaks it.",
            by.time("seen").unwrap_or_else(|| "?".into())
        ),
        Some("unknown") => format!(" Its holder cannot be checked: if no run is active, remove {path} by hand."),
        _ => String::new(),
    };
    format!(
        "the run lock {path} is held by {by}; run again when it is done, or wait with --lock-timeout SECONDS.{hint}"
    )
}

/// Which host-side process stands for the run while it holds the lock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Holder {
    /// A local host: rigger itself.
    Pid(u32),
    /// Over ssh: the sshd process serving this connection (the nearest sshd ancestor of the script).
    Sshd,
}

/// The sh that goes inside a script's function: `head` first, `tail` after its body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Guard {
    pub head: String,
    pub tail: String,
}

/// One host's lock as this run sees it.
pub struct HostLock {
    /// The host's state folder as messages name it; the lock is `dir/lock`.
    dir: String,
    /// The same folder in sh words (a variable the script sets, for a host).
    dir_sh: String,
    owner: Owner,
    /// How long a script waits for a held lock (`--lock-timeout`).
    wait_secs: u64,
    holder: Holder,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// This run holds the lock (an apply script took it).
    held: bool,
    /// The state folder cannot hold a lock (not writable): runs go unlocked.
    unavailable: bool,
    /// `STATE/last`'s first line as this run's first probe saw it.
    last: Option<String>,
    /// A run applied while this run's probe read without the lock: probe
    /// again, taking it.
    moved: bool,
    /// What the user should hear: a lock broken, no lock possible.
    notes: Vec<String>,
}

impl HostLock {
    pub fn new(dir: String, owner: Owner, wait_secs: u64, holder: Holder) -> Self {
        let dir_sh = quote(&dir);
        HostLock { dir, dir_sh, owner, wait_secs, holder, state: Mutex::new(State::default()) }
    }

    /// The lock of `target` for this run: in its state folder, held by
    /// rigger itself on a local host, by the ssh connection otherwise.
    pub fn for_target(target: &Target, owner: Owner, wait: std::time::Duration) -> Self {
        let holder = if target.local { Holder::Pid(std::process::id()) } else { Holder::Sshd };
        let shown = host_state::display(host_state::configured(target).as_deref(), host_state::user(target).as_deref());
        let dir_sh = format!("\"${}\"", host_state::VAR);
        HostLock { dir: shown, dir_sh, ..HostLock::new(String::new(), owner, wait.as_secs(), holder) }
    }

    fn path(&self) -> String {
        format!("{}/lock", self.dir)
    }

    pub fn held(&self) -> bool {
        self.state.lock().unwrap().held
    }

    /// Notes gathered since the last call (each said once).
    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut self.state.lock().unwrap().notes)
    }

    /// The shell variables and functions every lock snippet uses.
    fn prelude(&self, marker: &str) -> String {
        let holder = match self.holder {
            Holder::Pid(p) => format!("rl_hp={p}"),
            Holder::Sshd => "rl_hp=; rl_sshd".into(),
        };
        format!(
            "{KEEP_RUNNING}{FUNCTIONS}rl_d={}\nrl_t={}\nrl_w={}\nrl_n={}\nrl_m={}\nrl_rec={}\nrl_own=\nrl_hs=\n{holder}\nif [ -n \"$rl_hp\" ] && rl_start \"$rl_hp\"; then rl_hs=\"$rl_hp $rl_sv\"; fi\n",
            self.dir_sh,
            quote(&self.owner.token),
            self.wait_secs,
            now(),
            quote(&format!("{marker}.lock")),
            quote(&self.owner.record()),
        )
    }

    /// For a probe: take the lock and release it in the same script, or
    /// (while this run holds it) check that it is still this run's.
    pub fn probe_guard(&self, marker: &str) -> Guard {
        let st = self.state.lock().unwrap();
        if st.unavailable {
            return Guard::default();
        }
        let (body, tail) = match (st.held, st.moved) {
            (true, _) => (HELD_HEAD, ""),
            (false, false) => (READ_HEAD, READ_TAIL),
            (false, true) => (PROBE_HEAD, PROBE_TAIL),
        };
        Guard { head: format!("{}{body}", self.prelude(marker)), tail: tail.into() }
    }

    /// For an apply script: take the lock (refusing if another run applied
    /// since this run's probe) and keep it, or check it is still this run's.
    /// With `release` (the host's last unit), let go of it at the end.
    pub fn apply_guard(&self, marker: &str, release: bool) -> Guard {
        let st = self.state.lock().unwrap();
        if st.unavailable {
            return Guard::default();
        }
        let last = if release { "rl_last=1\n" } else { "rl_last=\n" };
        let head = if st.held {
            format!("{}{last}{HELD_HEAD}{BUSY}", self.prelude(marker))
        } else {
            let want = quote(st.last.as_deref().unwrap_or(""));
            format!("{}{last}rl_want={want}\n{APPLY_HEAD}{BUSY}", self.prelude(marker))
        };
        Guard { head, tail: APPLY_TAIL.into() }
    }

    /// The script that gives the lock back, if this run holds it.
    /// `head`: what the script runs first (where the state folder is).
    pub fn release_script(&self, marker: &str, head: &str) -> Option<String> {
        self.held().then(|| format!("main() {{\n{head}{}{RELEASE}}}\nmain\n", self.prelude(marker)))
    }

    /// Reads what the lock snippets printed (`split` sorts them out) and
    /// updates what this run knows; an error when the lock keeps it out.
    pub fn read(&self, lines: &[&str], marker: &str) -> Result<(), LockError> {
        let mut st = self.state.lock().unwrap();
        for (kind, arg, record) in events(lines, marker) {
            match kind {
                "taken" => st.held = true,
                "released" => st.held = false,
                "last" if st.last.is_none() => st.last = Some(arg.to_string()),
                "moved" => {
                    st.last = None;
                    st.moved = true;
                    return Err(LockError::Moved);
                }
                "broke" => st.notes.push(format!("broke a stale run lock {}, left by {record}", self.path())),
                "none" if !st.unavailable => {
                    st.unavailable = true;
                    let why = record.fields.first().map(|(k, v)| format!("{k}{v}")).unwrap_or_default();
                    st.notes.push(format!(
                        "no run lock: cannot create {} ({}); runs on this host are not kept apart",
                        self.path(),
                        why.trim()
                    ));
                }
                "held" => return Err(LockError::Held { path: self.path(), by: record }),
                "shared" => return Err(LockError::Shared { path: self.path() }),
                "changed" => {
                    st.held = false;
                    return Err(LockError::Changed { by: record });
                }
                "lost" => {
                    st.held = false;
                    return Err(LockError::Lost { path: self.path(), by: Some(record) });
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Separates the lock's lines from the rest of a script's output.
pub fn split<'a>(output: &'a str, marker: &str) -> (Vec<&'a str>, String) {
    let prefix = format!("{marker}.lock");
    let (lock, rest): (Vec<&str>, Vec<&str>) = output.lines().partition(|l| l.starts_with(&prefix));
    let mut rest = rest.join("\n");
    rest.push('\n');
    (lock, rest)
}

/// (kind, argument, the record lines after it) for each `MARKER.lock KIND ARG` line.
fn events<'a>(lines: &[&'a str], marker: &str) -> Vec<(&'a str, &'a str, Record)> {
    let prefix = format!("{marker}.lock");
    let mut out: Vec<(&str, &str, Record)> = Vec::new();
    for l in lines {
        let Some(rest) = l.strip_prefix(&prefix) else { continue };
        if let Some(field) = rest.strip_prefix("| ") {
            if let Some((_, _, r)) = out.last_mut() {
                let (k, v) = field.split_once('=').unwrap_or((field, ""));
                r.fields.push((k.to_string(), v.to_string()));
            }
        } else if let Some(ev) = rest.strip_prefix(' ') {
            let (kind, arg) = ev.split_once(' ').unwrap_or((ev, ""));
            out.push((kind, arg, Record::default()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::path::Path;
    use std::process::{Command, Stdio};

    const M: &str = "@@T@@";

    fn owner(token: &str) -> Owner {
        Owner {
            token: token.into(),
            user: "alice".into(),
            machine: "laptop".into(),
            pid: 4242,
            started: 1_700_000_000,
            command: "rigger apply --yes".into(),
        }
    }

    /// A run's view of the lock in `dir`, held (when it is) by this test process.
    fn run_lock(dir: &Path, token: &str, wait: u64) -> HostLock {
        HostLock::new(dir.display().to_string(), owner(token), wait, Holder::Pid(std::process::id()))
    }

    fn sh(script: &str) -> String {
        let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    /// A probe-like script: `body` is printed only when the lock lets it run.
    fn probe_script(l: &HostLock) -> String {
        let g = l.probe_guard(M);
        format!("main() {{\n{}echo body\n{}}}\nmain\n", g.head, g.tail)
    }

    fn read(l: &HostLock, out: &str) -> (Result<(), LockError>, bool) {
        let (lines, rest) = split(out, M);
        (l.read(&lines, M), rest.contains("body"))
    }

    fn probe(l: &HostLock) -> (Result<(), LockError>, bool) {
        read(l, &sh(&probe_script(l)))
    }

    fn apply(l: &HostLock) -> (Result<(), LockError>, bool) {
        apply_last(l, false)
    }

    fn apply_last(l: &HostLock, release: bool) -> (Result<(), LockError>, bool) {
        let g = l.apply_guard(M, release);
        read(l, &sh(&format!("main() {{\n{}echo body\n}}\nrun() {{\nmain\n{}}}\nrun\n", g.head, g.tail)))
    }

    /// A lock left by another run: its owner record, holder and last use.
    fn plant(dir: &Path, holder: &str, seen: u64) {
        let lock = dir.join("lock");
        std::fs::create_dir_all(&lock).unwrap();
        let record = "token=old\nby=bob@ci\npid=77\nstarted=1700000000\ncommand=rigger apply\nsince=1700000005\n";
        std::fs::write(lock.join("owner"), record).unwrap();
        std::fs::write(lock.join("holder"), format!("{holder}\n")).unwrap();
        std::fs::write(lock.join("seen"), format!("{seen}\n")).unwrap();
    }

    /// `PID START` of this test process: a holder that is alive.
    fn me() -> String {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", std::process::id())).unwrap();
        let after = stat.rsplit_once(") ").unwrap().1;
        format!("{} {}", std::process::id(), after.split(' ').nth(19).unwrap())
    }

    #[test]
    fn a_probe_takes_the_lock_and_releases_it_in_the_same_script() {
        let d = tempfile::tempdir().unwrap();
        let a = run_lock(&d.path().join("state"), "a", 0);
        assert_eq!(probe(&a), (Ok(()), true));
        assert!(!d.path().join("state/lock").exists(), "released at the end of the probe");
        assert!(!a.held());
        assert_eq!(a.state.lock().unwrap().last.as_deref(), Some(""), "no run applied here yet");
    }

    /// A probe whose body says whether the lock is there while it reads,
    /// and then runs `meanwhile` (what another run does at that moment).
    fn probe_seeing_lock(l: &HostLock, dir: &Path, meanwhile: &str) -> (Result<(), LockError>, bool) {
        let g = l.probe_guard(M);
        let lock = dir.join("lock");
        let body =
            format!("if [ -d '{}' ]; then echo body locked; else echo body free; fi\n{meanwhile}\n", lock.display());
        let out = sh(&format!("main() {{\n{}{body}{}}}\nmain\n", g.head, g.tail));
        let (result, _) = read(l, &out);
        (result, out.contains("body locked"))
    }

    #[test]
    fn a_probe_where_a_run_has_been_reads_without_taking_the_lock() {
        let d = tempfile::tempdir().unwrap();
        let a = run_lock(d.path(), "a", 0);
        assert_eq!(probe_seeing_lock(&a, d.path(), ""), (Ok(()), false), "nothing to take: no program runs");
        assert_eq!(a.state.lock().unwrap().last.as_deref(), Some(""));
        assert!(!d.path().join("lock").exists());
        let new = run_lock(&d.path().join("new"), "b", 0);
        assert_eq!(probe_seeing_lock(&new, &d.path().join("new"), ""), (Ok(()), true), "a new state folder: taken");
        assert!(!d.path().join("new/lock").exists(), "and given back");
    }

    #[test]
    fn a_run_that_applies_while_a_probe_reads_makes_it_probe_again_under_the_lock() {
        let d = tempfile::tempdir().unwrap();
        let a = run_lock(d.path(), "a", 0);
        let other = format!("printf 'token=b\\n' >'{}'", d.path().join("last").display());
        assert_eq!(probe_seeing_lock(&a, d.path(), &other), (Err(LockError::Moved), false));
        assert_eq!(probe_seeing_lock(&a, d.path(), ""), (Ok(()), true), "the second probe holds the lock");
        assert_eq!(a.state.lock().unwrap().last.as_deref(), Some("token=b"), "what the second probe read");
        assert!(!d.path().join("lock").exists());
    }

    #[test]
    fn a_held_lock_keeps_others_out_and_names_its_owner() {
        let d = tempfile::tempdir().unwrap();
        let a = run_lock(d.path(), "a", 0);
        probe(&a).0.unwrap();
        apply(&a).0.unwrap();
        assert!(a.held() && !d.path().join("lock/busy").exists(), "held after the script, not busy");
        let b = run_lock(d.path(), "b", 0);
        let (res, ran) = probe(&b);
        assert!(!ran, "nothing is read while another run holds the lock");
        let msg = res.unwrap_err().to_string();
        let who = "is held by alice@laptop (pid 4242, `rigger apply --yes`, started 2023-11-14 22:13:20 UTC) since ";
        assert!(msg.contains(who), "{msg}");
        assert!(msg.contains("--lock-timeout"), "{msg}");
        // The holder's own later scripts still run.
        assert_eq!(apply(&a), (Ok(()), true));
    }

    #[test]
    fn a_lock_whose_holder_is_gone_is_broken() {
        let d = tempfile::tempdir().unwrap();
        plant(d.path(), "99999999 1", 0);
        let b = run_lock(d.path(), "b", 0);
        assert_eq!(probe(&b), (Ok(()), true));
        let notes = b.take_notes();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with("broke a stale run lock") && notes[0].contains("bob@ci (pid 77"), "{notes:?}");
        assert!(!d.path().join("lock").exists() && !d.path().join("lock.break").exists());
    }

    #[test]
    fn a_lock_is_not_broken_while_its_holder_lives() {
        let d = tempfile::tempdir().unwrap();
        let b = run_lock(d.path(), "b", 0);
        plant(d.path(), &me(), 0);
        assert!(matches!(probe(&b).0, Err(LockError::Held { .. })), "holder alive");
        // Its holder gone a moment ago (a host that lost power, a killed
        // rigger): broken at once, since a gone holder can take no step.
        plant(d.path(), "99999999 1", now());
        assert_eq!(probe(&b), (Ok(()), true), "a gone holder's lock is broken at once");
        plant(d.path(), "", 0);
        let msg = probe(&b).0.unwrap_err().to_string();
        assert!(msg.contains("cannot be checked: if no run is active, remove"), "{msg}");
        assert!(d.path().join("lock/owner").exists());
    }

    #[test]
    fn a_run_that_applied_after_this_runs_probe_makes_this_run_apply_nothing() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (run_lock(d.path(), "a", 0), run_lock(d.path(), "b", 0));
        probe(&a).0.unwrap();
        probe(&b).0.unwrap();
        apply(&b).0.unwrap();
        b.release_script(M, "").map(|s| read(&b, &sh(&s)).0.unwrap()).unwrap();
        let (res, ran) = apply(&a);
        assert!(!ran);
        let msg = res.unwrap_err().to_string();
        assert!(msg.starts_with("changed since it was probed: another run, alice@laptop (pid 4242"), "{msg}");
        assert!(!a.held() && !d.path().join("lock").exists(), "let go of at once");
    }

    #[test]
    fn a_broken_lock_is_lost_and_a_release_gives_it_back() {
        let d = tempfile::tempdir().unwrap();
        let a = run_lock(d.path(), "a", 0);
        probe(&a).0.unwrap();
        apply(&a).0.unwrap();
        let owner = d.path().join("lock/owner");
        let mine = std::fs::read_to_string(&owner).unwrap();
        std::fs::write(&owner, mine.replace("token=a", "token=z")).unwrap();
        assert!(matches!(apply(&a), (Err(LockError::Lost { .. }), false)));
        assert!(a.release_script(M, "").is_none(), "lost: nothing to release");

        let b = run_lock(d.path(), "b", 0);
        std::fs::remove_dir_all(d.path().join("lock")).unwrap();
        probe(&b).0.unwrap();
        apply(&b).0.unwrap();
        read(&b, &sh(&b.release_script(M, "").unwrap())).0.unwrap();
        assert!(!b.held() && !d.path().join("lock").exists());
    }

    #[test]
    fn the_last_apply_script_of_a_host_gives_the_lock_back() {
        let d = tempfile::tempdir().unwrap();
        let a = run_lock(d.path(), "a", 0);
        probe(&a).0.unwrap();
        assert_eq!(apply_last(&a, true), (Ok(()), true));
        assert!(!a.held() && !d.path().join("lock").exists());
        assert!(a.release_script(M, "").is_none(), "no round trip left to give it back");
    }

    #[test]
    fn a_second_host_of_the_same_run_on_the_same_machine_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let (x, y) = (run_lock(d.path(), "a", 0), run_lock(d.path(), "a", 0));
        probe(&x).0.unwrap();
        apply(&x).0.unwrap();
        assert!(matches!(probe(&y).0, Err(LockError::Shared { .. })));
    }

    #[test]
    fn a_waiting_run_takes_the_lock_once_it_is_given_back() {
        let d = tempfile::tempdir().unwrap();
        let a = run_lock(d.path(), "a", 0);
        probe(&a).0.unwrap();
        apply(&a).0.unwrap();
        let b = run_lock(d.path(), "b", 30);
        let mut child = Command::new("sh").arg("-c").arg(probe_script(&b)).stdout(Stdio::piped()).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut out = String::new();
        // Settled: b says it waits before a lets go.
        for l in lines.by_ref() {
            let l = l.unwrap();
            out.push_str(&format!("{l}\n"));
            if l == format!("{M}.lock wait") {
                break;
            }
        }
        read(&a, &sh(&a.release_script(M, "").unwrap())).0.unwrap();
        for l in lines {
            out.push_str(&format!("{}\n", l.unwrap()));
        }
        assert!(child.wait().unwrap().success());
        assert_eq!(read(&b, &out), (Ok(()), true), "{out}");
    }

    #[test]
    fn no_lock_where_the_state_folder_cannot_be_made_and_the_run_goes_on() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("file"), "").unwrap();
        let a = run_lock(&d.path().join("file/state"), "a", 0);
        assert_eq!(probe(&a), (Ok(()), true));
        let notes = a.take_notes();
        assert!(
            notes[0].starts_with("no run lock: cannot create ") && notes[0].contains("not kept apart"),
            "{notes:?}"
        );
        assert_eq!(a.apply_guard(M, false), Guard::default(), "later scripts do not try again");
    }

    #[test]
    fn a_run_without_user_in_its_environment_is_named_by_its_uid() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nops:x:1000:1000::/home/ops:/bin/sh\n";
        assert_eq!(user_of("Name:\trigger\nUid:\t1000\t1000\t1000\t1000\n", passwd), "ops");
        assert_eq!(user_of("Uid:\t4242\t4242\t4242\t4242\n", passwd), "uid 4242");
        assert_eq!(user_of("", passwd), "unknown");
    }

    #[test]
    fn times_and_command_lines_as_shown() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_709_210_096), "2024-02-29 12:34:56 UTC");
        let args = ["/usr/bin/rigger", "apply", "-e", "pw=x", "-ek=v", "--extra-vars=a=b", "--yes"];
        assert_eq!(command_line(args.iter().map(|s| s.to_string())), "rigger apply -e … -e… --extra-vars=… --yes");
    }
}
