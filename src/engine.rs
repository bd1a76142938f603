//! Runs a site: load everything, open one connection per host, probe each
//! host once, plan every unit, then (apply) hand the graph to `schedule` with
//! the work of converging a unit and checking a gate. Bad input or an
//! unreachable host stops the run before any host is changed.

use crate::error::{Error, Result};
use crate::graph::{Graph, Node};
use crate::inventory::Inventory;
use crate::plan::{self, Prepared, Status, UnitPlan};
use crate::probe::{self, HostState, Query};
use crate::report::{HostReport, UnitReport};
use crate::plan::Handlers;
use crate::role::Roles;
use crate::schedule;
use crate::site::Site;
use crate::source::{merge_into, Vars};
use crate::template::{self, Renderer};
use crate::transport::{ConnectOptions, Connection, Target};
use indexmap::IndexMap;
use petgraph::graph::NodeIndex;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Semaphore;

#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub inventory: PathBuf,
    pub site: PathBuf,
    pub limit: Option<String>,
    pub tags: Vec<String>,
    pub extra_vars: Vars,
    pub forks: Option<usize>,
    pub connect: ConnectOptions,
}

/// Everything loaded from disk and checked: the input of every command.
pub struct Project {
    pub root: PathBuf,
    pub inv: Inventory,
    pub site: Site,
    pub roles: Roles,
    pub graph: Graph,
    pub renderer: Renderer,
    /// Merged vars per host of the run (defaults < inventory < binding vars < -e).
    pub vars: IndexMap<String, Vars>,
    pub tags: Vec<String>,
    pub warnings: Vec<String>,
}

impl Project {
    pub fn load(s: &Settings) -> Result<Self> {
        let inv = Inventory::load(&s.inventory)?;
        let site = Site::load(&s.site)?;
        let root = s.site.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut roles = Roles::new(&root.join("roles"));
        for (i, b) in site.bindings.iter().enumerate() {
            for r in &b.roles {
                roles.load(r, &|| site.locate(i, r))?;
            }
        }
        let limit = match &s.limit {
            Some(p) => {
                let hosts = inv.select(p).map_err(|m| Error::usage(format!("--limit {p}: {m}")))?;
                if hosts.is_empty() {
                    return Err(Error::usage(format!("--limit {p}: matches no host")));
                }
                Some(hosts)
            }
            None => None,
        };
        let full = Graph::build(&inv, &site, &roles, None)?;
        let graph = match &limit {
            Some(l) => Graph::build(&inv, &site, &roles, Some(l))?,
            None => Graph::build(&inv, &site, &roles, None)?,
        };
        let store = std::sync::Arc::new(crate::generated::Store::new(&s.inventory));
        let renderer = Renderer::new(&root, roles.roles.values().map(|r| r.dir.as_path()), Some(store))?;
        let mut warnings = Vec::new();
        if !graph.assumed.is_empty() {
            warnings.push(format!("outside --limit, taken as converged: {}", graph.assumed.join(", ")));
        }
        if graph.units.is_empty() {
            warnings.push("no host matches any binding of the site: nothing to do".into());
        }
        let mut p =
            Project { root, inv, site, roles, graph, renderer, vars: IndexMap::new(), tags: s.tags.clone(), warnings };
        // Vars come from the full graph, so `--limit` does not change what templates see.
        let mut host_roles: IndexMap<String, Vec<String>> = IndexMap::new();
        let mut host_bindings: IndexMap<String, Vec<usize>> = IndexMap::new();
        for n in petgraph::algo::toposort(&full.g, None).unwrap_or_default() {
            if let Node::Unit { host, role, binding } = &full.g[n] {
                host_roles.entry(host.clone()).or_default().push(role.clone());
                if let Some(b) = binding {
                    let e = host_bindings.entry(host.clone()).or_default();
                    if !e.contains(b) {
                        e.push(*b);
                    }
                }
            }
        }
        for h in p.inv.hosts.keys().cloned().collect::<Vec<_>>() {
            let mut v = Vars::new();
            for r in host_roles.get(&h).into_iter().flatten() {
                merge_into(&mut v, &p.roles.get(r).defaults);
            }
            merge_into(&mut v, &p.inv.host_vars(&h));
            let mut bindings = host_bindings.get(&h).cloned().unwrap_or_default();
            bindings.sort();
            for b in bindings {
                merge_into(&mut v, &p.site.bindings[b].vars);
                if let Some(become_) = p.site.bindings[b].become_ {
                    v.insert("ansible_become".into(), Value::Bool(become_));
                }
            }
            merge_into(&mut v, &s.extra_vars);
            v.insert("inventory_hostname".into(), Value::String(h.clone()));
            let groups: Vec<String> =
                p.inv.host_groups(&h).into_iter().filter(|g| g != "all" && g != "ungrouped").collect();
            v.insert("group_names".into(), json!(groups));
            p.vars.insert(h, v);
        }
        p.set_globals(&HashMap::new());
        Ok(p)
    }

    /// `groups` and `hosts` for every template; facts for the hosts probed so far.
    pub fn set_globals(&mut self, facts: &HashMap<String, Value>) {
        let groups: serde_json::Map<String, Value> =
            self.inv.groups.keys().map(|g| (g.clone(), json!(self.inv.group_hosts(g)))).collect();
        let hosts: serde_json::Map<String, Value> = self
            .vars
            .iter()
            .map(|(h, v)| {
                let mut v = v.clone();
                if let Some(f) = facts.get(h) {
                    v.insert("facts".into(), f.clone());
                }
                (h.clone(), Value::Object(v))
            })
            .collect();
        self.renderer.set_global("groups", &Value::Object(groups));
        self.renderer.set_global("hosts", &Value::Object(hosts));
    }

    /// Whether anything the run renders can read `facts`: a template, a
    /// role file (fields, `when:`), the site, or a var (a var's value may be a
    /// template). When nothing does, the probe skips the facts and their
    /// programs (`hostname -f`, `ip`, `id`) on every host.
    pub fn uses_facts(&self) -> bool {
        use crate::template::mentions;
        self.renderer.templates_use_facts
            || mentions(&self.site.source.text, "facts")
            || self.roles.roles.values().any(|r| mentions(&r.source.text, "facts"))
            || self.vars.values().any(|v| mentions(&serde_json::to_string(v).unwrap_or_default(), "facts"))
    }

    pub fn context(&self, host: &str, facts: Option<&Value>) -> tera::Context {
        let mut ctx = template::context(&self.vars[host]);
        if let Some(f) = facts {
            ctx.insert("facts", f);
        }
        ctx
    }

    /// Units of the run in a stable order (topological, then by host).
    pub fn units(&self) -> Vec<NodeIndex> {
        petgraph::algo::toposort(&self.graph.g, None)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| matches!(self.graph.g[*n], Node::Unit { .. }))
            .collect()
    }

    pub fn hosts(&self) -> Vec<String> {
        let mut hs: Vec<String> = Vec::new();
        for (h, _) in self.graph.units.keys() {
            if !hs.contains(h) {
                hs.push(h.clone());
            }
        }
        let order: Vec<String> = self.inv.hosts.keys().filter(|h| hs.contains(h)).cloned().collect();
        order
    }

    /// Prepares a unit's resources and handlers for `host`.
    pub fn prepare_unit(
        &self,
        host: &str,
        role: &str,
        facts: Option<&Value>,
        full: bool,
    ) -> Result<(Vec<Prepared>, Handlers), String> {
        let r = self.roles.get(role);
        let ctx = self.context(host, facts);
        let mut prepared = Vec::new();
        for (decl, spec) in &r.resources {
            match plan::prepare(&self.root, r, decl, spec, &self.renderer, &ctx, &self.tags, full) {
                Ok(p) => prepared.push(p),
                // Before facts are known a field may not render yet; the full pass decides.
                Err(_) if !full => {}
                Err(e) => {
                    return Err(format!(
                        "role {role}, resource {}:\n{e}",
                        crate::role::item_location(&r.source, "resources", prepared.len())
                    ))
                }
            }
        }
        let mut handlers = IndexMap::new();
        for (name, (decl, spec)) in &r.handlers {
            if let Some(w) = decl.when.as_ref().filter(|_| full) {
                match self.renderer.eval_bool(w, &ctx) {
                    Ok(false) => continue,
                    Ok(true) => {}
                    Err(e) => return Err(format!("role {role}, handler `{name}`: {e}")),
                }
            }
            match plan::resolve(&self.root, r, spec, &self.renderer, &ctx, full) {
                Ok(res) => {
                    handlers.insert(name.clone(), res);
                }
                Err(_) if !full => {}
                Err(e) => return Err(format!("role {role}, handler `{name}`: {e}")),
            }
        }
        Ok((prepared, handlers))
    }

    /// `rigger check`: render every resource and template for every host, offline.
    /// With `out`, every rendered file is written to `out/<host>/<path>` for review or snapshots.
    pub fn check(&self, out: Option<&Path>) -> Vec<String> {
        // Rendering is the work here (a template per unit, often over every host):
        // spread the units over the cores; errors come back in unit order.
        let units = self.units();
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(units.len().max(1));
        let chunk = units.len().div_ceil(threads).max(1);
        let mut errors: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = units
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || part.iter().flat_map(|n| self.check_unit(*n, out)).collect::<Vec<String>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|_| vec!["internal error: a check thread panicked".into()]))
                .collect()
        });
        errors.dedup();
        errors
    }

    fn check_unit(&self, n: NodeIndex, out: Option<&Path>) -> Vec<String> {
        let mut errors = Vec::new();
        let Node::Unit { host, role, .. } = &self.graph.g[n] else { return errors };
        match self.prepare_unit(host, role, None, true) {
            Err(e) => errors.push(format!("host {host}: {e}")),
            Ok((prepared, _)) => {
                let dir = out.unwrap_or(Path::new("."));
                let files = prepared.iter().filter_map(|p| p.resource.as_ref()).filter(|_| out.is_some());
                for (path, content) in files.flat_map(|r| r.rendered()) {
                    let dest = dir.join(host).join(path.trim_start_matches('/'));
                    let written =
                        dest.parent().map(std::fs::create_dir_all).transpose().and_then(|_| std::fs::write(&dest, content));
                    if let Err(e) = written {
                        errors.push(format!("cannot write {}: {e}", dest.display()));
                    }
                }
            }
        }
        if let Err(e) = Target::from_vars(host, &self.vars[host]) {
            errors.push(format!("host {host}: {e}"));
        }
        errors
    }
}

fn marker() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("@@rigger-{:x}-{}@@", nanos, std::process::id())
}

/// Per-host knowledge during a run.
struct HostRun {
    conn: Option<Arc<Connection>>,
    state: HostState,
    probed: BTreeSet<Query>,
    error: Option<String>,
    started: Instant,
    seconds: f64,
}

async fn probe(conn: &Connection, queries: &BTreeSet<Query>, facts: bool) -> Result<HostState, String> {
    let m = marker();
    let out = conn.run(&probe::script(queries, facts, &m)).await?;
    probe::parse(queries, &out.stdout, &m).map_err(|e| {
        let err = out.stderr.trim();
        if err.contains("sudo") {
            format!("become failed: {err}")
        } else {
            format!("probe failed: {e}{}", if err.is_empty() { String::new() } else { format!(": {err}") })
        }
    })
}

/// The result of planning (and maybe applying) a whole run.
pub struct Outcome {
    pub hosts: Vec<HostReport>,
    pub changes: usize,
    pub failed: bool,
    pub aborted: bool,
}

pub struct Runner {
    pub project: Project,
    pub settings: Settings,
}

impl Runner {
    /// Connects and probes every host (one round trip each), then plans every unit.
    pub async fn plan(mut self) -> (Arc<Project>, Phase) {
        let hosts = self.project.hosts();
        let forks = Arc::new(Semaphore::new(self.settings.forks.unwrap_or(hosts.len().max(1))));
        let with_facts = self.project.uses_facts();
        // What to ask each host: every unit's queries, computed without facts.
        let mut tasks = tokio::task::JoinSet::new();
        for h in &hosts {
            let mut queries = BTreeSet::new();
            for ((uh, role), _) in &self.project.graph.units {
                if uh == h {
                    if let Ok((prepared, handlers)) = self.project.prepare_unit(h, role, None, false) {
                        queries.extend(plan::queries(role, &prepared, &handlers));
                    }
                }
            }
            let target = Target::from_vars(h, &self.project.vars[h]);
            let opts = self.settings.connect.clone();
            let forks = forks.clone();
            let h = h.clone();
            tasks.spawn(async move {
                let _permit = forks.acquire_owned().await;
                let started = Instant::now();
                let res = async {
                    let target = target?;
                    let conn = Connection::open(&target, &opts).await?;
                    let state = probe(&conn, &queries, with_facts).await;
                    Ok::<_, String>((conn, state))
                }
                .await;
                (h, started, queries, res)
            });
        }
        let mut runs: HashMap<String, HostRun> = HashMap::new();
        while let Some(Ok((h, started, queries, res))) = tasks.join_next().await {
            let run = match res {
                Ok((conn, Ok(state))) => {
                    HostRun { conn: Some(Arc::new(conn)), state, probed: queries, error: None, started, seconds: 0.0 }
                }
                Ok((conn, Err(e))) => HostRun {
                    conn: Some(Arc::new(conn)),
                    state: HostState::default(),
                    probed: queries,
                    error: Some(e),
                    started,
                    seconds: 0.0,
                },
                Err(e) => HostRun {
                    conn: None,
                    state: HostState::default(),
                    probed: queries,
                    error: Some(e),
                    started,
                    seconds: 0.0,
                },
            };
            runs.insert(h, run);
        }
        let facts: HashMap<String, Value> =
            runs.iter().filter(|(_, r)| r.error.is_none()).map(|(h, r)| (h.clone(), r.state.facts.clone())).collect();
        self.project.set_globals(&facts);
        let project = Arc::new(self.project);

        // Plan every unit against its host's state; probe again only for what the first pass could not know.
        let mut plans: HashMap<NodeIndex, std::result::Result<UnitPlan, String>> = HashMap::new();
        for n in project.units() {
            let Node::Unit { host, role, .. } = &project.graph.g[n] else { continue };
            let run = runs.get_mut(host).expect("every host was probed");
            if run.error.is_some() {
                continue;
            }
            let res = match project.prepare_unit(host, role, Some(&run.state.facts), true) {
                Err(e) => Err(e),
                Ok((prepared, handlers)) => {
                    let want = plan::queries(role, &prepared, &handlers);
                    let missing: BTreeSet<Query> = want.difference(&run.probed).cloned().collect();
                    if !missing.is_empty() {
                        let conn = run.conn.clone().expect("connected");
                        match probe(&conn, &missing, false).await {
                            Ok(more) => {
                                run.state.update(more);
                                run.probed.extend(missing);
                            }
                            Err(e) => run.error = Some(e),
                        }
                    }
                    Ok(plan::plan_unit(role, &prepared, &handlers, &run.state))
                }
            };
            plans.insert(n, res);
        }
        for run in runs.values_mut() {
            run.seconds = run.started.elapsed().as_secs_f64();
        }
        (project, Phase { runs, plans, exact: false })
    }
}

/// The state between planning and applying.
pub struct Phase {
    runs: HashMap<String, HostRun>,
    plans: HashMap<NodeIndex, std::result::Result<UnitPlan, String>>,
    /// Apply the plans as they are (a saved plan): never re-plan a unit.
    exact: bool,
}

/// A plan saved by `plan --out`: the steps and what each host looked like.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SavedPlan {
    pub kind: String,
    pub schema: u32,
    pub site: PathBuf,
    pub inventory: PathBuf,
    #[serde(default)]
    pub limit: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub extra_vars: Vars,
    pub hosts: IndexMap<String, SavedHost>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SavedHost {
    /// Digest of the state the probe observed (see `probe::HostState::digest`).
    pub digest: String,
    pub units: IndexMap<String, UnitPlan>,
}

impl SavedPlan {
    pub fn settings(&self, connect: ConnectOptions, forks: Option<usize>) -> Settings {
        Settings {
            inventory: self.inventory.clone(),
            site: self.site.clone(),
            limit: self.limit.clone(),
            tags: self.tags.clone(),
            extra_vars: self.extra_vars.clone(),
            forks,
            connect,
        }
    }
}

impl Phase {
    /// The plan with each host's observed state, for `plan --out`.
    pub fn save(&self, project: &Project, s: &Settings) -> SavedPlan {
        let mut hosts = IndexMap::new();
        for h in project.hosts() {
            let mut units = IndexMap::new();
            for n in project.units() {
                if let (Node::Unit { host, role, .. }, Some(Ok(p))) = (&project.graph.g[n], self.plans.get(&n)) {
                    if *host == h {
                        units.insert(role.clone(), p.clone());
                    }
                }
            }
            let digest = self.runs.get(&h).map(|r| r.state.digest.clone()).unwrap_or_default();
            hosts.insert(h, SavedHost { digest, units });
        }
        SavedPlan {
            kind: "rigger-plan".into(),
            schema: 1,
            site: s.site.clone(),
            inventory: s.inventory.clone(),
            limit: s.limit.clone(),
            tags: s.tags.clone(),
            extra_vars: s.extra_vars.clone(),
            hosts,
        }
    }

    /// Takes a saved plan's steps in place of fresh ones, refusing when any
    /// host's observed state (or the set of hosts and units) has changed since.
    pub fn adopt(&mut self, project: &Project, saved: SavedPlan) -> std::result::Result<(), Vec<String>> {
        let mut stale = Vec::new();
        let hosts = project.hosts();
        for h in &hosts {
            let Some(sh) = saved.hosts.get(h) else {
                stale.push(format!("{h} is in this run but not in the saved plan"));
                continue;
            };
            match self.runs.get(h) {
                Some(r) if r.error.is_some() => stale.push(format!("{h}: {}", r.error.clone().unwrap_or_default())),
                Some(r) if r.state.digest != sh.digest => {
                    stale.push(format!("{h}: the observed state changed since the plan was made"))
                }
                _ => {}
            }
        }
        for h in saved.hosts.keys().filter(|h| !hosts.contains(h)) {
            stale.push(format!("{h} is in the saved plan but not in this run"));
        }
        let mut plans = HashMap::new();
        for n in project.units() {
            if let Node::Unit { host, role, .. } = &project.graph.g[n] {
                match saved.hosts.get(host).and_then(|sh| sh.units.get(role)) {
                    Some(p) => {
                        plans.insert(n, Ok(p.clone()));
                    }
                    None => stale.push(format!("{role}@{host} is not in the saved plan")),
                }
            }
        }
        if !stale.is_empty() {
            return Err(stale);
        }
        self.plans = plans;
        self.exact = true;
        Ok(())
    }

    /// Reports of the plan as it stands (before anything is applied).
    pub fn reports(&self, project: &Project) -> Outcome {
        let mut hosts = Vec::new();
        let mut changes = 0;
        let mut failed = false;
        for h in project.hosts() {
            let run = &self.runs[&h];
            let mut rep = HostReport::new(&h);
            rep.round_trips = run.conn.as_ref().map_or(0, |c| c.round_trips());
            rep.seconds = run.seconds;
            if let Some(e) = &run.error {
                rep.reachable = run.conn.is_some();
                rep.error = Some(e.clone());
                failed = true;
            }
            for n in project.units() {
                let Node::Unit { host, role, .. } = &project.graph.g[n] else { continue };
                if *host != h {
                    continue;
                }
                let Some(p) = self.plans.get(&n) else { continue };
                let unit = match p {
                    Ok(plan) => {
                        changes += plan.changes();
                        let bad = plan.resources.iter().any(|r| r.status == Status::Failed);
                        failed |= bad;
                        UnitReport {
                            role: role.clone(),
                            status: if bad {
                                Status::Failed
                            } else if plan.changes() > 0 {
                                Status::Changed
                            } else {
                                Status::Ok
                            },
                            message: None,
                            resources: plan.resources.iter().map(|r| r.public()).collect(),
                            handlers: plan.handlers.iter().map(|h| h.handler.clone()).collect(),
                            seconds: 0.0,
                        }
                    }
                    Err(e) => {
                        failed = true;
                        UnitReport {
                            role: role.clone(),
                            status: Status::Failed,
                            message: Some(e.clone()),
                            resources: vec![],
                            handlers: vec![],
                            seconds: 0.0,
                        }
                    }
                };
                rep.units.push(unit);
            }
            rep.recount();
            hosts.push(rep);
        }
        Outcome { hosts, changes, failed, aborted: false }
    }

    /// Walks the graph (see `schedule`), converging each unit as soon as its predecessors are done.
    pub async fn apply(
        self,
        project: Arc<Project>,
        forks: Option<usize>,
        progress: impl Fn(&str) + Send + Sync + 'static,
    ) -> Outcome {
        let work = Arc::new(Apply {
            project: project.clone(),
            runs: Mutex::new(self.runs),
            plans: self.plans,
            dirty: Mutex::new(HashSet::new()),
            exact: self.exact,
        });
        let results = schedule::walk(&project.graph, forks, work.clone(), progress).await;
        let g = &project.graph.g;
        let runs = Arc::try_unwrap(work).ok().map(|w| w.runs.into_inner().unwrap_or_default()).unwrap_or_default();
        let mut hosts = Vec::new();
        let mut changes = 0;
        let mut failed = false;
        for h in project.hosts() {
            let mut rep = HostReport::new(&h);
            if let Some(run) = runs.get(&h) {
                rep.round_trips = run.conn.as_ref().map_or(0, |c| c.round_trips());
                rep.seconds = run.started.elapsed().as_secs_f64();
                if let Some(e) = &run.error {
                    rep.error = Some(e.clone());
                    rep.reachable = run.conn.is_some();
                }
            }
            for n in project.units() {
                if let (Node::Unit { host, .. }, Some(r)) = (&g[n], results.get(&n)) {
                    if *host == h {
                        rep.units.push(r.clone());
                    }
                }
            }
            rep.recount();
            changes += rep.counts.changed;
            failed |= rep.counts.failed > 0 || rep.error.is_some();
            hosts.push(rep);
        }
        failed |= results.values().any(|r| r.status == Status::Failed);
        for run in runs.into_values() {
            if let Some(c) = run.conn {
                if let Ok(c) = Arc::try_unwrap(c) {
                    c.close().await;
                }
            }
        }
        Outcome { hosts, changes, failed, aborted: false }
    }

    pub async fn close(self) {
        for run in self.runs.into_values() {
            if let Some(c) = run.conn {
                if let Ok(c) = Arc::try_unwrap(c) {
                    c.close().await;
                }
            }
        }
    }
}

/// The real work behind the scheduler: a unit converges over its host's
/// connection (re-probing if an earlier unit changed the host), a gate runs
/// the binding's health check.
struct Apply {
    project: Arc<Project>,
    runs: Mutex<HashMap<String, HostRun>>,
    plans: HashMap<NodeIndex, std::result::Result<UnitPlan, String>>,
    /// Hosts an earlier unit changed: what the probe saw there may be stale.
    dirty: Mutex<HashSet<String>>,
    exact: bool,
}

impl schedule::Work for Apply {
    async fn unit(&self, n: NodeIndex, host: &str, role: &str) -> UnitReport {
        let mut rep = run_unit(&self.project, &self.runs, &self.plans, &self.dirty, n, host, role, self.exact).await;
        rep.resources = rep.resources.iter().map(|r| r.public()).collect();
        rep
    }

    async fn gate(
        &self,
        binding: usize,
        batch: usize,
        hosts: &[String],
        batch_results: &[(String, Status)],
    ) -> UnitReport {
        run_gate(&self.project, &self.runs, binding, batch, hosts, batch_results).await
    }
}

async fn run_unit(
    project: &Project,
    runs: &Mutex<HashMap<String, HostRun>>,
    plans: &HashMap<NodeIndex, std::result::Result<UnitPlan, String>>,
    dirty: &Mutex<HashSet<String>>,
    n: NodeIndex,
    host: &str,
    role: &str,
    exact: bool,
) -> UnitReport {
    let started = Instant::now();
    let fail = |msg: String, resources: Vec<crate::plan::ResourcePlan>| UnitReport {
        role: role.into(),
        status: Status::Failed,
        message: Some(msg),
        resources,
        handlers: vec![],
        seconds: started.elapsed().as_secs_f64(),
    };
    let (conn, facts, host_error) = {
        let r = runs.lock().unwrap();
        let run = &r[host];
        (run.conn.clone(), run.state.facts.clone(), run.error.clone())
    };
    if let Some(e) = host_error {
        return fail(e, vec![]);
    }
    let Some(conn) = conn else { return fail("not connected".into(), vec![]) };
    let mut plan = match plans.get(&n) {
        Some(Ok(p)) => p.clone(),
        Some(Err(e)) => return fail(e.clone(), vec![]),
        None => return fail("not planned".into(), vec![]),
    };
    // An earlier unit changed this host: what it found may be stale, so look again.
    if !exact && dirty.lock().unwrap().contains(host) {
        let (prepared, handlers) = match project.prepare_unit(host, role, Some(&facts), true) {
            Ok(x) => x,
            Err(e) => return fail(e, vec![]),
        };
        let queries = plan::queries(role, &prepared, &handlers);
        match probe(&conn, &queries, false).await {
            Ok(mut st) => {
                st.facts = facts.clone();
                plan = plan::plan_unit(role, &prepared, &handlers, &st);
            }
            Err(e) => {
                runs.lock().unwrap().get_mut(host).map(|r| r.error = Some(e.clone()));
                return fail(e, vec![]);
            }
        }
    }
    if let Some(bad) = plan.resources.iter().find(|r| r.status == Status::Failed) {
        return fail(format!("{}: {}", bad.resource, bad.message.clone().unwrap_or_default()), plan.resources);
    }
    let handlers: Vec<String> = plan.handlers.iter().map(|h| h.handler.clone()).collect();
    if plan.changes() == 0 {
        return UnitReport {
            role: role.into(),
            status: Status::Ok,
            message: None,
            resources: plan.resources,
            handlers: vec![],
            seconds: started.elapsed().as_secs_f64(),
        };
    }
    let m = marker();
    dirty.lock().unwrap().insert(host.to_string());
    let out = conn.run(&plan::apply_script(role, &plan, &m)).await;
    let mut resources = plan.resources.clone();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            runs.lock().unwrap().get_mut(host).map(|r| r.error = Some(format!("unreachable: {e}")));
            return fail(format!("unreachable during apply: {e}"), resources);
        }
    };
    let res = plan::parse_apply(&out.stdout, &m);
    if let Some((id, code, output)) = res.failed {
        // Mark the failed resource; the ones after it never ran.
        let idx = id.strip_prefix('r').and_then(|s| s.split('.').next()).and_then(|s| s.parse::<usize>().ok());
        let mut after = false;
        for (i, r) in resources.iter_mut().enumerate() {
            if Some(i) == idx {
                r.status = Status::Failed;
                r.message = Some(format!("exit {code}: {}", output.trim()));
                after = true;
            } else if after && r.status == Status::Changed {
                r.status = Status::Skipped;
                r.message = Some("not run: an earlier step failed".into());
            }
        }
        let what = if idx.is_some() { String::new() } else { format!(" ({id})") };
        return fail(format!("a step failed{what}: exit {code}: {}", output.trim()), resources);
    }
    if !res.completed {
        let err = out.stderr.trim().to_string();
        runs.lock()
            .unwrap()
            .get_mut(host)
            .map(|r| r.error = Some(format!("unreachable: connection lost during apply {err}")));
        return fail(format!("the connection was lost during apply {err}"), resources);
    }
    UnitReport {
        role: role.into(),
        status: Status::Changed,
        message: None,
        resources,
        handlers,
        seconds: started.elapsed().as_secs_f64(),
    }
}

async fn run_gate(
    project: &Project,
    runs: &Mutex<HashMap<String, HostRun>>,
    binding: usize,
    batch: usize,
    hosts: &[String],
    results: &[(String, Status)],
) -> UnitReport {
    let started = Instant::now();
    let b = &project.site.bindings[binding];
    let name = format!("gate(binding {} batch {})", binding + 1, batch + 1);
    let report = |status, msg: String| UnitReport {
        role: name.clone(),
        status,
        message: Some(msg),
        resources: vec![],
        handlers: vec![],
        seconds: started.elapsed().as_secs_f64(),
    };
    let failed_hosts: HashSet<&String> = results.iter().filter(|(_, s)| *s == Status::Failed).map(|(h, _)| h).collect();
    let pct = if hosts.is_empty() { 0 } else { failed_hosts.len() * 100 / hosts.len() };
    let max = b.max_fail_percentage.unwrap_or(0) as usize;
    if !failed_hosts.is_empty() && pct > max {
        return report(
            Status::Failed,
            format!("{} of {} hosts failed in this batch (max_fail_percentage {max})", failed_hosts.len(), hosts.len()),
        );
    }
    let Some(hc) = &b.health_check else { return report(Status::Ok, "batch done".into()) };
    for h in hosts.iter().filter(|h| !failed_hosts.contains(h)) {
        let conn = runs.lock().unwrap().get(h).and_then(|r| r.conn.clone());
        let Some(conn) = conn else { return report(Status::Failed, format!("health check: {h} is not connected")) };
        let mut ok = false;
        let mut last = String::new();
        for attempt in 0..=hc.retries {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_secs_f64(hc.delay)).await;
            }
            match conn.run(&format!("sh -c {} </dev/null\n", crate::shell::quote(&hc.cmd))).await {
                Ok(o) if o.code == Some(0) => {
                    ok = true;
                    break;
                }
                Ok(o) => last = format!("exit {:?}: {}", o.code, o.stderr.trim()),
                Err(e) => last = e,
            }
        }
        if !ok {
            return report(
                Status::Failed,
                format!("health check `{}` failed on {h} after {} tries: {last}", hc.cmd, hc.retries + 1),
            );
        }
    }
    report(Status::Ok, format!("health check passed on {}", hosts.join(", ")))
}
