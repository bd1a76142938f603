//! The `query` entry: a read-only command run in the host's probe (the same
//! round trip as every other question), whose stdout and exit code the
//! role's later fields, `when:` and templates read as `query.NAME.stdout`,
//! `.rc` and `.lines`. Not a change: it shows in reports as `query NAME`,
//! always ok. Its `cmd` is rendered with the host's vars only (the probe
//! that runs it is the one that gathers the facts) and may not depend on a
//! secret (its output would then be one, shown in clear).

use super::kind::{Doc, Field, Resolve, Resource, ResourceError, Spec, Step};
use crate::session::probe::{answer, Ask, HostState, Probe, ProbeError, Query};
use crate::shell::quote;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

/// How much of a query's stdout is kept: it travels back in the probe's answer.
pub const MAX_STDOUT: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySpec {
    /// Its results are `query.NAME`.
    pub name: String,
    pub cmd: String,
}

impl Spec for QuerySpec {
    const KIND: &'static str = "query";
    const DOC: Doc = Doc {
        summary: "Not a change: a read-only command run in the probe (during plan too), whose results the role's \
                  later fields, `when:` and templates read as `query.NAME.stdout` (trailing newlines removed), \
                  `query.NAME.rc` and `query.NAME.lines`. `cmd` may use vars, not facts nor secrets; stdout is \
                  kept up to 64 KiB, stderr is dropped. Shown as `query NAME`, ok. `check` runs nothing: it \
                  renders with an empty stdout and rc 0.",
        fields: &[
            Field { name: "name", ty: "identifier", default: "", help: "results at query.NAME" },
            Field { name: "cmd", ty: "sh command", default: "", help: "must only read: it runs during plan" },
        ],
        example: "query: { name: kernel, cmd: \"uname -r\" }",
    };

    fn resolve(self, _: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
        Ok(Arc::new(QueryEntry { name: self.name }))
    }
}

/// A query in a unit's plan: nothing to converge.
#[derive(Debug)]
struct QueryEntry {
    name: String,
}

impl Resource for QueryEntry {
    fn label(&self) -> String {
        format!("query {}", self.name)
    }
    /// Asked once, by the first probe (`probe`), never again when a unit is planned anew.
    fn queries(&self) -> Vec<Query> {
        vec![]
    }
    fn plan(&self, _: &HostState) -> Result<Vec<Step>, ResourceError> {
        Ok(vec![])
    }
}

/// A query's command, run by `sh` with no stdin and stderr dropped; its
/// stdout comes back line by line behind `|` (at most `MAX_STDOUT` bytes,
/// the rest read and dropped so the command is not cut short), then its rc.
pub static PROBE: Probe = Probe {
    name: "query",
    ask: Ask::Each(|cmd| {
        format!(
            "{{ rc=$( {{ {{ sh -c {} </dev/null 2>/dev/null; echo $? >&3; }} | {{ head -c {MAX_STDOUT}; cat >/dev/null; }} | sed 's/^/|/' >&4; }} 3>&1 ); }} 4>&1\necho\necho \"rc=$rc\"",
            quote(cmd)
        )
    }),
    parse,
};

/// The question for a rendered `cmd`.
pub fn probe(cmd: &str) -> Query {
    Query::new(&PROBE, cmd)
}

/// What a query found.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub stdout: String,
    pub rc: i32,
}

impl Answer {
    /// `query.NAME` as templates see it.
    pub fn value(&self) -> Value {
        let lines: Vec<&str> = if self.stdout.is_empty() { vec![] } else { self.stdout.split('\n').collect() };
        json!({ "stdout": self.stdout, "rc": self.rc, "lines": lines })
    }

    /// What `check` (which runs nothing) renders with.
    pub fn stand_in() -> Value {
        Answer { stdout: String::new(), rc: 0 }.value()
    }
}

fn parse(_: &str, lines: &[&str]) -> Result<crate::session::probe::Answer, ProbeError> {
    let rc = lines.iter().rev().find_map(|l| l.strip_prefix("rc=")).ok_or(ProbeError::Empty { what: "query" })?;
    let rc = rc.trim().parse().map_err(|_| ProbeError::Unexpected { what: "query", answer: rc.to_string() })?;
    let out: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix('|')).collect();
    let stdout = out.join("\n").trim_end_matches(['\n', '\r']).to_string();
    Ok(answer(Answer { stdout, rc }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::probe;
    use std::collections::BTreeSet;

    fn run(cmds: &[&str]) -> HostState {
        let q: BTreeSet<Query> = cmds.iter().map(|c| super::probe(c)).collect();
        let script = probe::script(&q, false, "@@Q@@");
        let out = std::process::Command::new("sh").arg("-c").arg(&script).output().unwrap();
        probe::parse(&q, &String::from_utf8(out.stdout).unwrap(), "@@Q@@").unwrap()
    }

    fn get(st: &HostState, cmd: &str) -> Answer {
        st.get::<Answer>(&super::probe(cmd)).unwrap().clone()
    }

    #[test]
    fn stdout_and_rc_come_back_from_one_probe() {
        let cmds = ["printf 'a\\nb\\n'", "printf 'no newline'", "echo oops >&2; exit 3", "true", "printf '|x\\n\\n'"];
        let st = run(&cmds);
        assert_eq!(get(&st, cmds[0]), Answer { stdout: "a\nb".into(), rc: 0 });
        assert_eq!(get(&st, cmds[0]).value()["lines"], json!(["a", "b"]));
        assert_eq!(get(&st, cmds[1]), Answer { stdout: "no newline".into(), rc: 0 });
        assert_eq!(get(&st, cmds[2]), Answer { stdout: "".into(), rc: 3 }, "stderr dropped");
        assert_eq!(get(&st, cmds[3]).value(), json!({ "stdout": "", "rc": 0, "lines": [] }));
        assert_eq!(get(&st, cmds[4]).stdout, "|x", "a line that looks like the framing is data");
    }

    #[test]
    fn a_broken_command_fails_alone_and_output_is_bounded() {
        let cmds = ["echo 'unclosed", "yes | head -c 200000", "echo after"];
        let st = run(&cmds);
        assert_eq!(get(&st, cmds[0]).rc, 2, "a syntax error is the command's, not the probe's");
        let big = get(&st, cmds[1]);
        assert_eq!(big.rc, 0, "the rest is read, so the command is not cut short");
        assert!(big.stdout.len() <= MAX_STDOUT, "{}", big.stdout.len());
        assert_eq!(get(&st, cmds[2]).stdout, "after");
    }
}
