//! The work behind `schedule` during `apply`: a unit converges over its
//! host's session (planned again first when an earlier unit changed the
//! host), a gate between serial batches checks the failure budget and runs
//! the binding's health check on the batch's hosts, and a host whose units
//! are all done gives its run lock back. A handler that units of a host
//! share runs at the end of the last of them to begin (`SharedHandlers`).

use crate::plan::{self, HandlerKey, HandlerPlan, ResourcePlan, Status, UnitPlan};
use crate::project::registered::{Outcome, Registered};
use crate::project::{Project, UnitError};
use crate::report::{Span, UnitReport};
use crate::schedule;
use crate::session::apply::{ApplyResult, StepId};
use crate::session::probe::{HostState, Query};
use crate::session::{Session, SessionError};
use petgraph::graph::NodeIndex;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

mod shared_handlers;
pub use shared_handlers::SharedHandlers;

/// Per-host knowledge during a run.
pub struct HostRun {
    pub conn: Option<Arc<Session>>,
    pub state: HostState,
    pub probed: BTreeSet<Query>,
    /// What each of its units (by role) asked when it was planned.
    pub asks: HashMap<String, BTreeSet<Query>>,
    /// Why the host cannot be used (unreachable, probe failed), as shown.
    pub error: Option<String>,
    pub started: Instant,
    pub seconds: f64,
}

impl HostRun {
    /// When the connection and probe ran, on the wall clock (the report's timeline).
    pub fn probe_span(&self) -> Span {
        let start = std::time::SystemTime::now() - self.started.elapsed();
        Span::since(start).with_length(self.seconds)
    }
}

pub type Plans = HashMap<NodeIndex, Result<UnitPlan, UnitError>>;

pub struct Converge {
    pub project: Arc<Project>,
    pub runs: Mutex<HashMap<String, HostRun>>,
    pub plans: Plans,
    /// Hosts an earlier unit changed: what the probe saw there may be stale.
    pub dirty: Mutex<HashSet<String>>,
    /// Per host, its state as read after the last script that changed it
    /// (asked at the end of that same script): good until the next one runs.
    pub fresh: Mutex<HashMap<String, HostState>>,
    /// Apply the plans as they are (a saved plan): never plan a unit again.
    pub exact: bool,
    /// Warnings for the end of the run: what the host locks had to say.
    pub notes: Mutex<Vec<String>>,
    /// Handlers shared by units of a host, as they run (`plan::Sharing`).
    pub handlers: Mutex<SharedHandlers>,
}

impl schedule::Work for Converge {
    async fn unit(&self, n: NodeIndex, host: &str, role: &str, last: bool) -> UnitReport {
        let started = Instant::now();
        let mut rep = match self.converge(n, host, role, last).await {
            Ok(rep) => rep,
            Err((message, resources)) => UnitReport {
                role: role.into(),
                status: Status::Failed,
                message: Some(message),
                resources,
                handlers: vec![],
                seconds: 0.0,
                span: None,
            },
        };
        rep.seconds = started.elapsed().as_secs_f64();
        rep.resources = rep.resources.iter().map(|r| r.public()).collect();
        rep
    }

    async fn gate(&self, binding: usize, batch: usize, hosts: &[String], results: &[(String, Status)]) -> UnitReport {
        let started = Instant::now();
        let (status, message) = self.gate_result(binding, hosts, results).await;
        let role = format!("gate(binding {} batch {})", binding + 1, batch + 1);
        let seconds = started.elapsed().as_secs_f64();
        UnitReport { role, status, message: Some(message), resources: vec![], handlers: vec![], seconds, span: None }
    }

    /// The host's last unit is done: give its run lock back, unless its
    /// apply script did (one round trip, only where this run holds it).
    async fn host_done(&self, host: &str) {
        let conn = self.runs.lock().unwrap().get(host).and_then(|r| r.conn.clone());
        let Some(conn) = conn else { return };
        let released = conn.release().await;
        let mut notes = self.notes.lock().unwrap();
        if let Err(e) = released {
            notes.push(format!("{host}: the run lock was not released ({e}); the next run breaks it once stale"));
        }
        notes.extend(conn.lock_notes().into_iter().map(|n| format!("{host}: {n}")));
    }
}

/// Why a unit could not be planned again before it converged.
#[derive(Debug, thiserror::Error)]
enum ReplanError {
    #[error(transparent)]
    Unit(#[from] UnitError),
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
    #[error("generated values not saved: {0}")]
    Generated(#[from] crate::generated::StoreError),
}

/// A unit that failed: the message and what its resources came to.
type Failure = (String, Vec<ResourcePlan>);

impl Converge {
    /// Plans again if needed, applies; `last` lets the apply script give the host's lock back.
    async fn converge(&self, n: NodeIndex, host: &str, role: &str, last: bool) -> Result<UnitReport, Failure> {
        let later = self.handlers.lock().unwrap().begin(n, host);
        let (conn, facts) = {
            let runs = self.runs.lock().unwrap();
            let run = &runs[host];
            if let Some(e) = &run.error {
                return Err((e.clone(), vec![]));
            }
            (run.conn.clone(), run.state.facts.clone())
        };
        let Some(conn) = conn else { return Err(("not connected".into(), vec![])) };
        let mut plan = match self.plans.get(&n) {
            Some(Ok(p)) => p.clone(),
            Some(Err(e)) => return Err((e.to_string(), vec![])),
            None => return Err(("not planned".into(), vec![])),
        };
        // An earlier unit changed this host: what it found may be stale, so look again.
        if !self.exact && self.dirty.lock().unwrap().contains(host) {
            plan = self
                .replan(&conn, host, role, facts, &later, &mut Registered::none())
                .await
                .map_err(|e| (e.to_string(), vec![]))?;
        }
        if let Some(bad) = plan.resources.iter().find(|r| r.status == Status::Failed) {
            let message = format!("{}: {}", bad.resource, bad.message.clone().unwrap_or_default());
            return Err((message, plan.resources));
        }
        // The order units of a host run in is known only now: a shared handler runs in the last of its units.
        self.handlers.lock().unwrap().share(host, role, &later, &mut plan);
        let report = |status, resources, handlers| UnitReport {
            role: role.into(),
            status,
            message: None,
            resources,
            handlers,
            seconds: 0.0,
            span: None,
        };
        if plan.changes() == 0 {
            return Ok(report(Status::Ok, plan.resources, vec![]));
        }
        self.dirty.lock().unwrap().insert(host.to_string());
        let (resources, handlers) = self.apply_stages(&conn, host, role, plan, last, &later).await?;
        Ok(report(Status::Changed, resources, handlers))
    }

    /// Applies `plan`: in one round trip, or, when a resource is known only
    /// at apply (it reads a registered result, or edits a file an earlier
    /// step may make), in stages: up to the resource before it (journaling
    /// the handlers owed so far, running none), then the rest probed and
    /// planned again with what that stage did, and so on.
    async fn apply_stages(
        &self,
        conn: &Session,
        host: &str,
        role: &str,
        mut plan: UnitPlan,
        last: bool,
        later: &BTreeSet<HandlerKey>,
    ) -> Result<(Vec<ResourcePlan>, Vec<String>), Failure> {
        let mut done: Vec<ResourcePlan> = Vec::new();
        let mut registered = Registered::none();
        while let Some(k) = split_at(&plan).filter(|_| !self.exact) {
            let rest = plan.resources.split_off(k + 1);
            let mut part = UnitPlan { resources: std::mem::take(&mut plan.resources), handlers: plan.handlers.clone() };
            part.handlers.iter_mut().for_each(|h| h.deferred = true);
            let fail = |(m, part): Failure| (m, [done.clone(), part, after_failure(rest.clone())].concat());
            // The rest of this unit is planned again right after: read the host in the same script.
            let then = self.asks(host, [role]);
            let result = self.apply_part(conn, host, role, &mut part, false, then).await.map_err(fail)?;
            // Every command of the stage that registers a result, now known.
            for (i, r) in part.resources.iter().enumerate().filter(|(_, r)| r.status == Status::Changed) {
                let Some(name) = r.register.clone() else { continue };
                let stdout = result.stdout.get(&i).cloned().unwrap_or_default();
                let sealed = r.steps.iter().any(|s| s.sealed);
                if sealed {
                    self.project.secrets.add(&stdout);
                }
                registered.known.insert(name, Outcome { changed: true, rc: 0, stdout, sealed });
            }
            let stage_end = (part.resources[k].resource.clone(), part.resources[k].register.clone());
            done.extend(part.resources);
            let facts = self.runs.lock().unwrap()[host].state.facts.clone();
            let mut next = self
                .replan(conn, host, role, facts, later, &mut registered)
                .await
                .map_err(|e| (e.to_string(), [done.clone(), after_failure(rest.clone())].concat()))?;
            // What ran is done: the rest starts after the stage's last resource,
            // found by its registered name, else at its place if its label is there, else by label.
            let at = match &stage_end.1 {
                Some(name) => next.resources.iter().position(|r| r.register.as_ref() == Some(name)),
                None if next.resources.get(k).is_some_and(|r| r.resource == stage_end.0) => Some(k),
                None => next.resources.iter().position(|r| r.resource == stage_end.0),
            };
            let end = (at.unwrap_or(k) + 1).min(next.resources.len());
            next.resources.drain(..end);
            let missing: Vec<HandlerPlan> =
                plan.handlers.iter().filter(|h| !next.handlers.iter().any(|n| n.key() == h.key())).cloned().collect();
            next.handlers.extend(missing);
            self.handlers.lock().unwrap().share(host, role, later, &mut next);
            if let Some(bad) = next.resources.iter().find(|r| r.status == Status::Failed) {
                let message = format!("{}: {}", bad.resource, bad.message.clone().unwrap_or_default());
                return Err((message, [done, next.resources].concat()));
            }
            plan = next;
        }
        for r in plan.resources.iter_mut().filter(|r| r.status == Status::Conditional) {
            r.status = Status::Skipped;
            r.message = Some("not run: the result it reads was never known".into());
        }
        if plan.changes() > 0 {
            let fail = |(m, part): Failure| (m, [done.clone(), part].concat());
            // The host's units still to begin are planned again after this change: read for them now.
            let next = if self.exact { vec![] } else { self.handlers.lock().unwrap().waiting(host) };
            let then = self.asks(host, next.iter().map(String::as_str));
            self.apply_part(conn, host, role, &mut plan, last, then).await.map_err(fail)?;
        }
        let handlers = plan.run_handlers().map(|h| h.shown(role)).collect();
        done.extend(plan.resources);
        Ok((done, handlers))
    }

    /// Runs `part` in one round trip; its resources marked with what happened.
    /// The same script asks `then` after its steps (`fresh`): what the
    /// host's unit planned next reads.
    async fn apply_part(
        &self,
        conn: &Session,
        host: &str,
        role: &str,
        part: &mut UnitPlan,
        release: bool,
        then: BTreeSet<Query>,
    ) -> Result<ApplyResult, Failure> {
        let resources = std::mem::take(&mut part.resources);
        self.fresh.lock().unwrap().remove(host);
        let plan = UnitPlan { resources: resources.clone(), ..part.clone() };
        let applied = match conn.apply(role, &plan, release, &then).await {
            Ok(a) => a,
            Err(SessionError::Lock(e)) => {
                // Nothing ran; the host is another run's now, or changed under this one.
                self.lose(host, e.to_string());
                return Err((e.to_string(), not_run(resources)));
            }
            Err(e) => {
                self.lose(host, format!("unreachable: {e}"));
                return Err((format!("unreachable during apply: {e}"), resources));
            }
        };
        if let Some(st) = applied.then {
            self.fresh.lock().unwrap().insert(host.to_string(), st);
        }
        let mut result = applied.result;
        part.resources = resources;
        seal_output(&mut result, part);
        part.resources = outcome(&result, std::mem::take(&mut part.resources))?;
        if !result.completed {
            let err = applied.stderr;
            self.lose(host, format!("unreachable: connection lost during apply {err}"));
            return Err((format!("the connection was lost during apply {err}"), part.resources.clone()));
        }
        Ok(result)
    }

    /// The unit planned again against a fresh probe of what it reads.
    /// With `registered`, the results known so far; a registering command
    /// found not to run adds its result, and the unit is planned again.
    async fn replan(
        &self,
        conn: &Session,
        host: &str,
        role: &str,
        facts: serde_json::Value,
        later: &BTreeSet<HandlerKey>,
        registered: &mut Registered,
    ) -> Result<UnitPlan, ReplanError> {
        loop {
            let (prepared, handlers) = self.project.prepare_unit(host, role, Some(&facts), true, registered)?;
            // Rendering again may make a value planning did not: save it before it reaches the host.
            self.project.generated.persist_new()?;
            let queries = plan::queries(role, &prepared, &handlers);
            let mut st = match self.fresh_state(host, &queries) {
                Some(st) => st,
                None => match conn.probe(&queries, false).await {
                    Ok(st) => {
                        self.fresh.lock().unwrap().insert(host.to_string(), st.clone());
                        st
                    }
                    Err(e) => {
                        self.lose(host, e.to_string());
                        return Err(e.into());
                    }
                },
            };
            st.facts = facts.clone();
            // What earlier units notified is in the journals now: probed with the rest.
            let sharing = plan::Sharing { later: later.clone(), notified: BTreeSet::new() };
            // Fresh state: what earlier units made is there now.
            let mut unit = plan::plan_unit(&prepared, &handlers, &st, &sharing);
            crate::folders::check(&prepared, &mut unit, &st, &mut Vec::new());
            let learned: Vec<String> = crate::project::registered::not_running(&prepared, &unit);
            if learned.is_empty() {
                return Ok(unit);
            }
            registered.known.extend(learned.into_iter().map(|n| (n, Outcome::not_run())));
        }
    }

    /// What the host's units of `roles` asked when they were planned.
    fn asks<'a>(&self, host: &str, roles: impl IntoIterator<Item = &'a str>) -> BTreeSet<Query> {
        let runs = self.runs.lock().unwrap();
        let Some(run) = runs.get(host) else { return BTreeSet::new() };
        roles.into_iter().filter_map(|r| run.asks.get(r)).flatten().cloned().collect()
    }

    /// The host's state as read since its last change, if that answers `queries`.
    fn fresh_state(&self, host: &str, queries: &BTreeSet<Query>) -> Option<HostState> {
        let fresh = self.fresh.lock().unwrap();
        fresh.get(host).filter(|st| st.covers(queries)).cloned()
    }

    /// Marks a host unusable for the rest of the run.
    fn lose(&self, host: &str, why: String) {
        if let Some(r) = self.runs.lock().unwrap().get_mut(host) {
            r.error = Some(why);
        }
    }

    /// (status, message) of the gate after a batch.
    async fn gate_result(&self, binding: usize, hosts: &[String], results: &[(String, Status)]) -> (Status, String) {
        let b = &self.project.site.bindings[binding];
        // A unit skipped because something it follows failed did not converge either.
        let failed: HashSet<&String> =
            results.iter().filter(|(_, s)| matches!(s, Status::Failed | Status::Skipped)).map(|(h, _)| h).collect();
        if let Some(why) = over_budget(failed.len(), hosts.len(), b.max_fail_percentage.unwrap_or(0)) {
            return (Status::Failed, why);
        }
        let Some(hc) = &b.health_check else { return (Status::Ok, "batch done".into()) };
        for h in hosts.iter().filter(|h| !failed.contains(h)) {
            let conn = self.runs.lock().unwrap().get(h).and_then(|r| r.conn.clone());
            let Some(conn) = conn else { return (Status::Failed, format!("health check: {h} is not connected")) };
            let mut last = String::new();
            let mut ok = false;
            for attempt in 0..=hc.retries {
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_secs_f64(hc.delay)).await;
                }
                match conn.check(&hc.cmd).await {
                    Ok(Ok(())) => {
                        ok = true;
                        break;
                    }
                    Ok(Err(failed)) => last = failed.to_string(),
                    Err(e) => last = e.to_string(),
                }
            }
            if !ok {
                let tries = hc.retries + 1;
                return (
                    Status::Failed,
                    format!("health check `{}` failed on {h} after {tries} tries: {last}", hc.cmd),
                );
            }
        }
        (Status::Ok, format!("health check passed on {}", hosts.join(", ")))
    }
}

/// Why a batch with `failed` of `hosts` failed hosts stops the rollout, if it does:
/// more than `max` percent failed (0, the default: any failure stops it).
fn over_budget(failed: usize, hosts: usize, max: u8) -> Option<String> {
    let pct = (failed * 100).checked_div(hosts).unwrap_or(0);
    (failed > 0 && pct > max as usize)
        .then(|| format!("{failed} of {hosts} hosts failed in this batch (max_fail_percentage {max})"))
}

/// Where a unit is cut into stages (see `apply_stages`): just before the
/// first resource known only at apply, which waits for a registered result
/// or for a file an earlier step may make; None when nothing changes before it.
fn split_at(plan: &UnitPlan) -> Option<usize> {
    let waiting = plan.resources.iter().position(|r| r.status == Status::Conditional)?;
    plan.resources[..waiting].iter().rposition(|r| r.status == Status::Changed)
}

/// The resources of a unit after the stage that failed: none of them ran.
fn after_failure(mut resources: Vec<ResourcePlan>) -> Vec<ResourcePlan> {
    for r in resources.iter_mut().filter(|r| matches!(r.status, Status::Changed | Status::Conditional)) {
        r.status = Status::Skipped;
        r.message = Some("not run: an earlier step failed".into());
    }
    resources
}

/// The resources of a unit whose script ran no step: changes stay to do.
fn not_run(mut resources: Vec<ResourcePlan>) -> Vec<ResourcePlan> {
    for r in resources.iter_mut().filter(|r| r.status == Status::Changed) {
        r.status = Status::Skipped;
        r.message = Some("not run".into());
    }
    resources
}

/// The resources after the apply script ran: on a failed step, the failed
/// resource is marked and the changed ones after it never ran.
/// What a failed step printed, unless the step depends on a secret: a
/// command may print it transformed, which no redaction of the value finds.
fn seal_output(result: &mut ApplyResult, plan: &UnitPlan) {
    let Some(f) = &mut result.failed else { return };
    let step = match f.step {
        StepId::Resource { index, step } => plan.resources.get(index).and_then(|r| r.steps.get(step)),
        StepId::Handler { index, step } => plan.handlers.get(index).and_then(|h| h.steps.get(step)),
        StepId::Pending | StepId::Done => None,
    };
    if step.is_some_and(|s| s.sealed) {
        f.output = "(output sealed: the step depends on a secret)".into();
    }
}

fn outcome(result: &ApplyResult, mut resources: Vec<ResourcePlan>) -> Result<Vec<ResourcePlan>, Failure> {
    let Some(f) = &result.failed else { return Ok(resources) };
    let output = f.output.trim();
    let failed_at = match f.step {
        StepId::Resource { index, .. } => Some(index),
        _ => None,
    };
    // Recording the journal comes before every resource: none of them ran.
    let mut after = f.step == StepId::Pending;
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
    Err((format!("a step failed{what}: exit {}: {output}", f.code), resources))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Step;
    use crate::session::apply::Failed;

    fn changed(name: &str) -> ResourcePlan {
        ResourcePlan {
            resource: name.into(),
            status: Status::Changed,
            steps: vec![Step::new("x", "true")],
            notify: vec![],
            message: None,
            register: None,
        }
    }

    #[test]
    fn a_failed_step_marks_its_resource_and_skips_the_later_changes() {
        let failed = Failed { step: StepId::Resource { index: 1, step: 0 }, code: 3, output: "no\n".into() };
        let result = ApplyResult { failed: Some(failed), completed: true, ..ApplyResult::default() };
        let (message, rs) = outcome(&result, vec![changed("a"), changed("b"), changed("c")]).unwrap_err();
        assert_eq!(message, "a step failed: exit 3: no");
        let st: Vec<Status> = rs.iter().map(|r| r.status).collect();
        assert_eq!(st, [Status::Changed, Status::Failed, Status::Skipped]);
        assert_eq!(rs[1].message.as_deref(), Some("exit 3: no"));
    }

    #[test]
    fn a_batch_stops_the_rollout_only_past_its_failure_budget() {
        assert_eq!(over_budget(0, 2, 0), None);
        assert_eq!(over_budget(1, 2, 0).unwrap(), "1 of 2 hosts failed in this batch (max_fail_percentage 0)");
        assert_eq!(over_budget(1, 2, 50), None, "50% failed is not more than 50%");
        assert!(over_budget(2, 3, 50).is_some());
        assert_eq!(over_budget(1, 1, 100), None);
    }

    /// The journal is recorded before any resource: when that fails, the
    /// recap must not count the planned changes as made.
    #[test]
    fn a_failed_journal_means_no_resource_ran() {
        let failed = Failed { step: StepId::Pending, code: 1, output: "mkdir: Permission denied".into() };
        let result = ApplyResult { failed: Some(failed), completed: true, ..ApplyResult::default() };
        let (message, rs) = outcome(&result, vec![changed("a"), changed("b")]).unwrap_err();
        assert_eq!(message, "a step failed (pending): exit 1: mkdir: Permission denied");
        assert!(rs.iter().all(|r| r.status == Status::Skipped), "{rs:?}");
    }

    #[test]
    fn a_failed_handler_is_named_by_its_step() {
        let failed = Failed { step: StepId::Handler { index: 0, step: 1 }, code: 1, output: "boom".into() };
        let result = ApplyResult { failed: Some(failed), completed: true, ..ApplyResult::default() };
        let (message, rs) = outcome(&result, vec![changed("a")]).unwrap_err();
        assert_eq!(message, "a step failed (h0.1): exit 1: boom");
        assert_eq!(rs[0].status, Status::Changed);
    }
}
