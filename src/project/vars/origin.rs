//! Where a host's var was defined, for its errors: the layer whose value won
//! (`-e`, a site binding, host vars, a group's vars, a role's defaults) and,
//! when the key can be found in that layer's files, its file:line:col. Only
//! asked on the error path, so it may read files again.

use super::layers::Layers;
use crate::project::inventory::Inventory;
use crate::project::role::Roles;
use crate::project::site::Site;
use crate::project::source::Vars;
use std::path::{Path, PathBuf};

/// Everything needed to say where a var of a host comes from.
pub struct Origins<'a> {
    pub inv: &'a Inventory,
    pub site: &'a Site,
    pub roles: &'a Roles,
    pub extra: &'a Vars,
}

impl Origins<'_> {
    /// `inventory/group_vars/lb.yaml:3:1`, `roles/app/role.yaml:2:3`,
    /// `site.yaml:4:5`, `-e`, or the layer alone when the key is not found.
    pub fn describe(&self, host: &str, layers: &Layers, key: &str) -> String {
        if self.extra.contains_key(key) {
            return "-e".into();
        }
        for b in layers.bindings.iter().rev() {
            if self.site.bindings[*b].vars.contains_key(key) {
                let (src, from) = (&self.site.source, self.site.bindings[*b].line);
                return at(&src.path, &src.text, key, from).unwrap_or_else(|| src.path.display().to_string());
            }
        }
        if self.inv.hosts.get(host).is_some_and(|h| h.vars.contains_key(key)) {
            return self.in_inventory("host_vars", host, key).unwrap_or_else(|| format!("host vars of {host}"));
        }
        for g in layers.groups.iter().rev() {
            if self.inv.groups.get(g).is_some_and(|g| g.vars.contains_key(key)) {
                return self.in_inventory("group_vars", g, key).unwrap_or_else(|| format!("group vars of {g}"));
            }
        }
        for r in layers.roles.iter().rev() {
            let role = self.roles.get(r);
            if role.defaults.contains_key(key) {
                let from = crate::error::find_token(&role.source.text, "defaults").map_or(1, |(l, _)| l);
                let src = &role.source;
                return at(&src.path, &src.text, key, from).unwrap_or_else(|| src.path.display().to_string());
            }
        }
        "the inventory".into()
    }

    /// The key in `DIR/NAME*` (group_vars or host_vars), else in the inventory files.
    fn in_inventory(&self, dir: &str, name: &str, key: &str) -> Option<String> {
        let origin = &self.inv.origin;
        let base = if origin.is_dir() { origin.clone() } else { origin.parent().map(Path::to_path_buf)? };
        let vars_dir = base.join(dir);
        let mut files: Vec<PathBuf> =
            ["", ".yaml", ".yml", ".json"].iter().map(|e| vars_dir.join(format!("{name}{e}"))).collect();
        files.extend(sorted_files(&vars_dir.join(name)));
        if origin.is_dir() {
            files.extend(sorted_files(origin));
        } else {
            files.push(origin.clone());
        }
        files.iter().filter(|f| f.is_file()).find_map(|f| {
            let text = std::fs::read_to_string(f).ok()?;
            at(f, &text, key, 1)
        })
    }
}

fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// `file:line:col` of `key` written as a key (`key:` or `key=`) from line `from` on.
fn at(file: &Path, text: &str, key: &str, from: usize) -> Option<String> {
    let (line, col) = find_key(text, key, from)?;
    let shown = file.strip_prefix(std::env::current_dir().ok()?).unwrap_or(file);
    Some(format!("{}:{line}:{col}", shown.display()))
}

/// The first (line, column) at or after line `from` where `key` stands as a
/// whole word followed by `:` or `=` (YAML and INI).
pub fn find_key(text: &str, key: &str, from: usize) -> Option<(usize, usize)> {
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '-' || c == '.';
    for (i, line) in text.lines().enumerate().skip(from.saturating_sub(1)) {
        let mut start = 0;
        while let Some(pos) = line[start..].find(key) {
            let at = start + pos;
            let before = line[..at].chars().next_back();
            let rest = &line[at + key.len()..];
            let rest = rest.strip_prefix('"').or_else(|| rest.strip_prefix('\'')).unwrap_or(rest);
            if !before.is_some_and(word) && rest.trim_start().starts_with([':', '=']) {
                return Some((i + 1, line[..at].chars().count() + 1));
            }
            start = at + key.len();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::find_key;

    #[test]
    fn keys_are_found_as_keys_not_as_words() {
        let text = "all:\n  vars:\n    x: \"{{ port }}\"\n    port: 80\nh1 port=81\n";
        assert_eq!(find_key(text, "port", 1), Some((4, 5)));
        assert_eq!(find_key(text, "port", 5), Some((5, 4)));
        assert_eq!(find_key(text, "nope", 1), None);
    }
}
