//! Variable precedence: each host's vars merged once, lowest first: role
//! defaults < group vars (parents before children) < host vars < binding
//! `vars:` in site.yaml < `-e`; plus `inventory_hostname` and `group_names`.
//! The merged values are as written; `lazy` renders the `{{ }}` in them per
//! host, each in the dialect of the file that defined it (inventories,
//! group/host vars and `-e` in Jinja2, site.yaml in Tera, role defaults in
//! the role's `dialect:`); `usage` tells which vars a host's run reads,
//! `origin` where a var was defined (for errors).

mod layers;
pub mod lazy;
pub mod origin;
pub mod usage;

pub use layers::Layers;

use super::inventory::Inventory;
use super::role::Roles;
use super::site::Site;
use super::source::Vars;
use crate::graph::{Graph, Node};
use crate::secret::Secrets;
use crate::template::{Dialect, Renderer};
use indexmap::IndexMap;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The merged vars (as written) and the layers of every inventory host.
/// `full` is the graph without `--limit`, so a limit does not change what
/// templates see.
pub fn per_host(
    inv: &Inventory,
    site: &Site,
    roles: &Roles,
    full: &Graph,
    extra: &Vars,
) -> (IndexMap<String, Vars>, IndexMap<String, Layers>) {
    let mut layers: IndexMap<String, Layers> = IndexMap::new();
    for n in petgraph::algo::toposort(&full.g, None).unwrap_or_default() {
        if let Node::Unit { host, role, binding } = &full.g[n] {
            let l = layers.entry(host.clone()).or_default();
            l.roles.push(role.clone());
            if let Some(b) = binding {
                if !l.bindings.contains(b) {
                    l.bindings.push(*b);
                }
            }
        }
    }
    let mut out = IndexMap::new();
    let mut all_layers = IndexMap::new();
    // Every host's groups in one pass: asking per host walks every group once per host.
    let mut groups_of = inv.groups_by_host();
    for h in inv.hosts.keys() {
        let mut l = layers.swap_remove(h.as_str()).unwrap_or_default();
        l.groups = groups_of.swap_remove(h).unwrap_or_default();
        l.bindings.sort();
        let mut v = Vars::new();
        // Ansible's own default, below every layer: imported templates open
        // with `{{ ansible_managed }}`, and the same words keep a migrated
        // host's files as Ansible left them (no diff on the first run).
        v.insert("ansible_managed".into(), Value::String("Ansible managed".into()));
        // Each layer in the dialect of its files (see `Layers::dialects`).
        for r in l.roles.clone() {
            let role = roles.get(&r);
            l.merge(&mut v, &role.defaults, role.dialect);
        }
        l.merge(&mut v, &inv.host_vars_in(h, &l.groups), Dialect::Jinja);
        for b in l.bindings.clone() {
            l.merge(&mut v, &site.bindings[b].vars, Dialect::Tera);
            if let Some(become_) = site.bindings[b].become_ {
                v.insert("ansible_become".into(), Value::Bool(become_));
            }
        }
        l.merge(&mut v, extra, Dialect::Jinja);
        v.insert("inventory_hostname".into(), Value::String(h.clone()));
        let groups: Vec<&String> = l.groups.iter().filter(|g| *g != "all" && *g != "ungrouped").collect();
        v.insert("group_names".into(), json!(groups));
        out.insert(h.clone(), v);
        all_layers.insert(h.clone(), l);
    }
    (out, all_layers)
}

/// Every host's vars as written, what reads them, and where they come from:
/// the input of each rendering pass (at load, then again with facts).
pub struct Written {
    pub raw: IndexMap<String, Vars>,
    pub layers: IndexMap<String, Layers>,
    pub usage: usage::Usage,
    pub extra: Vars,
}

/// Every host's vars after a pass.
#[derive(Debug, Default)]
pub struct Rendered {
    pub vars: IndexMap<String, Vars>,
    /// `hosts` (and `hostvars`): each host's rendered vars, and its facts once known.
    pub hosts: Value,
    /// Per host, the vars that read `facts`, not known yet.
    pub later: HashMap<String, Vec<String>>,
    /// Per host, the vars its run reads that cannot be rendered.
    pub failed: IndexMap<String, Vec<(String, lazy::VarError)>>,
}

impl Written {
    pub fn new(
        raw: IndexMap<String, Vars>,
        layers: IndexMap<String, Layers>,
        mut usage: usage::Usage,
        extra: &Vars,
    ) -> Self {
        // A var that reads other hosts may read any var of theirs that it names.
        for v in raw.values().flat_map(|vars| vars.values()).filter(|v| lazy::templated(v)) {
            let text = lazy::text_of(v);
            let reads = lazy::reads(&text);
            if reads.contains("hosts") || reads.contains("hostvars") {
                usage.add_cross(&text);
            }
        }
        Written { raw, layers, usage, extra: extra.clone() }
    }

    /// Renders every host's vars: first each host alone, then the vars that
    /// read other hosts, from `hosts` made of the first pass. `facts`: the
    /// hosts probed so far. With `secrets`, the sealed pass: every secret
    /// stands in by its placeholder, so what reads one comes out different.
    pub fn render(
        &self,
        renderer: &mut Renderer,
        facts: &HashMap<String, Value>,
        secrets: Option<&Secrets>,
    ) -> Rendered {
        let sealed_raw: IndexMap<String, Vars>;
        let raw = match secrets {
            Some(s) => {
                sealed_raw = self
                    .raw
                    .iter()
                    .map(|(h, v)| {
                        (h.clone(), s.placeholders(&Value::Object(v.clone())).as_object().cloned().unwrap_or_default())
                    })
                    .collect();
                &sealed_raw
            }
            None => &self.raw,
        };
        let cache = std::cell::RefCell::new(lazy::Cache::default());
        let pass = |renderer: &Renderer, h: &str, hosts: Option<&Value>, hosts_ready: bool| {
            let sealed = secrets.is_some();
            let round = lazy::Round { renderer, facts: facts.get(h), hosts_ready, hosts, sealed, cache: &cache };
            lazy::resolve(&raw[h], &self.layers[h].dialects, round, |v| {
                self.usage.used(&self.layers[h], &self.raw[h], v)
            })
        };
        let mut done: IndexMap<String, lazy::Resolved> =
            raw.keys().map(|h| (h.clone(), pass(renderer, h, None, false))).collect();
        if done.values().any(|r| r.waits_for_hosts) {
            let first = hosts_value(done.iter().map(|(h, r)| (h, &r.vars)), facts);
            let in_ctx = secrets.is_some().then_some(&first);
            if secrets.is_none() {
                set_hosts(renderer, &first, true);
            }
            // `hosts` is another value now: what was rendered with the old one is stale.
            cache.replace(lazy::Cache::default());
            for (h, r) in done.iter_mut().filter(|(_, r)| r.waits_for_hosts) {
                *r = pass(renderer, h, in_ctx, true);
            }
        }
        let hosts = hosts_value(done.iter().map(|(h, r)| (h, &r.vars)), facts);
        let mut out = Rendered { hosts, ..Rendered::default() };
        for (h, r) in done {
            if !r.later.is_empty() {
                out.later.insert(h.clone(), r.later);
            }
            if !r.failed.is_empty() {
                out.failed.insert(h.clone(), r.failed);
            }
            out.vars.insert(h, r.vars);
        }
        out
    }
}

/// `hosts` and its alias `hostvars` (when anything names it: it is the
/// largest value a template sees) for every template.
pub fn set_hosts(renderer: &mut Renderer, hosts: &Value, hostvars: bool) {
    let keys: &[&str] = if hostvars { &["hosts", "hostvars"] } else { &["hosts"] };
    renderer.set_global(keys, hosts);
}

/// Host name → its vars, and its facts when probed.
fn hosts_value<'a>(vars: impl Iterator<Item = (&'a String, &'a Vars)>, facts: &HashMap<String, Value>) -> Value {
    let hosts = vars.map(|(h, v)| {
        let mut v = v.clone();
        if let Some(f) = facts.get(h) {
            v.insert("facts".into(), f.clone());
            v.insert("ansible_facts".into(), super::ansible_facts::view(f));
        }
        (h.clone(), Value::Object(v))
    });
    Value::Object(hosts.collect())
}

/// A var of a host that its run reads and that cannot be rendered.
#[derive(Debug, Clone, thiserror::Error)]
#[error("host {host}: var `{var}` ({at}): {source}")]
pub struct VarsError {
    pub host: String,
    pub var: String,
    /// Where the var was defined (see `origin`).
    pub at: String,
    pub source: lazy::VarError,
}

impl From<VarsError> for crate::error::Error {
    fn from(e: VarsError) -> Self {
        crate::error::Error::Load(Box::new(e))
    }
}
