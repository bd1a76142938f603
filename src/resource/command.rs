//! The `command` kind: an arbitrary command, made idempotent by `creates`
//! and `unless`: it runs (and reports changed) only when those say the work
//! is not done yet. `unless` runs read-only during the probe, so during
//! `plan` too.

use super::kind::{Doc, Field, Resolve, Resource, ResourceError, Spec, Step};
use super::path::{self, check_path};
use super::spec::OneOrMany;
use crate::session::probe::{answer, Ask, HostState, Probe, Query};
use crate::shell::{check_optional, check_value, quote};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    pub cmd: String,
    /// Skip when this path exists.
    #[serde(default)]
    pub creates: Option<String>,
    /// Skip when this command succeeds.
    #[serde(default)]
    pub unless: Option<String>,
    #[serde(default)]
    pub chdir: Option<String>,
    #[serde(default)]
    pub notify: OneOrMany,
    /// Its result is `NAME.changed|rc|stdout` for the later resources of the unit.
    #[serde(default)]
    pub register: Option<String>,
}

impl Spec for CommandSpec {
    const KIND: &'static str = "command";
    const DOC: Doc = Doc {
        summary: "A command run with sh, only when needed: not when `creates` exists or `unless` succeeds. \
                  `unless` runs during plan too, so it must only read. With `register: NAME`, the later \
                  resources of the same unit (role on host) read its result as `NAME.changed` (it ran), \
                  `NAME.rc` and `NAME.stdout` (trailing newlines removed, up to 64 KiB; stderr is not kept); \
                  `plan` shows those that read it as `? conditional (known at apply)` when the command will \
                  run, and apply runs the unit up to the command, then plans the rest with its real result \
                  (one more round trip). Not run (`creates`, `unless`, `when:`): changed false, rc 0, stdout \
                  empty. A non-zero rc fails the unit.",
        fields: &[
            Field { name: "cmd", ty: "sh command", default: "", help: "" },
            Field { name: "creates", ty: "absolute path", default: "none", help: "skip when this path exists" },
            Field {
                name: "unless",
                ty: "sh command",
                default: "none",
                help: "skip when this succeeds (runs in the probe)",
            },
            Field { name: "chdir", ty: "directory", default: "none", help: "run there" },
            Field { name: "notify", ty: "handler or list", default: "none", help: "" },
            Field {
                name: "register",
                ty: "identifier",
                default: "none",
                help: "NAME.changed, NAME.rc, NAME.stdout for later resources of the unit",
            },
        ],
        example: "command: { cmd: \"ceph osd pool create rbd 32\", unless: \"ceph osd pool ls | grep -qx rbd\" }",
    };

    fn notify(&self) -> &[String] {
        &self.notify.0
    }

    fn resolve(self, _: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
        if let Some(c) = &self.creates {
            check_path(c)?;
        }
        Ok(Arc::new(Command {
            cmd: self.cmd,
            creates: self.creates,
            unless: self.unless,
            chdir: self.chdir,
            notify: self.notify.0,
        }))
    }
}

/// Whether a read-only command succeeds on the host.
pub static SUCCEEDS: Probe = Probe {
    name: "command",
    ask: Ask::Each(|c| format!("sh -c {} </dev/null >/dev/null 2>&1; echo $?", quote(c))),
    parse: |_, lines| Ok(answer(Succeeds(lines.last().is_some_and(|l| l.trim() == "0")))),
};

/// The answer of `SUCCEEDS`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Succeeds(pub bool);

#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub cmd: String,
    pub creates: Option<String>,
    pub unless: Option<String>,
    pub chdir: Option<String>,
    pub notify: Vec<String>,
}

impl Command {
    pub fn forced(&self) -> Vec<Step> {
        let cd = self.chdir.as_ref().map(|d| format!("cd -- {} && ", quote(d))).unwrap_or_default();
        vec![Step::new("run", format!("{cd}sh -c {} </dev/null\n", quote(&self.cmd)))]
    }
}

impl Resource for Command {
    fn label(&self) -> String {
        let first = self.cmd.lines().next().unwrap_or("");
        let label = if first.chars().count() > 48 || self.cmd.lines().count() > 1 {
            format!("{}…", first.chars().take(47).collect::<String>())
        } else {
            first.to_string()
        };
        format!("command {label}")
    }

    fn queries(&self) -> Vec<Query> {
        let mut q = Vec::new();
        if let Some(c) = &self.creates {
            q.push(path::query(c));
        }
        if let Some(u) = &self.unless {
            q.push(Query::new(&SUCCEEDS, u));
        }
        q
    }

    fn plan(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        check_value("cmd", &self.cmd, false)?;
        check_optional("chdir", &self.chdir, false)?;
        check_optional("unless", &self.unless, false)?;
        if let Some(c) = &self.creates {
            check_path(c)?;
            if path::state(state, c)?.exists() {
                return Ok(vec![]);
            }
        }
        if let Some(u) = &self.unless {
            if state.get::<Succeeds>(&Query::new(&SUCCEEDS, u))?.0 {
                return Ok(vec![]);
            }
        }
        Ok(self.forced())
    }

    fn handler_steps(&self, _: &HostState) -> Result<Vec<Step>, ResourceError> {
        Ok(self.forced())
    }

    fn handler_reads_state(&self) -> bool {
        false
    }

    fn notify(&self) -> &[String] {
        &self.notify
    }

    /// Any folder: what a command makes is not known before it runs.
    fn may_make(&self, _dir: &str) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::path::{PathKind, PathState};

    fn cmd() -> Command {
        Command {
            cmd: "make install".into(),
            creates: Some("/opt/app/bin".into()),
            unless: Some("app --version".into()),
            chdir: Some("/opt/src dir".into()),
            notify: vec![],
        }
    }

    #[test]
    fn creates_and_unless_skip() {
        let mut st = HostState::default();
        st.insert(path::query("/opt/app/bin"), PathState { kind: PathKind::File, ..Default::default() });
        st.insert(Query::new(&SUCCEEDS, "app --version"), Succeeds(false));
        assert!(cmd().plan(&st).unwrap().is_empty(), "creates exists");
        st.insert(path::query("/opt/app/bin"), PathState::default());
        st.insert(Query::new(&SUCCEEDS, "app --version"), Succeeds(true));
        assert!(cmd().plan(&st).unwrap().is_empty(), "unless succeeded");
        st.insert(Query::new(&SUCCEEDS, "app --version"), Succeeds(false));
        let steps = cmd().plan(&st).unwrap();
        assert_eq!(steps[0].script, "cd -- '/opt/src dir' && sh -c 'make install' </dev/null\n");
    }

    #[test]
    fn long_commands_are_labelled_by_their_first_line() {
        let mut c = cmd();
        c.cmd = "echo one\necho two".into();
        assert_eq!(c.label(), "command echo one…");
    }
}
