//! Tasks that are not one resource: `block:` (a rigger block),
//! `include_tasks`/`import_tasks` (a rigger include of the converted file),
//! `include_vars` and `set_fact` (vars added to the role's defaults: rigger
//! renders vars lazily, per host), `meta`, `debug`, `assert` and `fail`.

use super::args;
use super::state::{Convert, ListFn, Task};
use crate::project::role::outline::Seg;
use crate::project::source::Source;
use serde_yaml::{Mapping, Value};

/// Handles `short` when it is one of these modules: Some(the entry, or None).
pub fn task(cv: &mut Convert, t: &mut Task, short: &str, when: Option<&str>, list: ListFn) -> Option<Option<Value>> {
    let value = t.map.get(short).or_else(|| t.map.values().next()).cloned().unwrap_or(Value::Null);
    let value = module_value(t.map).unwrap_or(value);
    let nothing = |cv: &mut Convert, t: &mut Task, note: &str| {
        let mut notes = std::mem::take(&mut t.notes);
        notes.push(note.to_string());
        cv.report.push(t.at.clone(), t.name.clone(), "nothing".into(), notes, true);
        None
    };
    Some(match short {
        "include_tasks" | "import_tasks" | "include" => include(cv, take(t), &value, when, list),
        "include_vars" => include_vars(cv, take(t), &value),
        "set_fact" => set_fact(cv, take(t), &value, when),
        "meta" => match args::text(&value).as_str() {
            "flush_handlers" => nothing(cv, t, "handlers run at the end of the role's unit in rigger"),
            "reset_connection" => nothing(cv, t, "rigger starts each script afresh"),
            "noop" => nothing(cv, t, "does nothing"),
            other => cv.refuse(take(t), format!("`meta: {other}` has no rigger equivalent")),
        },
        "debug" => nothing(cv, t, "debug output dropped: `rigger facts HOST` shows vars and facts"),
        "assert" | "fail" => {
            cv.refuse(take(t), format!("`{short}`: rigger has no assertion kind (check reports undefined vars)"))
        }
        "include_role" | "import_role" => {
            cv.refuse(take(t), format!("`{short}`: say `requires: [ROLE]` in role.yaml (the role converges first)"))
        }
        _ => return None,
    })
}

/// The task, its notes moved out (the caller's copy keeps none).
fn take<'a>(t: &mut Task<'a>) -> Task<'a> {
    Task { at: t.at.clone(), map: t.map, name: t.name.clone(), notes: std::mem::take(&mut t.notes) }
}

/// The module's value under any spelling (`ansible.builtin.set_fact`).
fn module_value(map: &Mapping) -> Option<Value> {
    let key = super::state::module_key(map).ok()?;
    map.get(key).cloned()
}

/// `block:` → a rigger block with the block's `when`, `tags`, `notify` and `name`.
/// `at` is where the block stands: its file, that file's text and its path in it.
pub fn block(
    cv: &mut Convert,
    mut t: Task,
    when: Option<String>,
    at: (&str, &str, &[Seg]),
    list: ListFn,
) -> Option<Value> {
    let (file, text, path) = at;
    let mut inner_path = path.to_vec();
    inner_path.push(Seg::Key("block".into()));
    let items = match t.map.get("block") {
        Some(Value::Sequence(items)) => items.clone(),
        _ => return cv.refuse(t, "`block:` is not a list of tasks".into()),
    };
    let mut body = Mapping::new();
    if let Some(name) = t.map.get("name") {
        body.insert("name".into(), name.clone());
    }
    let mut outer = Mapping::new();
    cv.common_keys(&mut t, &mut outer, when);
    for k in ["when", "tags"] {
        if let Some(v) = outer.remove(k) {
            body.insert(k.into(), v);
        }
    }
    if let Some(n) = t.map.get("notify").and_then(|n| cv.notify(&mut t, n)) {
        body.insert("notify".into(), n);
    }
    let extra: Vec<&str> = ["rescue", "always"].into_iter().filter(|k| t.map.contains_key(*k)).collect();
    let resources = list(cv, file, text, &items, &inner_path);
    body.insert("resources".into(), Value::Sequence(resources));
    let mut entry = Mapping::new();
    entry.insert("block".into(), Value::Mapping(body));
    if !extra.is_empty() {
        // The block's tasks are converted; what runs on failure is not.
        let why = format!(
            "`{}:` not converted (rigger stops the unit on failure); the block's tasks are",
            extra.join(":`, `")
        );
        let t2 = Task { at: t.at.clone(), map: t.map, name: t.name.clone(), notes: Vec::new() };
        cv.refuse(t2, why);
    }
    let mut facts = Default::default();
    let entry = cv.rewrite(Value::Mapping(entry), &mut facts);
    Some(entry)
}

/// `include_tasks: FILE` → `include: tasks/FILE.yaml`, with FILE converted once.
fn include(cv: &mut Convert, t: Task, value: &Value, when: Option<&str>, list: ListFn) -> Option<Value> {
    let file = match value {
        Value::String(s) => s.clone(),
        Value::Mapping(m) => m.get("file").map(args::text).unwrap_or_default(),
        _ => String::new(),
    };
    if file.is_empty() || file.contains("{{") {
        return cv.refuse(t, format!("the file `{file}` is not a plain name: rigger includes a fixed file"));
    }
    let rel = format!("tasks/{file}");
    let out = format!("tasks/{}.yaml", file.trim_end_matches(".yml").trim_end_matches(".yaml"));
    if cv.reading.contains(&rel) {
        return cv.refuse(t, format!("includes `{rel}`, which includes it back"));
    }
    // The include's own line comes before the lines of the tasks it reads.
    let slot = cv.report.lines.len();
    if !cv.includes.iter().any(|(p, _)| *p == out) {
        let src = match Source::read(&cv.src_dir.join(&rel)) {
            Ok(src) => src,
            Err(e) => return cv.refuse(t, format!("cannot read `{rel}`: {e}")),
        };
        let items = match serde_yaml::from_str::<Value>(&src.text) {
            Ok(Value::Sequence(items)) => items,
            Ok(Value::Null) => Vec::new(),
            Ok(other) => return cv.refuse(t, format!("`{rel}` holds {}, not a task list", args::kind(&other))),
            Err(e) => return cv.refuse(t, format!("`{rel}`: {e}")),
        };
        cv.reading.push(rel.clone());
        cv.includes.push((out.clone(), Vec::new()));
        let entries = list(cv, &rel, &src.text, &items, &[]);
        cv.reading.pop();
        if let Some(slot) = cv.includes.iter_mut().find(|(p, _)| *p == out) {
            slot.1 = entries;
        }
    }
    let mut entry = Mapping::new();
    entry.insert("include".into(), out.clone().into());
    let mut t = t;
    if let Value::Mapping(m) = value {
        if m.contains_key("apply") {
            t.notes.push("`apply:` dropped: put its keys on the included tasks".into());
        }
    }
    cv.common_keys(&mut t, &mut entry, when.map(str::to_string));
    let done = cv.finish(t, entry, format!("include {out}"));
    if let Some(line) = cv.report.lines.pop() {
        cv.report.lines.insert(slot, line);
    }
    done
}

/// `include_vars`: a file of vars/ merged into the defaults. One picked by
/// the OS (`{{ ansible_os_family }}.yml`, a `first_found` over it) is Debian's.
fn include_vars(cv: &mut Convert, mut t: Task, value: &Value) -> Option<Value> {
    let written = serde_yaml::to_string(t.map).unwrap_or_default();
    let name = match value {
        Value::String(s) if !s.contains("{{") => s.clone(),
        Value::Mapping(m) if m.get("file").is_some_and(|f| !args::text(f).contains("{{")) => args::text(&m["file"]),
        _ if written.contains("os_family") || written.contains("distribution") => {
            t.notes
                .push("picks a vars file by the OS: vars/Debian.yml taken (rigger manages Debian-family hosts)".into());
            "Debian.yml".to_string()
        }
        _ => return cv.refuse(t, "a vars file picked by an expression rigger cannot decide at import".into()),
    };
    let path = cv.src_dir.join("vars").join(&name);
    if path.is_file() {
        match read_vars(&path) {
            Ok(vars) => {
                for (k, v) in vars {
                    cv.defaults.insert(k, v);
                }
            }
            Err(why) => return cv.refuse(t, why),
        }
        t.notes.push(format!("vars/{name} merged into the role's defaults (below inventory vars, not above)"));
    } else {
        t.notes.push(format!("vars/{name} does not exist: nothing to merge"));
    }
    cv.report.push(t.at, t.name, "defaults".into(), t.notes, true);
    None
}

/// A vars file as a mapping; Err says why not.
pub fn read_vars(path: &std::path::Path) -> Result<Mapping, String> {
    let src = Source::read(path).map_err(|e| e.to_string())?;
    match serde_yaml::from_str::<Value>(&src.text) {
        Ok(Value::Mapping(m)) => Ok(m),
        Ok(Value::Null) => Ok(Mapping::new()),
        Ok(other) => Err(format!("{} holds {}, not vars", path.display(), args::kind(&other))),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// `set_fact` → role defaults, rendered lazily per host. Its `when:` may
/// only be `NAME is not defined` for the var it sets (a default's meaning).
fn set_fact(cv: &mut Convert, mut t: Task, value: &Value, when: Option<&str>) -> Option<Value> {
    let Value::Mapping(facts) = value else {
        return cv.refuse(t, "`set_fact` with no vars".into());
    };
    let mut facts = facts.clone();
    facts.remove("cacheable");
    if let Some(w) = when {
        let only = facts.len() == 1
            && facts.keys().next().and_then(Value::as_str).is_some_and(|k| w.trim() == format!("{k} is not defined"));
        if !only {
            return cv.refuse(t, format!("`set_fact` under `when: {w}`: a var cannot depend on a condition"));
        }
    }
    if t.map.keys().any(|k| k.as_str().is_some_and(|k| k == "loop" || k.starts_with("with_"))) {
        return cv.refuse(t, "`set_fact` in a loop: a var is set once".into());
    }
    let written = serde_yaml::to_string(&facts).unwrap_or_default();
    let reads: Vec<&String> = cv.queries.iter().chain(&cv.registers).chain(&cv.lost).collect();
    if let Some(r) = reads.iter().find(|r| crate::template::mentions(&written, r)) {
        return cv.refuse(t, format!("reads the registered `{r}`: vars cannot read a command's result"));
    }
    let unknown = super::expr::unknown_ansible_names(&super::expr::rewrite_facts(&written, &mut Default::default()));
    if !unknown.is_empty() {
        return cv.refuse(t, format!("reads `{}`, which rigger does not define", unknown.join("`, `")));
    }
    let mut found = Default::default();
    for (k, v) in facts {
        let v = cv.rewrite(v, &mut found);
        cv.defaults.insert(k, v);
    }
    t.notes.push("a role default now (vars given anywhere else win over it; in Ansible set_fact wins)".into());
    t.notes.extend(found);
    cv.report.push(t.at, t.name, "defaults".into(), t.notes, true);
    None
}
