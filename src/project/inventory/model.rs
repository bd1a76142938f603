//! What an inventory is: hosts, groups (with their children) and their
//! vars, and the questions the rest of rigger asks of it (a group's hosts, a
//! host's groups and merged vars, Ansible's `--list` JSON).

use super::links::{self, Link, Links, Parent};
use crate::project::source::{merge_into, Vars};
use indexmap::{IndexMap, IndexSet};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
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

impl Parent for Group {
    fn children(&self) -> &[String] {
        &self.children
    }
}

#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub hosts: IndexMap<String, Host>,
    pub groups: IndexMap<String, Group>,
    /// The file or directory it was loaded from, for messages.
    pub origin: PathBuf,
}

impl Inventory {
    /// Only `keep` of the hosts (`--limit`), in every group as well; the
    /// groups stay, as `ansible-inventory --limit` keeps them.
    pub fn retain_hosts(&mut self, keep: &std::collections::HashSet<String>) {
        self.hosts.retain(|h, _| keep.contains(h));
        for g in self.groups.values_mut() {
            g.hosts.retain(|h| keep.contains(h));
        }
    }

    /// An inventory with nothing in it yet but what Ansible starts from:
    /// `all`, and `ungrouped` as its first child.
    pub(super) fn empty(origin: &std::path::Path) -> Self {
        let mut inv = Inventory { origin: origin.to_path_buf(), ..Default::default() };
        inv.group_mut("all").children.push("ungrouped".into());
        inv.group_mut("ungrouped");
        inv
    }

    /// What Ansible's `reconcile_inventory` does once every file is read:
    /// a group with no parent becomes a child of `all`; `ungrouped` holds
    /// exactly the hosts in no group but `all` (a host line above the first
    /// section that a later section lists too is not ungrouped). Also drops
    /// repeated members (loaders add them as they come: asking at each line
    /// whether a member is already there would be quadratic).
    pub(super) fn finish(&mut self) {
        self.group_mut("ungrouped");
        let mut grouped: HashSet<&str> = HashSet::new();
        let mut below: HashSet<&str> = HashSet::new();
        for (name, g) in &self.groups {
            if name != "all" && name != "ungrouped" {
                grouped.extend(g.hosts.iter().map(String::as_str));
            }
            below.extend(g.children.iter().map(String::as_str));
        }
        let listed = &self.groups["ungrouped"].hosts;
        let ungrouped: Vec<String> =
            listed.iter().chain(self.hosts.keys()).filter(|h| !grouped.contains(h.as_str())).cloned().collect();
        let tops: Vec<String> =
            self.groups.keys().filter(|n| *n != "all" && !below.contains(n.as_str())).cloned().collect();
        self.group_mut("ungrouped").hosts = ungrouped;
        self.group_mut("all").children.extend(tops);
        for g in self.groups.values_mut() {
            dedup(&mut g.hosts);
            dedup(&mut g.children);
        }
    }

    pub(super) fn group_mut(&mut self, name: &str) -> &mut Group {
        // Looked up before an owned key is made: most calls find the group.
        let i = match self.groups.get_index_of(name) {
            Some(i) => i,
            None => {
                let group = Group { name: name.to_string(), ..Default::default() };
                self.groups.insert_full(name.to_string(), group).0
            }
        };
        &mut self.groups[i]
    }

    /// Adds `host` to `group` (repeats are dropped by `finish`).
    pub(super) fn add_host(&mut self, host: &str, group: &str, vars: Option<&Vars>) {
        let h =
            self.hosts.entry(host.to_string()).or_insert_with(|| Host { name: host.to_string(), vars: Vars::new() });
        if let Some(vars) = vars {
            merge_into(&mut h.vars, vars);
        }
        self.group_mut(group).hosts.push(host.to_string());
    }

    /// Makes `child` a child of `parent` (repeats are dropped by `finish`),
    /// and returns the link for the loader's loop check.
    pub(super) fn add_child(&mut self, parent: &str, child: &str) -> Link {
        self.group_mut(parent).children.push(child.to_string());
        self.group_mut(child);
        Link { parent: parent.to_string(), child: child.to_string() }
    }

    /// The first of `added` that makes a loop, with the message to show at it.
    pub(super) fn first_loop(&self, added: &[Link]) -> Option<(usize, String)> {
        let (i, path) = links::first_loop(&self.groups, added)?;
        Some((i, links::loop_message(&added[i].child, &added[i].parent, &path)))
    }

    /// Hosts of a group, its children's included, in inventory order.
    pub fn group_hosts(&self, group: &str) -> Vec<String> {
        let mut out: HashSet<&str> = HashSet::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut stack = vec![group];
        while let Some(g) = stack.pop() {
            if !seen.insert(g) {
                continue;
            }
            if g == "all" {
                return self.hosts.keys().cloned().collect();
            }
            if let Some(g) = self.groups.get(g) {
                out.extend(g.hosts.iter().map(String::as_str));
                stack.extend(g.children.iter().map(String::as_str));
            }
        }
        self.hosts.keys().filter(|h| out.contains(h.as_str())).cloned().collect()
    }

    /// `group_hosts` of every group at once, children before parents, so
    /// that a long chain costs its length, not its length squared.
    pub fn hosts_by_group(&self) -> IndexMap<String, Vec<String>> {
        let links = Links::of(&self.groups);
        let order = links.topological();
        let mut sets: Vec<HashSet<usize>> = vec![HashSet::new(); self.groups.len()];
        for &g in order.iter().rev() {
            let mut set: HashSet<usize> =
                self.groups[g].hosts.iter().filter_map(|h| self.hosts.get_index_of(h)).collect();
            for &c in links.children(g) {
                set.extend(sets[c].iter().copied());
            }
            sets[g] = set;
        }
        let in_order: HashSet<usize> = order.into_iter().collect();
        let mut out = IndexMap::new();
        for (g, (name, _)) in self.groups.iter().enumerate() {
            let hosts = if name == "all" || !in_order.contains(&g) {
                self.group_hosts(name)
            } else {
                let mut ix: Vec<usize> = sets[g].iter().copied().collect();
                ix.sort_unstable();
                ix.into_iter().map(|h| self.hosts.get_index(h).expect("a host index").0.clone()).collect()
            };
            out.insert(name.clone(), hosts);
        }
        out
    }

    /// Every group that contains `host`, directly or through a child, ordered
    /// as Ansible merges them: shallow groups first, then by name.
    pub fn host_groups(&self, host: &str) -> Vec<String> {
        if !self.hosts.contains_key(host) {
            return vec![];
        }
        let direct: Vec<usize> = self
            .groups
            .values()
            .enumerate()
            .filter(|(_, g)| g.hosts.iter().any(|h| h == host))
            .map(|(i, _)| i)
            .collect();
        Lineage::of(self).groups_of(&direct)
    }

    /// `host_groups` of every host at once: the walk over all the groups is
    /// done once, not once per host.
    pub fn groups_by_host(&self) -> IndexMap<String, Vec<String>> {
        let mut direct: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, g) in self.groups.values().enumerate() {
            for h in &g.hosts {
                direct.entry(h.as_str()).or_default().push(i);
            }
        }
        let lineage = Lineage::of(self);
        self.hosts
            .keys()
            .map(|h| (h.clone(), lineage.groups_of(direct.get(h.as_str()).map_or(&[][..], Vec::as_slice))))
            .collect()
    }

    /// A host's inventory vars: group vars (parents before children), then host vars.
    pub fn host_vars(&self, host: &str) -> Vars {
        self.host_vars_in(host, &self.host_groups(host))
    }

    /// `host_vars` for a host whose `host_groups` are known already.
    pub fn host_vars_in(&self, host: &str, groups: &[String]) -> Vars {
        let mut vars = Vars::new();
        for g in groups {
            merge_into(&mut vars, &self.groups[g].vars);
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
        for (h, groups) in self.groups_by_host() {
            let vars = self.host_vars_in(&h, &groups);
            hostvars.insert(h, Value::Object(vars));
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

/// Drops repeats from `names`, keeping each first where it was.
fn dedup(names: &mut Vec<String>) {
    let unique: IndexSet<String> = std::mem::take(names).into_iter().collect();
    *names = unique.into_iter().collect();
}

/// What `host_groups` needs to know of the groups, worked out once: who is
/// whose parent, and how deep each group sits below `all`.
struct Lineage<'a> {
    inv: &'a Inventory,
    parents: Vec<Vec<usize>>,
    depth: Vec<Option<usize>>,
    all: Option<usize>,
}

impl<'a> Lineage<'a> {
    fn of(inv: &'a Inventory) -> Self {
        let links = Links::of(&inv.groups);
        let all = inv.groups.get_index_of("all");
        let mut depth = all.map(|a| links.depths(a)).unwrap_or_else(|| vec![None; inv.groups.len()]);
        if let Some(u) = inv.groups.get_index_of("ungrouped") {
            depth[u] = Some(1);
        }
        Lineage { inv, parents: links.parents(), depth, all }
    }

    /// The groups `direct` and all their ancestors (and `all`), shallow first, then by name.
    fn groups_of(&self, direct: &[usize]) -> Vec<String> {
        let mut found: HashSet<usize> = HashSet::new();
        let mut stack: Vec<usize> = direct.iter().copied().chain(self.all).collect();
        while let Some(g) = stack.pop() {
            if found.insert(g) {
                stack.extend(self.parents[g].iter().copied());
            }
        }
        let name = |g: usize| self.inv.groups.get_index(g).expect("a group index").0;
        let mut groups: Vec<usize> = found.into_iter().collect();
        groups.sort_by(|&a, &b| self.depth[a].cmp(&self.depth[b]).then_with(|| name(a).cmp(name(b))));
        groups.into_iter().map(|g| name(g).clone()).collect()
    }
}
