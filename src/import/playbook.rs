//! An Ansible playbook → `site.yaml`: each play a binding (`hosts`,
//! `roles`, `vars`, `serial`, `max_fail_percentage`, `become`). A play's
//! own `tasks:` become a role of their own; the roles it names are imported
//! from `roles/` beside the playbook when they are there.

use super::args;
use super::files::Files;
use super::report::RoleReport;
use super::role;
use super::state::Convert;
use crate::error::Result;
use crate::project::role::outline::{self, Seg};
use crate::project::source::Source;
use serde_yaml::{Mapping, Value};
use std::path::Path;

/// Play keys that need no word: rigger does the same, or it does not apply.
const QUIET_KEYS: &[&str] = &["name", "gather_facts", "any_errors_fatal"];

/// Converts the playbook at `path` into `out/site.yaml` and `out/roles/`; a report per role, the plays' first.
pub fn import(path: &Path, out: &Path, files: &mut Files) -> Result<Vec<RoleReport>> {
    let source = Source::read(path)?;
    let plays: Vec<Value> = source.parse::<Option<Vec<Value>>>()?.unwrap_or_default();
    let dir = path.parent().unwrap_or(Path::new("."));
    let file = path.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default();
    let mut site_report = RoleReport::new("site");
    let mut reports = Vec::new();
    let mut bindings = Vec::new();
    let mut imported: Vec<String> = Vec::new();
    for (i, play) in plays.iter().enumerate() {
        let (line, _) = outline::locate(&source.text, &[Seg::Index(i)]);
        let at = format!("{file}:{line}");
        let Value::Mapping(play) = play else {
            site_report.push(at, "play".into(), String::new(), vec!["a play is a mapping".into()], false);
            continue;
        };
        let name = play.get("name").map(args::text).unwrap_or_else(|| format!("play {}", i + 1));
        let mut notes = Vec::new();
        let binding = match binding(play, &mut notes) {
            Ok(b) => b,
            Err(why) => {
                notes.push(why);
                site_report.push(at, name, String::new(), notes, false);
                continue;
            }
        };
        let mut binding = binding;
        let mut roles = role_names(play, &mut binding, &mut notes);
        if ["pre_tasks", "tasks", "post_tasks", "handlers"].iter().any(|k| play.contains_key(*k)) {
            let role_name = format!("play{}", i + 1);
            reports.push(play_role(&role_name, play, (dir, &source.text, i, &file), out, files));
            notes.push(format!("its tasks are the role `{role_name}`"));
            roles.push(role_name);
        }
        for r in &roles {
            let src = dir.join("roles").join(r);
            if imported.contains(r) || !src.join("tasks").is_dir() {
                if !imported.contains(r) && !r.starts_with("play") {
                    notes.push(format!("role `{r}` is not in roles/ beside the playbook: import it on its own"));
                }
                continue;
            }
            reports.push(role::import(&src, r, &out.join("roles"), &format!("roles/{r}/"), files)?);
            imported.push(r.clone());
        }
        binding.insert("roles".into(), Value::Sequence(roles.into_iter().map(Value::String).collect()));
        site_report.push(at, name, "site.yaml binding".into(), notes, true);
        bindings.push(Value::Mapping(binding));
    }
    files.yaml(out.join("site.yaml"), Value::Sequence(bindings));
    reports.insert(0, site_report);
    Ok(reports)
}

/// The binding's keys from the play's; Err when the play cannot be one.
fn binding(play: &Mapping, notes: &mut Vec<String>) -> std::result::Result<Mapping, String> {
    let mut b = Mapping::new();
    let hosts = match play.get("hosts") {
        Some(Value::Sequence(h)) => h.iter().map(args::text).collect::<Vec<_>>().join(","),
        Some(h) => args::text(h),
        None if play.contains_key("import_playbook") => {
            return Err("`import_playbook`: import that playbook on its own".into())
        }
        None => return Err("no `hosts:`".into()),
    };
    b.insert("hosts".into(), hosts.into());
    for (k, v) in play {
        let Some(k) = k.as_str() else { continue };
        match k {
            "serial" | "max_fail_percentage" | "vars" => {
                b.insert(k.into(), v.clone());
            }
            "become" => {
                b.insert(k.into(), args::boolean(v.clone()));
            }
            "hosts" | "roles" | "pre_tasks" | "tasks" | "post_tasks" | "handlers" => {}
            "become_user" if args::text(v) == "root" => {}
            k if QUIET_KEYS.contains(&k) => {}
            "vars_files" => {
                notes.push("`vars_files` dropped: put those vars in group_vars/ or the binding's `vars:`".into())
            }
            other => notes.push(format!("`{other}` dropped")),
        }
    }
    Ok(b)
}

/// The names of the play's `roles:` (`- web` or `- role: web`). A role's
/// `vars:` join the binding's (they then apply to all its roles); its other keys are dropped.
fn role_names(play: &Mapping, binding: &mut Mapping, notes: &mut Vec<String>) -> Vec<String> {
    let Some(Value::Sequence(roles)) = play.get("roles") else { return Vec::new() };
    let mut names = Vec::new();
    for r in roles {
        let Value::Mapping(m) = r else {
            names.push(args::text(r));
            continue;
        };
        let Some(name) = m.get("role").or_else(|| m.get("name")).map(args::text) else { continue };
        for (k, v) in m {
            match (k.as_str(), v) {
                (Some("role" | "name"), _) => {}
                (Some("vars"), Value::Mapping(vars)) => {
                    let all = binding.entry("vars".into()).or_insert_with(|| Value::Mapping(Mapping::new()));
                    if let Value::Mapping(all) = all {
                        all.extend(vars.clone());
                    }
                    notes.push(format!("`vars:` of role `{name}` are the binding's: every role of it sees them"));
                }
                (Some(k), _) => notes.push(format!("`{k}:` of role `{name}` dropped")),
                (None, _) => {}
            }
        }
        names.push(name);
    }
    names
}

/// `at` is the playbook's folder, its text, the play's index in it and the playbook's file name.
fn play_role(name: &str, play: &Mapping, at: (&Path, &str, usize, &str), out: &Path, files: &mut Files) -> RoleReport {
    let (dir, text, i, file) = at;
    let mut cv = Convert { src_dir: dir.to_path_buf(), report: RoleReport::new(name), ..Default::default() };
    let mut resources = Vec::new();
    for key in ["pre_tasks", "tasks", "post_tasks"] {
        if let Some(Value::Sequence(items)) = play.get(key) {
            resources.extend(cv.list(file, text, items, &[Seg::Index(i), Seg::Key(key.into())]));
        }
    }
    let mut handlers = Mapping::new();
    if let Some(Value::Sequence(items)) = play.get("handlers") {
        cv.handlers = true;
        for entry in cv.list(file, text, items, &[Seg::Index(i), Seg::Key("handlers".into())]) {
            if let Value::Mapping(mut m) = entry {
                if let Some(n) = m.remove("name") {
                    handlers.insert(n, Value::Mapping(m));
                }
            }
        }
    }
    let mut role = Mapping::new();
    role.insert("dialect".into(), "jinja".into());
    role.insert("description".into(), format!("the tasks of play {} of {file}, imported", i + 1).into());
    role.insert("defaults".into(), Value::Mapping(std::mem::take(&mut cv.defaults)));
    role.insert("resources".into(), Value::Sequence(resources));
    if !handlers.is_empty() {
        role.insert("handlers".into(), Value::Mapping(handlers));
    }
    let role_dir = out.join("roles").join(name);
    files.yaml(role_dir.join("role.yaml"), Value::Mapping(role));
    for (rel, entries) in &cv.includes {
        files.yaml(role_dir.join(rel), Value::Sequence(entries.clone()));
    }
    if !cv.todo.is_empty() {
        files.yaml(role_dir.join("import-todo.yaml"), Value::Sequence(cv.todo.clone()));
    }
    cv.report
}
