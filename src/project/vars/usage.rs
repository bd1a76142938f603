//! Which vars a host's run reads, so a var that no one reads is never an
//! error (Ansible's rule: an unused var is never rendered). A var is read
//! when its name stands as a word in a file the host's run renders (its
//! roles' role.yaml but for `defaults:`, their templates and task files, the
//! shared templates, site.yaml but for binding `vars:`), in a var that is
//! read, or in any text that reaches into other hosts (`hosts`, `hostvars`).
//! A name is a word of the text, so this errs on the side of "read": it may
//! report a broken var that a false `if` would have skipped, never miss one.

use super::layers::Layers;
use super::lazy::{templated, text_of};
use crate::project::role::Roles;
use crate::project::site::Site;
use crate::project::source::Vars;
use crate::template::mentions;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The words of every text a run renders, by role.
#[derive(Debug, Default)]
pub struct Usage {
    roles: HashMap<String, HashSet<String>>,
    common: HashSet<String>,
    /// Words of texts that read other hosts' vars: read on every host.
    cross: HashSet<String>,
}

impl Usage {
    pub fn new(root: &Path, site: &Site, roles: &Roles) -> Self {
        let mut u = Usage::default();
        let site_text = drop_blocks(&site.source.text, "vars", false);
        let mut shared = String::new();
        read_texts(&root.join("templates"), &mut shared);
        for text in [site_text.as_str(), shared.as_str()] {
            u.add(text, None);
        }
        for (name, r) in &roles.roles {
            let mut text = drop_blocks(&r.source.text, "defaults", true);
            read_texts(&r.dir, &mut text);
            u.add(&text, Some(name));
        }
        u
    }

    fn add(&mut self, text: &str, role: Option<&str>) {
        if mentions(text, "hosts") || mentions(text, "hostvars") {
            self.cross.extend(words(text));
        }
        match role {
            Some(r) => self.roles.entry(r.to_string()).or_default().extend(words(text)),
            None => self.common.extend(words(text)),
        }
    }

    /// A var's text that may read other hosts' vars: its words are read everywhere.
    pub fn add_cross(&mut self, text: &str) {
        self.cross.extend(words(text));
    }

    /// Whether any file of the run names `word`.
    pub fn names(&self, word: &str) -> bool {
        self.common.contains(word) || self.cross.contains(word) || self.roles.values().any(|w| w.contains(word))
    }

    /// Whether role `role`'s files name `var`.
    pub fn role_reads(&self, role: &str, var: &str) -> bool {
        self.roles.get(role).is_some_and(|w| w.contains(var))
    }

    /// Whether the run of a host with `layers` and vars `raw` reads `var`.
    /// Connection vars (`ansible_host`, `ansible_user`, …) are read by
    /// rigger itself, whether a file names them or not.
    pub fn used(&self, layers: &Layers, raw: &Vars, var: &str) -> bool {
        if var.starts_with("ansible_") {
            return true;
        }
        let mut seen = HashSet::from([var.to_string()]);
        self.used_from(layers, raw, var, &mut seen)
    }

    fn used_from(&self, layers: &Layers, raw: &Vars, var: &str, seen: &mut HashSet<String>) -> bool {
        if self.common.contains(var) || self.cross.contains(var) || layers.roles.iter().any(|r| self.role_reads(r, var))
        {
            return true;
        }
        for (k, v) in raw {
            if seen.contains(k) || !templated(v) || !mentions(&text_of(v), var) {
                continue;
            }
            seen.insert(k.clone());
            if self.used_from(layers, raw, k, seen) {
                return true;
            }
        }
        false
    }
}

/// The identifiers of `text`.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).map(String::from)
}

/// `text` without the blocks of key `key` (the key's line and every line
/// indented deeper below it); with `top`, only a key at column 1.
fn drop_blocks(text: &str, key: &str, top: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start_matches([' ', '-']).len();
        if let Some(at) = inside {
            if line.trim().is_empty() || indent > at {
                continue;
            }
            inside = None;
        }
        let body = line.trim_start_matches([' ', '-']);
        let is_key = body.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with(':'));
        if is_key && (!top || indent == 0) {
            inside = Some(indent);
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Appends the text of every readable file under `dir` but its `files/`
/// (copied as they are, never rendered), `tests/` (scenarios) and dotfiles.
fn read_texts(dir: &Path, out: &mut String) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') || matches!(name.as_str(), "files" | "tests" | "role.yaml") {
            continue;
        }
        if p.is_dir() {
            read_texts(&p, out);
        } else if let Ok(text) = std::fs::read_to_string(&p) {
            out.push_str(&text);
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_vars_and_what_files_name_are_read() {
        let mut u = Usage::default();
        u.add("{{ port }}", Some("app"));
        let layers = Layers { roles: vec!["app".into()], ..Layers::default() };
        let raw = serde_json::json!({"port": "{{ base }}", "base": 1, "lone": "{{ x }}", "ansible_host": "{{ ip }}"});
        let raw = raw.as_object().unwrap();
        assert!(u.used(&layers, raw, "port") && u.used(&layers, raw, "base"), "named, and read by what is named");
        assert!(u.used(&layers, raw, "ansible_host"), "rigger reads it to connect");
        assert!(!u.used(&layers, raw, "lone"));
        assert!(!u.used(&Layers::default(), raw, "port"), "a host without the role does not read it");
    }

    #[test]
    fn defaults_and_binding_vars_are_not_reads() {
        let role = "defaults:\n  a: \"{{ b }}\"\n  c: 1\nresources:\n  - file: { path: /x, content: \"{{ c }}\" }\n";
        assert_eq!(drop_blocks(role, "defaults", true), "resources:\n  - file: { path: /x, content: \"{{ c }}\" }\n");
        let site = "- hosts: web\n  vars:\n    x: 1\n  roles: [app]\n- vars: { y: 2 }\n  hosts: db\n";
        assert_eq!(drop_blocks(site, "vars", false), "- hosts: web\n  roles: [app]\n  hosts: db\n");
    }
}
