//! `register:` in a role, checked at load: which commands register a result,
//! that each name is one a template can read and registered once, and, per
//! resource, which earlier registered names it reads (its fields, `when:`,
//! `loop:`, those of the blocks around it, and the role files it renders).
//! `plan` shows a resource that reads a result not known yet as conditional.

use super::role::entry::Entry;
use super::role::Role;
use crate::error::{Error, Result};
use crate::resource::{AnySpec, Decl};
use crate::template::mentions;
use serde_json::Value;
use std::path::Path;

/// Names a registered result may not take: the context already has them.
const RESERVED: &[&str] = &["query", "facts", "ansible_facts", "item", "loop_index", "groups", "hosts", "hostvars"];

/// The name `resources[i]` registers, if it is a command with `register:`.
pub fn registers(spec: &AnySpec) -> Option<&str> {
    match spec {
        AnySpec::Command(c) => c.register.as_deref(),
        _ => None,
    }
}

/// Checks every `register:` of the role; per resource, the names registered
/// by earlier commands that it reads.
pub fn analyse(role: &Role) -> Result<Vec<Vec<String>>> {
    let mut names: Vec<(usize, String)> = Vec::new();
    for (i, (decl, spec)) in role.resources.iter().enumerate() {
        let Some(name) = registers(spec) else { continue };
        let why = problem(role, decl, name, &names);
        if let Some(why) = why {
            return Err(Error::at(role.locate_token(i, "register"), format!("register `{name}`: {why}")));
        }
        names.push((i, name.to_string()));
    }
    let mut reads = vec![Vec::new(); role.resources.len()];
    if names.is_empty() {
        return Ok(reads);
    }
    if let Some(i) = in_looped_group(role, &role.entries, false) {
        let name = registers(&role.resources[i].1).unwrap_or_default();
        let why = "a command inside a block or include with `loop:` cannot register (each item would register \
                   again); loop inside the command's `cmd` instead";
        return Err(Error::at(role.locate_token(i, "register"), format!("register `{name}`: {why}")));
    }
    let root_templates = role.dir.parent().and_then(Path::parent).map(|r| r.join("templates"));
    let mut around = Vec::new();
    walk(&role.entries, &mut around, &mut |i, around: &[String]| {
        let (decl, spec) = &role.resources[i];
        let mut text = around.join("\n");
        text.push_str(&own_text(decl, spec));
        text.push_str(&files_text(role, spec, root_templates.as_deref()));
        reads[i] = names.iter().filter(|(j, n)| *j < i && mentions(&text, n)).map(|(_, n)| n.clone()).collect();
    });
    Ok(reads)
}

/// What is wrong with `register: name` on this entry, if anything.
fn problem(role: &Role, decl: &Decl, name: &str, earlier: &[(usize, String)]) -> Option<String> {
    let ident = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ident {
        Some("the name must be an identifier (letters, digits, `_`), so templates can read `NAME.stdout`".into())
    } else if RESERVED.contains(&name) || decl.loop_var.as_deref() == Some(name) {
        Some(format!("`{name}` is a name rigger gives templates already; register under another name"))
    } else if role.defaults.contains_key(name) {
        Some(format!("the role has a default `{name}`: a registered result may not shadow a var"))
    } else if earlier.iter().any(|(_, n)| n == name) {
        Some("another command of this role registers that name".into())
    } else if decl.each.is_some() {
        Some("a command with `loop:` cannot register (one result per item); loop inside its `cmd` instead".into())
    } else {
        None
    }
}

/// The first registering resource inside a group with `loop:`.
fn in_looped_group(role: &Role, entries: &[Entry], looped: bool) -> Option<usize> {
    entries.iter().find_map(|e| match e {
        Entry::Resource(i) => (looped && registers(&role.resources[*i].1).is_some()).then_some(*i),
        Entry::Group(g) => in_looped_group(role, &g.entries, looped || g.each.is_some()),
    })
}

/// Calls `each` with every resource and the text of the groups around it.
fn walk(entries: &[Entry], around: &mut Vec<String>, each: &mut dyn FnMut(usize, &[String])) {
    for e in entries {
        match e {
            Entry::Resource(i) => each(*i, around),
            Entry::Group(g) => {
                let mut text = g.when.join("\n");
                if let Some(v) = &g.each {
                    text.push('\n');
                    text.push_str(&strings(v));
                }
                around.push(text);
                walk(&g.entries, around, each);
                around.pop();
            }
        }
    }
}

/// The templates of an entry: its name, `when:`, `loop:` and every string
/// value of its spec (not the keys: a name may be `path`).
fn own_text(decl: &Decl, spec: &AnySpec) -> String {
    let mut parts: Vec<String> = decl.name.iter().chain(decl.when.iter()).cloned().collect();
    if let Some(v) = &decl.each {
        parts.push(strings(v));
    }
    parts.push(strings(&decl.body(spec)));
    format!("\n{}", parts.join("\n"))
}

/// Every string of a value, one per line.
fn strings(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(strings).collect::<Vec<_>>().join("\n"),
        Value::Object(m) => m.values().map(strings).collect::<Vec<_>>().join("\n"),
        _ => String::new(),
    }
}

/// The text of the role files the resource renders. A file named by a
/// template, or one that includes, imports or extends another, may read
/// any template: then every template of the role and the project counts.
fn files_text(role: &Role, spec: &AnySpec, root_templates: Option<&Path>) -> String {
    let mut out = String::new();
    for f in spec.role_files() {
        let text = std::fs::read_to_string(role.dir.join(f.folder.dir()).join(f.name)).unwrap_or_default();
        let reaches = ["include", "import", "extends", "from"].iter().any(|w| mentions(&text, w));
        if crate::resource::typed::is_templated(f.name) || reaches {
            for dir in [Some(role.dir.join("templates")), root_templates.map(Path::to_path_buf)].into_iter().flatten() {
                all_files(&dir, &mut out);
            }
        }
        out.push('\n');
        out.push_str(&text);
    }
    out
}

/// The text of every file under `dir`, appended to `out`.
fn all_files(dir: &Path, out: &mut String) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            all_files(&p, out);
        } else if let Ok(t) = std::fs::read_to_string(&p) {
            out.push('\n');
            out.push_str(&t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(role: &str, templates: &[(&str, &str)]) -> Vec<Vec<String>> {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("roles/r");
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::write(dir.join("role.yaml"), role).unwrap();
        for (f, text) in templates {
            std::fs::write(dir.join("templates").join(f), text).unwrap();
        }
        let role = Role::load(&d.path().join("roles"), "r").unwrap();
        analyse(&role).unwrap()
    }

    #[test]
    fn values_blocks_and_templates_read_a_name_keys_do_not() {
        let r = reads(
            "resources:\n  - file: { path: /a, content: \"{{ path.stdout }}\" }\n  - command: { cmd: x, register: path }\n  - file: { path: /b, content: x }\n  - block:\n      when: path.changed\n      resources:\n        - package: p\n  - template: { src: outer.tera, dest: /c }\n  - template: { src: plain.tera, dest: /d }\n",
            &[("outer.tera", "{% include \"inner.tera\" %}"), ("inner.tera", "{{ path.rc }}"), ("plain.tera", "x")],
        );
        let names: Vec<Vec<&str>> = r.iter().map(|v| v.iter().map(String::as_str).collect()).collect();
        assert_eq!(names, [vec![], vec![], vec![], vec!["path"], vec!["path"], vec![]]);
    }
}
