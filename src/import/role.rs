//! One Ansible role folder → `roles/NAME/` of rigger: role.yaml (`dialect:
//! jinja`, defaults from defaults/ and vars/, resources from tasks/,
//! handlers from handlers/), included task files, templates/ and files/
//! copied unchanged, and import-todo.yaml for the tasks left to a hand.

use super::args;
use super::files::Files;
use super::report::{RoleReport, Status};
use super::state::Convert;
use crate::error::Result;
use crate::project::source::Source;
use serde_yaml::{Mapping, Value};
use std::path::Path;

/// Converts the role at `src` into `roles_out/NAME`; its report.
/// `prefix` comes before the role's file names in the report.
/// What it writes goes to `files`, written once every role converted.
pub fn import(src: &Path, name: &str, roles_out: &Path, prefix: &str, files: &mut Files) -> Result<RoleReport> {
    let mut cv = Convert {
        src_dir: src.to_path_buf(),
        report: RoleReport::new(name),
        prefix: prefix.to_string(),
        ..Default::default()
    };
    let mut defaults = Mapping::new();
    for file in ["defaults/main.yml", "defaults/main.yaml", "vars/main.yml", "vars/main.yaml"] {
        let path = src.join(file);
        if path.is_file() {
            // A YAML mistake here is an error with file:line:col, not a task to note.
            let vars: Option<Mapping> = Source::read(&path)?.parse()?;
            defaults.extend(vars.unwrap_or_default());
        }
    }
    // Handlers first, so that tasks know which notified names converted; their lines come last.
    let handlers = handlers(&mut cv, src)?;
    let handler_lines = std::mem::take(&mut cv.report.lines);
    let resources = tasks(&mut cv, src, "tasks/main.yml")?;
    cv.report.lines.extend(handler_lines);
    let mut facts = Default::default();
    defaults.extend(std::mem::take(&mut cv.defaults));
    let defaults = cv.rewrite(Value::Mapping(defaults), &mut facts);
    let out = roles_out.join(name);
    let mut role = Mapping::new();
    role.insert("dialect".into(), "jinja".into());
    role.insert(
        "description".into(),
        format!("imported from the Ansible role `{name}` by `rigger import ansible`").into(),
    );
    if let Some(deps) = dependencies(src) {
        role.insert("requires".into(), deps);
    }
    role.insert("defaults".into(), defaults);
    role.insert("resources".into(), Value::Sequence(resources));
    if !handlers.is_empty() {
        role.insert("handlers".into(), Value::Mapping(handlers));
    }
    files.yaml(out.join("role.yaml"), Value::Mapping(role));
    for (rel, entries) in &cv.includes {
        files.yaml(out.join(rel), Value::Sequence(entries.clone()));
    }
    let todo = out.join("import-todo.yaml");
    if cv.todo.is_empty() {
        files.stale(todo);
    } else {
        files.yaml(todo, Value::Sequence(cv.todo.clone()));
    }
    for folder in ["templates", "files"] {
        files.copy_tree(&src.join(folder), &out.join(folder))?;
    }
    Ok(cv.report)
}

/// Converts a task file of the role (missing: no tasks).
fn tasks(cv: &mut Convert, src: &Path, rel: &str) -> Result<Vec<Value>> {
    let path = src.join(rel);
    let path = if path.is_file() { path } else { src.join(rel.replace(".yml", ".yaml")) };
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let source = Source::read(&path)?;
    let items: Option<Vec<Value>> = source.parse()?;
    cv.reading.push(rel.to_string());
    let out = cv.list(rel, &source.text, &items.unwrap_or_default(), &[]);
    cv.reading.pop();
    Ok(out)
}

/// handlers/main.yml → `handlers:`, a map from each handler's name to its
/// resource; `cv.notify` learns which names (and `listen:` topics) converted.
fn handlers(cv: &mut Convert, src: &Path) -> Result<Mapping> {
    cv.handlers = true;
    let entries = tasks(cv, src, "handlers/main.yml")?;
    cv.handlers = false;
    let mut out = Mapping::new();
    for entry in entries {
        let Value::Mapping(mut m) = entry else { continue };
        let Some(name) = m.remove("name") else { continue };
        if m.contains_key("include") || m.contains_key("block") || m.contains_key("loop") || m.contains_key("tags") {
            // Rigger's handlers are one resource each, run once when notified.
            let why = "a handler that is a block, an include, a loop or has tags".to_string();
            let line = cv.report.lines.iter_mut().rev().find(|l| l.task == args::text(&name));
            if let Some(line) = line {
                line.status = Status::NotConverted;
                line.notes = vec![why];
            }
            continue;
        }
        out.insert(name, Value::Mapping(m));
    }
    let path = src.join("handlers/main.yml");
    let raw: Vec<Value> = if path.is_file() {
        Source::read(&path)?.parse::<Option<Vec<Value>>>()?.unwrap_or_default()
    } else {
        Vec::new()
    };
    for h in raw.iter().filter_map(Value::as_mapping) {
        let Some(name) = h.get("name").map(args::text) else { continue };
        let converted = out.contains_key(name.as_str()).then(|| name.clone());
        let topics = match h.get("listen") {
            Some(Value::Sequence(l)) => l.iter().map(args::text).collect(),
            Some(t) => vec![args::text(t)],
            None => Vec::new(),
        };
        for topic in topics {
            // A topic several handlers listen to has no single rigger handler.
            let shared = cv.notify.contains_key(&topic) && topic != name;
            cv.notify.insert(topic, if shared { None } else { converted.clone() });
        }
        cv.notify.insert(name, converted);
    }
    Ok(out)
}

/// meta/main.yml's `dependencies:` by name: they converge first, as `requires:`.
fn dependencies(src: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(src.join("meta/main.yml")).ok()?;
    let meta: Value = serde_yaml::from_str(&text).ok()?;
    let deps = meta.get("dependencies")?.as_sequence()?;
    let names: Vec<Value> = deps
        .iter()
        .filter_map(|d| match d {
            Value::String(s) => Some(s.clone()),
            Value::Mapping(m) => m.get("role").or_else(|| m.get("name")).map(args::text),
            _ => None,
        })
        .map(|n| n.rsplit('.').next().unwrap_or(&n).to_string().into())
        .collect();
    (!names.is_empty()).then_some(Value::Sequence(names))
}
