//! The apply script of a unit and how its answer is read: every step in
//! order, stopping at the first failure, then the handlers, each step
//! delimited by markers. Pending handlers are recorded on the host first, so
//! a failure between a change and its handler cannot lose the handler.

use crate::plan::{HandlerPlan, UnitPlan};
use crate::session::host_state::{journal_sh, journals_sh};
use crate::shell::quote;
use std::collections::BTreeMap;
use std::fmt;

/// A step of the apply script, as the script names it on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepId {
    /// Recording the handlers this unit owes.
    Pending,
    Resource {
        index: usize,
        step: usize,
    },
    Handler {
        index: usize,
        step: usize,
    },
    /// Clearing the pending record after the handlers ran.
    Done,
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepId::Pending => f.write_str("pending"),
            StepId::Resource { index, step } => write!(f, "r{index}.{step}"),
            StepId::Handler { index, step } => write!(f, "h{index}.{step}"),
            StepId::Done => f.write_str("done"),
        }
    }
}

impl StepId {
    /// Reads back what `Display` wrote; `None` for anything else.
    fn parse(s: &str) -> Option<Self> {
        let pair = |rest: &str| {
            let (i, j) = rest.split_once('.')?;
            Some((i.parse().ok()?, j.parse().ok()?))
        };
        match s {
            "pending" => Some(StepId::Pending),
            "done" => Some(StepId::Done),
            _ => match s.split_at(1) {
                ("r", rest) => pair(rest).map(|(index, step)| StepId::Resource { index, step }),
                ("h", rest) => pair(rest).map(|(index, step)| StepId::Handler { index, step }),
                _ => None,
            },
        }
    }
}

/// The step that failed: its id, exit code and output.
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    pub step: StepId,
    pub code: i32,
    pub output: String,
}

/// The apply script for a unit. The whole body is a function, so a script
/// cut short in transit runs nothing at all.
pub fn script(role: &str, plan: &UnitPlan, marker: &str) -> String {
    script_guarded(role, plan, marker, "", "")
}

/// The apply script with `head` first in its function and `tail` after it,
/// run even when a step failed (the run lock: checked first, marked after).
pub fn script_guarded(role: &str, plan: &UnitPlan, marker: &str, head: &str, tail: &str) -> String {
    // SIGPIPE ignored: if rigger goes away mid-unit (and its output reader
    // with it), the script runs to its end rather than stop between two
    // steps. `trap - PIPE` gives a step's own commands the usual one back.
    // fd 7: the script's own stdout, for what a registering command prints (`capture`).
    let mut s = String::from("main() {\nexport LC_ALL=C\ntrap '' PIPE\nexec 7>&1\n");
    s.push_str(head);
    let step = |s: &mut String, id: StepId, script: &str| {
        s.push_str(&format!(
            "echo '{marker} step {id}'\nout=$( ( trap - PIPE; set -e\n{script}) 2>&1 </dev/null ); rc=$?\nif [ $rc -ne 0 ]; then printf '%s\\n' \"$out\"; echo \"{marker} rc {id} $rc\"; return 0; fi\necho '{marker} rc {id} 0'\n"
        ));
    };
    if !plan.handlers.is_empty() {
        step(&mut s, StepId::Pending, &journal(role, plan.handlers.iter(), Journal::Record));
    }
    for (i, r) in plan.resources.iter().enumerate() {
        for (j, st) in r.steps.iter().enumerate() {
            let script = if r.register.is_some() { capture(&st.script, marker) } else { st.script.clone() };
            step(&mut s, StepId::Resource { index: i, step: j }, &script);
        }
    }
    for (i, h) in plan.handlers.iter().enumerate().filter(|(_, h)| !h.deferred) {
        for (j, st) in h.steps.iter().enumerate() {
            step(&mut s, StepId::Handler { index: i, step: j }, &st.script);
        }
    }
    if plan.run_handlers().next().is_some() {
        step(&mut s, StepId::Done, &journal(role, plan.run_handlers(), Journal::Clear));
    }
    s.push_str(&format!("echo '{marker} end'\n}}\n"));
    if tail.is_empty() {
        s.push_str("main\n");
    } else {
        // Both in one function too: a script cut short runs neither.
        s.push_str(&format!("run() {{\nmain\n{tail}}}\nrun\n"));
    }
    s
}

/// `plan` as `-vvv` shows it: every step that depends on a secret sealed.
pub fn shown(plan: &UnitPlan) -> UnitPlan {
    let mut plan = plan.clone();
    let steps = plan.resources.iter_mut().flat_map(|r| r.steps.iter_mut());
    for st in steps.chain(plan.handlers.iter_mut().flat_map(|h| h.steps.iter_mut())).filter(|s| s.sealed) {
        st.script = ": (sealed: this step depends on a secret)\n".into();
    }
    plan
}

/// A registering command's step: its stdout (at most `MAX_STDOUT` bytes,
/// the rest read and dropped so the command is not cut short) goes to the
/// script's stdout line by line behind `MARKER | `, its stderr where a
/// step's output goes (shown if it fails), and the step exits with its rc.
/// The printer ignores SIGPIPE, so a reader gone away cannot kill the command.
fn capture(script: &str, marker: &str) -> String {
    format!(
        "rc=$( {{ {{ ( {script}) 7>&- 8>&- && r=0 || r=$?; echo \"$r\" >&8; }} | {{ head -c {MAX_STDOUT}; cat >/dev/null; }} | ( trap '' PIPE; sed 's/^/{marker} | /' ) >&7; }} 8>&1 )\necho >&7\nexit \"$rc\"\n"
    )
}

/// How much of a registering command's stdout is kept: it travels back in the apply's answer.
pub const MAX_STDOUT: usize = crate::resource::query::MAX_STDOUT;

/// What a journal step does with the names of handlers.
#[derive(Clone, Copy, PartialEq)]
enum Journal {
    /// Adds them (once each) to their roles' pending files, before any step.
    Record,
    /// Takes them out once they ran; an empty file is removed.
    Clear,
}

/// The sh that records or clears `handlers` in the pending file of the role
/// that defines each (`role`, the unit's, for a plan that does not say).
/// Units of a host share the files: each adds or removes only its own names.
fn journal<'a>(role: &str, handlers: impl Iterator<Item = &'a HandlerPlan>, what: Journal) -> String {
    let mut by_role: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for h in handlers {
        let owner = if h.role.is_empty() { role } else { h.role.as_str() };
        by_role.entry(owner).or_default().push(quote(&h.handler));
    }
    let mut s = if what == Journal::Record { format!("mkdir -p {}\n", journals_sh()) } else { String::new() };
    for (owner, names) in by_role {
        let f = journal_sh(owner);
        let names = names.join(" ");
        s.push_str(&match what {
            Journal::Record => format!(
                "for n in {names}; do grep -qxF -e \"$n\" {f} 2>/dev/null || printf '%s\\n' \"$n\" >> {f}; done\n"
            ),
            Journal::Clear => format!(
                "if [ -f {f} ]; then\nfor n in {names}; do grep -vxF -e \"$n\" {f} > {f}.new || true; mv {f}.new {f}; done\n[ -s {f} ] || rm -f -- {f}\nfi\n"
            ),
        });
    }
    s
}

/// What happened when the apply script ran.
#[derive(Debug, Default)]
pub struct ApplyResult {
    pub failed: Option<Failed>,
    pub completed: bool,
    /// By resource index: what each registering command that ran printed (trailing newlines removed).
    pub stdout: BTreeMap<usize, String>,
}

/// Reads the script's answer. A step id this version never writes counts as
/// no step: its failure is still reported, as a failure of the script.
pub fn parse(output: &str, marker: &str) -> ApplyResult {
    let mut res = ApplyResult::default();
    let mut buf: Vec<&str> = Vec::new();
    let prefix = format!("{marker} ");
    // The step running, and what it printed behind `MARKER | ` (a registering command's stdout).
    let (mut current, mut printed): (Option<StepId>, Vec<&str>) = (None, Vec::new());
    for line in output.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            buf.push(line);
            continue;
        };
        if let Some(l) = rest.strip_prefix("| ").or((rest == "|").then_some("")) {
            printed.push(l);
            continue;
        }
        let parts: Vec<&str> = rest.split(' ').collect();
        match parts.as_slice() {
            ["step", id] => {
                buf.clear();
                printed.clear();
                current = StepId::parse(id);
            }
            ["rc", id, code] => {
                let step = StepId::parse(id).unwrap_or(StepId::Done);
                let stdout = printed.join("\n").trim_end_matches(['\n', '\r']).to_string();
                if let (Some(StepId::Resource { index, .. }), true) = (current, !printed.is_empty()) {
                    res.stdout.insert(index, stdout.clone());
                }
                if *code != "0" {
                    let mut output = buf.join("\n");
                    if !stdout.is_empty() {
                        output = format!("{}\n{stdout}", output.trim_end());
                    }
                    res.failed = Some(Failed { step, code: code.parse().unwrap_or(1), output });
                }
            }
            ["end"] => res.completed = true,
            _ => {}
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{plan_unit, Handler, Handlers, Sharing};
    use crate::prepare::Prepared;
    use crate::resource::command::Command;
    use crate::resource::file::File;
    use crate::resource::path::{self, PathState};
    use crate::resource::spec::PresentAbsent;
    use crate::resource::{Resource, Step};
    use crate::session::probe::HostState;
    use std::sync::Arc;

    fn prepared(path: &str, content: &str) -> Prepared {
        let mut f = File::plain(path.into(), content.into(), PresentAbsent::Present);
        f.notify = vec!["restart app".into()];
        Prepared { label: f.label(), resource: Some(Arc::new(f)), ..Prepared::default() }
    }

    fn handlers() -> Handlers {
        let cmd = Command {
            cmd: "echo restarted >> \"$LOG\"".into(),
            creates: None,
            unless: None,
            chdir: None,
            notify: vec![],
        };
        let h = Handler { role: "app".into(), resource: Arc::new(cmd) as Arc<dyn Resource> };
        Handlers::from([("restart app".to_string(), h)])
    }

    #[test]
    fn step_ids_read_back_what_they_wrote() {
        for id in [
            StepId::Pending,
            StepId::Done,
            StepId::Resource { index: 3, step: 1 },
            StepId::Handler { index: 0, step: 12 },
        ] {
            assert_eq!(StepId::parse(&id.to_string()), Some(id));
        }
        assert_eq!(StepId::parse("x1.2"), None);
        assert_eq!(StepId::parse("r1"), None);
    }

    /// The generated apply script, run by a real sh: steps in order, handler at
    /// the end, pending record removed, and a failing step stops the rest.
    #[test]
    fn apply_script_runs_in_sh() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("conf file");
        let log = dir.path().join("log");
        let mut st = HostState::default();
        st.insert(path::query(f.to_str().unwrap()), PathState::default());
        st.insert(crate::session::host_state::journal_query("app"), PathState::default());
        let p = vec![prepared(f.to_str().unwrap(), "hello $(x)\n")];
        let mut plan = plan_unit(&p, &handlers(), &st, &Sharing::default());
        let first = script("app", &plan, "@@M@@");
        // The journals under the temp dir rather than /var/lib.
        let run = |script: &str| {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .env("LOG", &log)
                .env(crate::session::host_state::VAR, dir.path())
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        let res = parse(&run(&first), "@@M@@");
        assert!(res.completed && res.failed.is_none(), "{res:?}");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "hello $(x)\n");
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "restarted\n");
        assert!(!dir.path().join("pending/app").exists());

        plan.resources[0].steps.insert(0, Step::new("boom", "echo nope >&2\nfalse\n"));
        let res = parse(&run(&script("app", &plan, "@@M@@")), "@@M@@");
        let failed = res.failed.unwrap();
        assert_eq!(failed, Failed { step: StepId::Resource { index: 0, step: 0 }, code: 1, output: "nope".into() });
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "restarted\n", "handler did not run after a failure");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("pending/app")).unwrap(),
            "restart app\n",
            "pending handler recorded"
        );
    }

    /// A registering command's stdout comes back behind the marker, apart
    /// from its stderr and bounded; a failure shows both.
    #[test]
    fn a_registering_commands_stdout_comes_back_apart() {
        use crate::plan::{ResourcePlan, Status};
        let r = |cmd: &str| ResourcePlan {
            resource: "command".into(),
            status: Status::Changed,
            steps: vec![Step::new("run", format!("sh -c {} </dev/null\n", quote(cmd)))],
            notify: vec![],
            message: None,
            register: Some("r".into()),
        };
        let cmds = ["printf 'a\\n|b\\n\\n'; echo err >&2", "printf 'no newline'", "true", "yes | head -c 200000"];
        let mut resources: Vec<ResourcePlan> = cmds.iter().map(|c| r(c)).collect();
        resources.push(r("echo out; echo bad >&2; exit 3"));
        let plan = UnitPlan { resources, handlers: vec![] };
        let out = std::process::Command::new("sh").arg("-c").arg(script("app", &plan, "@@M@@")).output().unwrap();
        let res = parse(&String::from_utf8(out.stdout).unwrap(), "@@M@@");
        assert_eq!(res.stdout[&0], "a\n|b", "stderr apart, trailing newlines removed");
        assert_eq!(res.stdout[&1], "no newline");
        assert_eq!(res.stdout.get(&2).map_or("", String::as_str), "");
        assert!(res.stdout[&3].len() <= MAX_STDOUT && res.stdout[&3].starts_with("y\ny"));
        let f = res.failed.unwrap();
        assert_eq!((f.step, f.code), (StepId::Resource { index: 4, step: 0 }, 3));
        assert!(f.output.contains("bad") && f.output.contains("out"), "{f:?}");
    }

    /// Units of a host share the pending files: a unit records the handlers
    /// it defers in their role's file and clears only what it ran.
    #[test]
    fn journals_are_shared_by_the_units_of_a_host() {
        let dir = tempfile::tempdir().unwrap();
        let pending = dir.path().join("pending");
        let handler = |name: &str, role: &str, deferred| HandlerPlan {
            handler: name.into(),
            role: role.into(),
            steps: vec![Step::new("run", format!("echo {name} >> \"$LOG\"\n"))],
            deferred,
        };
        let run = |plan: &UnitPlan| {
            let s = script("app", plan, "@@M@@");
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&s)
                .env("LOG", dir.path().join("log"))
                .env(crate::session::host_state::VAR, dir.path())
                .output()
                .unwrap();
            let res = parse(&String::from_utf8(out.stdout).unwrap(), "@@M@@");
            assert!(res.completed && res.failed.is_none(), "{res:?}");
        };
        std::fs::create_dir_all(&pending).unwrap();
        std::fs::write(pending.join("lb"), "other\n").unwrap();
        // The app unit runs its own handler and defers lb's to a later unit.
        run(&UnitPlan {
            resources: vec![],
            handlers: vec![handler("reload lb", "lb", true), handler("x", "app", false)],
        });
        assert_eq!(std::fs::read_to_string(pending.join("lb")).unwrap(), "other\nreload lb\n");
        assert!(!pending.join("app").exists());
        // The later unit records it again (once) and runs it: only its name goes.
        run(&UnitPlan { resources: vec![], handlers: vec![handler("reload lb", "lb", false)] });
        assert_eq!(std::fs::read_to_string(pending.join("lb")).unwrap(), "other\n");
        assert_eq!(std::fs::read_to_string(dir.path().join("log")).unwrap(), "x\nreload lb\n", "each ran once");
    }
}
