//! The state of one role's conversion and what every task shares: its
//! report line, `when`, `loop`, `tags`, the notes for keys rigger drops, the
//! rewriting of Ansible's names in its expressions, and the refusal that
//! keeps a task as written in import-todo.yaml.

use super::args;
use super::expr;
use super::report::RoleReport;
use serde_yaml::{Mapping, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Keys of a task that are not its module.
pub const TASK_KEYS: &[&str] = &[
    "name",
    "when",
    "tags",
    "notify",
    "register",
    "loop",
    "loop_control",
    "with_items",
    "with_list",
    "with_dict",
    "with_fileglob",
    "with_together",
    "with_nested",
    "with_subelements",
    "with_sequence",
    "with_first_found",
    "with_flattened",
    "with_indexed_items",
    "with_random_choice",
    "become",
    "become_user",
    "become_method",
    "changed_when",
    "failed_when",
    "check_mode",
    "ignore_errors",
    "no_log",
    "args",
    "vars",
    "delegate_to",
    "delegate_facts",
    "run_once",
    "local_action",
    "environment",
    "until",
    "retries",
    "delay",
    "async",
    "poll",
    "any_errors_fatal",
    "throttle",
    "diff",
    "listen",
    "block",
    "rescue",
    "always",
    "connection",
    "collections",
    "module_defaults",
    "ignore_unreachable",
    "timeout",
    "debugger",
    "action",
];

/// Converts a task list (`task::Convert::list`), given to `special` so that
/// blocks and includes convert what they hold without `special` naming `task`.
pub type ListFn = fn(&mut Convert, &str, &str, &[Value], &[crate::project::role::outline::Seg]) -> Vec<Value>;

/// The state of one role's conversion.
#[derive(Debug, Default)]
pub struct Convert {
    /// The Ansible role (or playbook) folder: files are read relative to it.
    pub src_dir: PathBuf,
    pub report: RoleReport,
    /// Commands registered as queries (read-only, `changed_when: false`).
    pub queries: BTreeSet<String>,
    /// Commands registered with apply-time results.
    pub registers: BTreeSet<String>,
    /// Registered by a task that was not converted (or is no command): readers need a hand too.
    pub lost: BTreeSet<String>,
    /// Vars that tasks (`set_fact`, `include_vars`) add to the role's defaults.
    pub defaults: Mapping,
    /// Included task files, converted: their path in the rigger role and their entries.
    pub includes: Vec<(String, Vec<Value>)>,
    /// Task files being read, to refuse an include cycle.
    pub reading: Vec<String>,
    /// Tasks not converted, as written, with where and why (written to import-todo.yaml).
    pub todo: Vec<Value>,
    /// Converting handlers: no queries, no loops.
    pub handlers: bool,
    /// Put before each file name in the report (`roles/web/` for a playbook's role).
    pub prefix: String,
    /// Each Ansible handler name and `listen:` topic → the rigger handler it
    /// notifies, or None when that handler did not convert.
    pub notify: std::collections::BTreeMap<String, Option<String>>,
}

/// One task being converted: where it is written and what it became so far.
pub struct Task<'a> {
    pub at: String,
    pub map: &'a Mapping,
    pub name: String,
    pub notes: Vec<String>,
}

impl Convert {
    /// `when`, `loop`, `loop_control`, `tags` and the keys that only leave a note.
    pub fn common_keys(&mut self, t: &mut Task, entry: &mut Mapping, when: Option<String>) {
        if let Some(w) = when {
            entry.insert("when".into(), w.into());
        }
        loop_keys(t, entry);
        if let Some(tags) = t.map.get("tags") {
            let tags = match tags {
                Value::String(s) => Value::Sequence(s.split(',').map(|t| t.trim().into()).collect()),
                other => other.clone(),
            };
            entry.insert("tags".into(), tags);
        }
        // rigger's `become`/`become_user` switch only this entry's steps, as a task's do.
        if let Some(b) = t.map.get("become") {
            entry.insert("become".into(), args::boolean(b.clone()));
        }
        if let Some(u) = t.map.get("become_user") {
            entry.insert("become_user".into(), u.clone());
        }
        notes_for_keys(t, self.handlers);
    }

    /// Rewrites the entry's expressions, refuses what still reads Ansible-only names, records it.
    pub fn finish(&mut self, mut t: Task, entry: Mapping, became: String) -> Option<Value> {
        let mut facts = BTreeSet::new();
        let entry = self.rewrite(Value::Mapping(entry), &mut facts);
        let written = serde_yaml::to_string(&entry).unwrap_or_default();
        let unknown = expr::unknown_ansible_names(&written);
        if !unknown.is_empty() {
            return self.refuse(t, format!("reads `{}`, which rigger does not define", unknown.join("`, `")));
        }
        if let Some(lost) = self.lost.iter().find(|l| crate::template::mentions(&written, l)) {
            let why =
                format!("reads `{lost}`, which no converted task sets (its `register:` or `set_fact` did not convert)");
            return self.refuse(t, why);
        }
        t.notes.extend(facts);
        self.report.push(t.at, t.name, became, t.notes, true);
        Some(entry)
    }

    /// Every string of `v` with facts and registered results read as rigger reads them.
    pub fn rewrite(&self, v: Value, facts: &mut BTreeSet<String>) -> Value {
        match v {
            Value::String(s) => {
                let mut s = expr::rewrite_facts(&s, facts);
                for q in &self.queries {
                    s = expr::rewrite_tests(&s, q, &format!("query.{q}"));
                }
                for r in &self.registers {
                    s = expr::rewrite_tests(&s, r, r);
                }
                let s = expr::rewrite_queries(&s, &self.queries);
                Value::String(s)
            }
            Value::Sequence(items) => Value::Sequence(items.into_iter().map(|i| self.rewrite(i, facts)).collect()),
            Value::Mapping(m) => Value::Mapping(m.into_iter().map(|(k, v)| (k, self.rewrite(v, facts))).collect()),
            other => other,
        }
    }

    /// `notify:` with each name as rigger's handlers are named: a `listen:`
    /// topic becomes its handler, a handler that did not convert is dropped
    /// (a note); a name this role does not define is kept (another role's).
    pub fn notify(&self, t: &mut Task, v: &Value) -> Option<Value> {
        let names: Vec<String> = match v {
            Value::Sequence(l) => l.iter().map(args::text).collect(),
            other => vec![args::text(other)],
        };
        let mut kept: Vec<String> = Vec::new();
        for n in names {
            let to = match self.notify.get(&n) {
                Some(Some(h)) if *h != n => {
                    t.notes.push(format!("notifies `{n}`, a `listen:` topic: the handler `{h}`"));
                    h.clone()
                }
                Some(None) => {
                    t.notes.push(format!("notify `{n}` dropped: that handler did not convert"));
                    continue;
                }
                _ => n,
            };
            if !kept.contains(&to) {
                kept.push(to);
            }
        }
        match (kept.len(), v.is_sequence()) {
            (0, _) => None,
            (1, false) => Some(Value::String(kept.remove(0))),
            _ => Some(Value::Sequence(kept.into_iter().map(Value::String).collect())),
        }
    }

    /// Reports the task as not converted and keeps it, as written, for import-todo.yaml.
    pub fn refuse(&mut self, t: Task, why: String) -> Option<Value> {
        if let Some(name) = t.map.get("register") {
            self.lost.insert(args::text(name));
        }
        // What a refused `set_fact` would have set is undefined now: its readers need a hand too.
        if let Ok(key) = module_key(t.map) {
            if key.ends_with("set_fact") {
                if let Some(Value::Mapping(vars)) = t.map.get(key) {
                    self.lost.extend(vars.keys().map(args::text).filter(|k| k != "cacheable"));
                }
            }
        }
        let mut todo = Mapping::new();
        todo.insert("at".into(), t.at.clone().into());
        todo.insert("why".into(), why.clone().into());
        todo.insert("task".into(), Value::Mapping(t.map.clone()));
        self.todo.push(Value::Mapping(todo));
        self.report.push(t.at, t.name, String::new(), vec![why], false);
        None
    }
}

/// The task's module: its one key that is not a task key.
pub fn module_key(map: &Mapping) -> Result<&str, String> {
    let modules: Vec<&str> = map.keys().filter_map(|k| k.as_str()).filter(|k| !TASK_KEYS.contains(k)).collect();
    match modules.as_slice() {
        [one] => Ok(one),
        [] => Err("no module in the task".into()),
        many => Err(format!("more than one module key: `{}`", many.join("`, `"))),
    }
}

/// `when:` as one expression: a list's items ANDed, a bool as `true`/`false`.
pub fn when_of(map: &Mapping) -> Option<String> {
    match map.get("when")? {
        Value::Sequence(items) if items.len() == 1 => Some(args::text(&items[0]).trim().to_string()),
        Value::Sequence(items) => {
            Some(items.iter().map(|i| format!("({})", args::text(i).trim())).collect::<Vec<_>>().join(" and "))
        }
        other => Some(args::text(other).trim().to_string()),
    }
}

/// `loop`, `with_items`, `with_list`, `with_dict` and `loop_control.loop_var`.
fn loop_keys(t: &mut Task, entry: &mut Mapping) {
    for (key, note) in [
        ("loop", None),
        ("with_list", None),
        ("with_items", Some("`with_items` flattens nested lists one level; `loop` does not")),
        ("with_dict", Some("`with_dict` items are `item.key` / `item.value`, as a map's loop gives them")),
    ] {
        if let Some(v) = t.map.get(key) {
            entry.insert("loop".into(), v.clone());
            if let (Some(n), true) = (note, matches!(v, Value::Sequence(s) if s.iter().any(Value::is_sequence))) {
                t.notes.push(n.into());
            }
        }
    }
    if let Some(Value::Mapping(lc)) = t.map.get("loop_control") {
        for (k, v) in lc {
            match k.as_str() {
                Some("loop_var") => {
                    entry.insert("loop_var".into(), v.clone());
                }
                Some("label") => {}
                Some(other) => t.notes.push(format!("`loop_control.{other}` dropped")),
                None => {}
            }
        }
    }
}

/// Notes for keys that rigger drops without changing what the task does on success.
fn notes_for_keys(t: &mut Task, handler: bool) {
    let m = t.map;
    if let Some(v) = m.get("ignore_errors").filter(|v| !args::is_false(v)) {
        if !args::text(v).contains("ansible_check_mode") {
            t.notes.push("`ignore_errors` dropped: a failure stops the role's unit".into());
        }
    }
    if m.contains_key("failed_when") {
        t.notes.push("`failed_when` dropped: a non-zero exit fails the step".into());
    }
    if m.get("changed_when").is_some_and(|v| !args::is_false(v)) {
        t.notes.push("`changed_when` dropped: rigger decides changes itself".into());
    }
    if m.get("no_log").is_some_and(|v| !args::is_false(v)) {
        t.notes.push("`no_log` dropped: mark secret files `secret: true`; vault values stay sealed".into());
    }
    if handler && m.contains_key("listen") {
        t.notes.push("`listen:` topics become this handler's name in the tasks that notify them".into());
    }
}
