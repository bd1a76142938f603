//! Variable precedence: each host's vars merged once, lowest first: role
//! defaults < group vars (parents before children) < host vars < binding
//! `vars:` in site.yaml < `-e`; plus `inventory_hostname` and `group_names`.

use super::inventory::Inventory;
use super::role::Roles;
use super::site::Site;
use super::source::{merge_into, Vars};
use crate::graph::{Graph, Node};
use indexmap::IndexMap;
use serde_json::{json, Value};

/// The merged vars of every inventory host. `full` is the graph without
/// `--limit`, so a limit does not change what templates see.
pub fn per_host(inv: &Inventory, site: &Site, roles: &Roles, full: &Graph, extra: &Vars) -> IndexMap<String, Vars> {
    let mut host_roles: IndexMap<&str, Vec<&str>> = IndexMap::new();
    let mut host_bindings: IndexMap<&str, Vec<usize>> = IndexMap::new();
    for n in petgraph::algo::toposort(&full.g, None).unwrap_or_default() {
        if let Node::Unit { host, role, binding } = &full.g[n] {
            host_roles.entry(host).or_default().push(role);
            if let Some(b) = binding {
                let e = host_bindings.entry(host).or_default();
                if !e.contains(b) {
                    e.push(*b);
                }
            }
        }
    }
    let mut out = IndexMap::new();
    // Every host's groups in one pass: asking per host walks every group once per host.
    let mut groups_of = inv.groups_by_host();
    for h in inv.hosts.keys() {
        let host_groups = groups_of.swap_remove(h).unwrap_or_default();
        let mut v = Vars::new();
        for r in host_roles.get(h.as_str()).into_iter().flatten() {
            merge_into(&mut v, &roles.get(r).defaults);
        }
        merge_into(&mut v, &inv.host_vars_in(h, &host_groups));
        let mut bindings = host_bindings.get(h.as_str()).cloned().unwrap_or_default();
        bindings.sort();
        for b in bindings {
            merge_into(&mut v, &site.bindings[b].vars);
            if let Some(become_) = site.bindings[b].become_ {
                v.insert("ansible_become".into(), Value::Bool(become_));
            }
        }
        merge_into(&mut v, extra);
        v.insert("inventory_hostname".into(), Value::String(h.clone()));
        let groups: Vec<String> = host_groups.into_iter().filter(|g| g != "all" && g != "ungrouped").collect();
        v.insert("group_names".into(), json!(groups));
        out.insert(h.clone(), v);
    }
    out
}
