//! What an inventory is: hosts, groups (with their children) and their
//! vars, and the questions the rest of rigger asks of it (a group's hosts, a
//! host's groups and merged vars, Ansible's `--list` JSON).

use crate::project::source::{merge_into, Vars};
use indexmap::{IndexMap, IndexSet};
use serde_json::Value;
use std::path::PathBuf;

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
    /// Puts every host in `all`, and hosts in no other group in `ungrouped`.
    pub(super) fn finish(&mut self) {
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

    pub(super) fn group_mut(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_string()).or_insert_with(|| Group { name: name.to_string(), ..Default::default() })
    }

    pub(super) fn add_host(&mut self, host: &str, group: &str, vars: Option<&Vars>) {
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
    pub(super) fn child_path(&self, from: &str, to: &str) -> Option<Vec<String>> {
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
