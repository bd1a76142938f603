//! The project: inventory, site and roles loaded from disk and checked, the
//! (host, role) graph, the renderer, the values behind `generated()` and each
//! host's merged vars. It is the input of every command; nothing here touches
//! a host or writes to disk (but `check --out`).

pub mod ansible_facts;
pub mod check;
mod connection;
mod expand;
pub mod fact_cache;
pub mod handlers;
mod inline_vault;
pub mod inventory;
pub mod names;
mod nesting;
pub mod queries;
pub mod registered;
pub mod registers;
pub mod role;
pub mod site;
pub mod source;
pub mod tags;
pub mod vagrant;
pub mod vars;
mod yaml11;

use crate::error::{Error, Location, Result};
use crate::graph::{Graph, Node};
use crate::plan::Handlers;
use crate::prepare::{self, Prepared};
use crate::resource::ResourceError;
use crate::secret::Secrets;
use crate::session::transport::ConnectOptions;
use crate::template::{self, Renderer};
use indexmap::IndexMap;
use inventory::Inventory;
use petgraph::graph::NodeIndex;
use registered::Registered;
use role::Roles;
use serde_json::{json, Value};
use site::Site;
use source::Vars;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a run was asked to do, validated: the input of `Project::load`.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub inventory: PathBuf,
    pub site: PathBuf,
    pub limit: Option<String>,
    pub tags: tags::Tags,
    pub extra_vars: Vars,
    pub forks: Option<usize>,
    pub connect: ConnectOptions,
    /// The vault key, and where loading marks what it decrypts or generates.
    pub secrets: Secrets,
}

/// Everything loaded from disk and checked: the input of every command.
pub struct Project {
    pub root: PathBuf,
    pub inv: Inventory,
    pub site: Site,
    pub roles: Roles,
    pub graph: Graph,
    pub renderer: Renderer,
    /// The values behind `generated()`: read here, made in memory while
    /// rendering, written only by `plan`/`apply` (`Store::persist_new`).
    pub generated: Arc<crate::generated::Store>,
    /// Merged vars per host of the run (defaults < inventory < binding vars
    /// < -e), rendered (see `vars::lazy`): a var that reads `facts` is left
    /// out until the probe (`later`), a var no one reads is left as written.
    pub vars: IndexMap<String, Vars>,
    /// The vars as written, their layers and what reads them.
    written: vars::Written,
    /// Per host, the vars that read `facts`, not probed yet: `check` takes
    /// what reads them as known later.
    later: HashMap<String, Vec<String>>,
    /// Each host's vars rendered from stand-ins for the secrets (see `sealed_context`).
    sealed_vars: IndexMap<String, Vars>,
    pub tags: tags::Tags,
    pub warnings: Vec<String>,
    /// Per host: what its first probe answered to the `query:` commands, by command.
    pub query_answers: HashMap<String, HashMap<String, Value>>,
    /// Per host: which role's handler each `notify:` names there (`handlers`).
    pub handlers: HashMap<String, Arc<handlers::HostHandlers>>,
    /// Every value to seal; with any (or a `generated()` to come), each
    /// resource is rendered a second time with stand-ins (`prepare::HostCtx`).
    pub secrets: Secrets,
    /// Whether the project can have secrets at all: else one render only.
    pub sealing: bool,
    /// `hosts` (every host's vars) with stand-ins for the secrets, for the
    /// sealed render: `hosts[h].password` is a secret too.
    sealed_hosts: Value,
}

impl Project {
    pub fn load(s: &Settings) -> Result<Self> {
        let inv = Inventory::load_with(&s.inventory, &s.secrets)?;
        let site = Site::load(&s.site)?;
        let root = s.site.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut roles = Roles::new(&root.join("roles"));
        for (i, b) in site.bindings.iter().enumerate() {
            for r in &b.roles {
                roles.load(r, &|| site.locate(i, r))?;
            }
        }
        s.tags.check(&roles.tags()).map_err(|e| Error::usage(e.to_string()))?;
        for role in roles.roles.values_mut() {
            role.reads = registers::analyse(role)?;
        }
        let limit = match &s.limit {
            Some(p) => {
                let hosts = inv.select(p).map_err(|source| LimitError::Pattern { pattern: p.clone(), source })?;
                if hosts.is_empty() {
                    return Err(LimitError::NoHost(p.clone()).into());
                }
                Some(hosts)
            }
            None => None,
        };
        // Vars come from the full graph, so `--limit` does not change what templates see.
        let full = Graph::build(&inv, &site, &roles, None)?;
        let (raw, layers) = vars::per_host(&inv, &site, &roles, &full, &s.extra_vars);
        let usage = vars::usage::Usage::new(&root, &site, &roles);
        let written = vars::Written::new(raw, layers, usage, &s.extra_vars);
        // Every host of the site, so a wrong `notify:` is an error whatever `--limit` says.
        let host_handlers = handlers::per_host(&full, &roles)?;
        let graph = match &limit {
            Some(l) => Graph::build(&inv, &site, &roles, Some(l))?,
            None => full,
        };
        // The loading pass for `generated()`: every saved value is read now, so rendering touches memory only.
        let generated = Arc::new(crate::generated::Store::load(&s.inventory, &s.secrets)?);
        let renderer = Renderer::new(&root, roles.roles.values().map(|r| r.dir.as_path()), Some(generated.clone()))?;
        let mut warnings = Vec::new();
        if !graph.assumed.is_empty() {
            warnings.push(format!("outside --limit, taken as converged: {}", graph.assumed.join(", ")));
        }
        if graph.units.is_empty() {
            warnings.push("no host matches any binding of the site: nothing to do".into());
        }
        let sealing = !s.secrets.is_empty() || uses_generated(&renderer, &site, &roles, &written.raw);
        let mut p = Project {
            root,
            inv,
            site,
            roles,
            graph,
            renderer,
            generated,
            vars: IndexMap::new(),
            written,
            later: HashMap::new(),
            sealed_vars: IndexMap::new(),
            tags: s.tags.clone(),
            warnings,
            handlers: host_handlers,
            query_answers: HashMap::new(),
            secrets: s.secrets.clone(),
            sealing,
            sealed_hosts: Value::Null,
        };
        if let Some(e) = p.set_globals(&HashMap::new()).into_iter().next() {
            return Err(e.into());
        }
        p.check_connections()?;
        Ok(p)
    }

    /// The connection vars of every host of the run, before any connects
    /// (see `connection`); what rigger overrides is a warning.
    fn check_connections(&mut self) -> Result<()> {
        let run: std::collections::BTreeSet<&str> = self.graph.units.keys().map(|(h, _)| h.as_str()).collect();
        let hosts = self.vars.iter().filter(|(h, _)| run.contains(h.as_str())).map(|(h, v)| (h.as_str(), v));
        let origins =
            vars::origin::Origins { inv: &self.inv, site: &self.site, roles: &self.roles, extra: &self.written.extra };
        let layers = &self.written.layers;
        let at = |host: &str, var: &str| origins.describe(host, &layers[host], var);
        let warnings = connection::check(hosts, &self.secrets, &at)?;
        self.warnings.extend(warnings);
        Ok(())
    }

    /// `groups`, `hosts` and `hostvars` for every template, and every
    /// host's vars rendered, with the facts of the hosts probed so far.
    /// Returns, per host of the run, the first var its run reads that cannot
    /// be rendered (at load: a bad input; after the probe: that host fails).
    pub fn set_globals(&mut self, facts: &HashMap<String, Value>) -> Vec<vars::VarsError> {
        // All groups at once: one group_hosts per group would cost a deep chain its length squared.
        let groups: serde_json::Map<String, Value> =
            self.inv.hosts_by_group().into_iter().map(|(g, hosts)| (g, json!(hosts))).collect();
        self.renderer.set_global(&["groups"], &Value::Object(groups));
        let real = self.written.render(&mut self.renderer, facts, None);
        if self.sealing {
            let sealed = self.written.render(&mut self.renderer, facts, Some(&self.secrets));
            self.sealed_hosts = sealed.hosts;
            self.sealed_vars = sealed.vars;
        }
        vars::set_hosts(&mut self.renderer, &real.hosts, self.written.usage.names("hostvars"));
        self.vars = real.vars;
        self.later = real.later;
        let run: std::collections::HashSet<&str> = self.graph.units.keys().map(|(h, _)| h.as_str()).collect();
        let origins =
            vars::origin::Origins { inv: &self.inv, site: &self.site, roles: &self.roles, extra: &self.written.extra };
        let mut errors = Vec::new();
        for (host, failed) in real.failed.into_iter().filter(|(h, _)| run.contains(h.as_str())) {
            // The cause, not a var that reads it: `b`'s typo, not `a` that reads `b`.
            let pick = failed.iter().position(|(_, e)| !matches!(e, vars::lazy::VarError::Reads { .. })).unwrap_or(0);
            let Some((var, source)) = failed.into_iter().nth(pick) else { continue };
            let at = origins.describe(&host, &self.written.layers[&host], &var);
            errors.push(vars::VarsError { host, var, at, source });
        }
        errors
    }

    /// Whether `role` on `host` reads a var that reads `facts`, before the
    /// probe: what it renders is known later (see `check`).
    pub fn reads_later(&self, host: &str, role: &str) -> Vec<&str> {
        let later = self.later.get(host).into_iter().flatten();
        later.filter(|v| self.written.usage.role_reads(role, v)).map(String::as_str).collect()
    }

    /// Whether anything the run renders can read `facts`: a template, a
    /// role file or a file it includes (fields, `when:`, `loop:`), the site, or a var (a var's value may be a
    /// template). When nothing does, the probe skips the facts and their
    /// programs (`hostname -f`, `ip`, `id`) on every host.
    pub fn uses_facts(&self) -> bool {
        self.renderer.templates_use_facts
            || mentions_facts(&self.site.source.text)
            || self.roles.roles.values().flat_map(|r| &r.files).any(|f| mentions_facts(&f.text))
            || self.written.raw.values().any(|v| mentions_facts(&serde_json::to_string(v).unwrap_or_default()))
    }

    pub fn context(&self, host: &str, facts: Option<&Value>) -> tera::Context {
        let mut ctx = template::context(&self.vars[host]);
        if let Some(f) = facts {
            ctx.insert("facts", f);
            ctx.insert("ansible_facts", &ansible_facts::view(f));
        }
        if self.sealing {
            // The sealed render has this flag set; with it here too, both
            // renders know the same names, so an error that does not depend on
            // a secret reads the same in both and is shown, not sealed.
            ctx.insert(crate::secret::SEALED_FLAG, &false);
        }
        ctx
    }

    /// The context of the sealed render: `context` with a stand-in for every
    /// secret (see `prepare::HostCtx`); None when the project has no secrets.
    pub fn sealed_context(&self, host: &str, facts: Option<&Value>) -> Option<tera::Context> {
        if !self.sealing {
            return None;
        }
        let mut ctx = template::context(self.sealed_vars.get(host)?);
        if let Some(f) = facts {
            ctx.insert("facts", f);
            ctx.insert("ansible_facts", &ansible_facts::view(f));
        }
        ctx.insert("hosts", &self.sealed_hosts);
        if self.written.usage.names("hostvars") {
            ctx.insert("hostvars", &self.sealed_hosts);
        }
        ctx.insert(crate::secret::SEALED_FLAG, &true);
        Some(ctx)
    }

    /// Units of the run in a stable order (topological, then by host).
    pub fn units(&self) -> Vec<NodeIndex> {
        petgraph::algo::toposort(&self.graph.g, None)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| matches!(self.graph.g[*n], Node::Unit { .. }))
            .collect()
    }

    /// The hosts with a unit in the run, in inventory order.
    pub fn hosts(&self) -> Vec<String> {
        // A set: a list searched per unit costs thousands of hosts their number squared.
        let hs: std::collections::HashSet<&str> = self.graph.units.keys().map(|(h, _)| h.as_str()).collect();
        self.inv.hosts.keys().filter(|h| hs.contains(h.as_str())).cloned().collect()
    }

    /// Prepares a unit's resources and handlers for `host`. Before the
    /// probe (no `facts`), registered results read as stand-ins; after it,
    /// a resource that reads one not in `registered` is conditional.
    pub fn prepare_unit(
        &self,
        host: &str,
        role_name: &str,
        facts: Option<&Value>,
        full: bool,
        registered: &Registered,
    ) -> Result<(Vec<Prepared>, Handlers), UnitError> {
        self.prepare_unit_in(host, role_name, facts, full, false, registered)
    }

    /// `prepare_unit`; with `errors_only`, what renders fine is rendered once,
    /// not sealed (for `check`, which shows no plan).
    pub fn prepare_unit_with(
        &self,
        host: &str,
        role_name: &str,
        facts: Option<&Value>,
        full: bool,
        errors_only: bool,
    ) -> Result<(Vec<Prepared>, Handlers), UnitError> {
        self.prepare_unit_in(host, role_name, facts, full, errors_only, &Registered::stand_ins())
    }

    fn prepare_unit_in(
        &self,
        host: &str,
        role_name: &str,
        facts: Option<&Value>,
        full: bool,
        errors_only: bool,
        registered: &Registered,
    ) -> Result<(Vec<Prepared>, Handlers), UnitError> {
        let stand_ins = Registered::stand_ins();
        let registered = if facts.is_none() { &stand_ins } else { registered };
        let r = self.roles.get(role_name);
        let (mut real, mut sealed) = (self.context(host, facts), self.sealed_context(host, facts));
        // A query's output depends on no secret (`queries`): the same in both renders.
        if let Some(q) = self.query_context(host, r)? {
            real.insert("query", &q);
            if let Some(s) = sealed.as_mut() {
                s.insert("query", &q);
            }
        }
        let ctx = prepare::HostCtx { real: &real, sealed: sealed.as_ref(), errors_only };
        let mut walk = expand::Walk {
            root: &self.root,
            role: r,
            renderer: &self.renderer,
            tags: &self.tags,
            full,
            errors_only,
            out: Vec::new(),
            registered,
            seen: Vec::new(),
        };
        let scope = expand::Scope { real: real.clone(), sealed: sealed.clone(), suffix: String::new() };
        walk.entries(&r.entries, &scope).map_err(|f| UnitError::Resource {
            role: role_name.into(),
            at: f.at,
            source: f.source,
        })?;
        let prepared = walk.out;
        let inputs = handlers::Inputs {
            root: &self.root,
            roles: &self.roles,
            renderer: &self.renderer,
            resolved: self.handlers.get(host).map(|h| &**h),
        };
        let handlers = handlers::prepare(&inputs, role_name, ctx, full).map_err(|e| {
            let (role, handler, source) = *e;
            UnitError::Handler { role, handler, source: Box::new(source) }
        })?;
        Ok((prepared, handlers))
    }
}

/// Whether `text` reads facts, by rigger's name or Ansible's.
fn mentions_facts(text: &str) -> bool {
    crate::template::mentions(text, "facts") || crate::template::mentions(text, "ansible_facts")
}

/// Whether anything the run renders can call `generated()` (as `uses_facts`).
fn uses_generated(renderer: &Renderer, site: &Site, roles: &Roles, vars: &IndexMap<String, Vars>) -> bool {
    use crate::template::mentions;
    renderer.templates_use_generated
        || mentions(&site.source.text, "generated")
        || roles.roles.values().flat_map(|r| &r.files).any(|f| mentions(&f.text, "generated"))
        || vars.values().any(|v| mentions(&serde_json::to_string(v).unwrap_or_default(), "generated"))
}

/// Why `--limit` selects nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("--limit {pattern}: {source}")]
    Pattern { pattern: String, source: inventory::PatternError },
    #[error("--limit {0}: matches no host")]
    NoHost(String),
}

impl From<LimitError> for Error {
    fn from(e: LimitError) -> Self {
        Error::Load(Box::new(e))
    }
}

/// Why a unit cannot be prepared for its host.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UnitError {
    #[error("role {role}, resource {at}:\n{source}")]
    Resource { role: String, at: Box<Location>, source: Box<ResourceError> },
    #[error("role {role}, handler `{handler}`: {source}")]
    Handler { role: String, handler: String, source: Box<ResourceError> },
}
