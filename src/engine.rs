//! Runs a site: load everything, open one connection per host, probe each
//! host once, plan every unit, then (apply) hand the graph to `schedule` with
//! the work of converging a unit and checking a gate. Bad input or an
//! unreachable host stops the run before any host is changed.

use crate::graph::Node;
use crate::plan::{self, Status, UnitPlan};
use crate::project::{Project, Settings, UnitError};
use crate::report::{HostReport, UnitReport};
use crate::saved_plan::{Observed, SavedHost, SavedPlan, Stale};
use crate::schedule;
use crate::session::apply::StepId;
use crate::session::probe::{HostState, Query};
use crate::session::transport::Target;
use crate::session::Session;
use indexmap::IndexMap;
use petgraph::graph::NodeIndex;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Semaphore;

/// Per-host knowledge during a run.
struct HostRun {
    conn: Option<Arc<Session>>,
    state: HostState,
    probed: BTreeSet<Query>,
    error: Option<String>,
    started: Instant,
    seconds: f64,
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
                    let conn = Session::open(&target, &opts).await.map_err(|e| e.to_string())?;
                    let state = conn.probe(&queries, with_facts).await.map_err(|e| e.to_string());
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
        let mut plans: HashMap<NodeIndex, std::result::Result<UnitPlan, UnitError>> = HashMap::new();
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
                        match conn.probe(&missing, false).await.map_err(|e| e.to_string()) {
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
        (project, Phase { runs, plans, exact: false })
    }
}

/// The state between planning and applying.
pub struct Phase {
    runs: HashMap<String, HostRun>,
    plans: HashMap<NodeIndex, std::result::Result<UnitPlan, UnitError>>,
    /// Apply the plans as they are (a saved plan): never re-plan a unit.
    exact: bool,
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
                            message: Some(e.to_string()),
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
    plans: HashMap<NodeIndex, std::result::Result<UnitPlan, UnitError>>,
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
    plans: &HashMap<NodeIndex, std::result::Result<UnitPlan, UnitError>>,
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
        Some(Err(e)) => return fail(e.to_string(), vec![]),
        None => return fail("not planned".into(), vec![]),
    };
    // An earlier unit changed this host: what it found may be stale, so look again.
    if !exact && dirty.lock().unwrap().contains(host) {
        let (prepared, handlers) = match project.prepare_unit(host, role, Some(&facts), true) {
            Ok(x) => x,
            Err(e) => return fail(e.to_string(), vec![]),
        };
        // Rendering again may make a value planning did not: save it before it reaches the host.
        if let Err(e) = project.generated.persist_new() {
            return fail(format!("generated values not saved: {e}"), vec![]);
        }
        let queries = plan::queries(role, &prepared, &handlers);
        match conn.probe(&queries, false).await.map_err(|e| e.to_string()) {
            Ok(mut st) => {
                st.facts = facts.clone();
                plan = plan::plan_unit(role, &prepared, &handlers, &st);
            }
            Err(e) => {
                if let Some(r) = runs.lock().unwrap().get_mut(host) {
                    r.error = Some(e.clone());
                }
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
    dirty.lock().unwrap().insert(host.to_string());
    let mut resources = plan.resources.clone();
    let applied = match conn.apply(role, &plan).await {
        Ok(a) => a,
        Err(e) => {
            if let Some(r) = runs.lock().unwrap().get_mut(host) {
                r.error = Some(format!("unreachable: {e}"));
            }
            return fail(format!("unreachable during apply: {e}"), resources);
        }
    };
    if let Some(f) = applied.result.failed {
        let output = f.output.trim();
        // Mark the failed resource; the changed ones after it never ran.
        let failed_at = match f.step {
            StepId::Resource { index, .. } => Some(index),
            _ => None,
        };
        let mut after = false;
        for (i, r) in resources.iter_mut().enumerate() {
            if Some(i) == failed_at {
                r.status = Status::Failed;
                r.message = Some(format!("exit {}: {output}", f.code));
                after = true;
            } else if after && r.status == Status::Changed {
                r.status = Status::Skipped;
                r.message = Some("not run: an earlier step failed".into());
            }
        }
        let what = if failed_at.is_some() { String::new() } else { format!(" ({})", f.step) };
        return fail(format!("a step failed{what}: exit {}: {output}", f.code), resources);
    }
    if !applied.result.completed {
        let err = applied.stderr;
        if let Some(r) = runs.lock().unwrap().get_mut(host) {
            r.error = Some(format!("unreachable: connection lost during apply {err}"));
        }
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
            match conn.check(&hc.cmd).await {
                Ok(Ok(())) => {
                    ok = true;
                    break;
                }
                Ok(Err(said)) => last = said,
                Err(e) => last = e.to_string(),
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
