//! Runs a site: load everything, open one connection per host, probe each
//! host once, plan every unit, then (apply) hand the graph to `schedule` with
//! the work of converging a unit and checking a gate. Bad input, an
//! unreachable host or a host locked by another run stops the run before
//! any host is changed.

use crate::converge::{Converge, HostRun, Plans, SharedHandlers};
use crate::graph::Node;
use crate::plan::{self, HandlerKey, Sharing, Status};
use crate::project::registered::{self, Registered};
use crate::project::{fact_cache, Project, Settings};
use crate::report::{HostReport, UnitReport};
use crate::saved_plan::{Observed, SavedHost, SavedPlan, Stale};
use crate::schedule::{self, Interrupt};
use crate::session::lock::{HostLock, Owner};
use crate::session::probe::{HostState, Query};
use crate::session::target::Target;
use crate::session::Session;
use indexmap::IndexMap;
use petgraph::graph::NodeIndex;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Semaphore;

/// The result of planning (and maybe applying) a whole run.
pub struct Outcome {
    pub hosts: Vec<HostReport>,
    pub changes: usize,
    pub failed: bool,
    pub aborted: bool,
    /// A SIGINT/SIGTERM stopped the apply: units not started are skipped as interrupted.
    pub interrupted: bool,
    /// What the run should tell besides its hosts' reports (a stale lock broken).
    pub warnings: Vec<String>,
    /// The serial bindings' gates (after each batch), in the order they ended.
    pub gates: Vec<UnitReport>,
}

pub struct Runner {
    pub project: Project,
    pub settings: Settings,
}

/// Keeps what the probe found of each host's facts for `check`
/// (`fact_cache`); a cache that cannot be written is said, not fatal.
fn cache_facts(s: &Settings, facts: &HashMap<String, Value>) -> Vec<String> {
    facts
        .iter()
        .filter(|(_, f)| !f.is_null())
        .filter_map(|(h, f)| fact_cache::write(&s.inventory, h, f, &s.secrets).err().map(|e| e.to_string()))
        .collect()
}

impl Runner {
    /// Connects and probes every host (one round trip each), then plans every unit.
    pub async fn plan(mut self) -> (Arc<Project>, Phase) {
        let mut runs = probe_hosts(&self.project, &self.settings, Owner::this_run()).await;
        let facts: HashMap<String, Value> =
            runs.iter().filter(|(_, r)| r.error.is_none()).map(|(h, r)| (h.clone(), r.state.facts.clone())).collect();
        // A var that reads facts, rendered only now, fails its host if it cannot be.
        for e in self.project.set_globals(&facts) {
            if let Some(run) = runs.get_mut(&e.host) {
                run.error.get_or_insert_with(|| e.to_string());
            }
        }
        for (h, run) in runs.iter().filter(|(_, r)| r.error.is_none()) {
            self.project.keep_query_answers(h, &run.state, &run.probed);
        }
        let project = Arc::new(self.project);
        let mut plans = plan_units(&project, &mut runs).await;
        // What `generated()` made while planning is saved now, before the plan
        // is shown, saved or applied, so a saved plan and a later apply (or the
        // next run) see the same values. `check` never plans, so never writes.
        if let Err(e) = project.generated.persist_new() {
            // Unsaved values must not reach a host: the next run would make
            // others. Every host fails planning with the reason.
            let e = format!("generated values not saved: {e}");
            for run in runs.values_mut() {
                run.error.get_or_insert_with(|| e.clone());
            }
            plans.clear();
        }
        for run in runs.values_mut() {
            run.seconds = run.started.elapsed().as_secs_f64();
        }
        let mut warnings = lock_notes(&runs);
        warnings.extend(cache_facts(&self.settings, &facts));
        (project, Phase { runs, plans, exact: false, warnings })
    }
}

/// What the hosts' locks had to say so far, by host.
fn lock_notes(runs: &HashMap<String, HostRun>) -> Vec<String> {
    let mut hosts: Vec<&String> = runs.keys().collect();
    hosts.sort();
    let notes = hosts.into_iter().flat_map(|h| runs[h].conn.iter().flat_map(|c| c.lock_notes()).map(move |n| (h, n)));
    notes.map(|(h, n)| format!("{h}: {n}")).collect()
}

/// What to ask a host first: every unit's queries, computed without facts.
fn host_queries(project: &Project, host: &str) -> BTreeSet<Query> {
    let mut queries = BTreeSet::new();
    for (h, role) in project.graph.units.keys().filter(|(h, _)| h == host) {
        if let Ok((prepared, handlers)) = project.prepare_unit(h, role, None, false, &Registered::none()) {
            queries.extend(plan::queries(role, &prepared, &handlers));
        }
        // The role's `query:` commands run in this probe, and only in it.
        if let Ok(asked) = project.query_probes(h, role) {
            queries.extend(asked.into_iter().map(|(_, _, q)| q));
        }
    }
    queries
}

/// Opens a session to every host of the run and probes it, `--forks` at a
/// time; each probe takes the host's run lock for `owner` and lets it go.
async fn probe_hosts(project: &Project, settings: &Settings, owner: Owner) -> HashMap<String, HostRun> {
    let hosts = project.hosts();
    let forks = Arc::new(Semaphore::new(settings.forks.unwrap_or(hosts.len().max(1))));
    let with_facts = project.uses_facts();
    let mut tasks = tokio::task::JoinSet::new();
    for h in hosts {
        let queries = host_queries(project, &h);
        let target = Target::from_vars(&h, &project.vars[&h]).map(|t| t.with_become_password(&settings.connect));
        let opts = settings.connect.clone();
        let forks = forks.clone();
        let owner = owner.clone();
        tasks.spawn(async move {
            let _permit = forks.acquire_owned().await;
            let started = Instant::now();
            let res = async {
                let target = target.map_err(|e| e.to_string())?;
                let lock = HostLock::for_target(&target, owner, opts.lock_timeout);
                let conn = Session::open(&target, &opts).await.map_err(|e| e.to_string())?.locked(lock);
                let state = conn.probe(&queries, with_facts).await.map_err(|e| e.to_string());
                Ok::<_, String>((conn, state))
            }
            .await;
            let (conn, state, error) = match res {
                Ok((conn, Ok(state))) => (Some(Arc::new(conn)), state, None),
                Ok((conn, Err(e))) => (Some(Arc::new(conn)), HostState::default(), Some(e)),
                Err(e) => (None, HostState::default(), Some(e)),
            };
            (h, HostRun { conn, state, probed: queries, asks: HashMap::new(), error, started, seconds: 0.0 })
        });
    }
    let mut runs = HashMap::new();
    while let Some(Ok((h, run))) = tasks.join_next().await {
        runs.insert(h, run);
    }
    runs
}

/// Plans every unit against its host's state; probes again only for what
/// the first pass could not know (fields that needed facts). Units of a
/// host are planned in the run's order (`Project::units`): a handler that
/// several units share is planned to run in the last of them.
async fn plan_units(project: &Project, runs: &mut HashMap<String, HostRun>) -> Plans {
    let mut plans: Plans = HashMap::new();
    // Per host, what earlier units change: they may make a folder a later write needs.
    let mut earlier: HashMap<String, Vec<Arc<dyn crate::resource::Resource>>> = HashMap::new();
    let order = project.units();
    // Per host, the roles of its units still to plan, and the handlers earlier ones notified.
    let mut to_plan: HashMap<&str, Vec<&str>> = HashMap::new();
    for n in &order {
        if let Node::Unit { host, role, .. } = &project.graph.g[*n] {
            to_plan.entry(host.as_str()).or_default().push(role.as_str());
        }
    }
    let mut owed: HashMap<&str, BTreeSet<HandlerKey>> = HashMap::new();
    for n in order.iter().copied() {
        let Node::Unit { host, role, .. } = &project.graph.g[n] else { continue };
        let left = to_plan.get_mut(host.as_str()).expect("listed above");
        left.retain(|r| r != role);
        let run = runs.get_mut(host).expect("every host was probed");
        if run.error.is_some() {
            continue;
        }
        let owed = owed.entry(host.as_str()).or_default();
        let later = project.handlers.get(host).map(|hh| hh.later(left.iter().copied())).unwrap_or_default();
        let sharing = Sharing { later, notified: owed.clone() };
        // A registering command that will not run has a known result: what
        // reads it is planned again with it, as often as that teaches more.
        let mut registered = Registered::none();
        let (prepared, plan) = loop {
            let (prepared, handlers) = match project.prepare_unit(host, role, Some(&run.state.facts), true, &registered)
            {
                Ok(x) => x,
                Err(e) => break (vec![], Err(e)),
            };
            let asked = plan::queries(role, &prepared, &handlers);
            let missing: BTreeSet<Query> = asked.difference(&run.probed).cloned().collect();
            run.asks.entry(role.clone()).or_default().extend(asked);
            if !missing.is_empty() {
                let conn = run.conn.clone().expect("connected");
                match conn.probe(&missing, false).await {
                    Ok(more) => {
                        run.state.update(more);
                        run.probed.extend(missing);
                    }
                    Err(e) => run.error = Some(e.to_string()),
                }
            }
            let plan = plan::plan_unit(&prepared, &handlers, &run.state, &sharing);
            let learned: Vec<String> = registered::not_running(&prepared, &plan);
            if learned.is_empty() || run.error.is_some() {
                break (prepared, Ok(plan));
            }
            registered.known.extend(learned.into_iter().map(|n| (n, registered::Outcome::not_run())));
        };
        let mut plan = match plan {
            Ok(p) => p,
            Err(e) => {
                plans.insert(n, Err(e));
                continue;
            }
        };
        crate::folders::check(&prepared, &mut plan, &run.state, earlier.entry(host.clone()).or_default());
        for h in &plan.handlers {
            if h.deferred {
                owed.insert(h.key());
            } else {
                owed.remove(&h.key());
            }
        }
        plans.insert(n, Ok(plan));
    }
    plans
}

/// The state between planning and applying.
pub struct Phase {
    runs: HashMap<String, HostRun>,
    plans: Plans,
    /// Apply the plans as they are (a saved plan): never re-plan a unit.
    exact: bool,
    warnings: Vec<String>,
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
        SavedPlan::new(s, hosts)
    }

    /// Takes a saved plan's steps in place of fresh ones, refusing when any
    /// host's observed state (or the set of hosts and units) has changed since.
    pub fn adopt(&mut self, project: &Project, saved: SavedPlan) -> std::result::Result<(), Vec<Stale>> {
        let observed = |h: &str| {
            self.runs.get(h).map(|r| match &r.error {
                Some(e) => Observed::Error(e),
                None => Observed::Digest(&r.state.digest),
            })
        };
        let units: Vec<(NodeIndex, String, String)> = project
            .units()
            .into_iter()
            .filter_map(|n| match &project.graph.g[n] {
                Node::Unit { host, role, .. } => Some((n, host.clone(), role.clone())),
                _ => None,
            })
            .collect();
        let pairs: Vec<(String, String)> = units.iter().map(|(_, h, r)| (h.clone(), r.clone())).collect();
        let stale = saved.stale(&project.hosts(), observed, &pairs);
        if !stale.is_empty() {
            return Err(stale);
        }
        self.plans = units.into_iter().filter_map(|(n, h, r)| Some((n, Ok(saved.unit(&h, &r)?.clone())))).collect();
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
            rep.probe = Some(run.probe_span());
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
                            handlers: plan.run_handlers().map(|h| h.shown(role)).collect(),
                            seconds: 0.0,
                            span: None,
                        }
                    }
                    Err(e) => {
                        failed = true;
                        UnitReport {
                            role: role.clone(),
                            status: Status::Failed,
                            message: Some(e.to_string()),
                            resources: vec![],
                            handlers: vec![],
                            seconds: 0.0,
                            span: None,
                        }
                    }
                };
                rep.units.push(unit);
            }
            rep.recount();
            hosts.push(rep);
        }
        Outcome {
            hosts,
            changes,
            failed,
            aborted: false,
            interrupted: false,
            warnings: self.warnings.clone(),
            gates: vec![],
        }
    }

    /// Walks the graph (see `schedule`), converging each unit as soon as its
    /// predecessors are done, until done or `interrupt`ed.
    pub async fn apply(
        self,
        project: Arc<Project>,
        forks: Option<usize>,
        progress: impl Fn(&str) + Send + Sync + 'static,
        interrupt: &Interrupt,
    ) -> Outcome {
        let work = Arc::new(Converge {
            project: project.clone(),
            runs: Mutex::new(self.runs),
            plans: self.plans,
            dirty: Mutex::new(HashSet::new()),
            fresh: Mutex::new(HashMap::new()),
            exact: self.exact,
            // The probes' notes were told with the plan; these are the apply's.
            notes: Mutex::new(Vec::new()),
            handlers: Mutex::new(SharedHandlers::new(&project)),
        });
        let results = schedule::walk(&project.graph, forks, work.clone(), progress, interrupt).await;
        let g = &project.graph.g;
        let (runs, warnings) = match Arc::try_unwrap(work) {
            Ok(w) => (w.runs.into_inner().unwrap_or_default(), w.notes.into_inner().unwrap_or_default()),
            Err(_) => Default::default(),
        };
        let mut hosts = Vec::new();
        let mut changes = 0;
        let mut failed = false;
        for h in project.hosts() {
            let mut rep = HostReport::new(&h);
            if let Some(run) = runs.get(&h) {
                rep.round_trips = run.conn.as_ref().map_or(0, |c| c.round_trips());
                rep.seconds = run.started.elapsed().as_secs_f64();
                rep.probe = Some(run.probe_span());
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
        let mut gates: Vec<UnitReport> =
            results.iter().filter(|(n, _)| matches!(g[**n], Node::Gate { .. })).map(|(_, r)| r.clone()).collect();
        gates.sort_by(|a, b| {
            a.span
                .as_ref()
                .map(|s| s.end)
                .partial_cmp(&b.span.as_ref().map(|s| s.end))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        close_all(runs).await;
        Outcome { hosts, changes, failed, aborted: false, interrupted: interrupt.is_set(), warnings, gates }
    }

    pub async fn close(self) {
        close_all(self.runs).await;
    }
}

/// Ends every host's session at once: each waits for its host's sh to
/// exit, which costs a round trip, not to be paid host after host.
async fn close_all(runs: HashMap<String, HostRun>) {
    let mut closing = tokio::task::JoinSet::new();
    for c in runs.into_values().filter_map(|r| r.conn).filter_map(|c| Arc::try_unwrap(c).ok()) {
        closing.spawn(c.close());
    }
    while closing.join_next().await.is_some() {}
}
