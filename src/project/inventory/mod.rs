//! The inventory: hosts, groups and their variables, loaded from Ansible's
//! YAML or INI formats with `group_vars/` and `host_vars/` beside them, so a
//! team can point rigger at the inventory it already has.

mod ini;
mod pattern;
pub mod vagrant;
mod yaml;

use crate::error::{Error, Result};
use crate::project::source::{merge_into, read_vars, Source, Vars};
use crate::secret::Secrets;
use indexmap::{IndexMap, IndexSet};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub use pattern::{expand_host_range, PatternError};

#[derive(Debug, Clone, Default)]
pub struct Host {
    pub name: String,
    /// Inline vars from the inventory file, then `host_vars/` on top.
    pub vars: Vars,
}

#[derive(Debug, Clone, Default)]
pub struct Group {
    pub name: String,
    /// Hosts listed directly in this group.
    pub hosts: Vec<String>,
    pub children: Vec<String>,
    /// Inline vars, then `group_vars/` on top.
    pub vars: Vars,
}

#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub hosts: IndexMap<String, Host>,
    pub groups: IndexMap<String, Group>,
    /// The file or directory it was loaded from, for messages.
    pub origin: PathBuf,
}

impl Inventory {
    /// Loads `path`: an inventory file (YAML or INI) or a directory of them.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with(path, &Secrets::default())
    }

    /// `load`, opening encrypted vars files with `secrets`' vault key and
    /// adding every value they hold to `secrets`.
    pub fn load_with(path: &Path, secrets: &Secrets) -> Result<Self> {
        if let Some(dir) = crate::project::vagrant::spec(path) {
            return vagrant::load(dir, secrets);
        }
        let mut inv = Inventory { origin: path.to_path_buf(), ..Default::default() };
        inv.group_mut("all");
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let base_dir = if meta.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| Error::io(path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_inventory_file(p))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(Error::usage(format!(
                    "no inventory file in {} (looked for *.yaml, *.yml, *.ini, hosts)",
                    path.display()
                )));
            }
            for f in files {
                inv.load_file(&f)?;
            }
            path.to_path_buf()
        } else {
            inv.load_file(path)?;
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        inv.load_vars_dirs(&base_dir, secrets)?;
        inv.finish();
        Ok(inv)
    }

    fn load_file(&mut self, path: &Path) -> Result<()> {
        let src = Source::read(path)?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let looks_ini = ext == "ini" || (ext.is_empty() && looks_like_ini(&src.text));
        if looks_ini {
            self.load_ini(&src)
        } else {
            self.load_yaml(&src)
        }
    }

    fn load_vars_dirs(&mut self, base: &Path, secrets: &Secrets) -> Result<()> {
        let groups: Vec<String> = self.groups.keys().cloned().collect();
        for g in groups {
            let vars = read_vars_entry(&base.join("group_vars"), &g, secrets)?;
            merge_into(&mut self.group_mut(&g).vars, &vars);
        }
        let hosts: Vec<String> = self.hosts.keys().cloned().collect();
        for h in hosts {
            let vars = read_vars_entry(&base.join("host_vars"), &h, secrets)?;
            merge_into(&mut self.hosts[&h].vars, &vars);
        }
        Ok(())
    }

    /// Puts every host in `all`, and hosts in no other group in `ungrouped`.
    fn finish(&mut self) {
        let mut grouped: IndexSet<String> = IndexSet::new();
        for (name, g) in &self.groups {
            if name != "all" && name != "ungrouped" {
                grouped.extend(g.hosts.iter().cloned());
            }
        }
        let ungrouped: Vec<String> = self.hosts.keys().filter(|h| !grouped.contains(*h)).cloned().collect();
        let u = self.group_mut("ungrouped");
        for h in ungrouped {
            if !u.hosts.contains(&h) {
                u.hosts.push(h);
            }
        }
        let tops: Vec<String> = self
            .groups
            .keys()
            .filter(|n| *n != "all" && !self.groups.values().any(|g| g.children.contains(n)))
            .cloned()
            .collect();
        let all = self.group_mut("all");
        for t in tops {
            if !all.children.contains(&t) {
                all.children.push(t);
            }
        }
    }

    fn group_mut(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_string()).or_insert_with(|| Group { name: name.to_string(), ..Default::default() })
    }

    fn add_host(&mut self, host: &str, group: &str, vars: Option<&Vars>) {
        let h =
            self.hosts.entry(host.to_string()).or_insert_with(|| Host { name: host.to_string(), vars: Vars::new() });
        if let Some(vars) = vars {
            merge_into(&mut h.vars, vars);
        }
        let g = self.group_mut(group);
        if !g.hosts.iter().any(|h| h == host) {
            g.hosts.push(host.to_string());
        }
    }

    /// The chain of children from `from` down to `to` closed back on `from`, if `to` is
    /// already below `from` (so making `from` a child of `to` would loop).
    fn child_path(&self, from: &str, to: &str) -> Option<Vec<String>> {
        let mut stack = vec![vec![from.to_string()]];
        while let Some(path) = stack.pop() {
            let last = path.last().expect("non-empty");
            if last == to {
                let mut p = path.clone();
                p.push(from.to_string());
                return Some(p);
            }
            if path.len() > self.groups.len() + 1 {
                continue;
            }
            for c in self.groups.get(last).map(|g| g.children.clone()).unwrap_or_default() {
                if !path.contains(&c) || c == to {
                    let mut p = path.clone();
                    p.push(c);
                    stack.push(p);
                }
            }
        }
        None
    }

    /// Hosts of a group, its children's included, in inventory order.
    pub fn group_hosts(&self, group: &str) -> Vec<String> {
        let mut out = IndexSet::new();
        self.collect_hosts(group, &mut out, &mut Vec::new());
        let order: Vec<String> = self.hosts.keys().filter(|h| out.contains(*h)).cloned().collect();
        order
    }

    fn collect_hosts(&self, group: &str, out: &mut IndexSet<String>, seen: &mut Vec<String>) {
        if seen.iter().any(|s| s == group) {
            return;
        }
        seen.push(group.to_string());
        if group == "all" {
            out.extend(self.hosts.keys().cloned());
            return;
        }
        if let Some(g) = self.groups.get(group) {
            out.extend(g.hosts.iter().cloned());
            for c in &g.children {
                self.collect_hosts(c, out, seen);
            }
        }
    }

    /// Every group that contains `host`, directly or through a child, ordered
    /// as Ansible merges them: shallow groups first, then by name.
    pub fn host_groups(&self, host: &str) -> Vec<String> {
        if !self.hosts.contains_key(host) {
            return vec![];
        }
        // Walk up from the groups that list the host: linear in the inventory's
        // size, where asking every group for its hosts would be quadratic.
        let mut parents: std::collections::HashMap<&str, Vec<&str>> = std::collections::HashMap::new();
        for (name, g) in &self.groups {
            for c in &g.children {
                parents.entry(c.as_str()).or_default().push(name.as_str());
            }
        }
        let mut found: IndexSet<String> = IndexSet::new();
        let mut stack: Vec<&str> =
            self.groups.iter().filter(|(_, g)| g.hosts.iter().any(|h| h == host)).map(|(n, _)| n.as_str()).collect();
        stack.push("all");
        while let Some(g) = stack.pop() {
            if found.insert(g.to_string()) {
                stack.extend(parents.get(g).into_iter().flatten().copied());
            }
        }
        let depth = self.group_depths();
        let mut groups: Vec<String> = found.into_iter().filter(|g| self.groups.contains_key(g)).collect();
        groups.sort_by(|a, b| depth.get(a).cmp(&depth.get(b)).then_with(|| a.cmp(b)));
        groups
    }

    fn group_depths(&self) -> IndexMap<String, usize> {
        let mut depth: IndexMap<String, usize> = IndexMap::new();
        let mut stack = vec![("all".to_string(), 0usize)];
        while let Some((g, d)) = stack.pop() {
            let cur = depth.entry(g.clone()).or_insert(0);
            if *cur > d || (d > 0 && *cur == d) {
                continue;
            }
            *cur = d;
            if d > self.groups.len() {
                continue; // defensive: a cycle among children
            }
            if let Some(group) = self.groups.get(&g) {
                for c in &group.children {
                    stack.push((c.clone(), d + 1));
                }
            }
        }
        if let Some(u) = depth.get_mut("ungrouped") {
            *u = 1;
        }
        depth
    }

    /// A host's inventory vars: group vars (parents before children), then host vars.
    pub fn host_vars(&self, host: &str) -> Vars {
        let mut vars = Vars::new();
        for g in self.host_groups(host) {
            merge_into(&mut vars, &self.groups[&g].vars);
        }
        if let Some(h) = self.hosts.get(host) {
            merge_into(&mut vars, &h.vars);
        }
        vars
    }

    /// JSON shaped like `ansible-inventory --list`.
    pub fn to_ansible_json(&self) -> Value {
        let mut out = serde_json::Map::new();
        let mut hostvars = serde_json::Map::new();
        for h in self.hosts.keys() {
            hostvars.insert(h.clone(), Value::Object(self.host_vars(h)));
        }
        out.insert("_meta".into(), serde_json::json!({ "hostvars": hostvars }));
        for (name, g) in &self.groups {
            let mut entry = serde_json::Map::new();
            if !g.children.is_empty() {
                entry.insert("children".into(), serde_json::json!(g.children));
            }
            if !g.hosts.is_empty() && name != "all" {
                entry.insert("hosts".into(), serde_json::json!(g.hosts));
            }
            if name == "ungrouped" && g.hosts.is_empty() {
                continue;
            }
            out.insert(name.clone(), Value::Object(entry));
        }
        Value::Object(out)
    }
}

fn is_inventory_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with('.') || name.ends_with('~') {
        return false;
    }
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "ini")) || name == "hosts"
}

fn looks_like_ini(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.starts_with('[') || (!l.contains(':') && !l.starts_with('-') && !l.starts_with("---")))
}

/// `group_vars/NAME.yaml` (or .yml, .json, no extension) or a directory `group_vars/NAME/`.
fn read_vars_entry(dir: &Path, name: &str, secrets: &Secrets) -> Result<Vars> {
    // A name is a file name here: never a path that leaves group_vars/ or host_vars/.
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(Error::usage(format!(
            "`{name}` cannot name a host or group (it would be read as a path under {})",
            dir.display()
        )));
    }
    let mut vars = Vars::new();
    for ext in ["", ".yaml", ".yml", ".json", ".yaml.age", ".yml.age"] {
        let p = dir.join(format!("{name}{ext}"));
        if p.is_file() {
            merge_into(&mut vars, &read_vars(&p, secrets)?);
        }
    }
    let d = dir.join(name);
    if d.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .map_err(|e| Error::io(&d, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .collect();
        files.sort();
        for f in files {
            merge_into(&mut vars, &read_vars(&f, secrets)?);
        }
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// A real-world layout: nested children, group_vars as files and as a directory, host_vars.
    fn sample(dir: &Path) {
        write(
            dir,
            "hosts.yaml",
            "all:\n  vars:\n    tier: none\n    ntp: pool\n  children:\n    prod:\n      vars: { tier: prod }\n      children:\n        lb:\n          hosts:\n            lb1: { ansible_host: 10.0.0.1 }\n            lb2:\n        web:\n          hosts:\n            web[01:02]:\n              ansible_port: 2222\n    monitoring:\n      hosts:\n        mon1:\n",
        );
        write(dir, "group_vars/all.yaml", "ntp: time.example\n");
        write(dir, "group_vars/lb/main.yaml", "maxconn: 100\ntier: edge\n");
        write(dir, "group_vars/lb/zz-extra.yml", "maxconn: 200\n");
        write(dir, "host_vars/lb2.yaml", "maxconn: 300\n");
    }

    #[test]
    fn yaml_inventory_with_nested_children_and_vars_dirs() {
        let d = tempfile::tempdir().unwrap();
        sample(d.path());
        let inv = Inventory::load(d.path()).unwrap();
        assert_eq!(inv.hosts.keys().collect::<Vec<_>>(), ["lb1", "lb2", "web01", "web02", "mon1"]);
        assert_eq!(inv.group_hosts("prod"), ["lb1", "lb2", "web01", "web02"]);
        assert_eq!(inv.host_groups("lb1"), ["all", "prod", "lb"]);
        let lb1 = inv.host_vars("lb1");
        assert_eq!(lb1["ntp"], "time.example");
        assert_eq!(lb1["tier"], "edge", "child group beats parent");
        assert_eq!(lb1["maxconn"], 200, "later file in group_vars/lb/ wins");
        assert_eq!(inv.host_vars("lb2")["maxconn"], 300, "host_vars beat group_vars");
        assert_eq!(inv.host_vars("web02")["ansible_port"], 2222);
        assert_eq!(inv.host_vars("web02")["tier"], "prod");
        assert_eq!(inv.host_vars("mon1")["tier"], "none");
    }

    #[test]
    fn ini_inventory_loads_unchanged() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "hosts",
            "# comment\nbastion ansible_host=192.0.2.9\n\n[lb]\nlb1 ansible_host=10.0.0.1 ansible_port=2201\nlb2 ansible_host=10.0.0.2 note=\"two words\"\n\n[web]\nweb[1:3]\n\n[prod:children]\nlb\nweb\n\n[prod:vars]\nenv=production\nquoted=\"42\"\n",
        );
        let inv = Inventory::load(&d.path().join("hosts")).unwrap();
        assert_eq!(inv.group_hosts("prod"), ["lb1", "lb2", "web1", "web2", "web3"]);
        assert_eq!(inv.group_hosts("ungrouped"), ["bastion"]);
        let v = inv.host_vars("lb1");
        assert_eq!(v["ansible_port"], 2201);
        assert_eq!(v["env"], "production");
        assert_eq!(v["quoted"], "42");
        assert_eq!(inv.host_vars("lb2")["note"], "two words");
    }

    #[test]
    fn unknown_key_names_file_line_col() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "hosts.yaml", "all:\n  children:\n    lb:\n      hots:\n        h1:\n");
        let err = Inventory::load(d.path()).unwrap_err().to_string();
        assert!(err.contains("unknown field `hots`"), "{err}");
        assert!(err.contains("hosts.yaml:4:7"), "{err}");
    }

    #[test]
    fn patterns_union_exclude_intersect_glob() {
        let d = tempfile::tempdir().unwrap();
        sample(d.path());
        let inv = Inventory::load(d.path()).unwrap();
        assert_eq!(inv.select("lb,mon1").unwrap(), ["lb1", "lb2", "mon1"]);
        assert_eq!(inv.select("prod:!web").unwrap(), ["lb1", "lb2"]);
        assert_eq!(inv.select("prod:&web*").unwrap(), ["web01", "web02"]);
        assert_eq!(inv.select("lb?").unwrap(), ["lb1", "lb2"]);
        assert!(inv.select("nosuch").unwrap_err().to_string().contains("neither a host nor a group"));
    }

    #[test]
    fn ansible_list_json_shape() {
        let d = tempfile::tempdir().unwrap();
        sample(d.path());
        let inv = Inventory::load(d.path()).unwrap();
        let j = inv.to_ansible_json();
        assert_eq!(j["lb"]["hosts"], serde_json::json!(["lb1", "lb2"]));
        assert_eq!(j["prod"]["children"], serde_json::json!(["lb", "web"]));
        assert_eq!(j["_meta"]["hostvars"]["lb1"]["maxconn"], 200);
        assert!(j["all"]["children"].as_array().unwrap().contains(&serde_json::json!("prod")));
    }
}
