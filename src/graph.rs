//! The (host, role) dependency graph. Edges come from `requires` (same host),
//! `after` (every host carrying a role) and `serial` batches (a gate node per
//! batch runs the health check). Execution follows the graph, not file order.
//!
//! Over 500 lines only with its tests (about 220 lines), which build real
//! graphs from small projects; the code itself is about 410.

use crate::error::{Error, Location, Result};
use crate::project::inventory::Inventory;
use crate::project::role::Roles;
use crate::project::site::{Serial, Site};
use indexmap::{IndexMap, IndexSet};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use std::collections::{HashMap, HashSet};
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Unit {
        host: String,
        role: String,
        binding: Option<usize>,
    },
    /// Between serial batches: the health check on `hosts` gates what follows.
    Gate {
        binding: usize,
        batch: usize,
        hosts: Vec<String>,
    },
    /// "Every unit of `role` is done": what `after: [role]` waits for. One node
    /// instead of an edge from every such unit to every dependent (N+M, not N×M).
    Barrier {
        role: String,
    },
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Unit { host, role, .. } => write!(f, "{role}@{host}"),
            Node::Gate { binding, batch, .. } => write!(f, "gate(binding {} batch {})", binding + 1, batch + 1),
            Node::Barrier { role } => write!(f, "every {role}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Why {
    Requires(Location),
    After(Location),
    Serial(Location),
    /// A unit feeding the barrier of its role.
    Member,
}

impl Why {
    fn describe(&self, from: &Node, to: &Node) -> String {
        match self {
            Why::Member => format!("{to} waits for {from}"),
            Why::Requires(l) => format!("{to} requires {from} (declared at {l})"),
            Why::After(l) => format!("{to} runs after {from} (declared at {l})"),
            Why::Serial(l) => format!("{to} waits for {from} (serial batches, {l})"),
        }
    }
}

#[derive(Debug, Default)]
pub struct Graph {
    pub g: DiGraph<Node, Why>,
    pub units: IndexMap<(String, String), NodeIndex>,
    /// Predecessors dropped by `--limit`, taken as converged.
    pub assumed: Vec<String>,
}

impl Graph {
    pub fn build(inv: &Inventory, site: &Site, roles: &Roles, limit: Option<&[String]>) -> Result<Self> {
        let mut gr = Graph::default();
        let mut binding_units: Vec<Vec<(String, NodeIndex)>> = Vec::new();
        for (i, b) in site.bindings.iter().enumerate() {
            let hosts = inv.select(&b.hosts).map_err(|m| Error::at(site.locate(i, &b.hosts), m.to_string()))?;
            for h in &hosts {
                for r in &b.roles {
                    gr.unit(h, r, Some(i), roles)?;
                }
            }
            // Units pulled in by `requires` belong to the binding's batches too.
            // A set, not a scan of `hosts` per unit: that was hosts × units.
            let hosts: HashSet<&str> = hosts.iter().map(String::as_str).collect();
            let mine = gr
                .units
                .iter()
                .filter(|((h, _), n)| {
                    hosts.contains(h.as_str()) && matches!(&gr.g[**n], Node::Unit { binding: Some(bi), .. } if *bi == i)
                })
                .map(|((h, _), n)| (h.clone(), *n))
                .collect();
            binding_units.push(mine);
        }
        gr.link_after(roles);
        let limit_set: Option<HashSet<&str>> = limit.map(|l| l.iter().map(String::as_str).collect());
        for (i, b) in site.bindings.iter().enumerate() {
            if let Some(serial) = b.serial {
                gr.link_serial(i, serial, &binding_units[i], limit_set.as_ref(), site.locate(i, "serial"));
            }
        }
        gr.check_cycles()?;
        if let Some(limit) = limit {
            gr.restrict(limit);
        }
        Ok(gr)
    }

    /// Cross-host `after`: units of role X → barrier(X) → every unit that is
    /// after X. Units are grouped by role once, so this is linear in units.
    fn link_after(&mut self, roles: &Roles) {
        let mut by_role: HashMap<&str, Vec<NodeIndex>> = HashMap::new();
        for ((_, role), n) in &self.units {
            by_role.entry(role.as_str()).or_default().push(*n);
        }
        let mut barriers: HashMap<&str, NodeIndex> = HashMap::new();
        for ((_, role), n) in &self.units {
            let r = roles.get(role);
            for before in r.after.iter().filter(|b| *b != role) {
                let Some(members) = by_role.get(before.as_str()) else { continue };
                let b = *barriers.entry(before.as_str()).or_insert_with(|| {
                    let b = self.g.add_node(Node::Barrier { role: before.clone() });
                    for m in members {
                        self.g.add_edge(*m, b, Why::Member);
                    }
                    b
                });
                self.g.add_edge(b, *n, Why::After(r.locate_in("after", before)));
            }
        }
    }

    /// Serial batches: every unit of batch k before the gate, the gate before
    /// batch k+1. Each unit is put in its batch by a host → batch index, not
    /// by scanning every batch.
    fn link_serial(
        &mut self,
        binding: usize,
        serial: Serial,
        units: &[(String, NodeIndex)],
        limit: Option<&HashSet<&str>>,
        loc: Location,
    ) {
        let mut hosts: IndexSet<&str> = IndexSet::new();
        for (h, _) in units {
            if limit.is_none_or(|l| l.contains(h.as_str())) {
                hosts.insert(h);
            }
        }
        let size = serial.batch_size(hosts.len());
        let order: Vec<&str> = hosts.iter().copied().collect();
        let batches: Vec<&[&str]> = order.chunks(size).collect();
        let mut in_batch: Vec<Vec<NodeIndex>> = vec![Vec::new(); batches.len()];
        for (h, n) in units {
            if let Some(at) = hosts.get_index_of(h.as_str()) {
                in_batch[at / size].push(*n);
            }
        }
        let mut prev_gate: Option<NodeIndex> = None;
        for (k, batch) in batches.iter().enumerate() {
            // Each unit is in one batch and each gate is new: no edge can
            // repeat, so add_edge (update_edge scans the node's edges).
            if let Some(gate) = prev_gate {
                for n in &in_batch[k] {
                    self.g.add_edge(gate, *n, Why::Serial(loc.clone()));
                }
            }
            if (k + 1) * size < hosts.len() {
                let hosts = batch.iter().map(|h| h.to_string()).collect();
                let gate = self.g.add_node(Node::Gate { binding, batch: k, hosts });
                for n in &in_batch[k] {
                    self.g.add_edge(*n, gate, Why::Serial(loc.clone()));
                }
                prev_gate = Some(gate);
            }
        }
    }

    /// The unit (host, role), created with its `requires` chain on first use.
    fn unit(&mut self, host: &str, role: &str, binding: Option<usize>, roles: &Roles) -> Result<NodeIndex> {
        let key = (host.to_string(), role.to_string());
        if let Some(n) = self.units.get(&key) {
            return Ok(*n);
        }
        let n = self.g.add_node(Node::Unit { host: host.into(), role: role.into(), binding });
        self.units.insert(key, n);
        let r = roles.get(role);
        for req in &r.requires {
            let m = self.unit(host, req, binding, roles)?;
            self.g.update_edge(m, n, Why::Requires(r.locate_in("requires", req)));
        }
        Ok(n)
    }

    fn check_cycles(&self) -> Result<()> {
        let Err(cycle) = petgraph::algo::toposort(&self.g, None) else { return Ok(()) };
        let start = cycle.node_id();
        // Walk forward from `start` until we come back: that is the whole cycle.
        let mut path = self.path_back_to(start).unwrap_or_else(|| vec![start, start]);
        // Barriers are bookkeeping: show the cycle between units, starting at one.
        path.pop();
        // Start at the smallest unit name, so the message is the same on every run.
        if let Some(i) = path
            .iter()
            .enumerate()
            .filter(|(_, n)| !matches!(self.g[**n], Node::Barrier { .. }))
            .min_by_key(|(_, n)| self.g[**n].to_string())
            .map(|(i, _)| i)
        {
            path.rotate_left(i);
        }
        path.push(path[0]);
        let mut hops: Vec<(NodeIndex, NodeIndex, &Why)> = Vec::new();
        let mut from = path[0];
        for w in path.windows(2) {
            if matches!(self.g[w[1]], Node::Barrier { .. }) {
                continue;
            }
            if let Some(e) = self.g.find_edge(w[0], w[1]) {
                hops.push((from, w[1], &self.g[e]));
            }
            from = w[1];
        }
        let mut names: Vec<String> = vec![self.g[path[0]].to_string()];
        names.extend(hops.iter().map(|(_, to, _)| self.g[*to].to_string()));
        let details: Vec<String> =
            hops.iter().map(|(a, b, why)| format!("  {}", why.describe(&self.g[*a], &self.g[*b]))).collect();
        Err(Error::Cycle { path: names.join(" → "), details: details.join("\n") })
    }

    fn path_back_to(&self, start: NodeIndex) -> Option<Vec<NodeIndex>> {
        let mut stack = vec![(start, vec![start])];
        let mut seen = HashSet::new();
        while let Some((n, path)) = stack.pop() {
            for m in self.g.neighbors_directed(n, Direction::Outgoing) {
                if m == start {
                    let mut p = path.clone();
                    p.push(start);
                    return Some(p);
                }
                if seen.insert(m) {
                    let mut p = path.clone();
                    p.push(m);
                    stack.push((m, p));
                }
            }
        }
        None
    }

    /// Drops units of hosts outside `limit`, remembering the ones that were
    /// predecessors of a unit kept: walking back from each kept unit through
    /// barriers and gates to the first units met. (An edge into a barrier is
    /// not enough: `every elasticsearch` may lead to no unit of the limit.)
    fn restrict(&mut self, limit: &[String]) {
        let limit: HashSet<&str> = limit.iter().map(String::as_str).collect();
        let outside = |n: &Node| matches!(n, Node::Unit { host, .. } if !limit.contains(host.as_str()));
        let is_unit = |n: &Node| matches!(n, Node::Unit { .. });
        let mut stack: Vec<NodeIndex> =
            self.g.node_indices().filter(|n| is_unit(&self.g[*n]) && !outside(&self.g[*n])).collect();
        let (mut seen, mut assumed) = (HashSet::new(), Vec::new());
        while let Some(n) = stack.pop() {
            for p in self.g.neighbors_directed(n, Direction::Incoming) {
                if !seen.insert(p) {
                    continue;
                }
                match &self.g[p] {
                    u if outside(u) => assumed.push(u.to_string()),
                    // A kept unit: its own predecessors are walked from it.
                    u if is_unit(u) => {}
                    _ => stack.push(p),
                }
            }
        }
        assumed.sort();
        self.g.retain_nodes(|g, n| !outside(&g[n]));
        self.units = self
            .g
            .node_indices()
            .filter_map(|n| match &self.g[n] {
                Node::Unit { host, role, .. } => Some(((host.clone(), role.clone()), n)),
                _ => None,
            })
            .collect();
        self.assumed = assumed;
    }

    /// Nodes grouped by wave: wave k runs after everything in waves < k it depends on.
    pub fn waves(&self) -> Vec<Vec<NodeIndex>> {
        let order = petgraph::algo::toposort(&self.g, None).unwrap_or_default();
        let mut level = vec![0usize; self.g.node_count()];
        for n in &order {
            // A barrier adds no wave of its own: what follows it is one wave after its members.
            let step = if matches!(self.g[*n], Node::Barrier { .. }) { 0 } else { 1 };
            for m in self.g.neighbors_directed(*n, Direction::Outgoing) {
                level[m.index()] = level[m.index()].max(level[n.index()] + step);
            }
        }
        let mut waves: Vec<Vec<NodeIndex>> = Vec::new();
        for n in order {
            if matches!(self.g[n], Node::Barrier { .. }) {
                continue;
            }
            let l = level[n.index()];
            if waves.len() <= l {
                waves.resize(l + 1, Vec::new());
            }
            waves[l].push(n);
        }
        for w in &mut waves {
            w.sort_by_key(|n| self.g[*n].to_string());
        }
        waves
    }

    /// The roles of `host`'s units, in an order they may run in.
    pub fn roles_in_order(&self, host: &str) -> Vec<String> {
        self.waves()
            .into_iter()
            .flatten()
            .filter_map(|n| match &self.g[n] {
                Node::Unit { host: h, role, .. } if h == host => Some(role.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (i, wave) in self.waves().iter().enumerate() {
            out.push_str(&format!("wave {}:\n", i + 1));
            for n in wave {
                let mut preds: Vec<String> = Vec::new();
                for p in self.g.neighbors_directed(*n, Direction::Incoming) {
                    match &self.g[p] {
                        // Show what the barrier stands for; a long list is cut short.
                        Node::Barrier { role } => {
                            let mut members: Vec<String> = self
                                .g
                                .neighbors_directed(p, Direction::Incoming)
                                .map(|m| self.g[m].to_string())
                                .collect();
                            members.sort();
                            if members.len() > 4 {
                                preds.push(format!("every {role} ({} units)", members.len()));
                            } else {
                                preds.extend(members);
                            }
                        }
                        other => preds.push(other.to_string()),
                    }
                }
                preds.sort();
                preds.dedup();
                if preds.is_empty() {
                    out.push_str(&format!("  {}\n", self.g[*n]));
                } else {
                    out.push_str(&format!("  {}  ← {}\n", self.g[*n], preds.join(", ")));
                }
            }
        }
        out
    }

    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph rigger {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n");
        let mut hosts: IndexMap<String, Vec<NodeIndex>> = IndexMap::new();
        for n in self.g.node_indices() {
            if let Node::Unit { host, .. } = &self.g[n] {
                hosts.entry(host.clone()).or_default().push(n);
            } else if matches!(self.g[n], Node::Barrier { .. }) {
                out.push_str(&format!("  n{} [label=\"{}\", shape=ellipse, style=dashed];\n", n.index(), self.g[n]));
            } else {
                out.push_str(&format!("  n{} [label=\"{}\", shape=diamond];\n", n.index(), self.g[n]));
            }
        }
        for (h, nodes) in hosts {
            out.push_str(&format!("  subgraph \"cluster_{h}\" {{\n    label=\"{h}\";\n"));
            for n in nodes {
                if let Node::Unit { role, .. } = &self.g[n] {
                    out.push_str(&format!("    n{} [label=\"{role}\"];\n", n.index()));
                }
            }
            out.push_str("  }\n");
        }
        for e in self.g.edge_references() {
            let style = match e.weight() {
                Why::Requires(_) => "",
                Why::After(_) => " [style=dashed]",
                Why::Serial(_) => " [style=dotted]",
                Why::Member => " [style=dashed, arrowhead=none]",
            };
            out.push_str(&format!("  n{} -> n{}{style};\n", e.source().index(), e.target().index()));
        }
        out.push_str("}\n");
        out
    }
}

/// Graphs built from small in-memory projects, for this module's tests and the scheduler's.
#[cfg(test)]
pub(crate) mod fixture {
    use super::Graph;
    use crate::project::inventory::Inventory;
    use crate::project::role::Roles;
    use crate::project::site::Site;
    use std::path::Path;

    /// An inventory with one group per `(group, hosts)`.
    pub fn inventory(groups: &[(&str, &[&str])]) -> String {
        let mut s = String::from("all:\n  children:\n");
        for (g, hosts) in groups {
            s.push_str(&format!("    {g}:\n      hosts:\n"));
            for h in *hosts {
                s.push_str(&format!("        {h}:\n"));
            }
        }
        s
    }

    /// Loads the files the way `Project::load` does and builds the graph. An
    /// error comes back rendered, with the temp dir cut from its paths so
    /// tests can pin it.
    pub fn build(inventory: &str, site: &str, roles: &[(&str, &str)], limit: Option<&[&str]>) -> Result<Graph, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        write(root, "inventory/hosts.yaml", inventory);
        write(root, "site.yaml", site);
        for (name, text) in roles {
            // `resources:` last, so the lines a test writes keep their numbers.
            write(root, &format!("roles/{name}/role.yaml"), &format!("{text}resources: []\n"));
        }
        let limit: Option<Vec<String>> = limit.map(|l| l.iter().map(|h| h.to_string()).collect());
        let load = || {
            let inv = Inventory::load(&root.join("inventory/hosts.yaml"))?;
            let site = Site::load(&root.join("site.yaml"))?;
            let mut roles = Roles::new(&root.join("roles"));
            for (i, b) in site.bindings.iter().enumerate() {
                for r in &b.roles {
                    roles.load(r, &|| site.locate(i, r))?;
                }
            }
            Graph::build(&inv, &site, &roles, limit.as_deref())
        };
        load().map_err(|e| e.to_string().replace(&format!("{}/", root.display()), ""))
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("create dir");
        std::fs::write(p, text).expect("write fixture");
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{build, inventory};
    use super::*;

    /// Every edge as `from → to (why)`, sorted: the whole shape in one assert.
    fn edges(gr: &Graph) -> Vec<String> {
        let mut v: Vec<String> =
            gr.g.edge_references()
                .map(|e| {
                    let why = match e.weight() {
                        Why::Requires(_) => "requires",
                        Why::After(_) => "after",
                        Why::Serial(_) => "serial",
                        Why::Member => "member",
                    };
                    format!("{} → {} ({why})", gr.g[e.source()], gr.g[e.target()])
                })
                .collect();
        v.sort();
        v
    }

    fn waves(gr: &Graph) -> Vec<Vec<String>> {
        gr.waves().iter().map(|w| w.iter().map(|n| gr.g[*n].to_string()).collect()).collect()
    }

    #[test]
    fn requires_links_units_on_the_same_host_only() {
        let inv = inventory(&[("web", &["w1", "w2"])]);
        let gr = build(&inv, "- hosts: web\n  roles: [app]\n", &[("app", "requires: [base]\n"), ("base", "")], None)
            .unwrap();
        assert_eq!(gr.units.len(), 4, "base is pulled in on each host");
        assert_eq!(edges(&gr), ["base@w1 → app@w1 (requires)", "base@w2 → app@w2 (requires)"]);
        let Why::Requires(at) = &gr.g[gr.g.edge_indices().next().unwrap()] else { panic!("a requires edge") };
        assert!(at.to_string().ends_with("roles/app/role.yaml:1:12"), "{at}");
    }

    #[test]
    fn after_goes_through_one_barrier_across_hosts() {
        let inv = inventory(&[("web", &["w1", "w2"]), ("db", &["d1", "d2"])]);
        let site = "- hosts: web\n  roles: [app]\n- hosts: db\n  roles: [db]\n";
        let gr = build(&inv, site, &[("app", "after: [db]\n"), ("db", "")], None).unwrap();
        // N + M edges through the barrier, not N × M.
        assert_eq!(
            edges(&gr),
            [
                "db@d1 → every db (member)",
                "db@d2 → every db (member)",
                "every db → app@w1 (after)",
                "every db → app@w2 (after)",
            ]
        );
    }

    #[test]
    fn serial_batches_are_separated_by_gates() {
        let inv = inventory(&[("web", &["w1", "w2", "w3"])]);
        let site = "- hosts: web\n  roles: [app]\n  serial: 1\n";
        let gr = build(&inv, site, &[("app", "requires: [base]\n"), ("base", "")], None).unwrap();
        // Units pulled in by `requires` wait for the gate too; the last batch has no gate after it.
        assert_eq!(
            edges(&gr),
            [
                "app@w1 → gate(binding 1 batch 1) (serial)",
                "app@w2 → gate(binding 1 batch 2) (serial)",
                "base@w1 → app@w1 (requires)",
                "base@w1 → gate(binding 1 batch 1) (serial)",
                "base@w2 → app@w2 (requires)",
                "base@w2 → gate(binding 1 batch 2) (serial)",
                "base@w3 → app@w3 (requires)",
                "gate(binding 1 batch 1) → app@w2 (serial)",
                "gate(binding 1 batch 1) → base@w2 (serial)",
                "gate(binding 1 batch 2) → app@w3 (serial)",
                "gate(binding 1 batch 2) → base@w3 (serial)",
            ]
        );
        let gates: Vec<&Node> = gr.g.node_weights().filter(|n| matches!(n, Node::Gate { .. })).collect();
        assert_eq!(
            gates,
            [
                &Node::Gate { binding: 0, batch: 0, hosts: vec!["w1".into()] },
                &Node::Gate { binding: 0, batch: 1, hosts: vec!["w2".into()] },
            ]
        );
    }

    #[test]
    fn a_serial_batch_holds_several_hosts() {
        let inv = inventory(&[("web", &["w1", "w2", "w3"])]);
        let gr = build(&inv, "- hosts: web\n  roles: [app]\n  serial: \"67%\"\n", &[("app", "")], None).unwrap();
        assert_eq!(
            edges(&gr),
            [
                "app@w1 → gate(binding 1 batch 1) (serial)",
                "app@w2 → gate(binding 1 batch 1) (serial)",
                "gate(binding 1 batch 1) → app@w3 (serial)",
            ]
        );
    }

    #[test]
    fn a_requires_cycle_names_its_path() {
        let inv = inventory(&[("web", &["web1"])]);
        let roles = [("app", "requires: [base]\n"), ("base", "requires: [app]\n")];
        let e = build(&inv, "- hosts: web\n  roles: [app]\n", &roles, None).unwrap_err();
        assert_eq!(
            e,
            "dependency cycle: app@web1 → base@web1 → app@web1\n  \
             base@web1 requires app@web1 (declared at roles/base/role.yaml:1:12)\n  \
             app@web1 requires base@web1 (declared at roles/app/role.yaml:1:12)"
        );
    }

    #[test]
    fn an_after_cycle_across_hosts_names_units_not_barriers() {
        let inv = inventory(&[("web", &["web1"]), ("db", &["db1"])]);
        let site = "- hosts: web\n  roles: [app]\n- hosts: db\n  roles: [db]\n";
        let e = build(&inv, site, &[("app", "after: [db]\n"), ("db", "after: [app]\n")], None).unwrap_err();
        assert_eq!(
            e,
            "dependency cycle: app@web1 → db@db1 → app@web1\n  \
             db@db1 runs after app@web1 (declared at roles/db/role.yaml:1:9)\n  \
             app@web1 runs after db@db1 (declared at roles/app/role.yaml:1:9)"
        );
    }

    #[test]
    fn limit_keeps_its_hosts_and_names_the_predecessors_it_drops() {
        let inv = inventory(&[("web", &["w1", "w2"]), ("db", &["d1"])]);
        let site = "- hosts: web\n  roles: [app]\n- hosts: db\n  roles: [db]\n";
        let roles = [("app", "requires: [base]\nafter: [db]\n"), ("base", ""), ("db", "")];
        let gr = build(&inv, site, &roles, Some(&["w1"])).unwrap();
        let units: Vec<&(String, String)> = gr.units.keys().collect();
        assert_eq!(units, [&("w1".into(), "app".into()), &("w1".into(), "base".into())]);
        assert_eq!(gr.assumed, ["db@d1"]);
        assert_eq!(edges(&gr), ["base@w1 → app@w1 (requires)", "every db → app@w1 (after)"]);
    }

    #[test]
    fn limit_names_only_the_predecessors_of_what_it_keeps() {
        let inv = inventory(&[("web", &["w1"]), ("es", &["e1"]), ("kib", &["k1"])]);
        let site = "- hosts: web\n  roles: [app]\n- hosts: es\n  roles: [es]\n- hosts: kib\n  roles: [kibana]\n";
        let roles = [("app", ""), ("es", ""), ("kibana", "after: [es]\n")];
        let gr = build(&inv, site, &roles, Some(&["w1"])).unwrap();
        assert!(gr.assumed.is_empty(), "es@e1 leads to kibana@k1 only: {:?}", gr.assumed);
        let gr = build(&inv, site, &roles, Some(&["k1"])).unwrap();
        assert_eq!(gr.assumed, ["es@e1"]);
    }

    #[test]
    fn limit_counts_only_its_hosts_into_serial_batches() {
        let inv = inventory(&[("web", &["w1", "w2", "w3"])]);
        let site = "- hosts: web\n  roles: [app]\n  serial: 1\n";
        let gr = build(&inv, site, &[("app", "")], Some(&["w1", "w3"])).unwrap();
        assert_eq!(
            edges(&gr),
            ["app@w1 → gate(binding 1 batch 1) (serial)", "gate(binding 1 batch 1) → app@w3 (serial)"]
        );
        assert!(gr.assumed.is_empty());
    }

    #[test]
    fn waves_follow_the_edges_and_barriers_add_no_wave() {
        let inv = inventory(&[("web", &["w1", "w2"]), ("db", &["d1"])]);
        let site = "- hosts: web\n  roles: [app]\n  serial: 1\n- hosts: db\n  roles: [db]\n";
        let roles = [("app", "requires: [base]\nafter: [db]\n"), ("base", ""), ("db", "")];
        let gr = build(&inv, site, &roles, None).unwrap();
        assert_eq!(
            waves(&gr),
            [
                vec!["base@w1", "db@d1"],
                vec!["app@w1"],
                vec!["gate(binding 1 batch 1)"],
                vec!["base@w2"],
                vec!["app@w2"],
            ]
        );
    }
}
