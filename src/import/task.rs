//! An Ansible task list → rigger `resources:` entries, task by task, each
//! with its file:line in the report. A task's module is mapped in `module`;
//! blocks, includes and the modules that are not resources (`set_fact`,
//! `include_vars`, `meta`) in `special`; the keys every task shares in
//! `state`. A read-only command (`changed_when: false`) becomes a query.

use super::args::{self, Args};
use super::expr::{self, OsOnly};
use super::module::{self, Mapped};
use super::special;
use super::state::{module_key, when_of, Convert, Task};
use crate::project::role::outline::{self, Seg};
use serde_yaml::{Mapping, Value};

/// Task keys rigger has nothing for: the task needs a hand.
const REFUSED_KEYS: &[&str] = &[
    "vars",
    "delegate_to",
    "delegate_facts",
    "run_once",
    "local_action",
    "environment",
    "until",
    "retries",
    "async",
    "any_errors_fatal",
    "connection",
    "module_defaults",
    "action",
];

impl Convert {
    /// Converts a task list written in `file` (`text`), the list standing at `base` in it.
    pub fn list(&mut self, file: &str, text: &str, items: &[Value], base: &[Seg]) -> Vec<Value> {
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let mut path = base.to_vec();
            path.push(Seg::Index(i));
            let (line, _) = outline::locate(text, &path);
            let at = format!("{}{file}:{line}", self.prefix);
            let Value::Mapping(map) = item else {
                self.report.push(
                    at,
                    "?".into(),
                    String::new(),
                    vec![format!("a task is a mapping, not {}", args::kind(item))],
                    false,
                );
                continue;
            };
            let name = map.get("name").map(args::text).unwrap_or_else(|| module_key(map).unwrap_or("task").to_string());
            let task = Task { at, map, name, notes: Vec::new() };
            if let Some(entry) = self.task(task, file, text, &path) {
                out.push(entry);
            }
        }
        out
    }

    /// One task → an entry, or None (dropped or not converted; either way reported).
    fn task(&mut self, mut t: Task, file: &str, text: &str, path: &[Seg]) -> Option<Value> {
        let mut when = when_of(t.map);
        if let Some(w) = &when {
            match expr::os_only(w) {
                OsOnly::Never(families) => {
                    let why = format!("dropped: only for {} (rigger manages Debian-family hosts)", families.join(", "));
                    self.report.push(t.at, t.name, "nothing".into(), vec![why], true);
                    return None;
                }
                OsOnly::Always => {
                    t.notes.push(format!("`when: {w}` holds on every Debian host: dropped"));
                    when = None;
                }
                OsOnly::No => {}
            }
        }
        // `vars:` on include_vars feeds its file lookup (docker's `first_found`), not the task;
        // include_role is refused below with a better word than its `vars:`.
        let lookup = module_key(t.map)
            .is_ok_and(|m| ["include_vars", "include_role", "import_role"].contains(&module::short_name(m)));
        let refused = REFUSED_KEYS.iter().find(|k| t.map.contains_key(**k) && !(lookup && **k == "vars"));
        if let Some(why) = refused.map(|k| format!("`{k}:` has no rigger equivalent")).or_else(|| unknown_loop(t.map)) {
            return self.refuse(t, why);
        }
        if t.map.contains_key("block") {
            return special::block(self, t, when, (file, text, path), Convert::list);
        }
        let module = match module_key(t.map) {
            Ok(m) => m.to_string(),
            Err(why) => return self.refuse(t, why),
        };
        let short = module::short_name(&module).to_string();
        if let Some(done) = special::task(self, &mut t, &short, when.as_deref(), Convert::list) {
            return done;
        }
        let value = t.map.get(module.as_str()).cloned().unwrap_or(Value::Null);
        let mapped =
            Args::read(&value, t.map.get("args"), module::free_form(&short)).and_then(|a| module::map(&short, a));
        match mapped {
            Err(why) => self.refuse(t, why),
            Ok(Mapped::Nothing(note)) => {
                self.report.push(t.at, t.name, "nothing".into(), vec![note], true);
                None
            }
            Ok(Mapped::Resource(r, notes)) => {
                t.notes.extend(notes);
                self.resource(t, r, when, &short)
            }
        }
    }

    /// A mapped resource with the task's own keys.
    fn resource(&mut self, mut t: Task, r: module::Resource, when: Option<String>, short: &str) -> Option<Value> {
        let read_only = r.kind == "command" && t.map.get("changed_when").is_some_and(args::is_false);
        if read_only && !self.handlers && !has_loop(t.map) {
            return self.query(t, r, short);
        }
        let mut entry = Mapping::new();
        if let Some(name) = t.map.get("name") {
            entry.insert("name".into(), name.clone());
        }
        let mut spec = r.spec;
        let state = spec.get("state").map(args::text).unwrap_or_default();
        if r.kind == "service" && !self.handlers && (state == "restarted" || state == "reloaded") {
            t.notes.push(format!("`{state}` as a task runs on every Ansible run; in rigger only when notified"));
        }
        if let Some(notify) = t.map.get("notify").and_then(|n| self.notify(&mut t, n)) {
            spec.insert("notify".into(), notify);
        }
        entry.insert(r.kind.into(), Value::Mapping(spec));
        self.common_keys(&mut t, &mut entry, when);
        self.register(&mut t, &mut entry, r.kind);
        let became = r.kind.to_string();
        self.finish(t, entry, became)
    }

    /// `command` + `changed_when: false` → a query, read at `query.NAME`.
    fn query(&mut self, mut t: Task, r: module::Resource, short: &str) -> Option<Value> {
        let name = match t.map.get("register") {
            Some(v) => args::text(v),
            None => {
                t.notes.push("its result is not registered: a query named after the task".into());
                slug(&t.name)
            }
        };
        let mut spec = Mapping::new();
        spec.insert("name".into(), name.clone().into());
        spec.insert("cmd".into(), r.spec.get("cmd").cloned().unwrap_or(Value::Null));
        if r.spec.len() > 1 {
            let keys: Vec<String> = r.spec.keys().map(args::text).filter(|k| k != "cmd").collect();
            return self.refuse(
                t,
                format!("a read-only `{short}` with `{}`: a query takes only a command", keys.join("`, `")),
            );
        }
        t.notes.push(format!(
            "read-only (`changed_when: false`): a query, run in the probe; its result is `query.{name}`"
        ));
        for k in ["when", "tags"] {
            if t.map.contains_key(k) {
                t.notes.push(format!("`{k}:` dropped: a query always runs (it only reads)"));
            }
        }
        if t.map.contains_key("failed_when") {
            t.notes.push("`failed_when:` dropped: a failing query is no error (read its `.rc`)".into());
        }
        let mut entry = Mapping::new();
        entry.insert("query".into(), Value::Mapping(spec));
        let done = self.finish(t, entry, format!("query {name}"));
        if done.is_some() {
            self.queries.insert(name);
        }
        done
    }

    /// `register:` on a command: apply-time results; on anything else, lost.
    fn register(&mut self, t: &mut Task, entry: &mut Mapping, kind: &str) {
        let Some(name) = t.map.get("register").map(args::text) else { return };
        if kind == "command" && !self.handlers {
            if let Some(Value::Mapping(spec)) = entry.get_mut("command") {
                spec.insert("register".into(), name.clone().into());
            }
            t.notes.push(format!("registered at apply time: `{name}.changed`, `.rc`, `.stdout`"));
            self.registers.insert(name);
        } else {
            t.notes.push(format!("`register: {name}` dropped: rigger registers commands' results only"));
            self.lost.insert(name);
        }
    }
}

fn has_loop(map: &Mapping) -> bool {
    map.keys().filter_map(|k| k.as_str()).any(|k| k == "loop" || k.starts_with("with_"))
}

/// The loops rigger has no word for.
fn unknown_loop(map: &Mapping) -> Option<String> {
    let other = map.keys().filter_map(|k| k.as_str()).find(|k| k.starts_with("with_"));
    match other {
        Some(k) if !["with_items", "with_list", "with_dict"].contains(&k) => Some(format!("`{k}` has no rigger loop")),
        _ => None,
    }
}

/// A query name from a task name: lowercase words joined by `_`.
fn slug(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    let s = s.split('_').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("_");
    if s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        s
    } else {
        format!("q_{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::report::Status;

    /// Converts the task list `yaml`; the entries and the report's lines as (line, status, notes).
    fn convert(yaml: &str) -> (Vec<Value>, Vec<(String, Status, String)>) {
        let mut cv = Convert::default();
        let items: Vec<Value> = serde_yaml::from_str(yaml).unwrap();
        let out = cv.list("tasks/main.yml", yaml, &items, &[]);
        let lines = cv.report.lines.iter().map(|l| (l.at.clone(), l.status, l.notes.join("; "))).collect();
        (out, lines)
    }

    fn yaml(v: &Value) -> String {
        serde_yaml::to_string(v).unwrap()
    }

    #[test]
    fn modules_by_short_name_fqcn_and_free_form() {
        let (out, lines) = convert(
            "- name: pkgs\n  ansible.builtin.apt:\n    name: [a, b]\n    state: installed\n    update_cache: yes\n\
             - service: name=x state=started enabled=yes\n\
             - community.general.sysctl: { name: net.ipv4.ip_forward, value: '1', sysctl_set: true }\n",
        );
        assert_eq!(
            yaml(&out[0]),
            "name: pkgs\npackage:\n  names:\n  - a\n  - b\n  state: present\n  update_cache: true\n"
        );
        assert_eq!(yaml(&out[1]), "service:\n  name: x\n  state: started\n  enabled: true\n");
        assert_eq!(yaml(&out[2]), "sysctl:\n  name: net.ipv4.ip_forward\n  value: '1'\n");
        assert!(lines.iter().all(|l| l.1 == Status::Converted), "{lines:?}");
        assert_eq!(lines[1].0, "tasks/main.yml:6");
    }

    #[test]
    fn a_read_only_command_is_a_query_and_its_readers_follow() {
        let (out, lines) = convert(
            "- name: version\n  command: haproxy -v\n  register: v\n  changed_when: false\n\
             - copy: { dest: /etc/v, content: \"{{ v.stdout_lines[0] }}\" }\n  when: v.rc == 0 and v is succeeded\n",
        );
        assert_eq!(out.len(), 2, "{lines:?}");
        assert_eq!(yaml(&out[0]), "query:\n  name: v\n  cmd: haproxy -v\n");
        assert_eq!(out[1]["file"]["content"], "{{ query.v.lines[0] }}");
        assert_eq!(out[1]["when"], "query.v.rc == 0 and query.v.rc == 0");
        assert_eq!(lines[0].1, Status::Noted);
        assert!(lines[0].2.contains("a query, run in the probe"), "{}", lines[0].2);
    }

    #[test]
    fn a_changing_command_registers_at_apply_time() {
        let (out, lines) = convert(
            "- shell: ./configure && make creates=/opt/x/bin chdir=/opt/x\n  register: built\n\
             - command: rm -f /tmp/lock\n  args: { removes: /tmp/lock }\n\
             - service: { name: x, state: restarted }\n  when: built is changed\n",
        );
        assert_eq!(
            yaml(&out[0]),
            "command:\n  cmd: ./configure && make\n  creates: /opt/x/bin\n  chdir: /opt/x\n  register: built\n"
        );
        assert_eq!(out[1]["command"]["unless"], "test ! -e /tmp/lock");
        assert_eq!(out[2]["when"], "built.changed");
        assert!(lines[2].2.contains("only when notified"), "{:?}", lines[2]);
    }

    #[test]
    fn become_and_become_user_stay_on_the_resource() {
        let (out, lines) = convert("- command: psql -c 'select 1'\n  become: true\n  become_user: postgres\n");
        assert_eq!((out[0]["become"].as_bool(), out[0]["become_user"].as_str()), (Some(true), Some("postgres")));
        assert_eq!(lines[0].1, Status::Converted, "{:?}", lines[0]);
    }

    #[test]
    fn loops_when_lists_tags_and_notify_carry_over() {
        let (out, _) = convert(
            "- user: { name: \"{{ u.key }}\", groups: \"adm,sudo\", append: true }\n  with_dict: \"{{ users }}\"\n  loop_control: { loop_var: u, label: \"{{ u.key }}\" }\n  when: [a, b | bool]\n  tags: users\n  notify: [x]\n",
        );
        assert_eq!(
            yaml(&out[0]),
            "user:\n  name: '{{ u.key }}'\n  groups:\n  - adm\n  - sudo\n  notify:\n  - x\nwhen: (a) and (b | bool)\nloop: '{{ users }}'\nloop_var: u\ntags:\n- users\n"
        );
    }

    #[test]
    fn what_rigger_cannot_mean_is_refused_with_why() {
        let (out, lines) = convert(
            "- wait_for: port=80\n\
             - get_url: { url: http://x/y, dest: /opt/y }\n\
             - include_tasks: x.yml\n  delegate_to: localhost\n\
             - yum: name=httpd\n\
             - stat: path=/x\n  register: st\n\
             - file: { path: /y, state: absent }\n  when: st.stat.exists\n",
        );
        assert!(out.is_empty(), "{out:?}");
        let why: Vec<&str> = lines.iter().map(|l| l.2.as_str()).collect();
        assert_eq!(why[0], "`wait_for` has no rigger kind");
        assert!(why[1].starts_with("no `checksum`"), "{}", why[1]);
        assert_eq!(why[2], "`delegate_to:` has no rigger equivalent");
        assert!(why[3].contains("not apt"), "{}", why[3]);
        assert_eq!(why[5], "reads `st`, which no converted task sets (its `register:` or `set_fact` did not convert)");
        assert!(lines.iter().all(|l| l.1 == Status::NotConverted));
    }

    #[test]
    fn blocks_keep_their_keys_and_report_rescue() {
        let (out, lines) = convert(
            "- name: conf\n  when: on\n  become: true\n  notify: reload\n  block:\n    - template: { src: a.j2, dest: /etc/a, mode: 0600 }\n    - copy: { content: \"x\\n\", dest: /etc/b }\n  rescue:\n    - debug: msg=failed\n",
        );
        assert_eq!(
            yaml(&out[0]),
            "block:\n  name: conf\n  when: on\n  notify: reload\n  resources:\n  - template:\n      src: a.j2\n      dest: /etc/a\n      mode: '0600'\n  - file:\n      path: /etc/b\n      content: |\n        x\n"
        );
        assert_eq!(lines[0].0, "tasks/main.yml:6");
        assert_eq!(lines[1].0, "tasks/main.yml:7");
        assert_eq!(lines[2].1, Status::NotConverted);
        assert!(lines[2].2.starts_with("`rescue:` not converted"), "{:?}", lines[2]);
    }

    #[test]
    fn os_family_conditions_are_decided_and_facts_renamed() {
        let (out, lines) = convert(
            "- apt: name=x\n  when: ansible_os_family == 'RedHat'\n\
             - apt: name=y\n  when: ansible_facts['os_family'] == 'Debian'\n\
             - apt: name=z\n  when: ansible_distribution_release == 'bookworm' and not ansible_check_mode\n",
        );
        assert_eq!(out.len(), 2);
        assert!(out[0].get("when").is_none());
        assert_eq!(out[1]["when"], "facts.os.codename == 'bookworm' and not false");
        assert!(lines[0].2.starts_with("dropped: only for RedHat"), "{:?}", lines[0]);
        assert_eq!(lines[0].1, Status::Noted);
    }
}
