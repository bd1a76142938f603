//! Pure planning: a unit's resources, rendered for one host, are turned into
//! `Resource`s (`prepare`), and planned against the probed state
//! (`plan_unit`). Nothing here touches a host, so it is tested from data.

use crate::prepare::Prepared;
use crate::resource::{Found, Resource, ResourceError, Step};
use crate::session::host_state;
use crate::session::probe::{HostState, Query};
use indexmap::IndexMap;
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Changed,
    Failed,
    Skipped,
    /// Reads the registered result of a command that runs first: known at apply.
    Conditional,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ResourcePlan {
    pub resource: String,
    pub status: Status,
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The name its result is registered under (a command with `register:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register: Option<String>,
}

impl ResourcePlan {
    /// The same plan without its shell scripts: what reports show.
    pub fn public(&self) -> Self {
        let mut r = self.clone();
        for s in &mut r.steps {
            s.script.clear();
        }
        r
    }
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct HandlerPlan {
    pub handler: String,
    /// The role that defines it (its journal is `host_state::journal_sh(role)`).
    #[serde(default)]
    pub role: String,
    pub steps: Vec<Step>,
    /// Notified here, run by a later unit of the host (see `Sharing`):
    /// this unit only journals it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deferred: bool,
}

impl HandlerPlan {
    pub fn key(&self) -> HandlerKey {
        HandlerKey { role: self.role.clone(), name: self.handler.clone() }
    }

    /// How reports name it: a handler of another role says whose it is.
    pub fn shown(&self, unit_role: &str) -> String {
        if self.role == unit_role || self.role.is_empty() {
            self.handler.clone()
        } else {
            format!("{} (role {})", self.handler, self.role)
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct UnitPlan {
    pub resources: Vec<ResourcePlan>,
    pub handlers: Vec<HandlerPlan>,
}

impl UnitPlan {
    pub fn changes(&self) -> usize {
        self.resources.iter().filter(|r| r.status == Status::Changed).count() + self.run_handlers().count()
    }

    /// The handlers that run at the end of this unit (not the deferred ones).
    pub fn run_handlers(&self) -> impl Iterator<Item = &HandlerPlan> {
        self.handlers.iter().filter(|h| !h.deferred)
    }

    /// Marks the handlers that a later unit of the host runs (`later`), and
    /// unmarks the others: the order units run in is known only as they do.
    pub fn defer(&mut self, later: &BTreeSet<HandlerKey>) {
        for h in &mut self.handlers {
            h.deferred = later.contains(&h.key());
        }
    }
}
/// A handler: the role that defines it and its name. Several units of a
/// host may notify the same one; it runs once per host per run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HandlerKey {
    pub role: String,
    pub name: String,
}

/// A handler a unit may notify or run, resolved for its host.
#[derive(Debug, Clone)]
pub struct Handler {
    /// The role that defines it: the unit's own, or another on the host.
    pub role: String,
    pub resource: Arc<dyn Resource>,
}

/// A unit's handlers, by the name its resources notify: its own role's, and
/// those of other roles on the host that it notifies (`project::handlers`).
pub type Handlers = IndexMap<String, Handler>;

/// Where a unit stands among the units of its host, for the handlers they share.
#[derive(Debug, Clone, Default)]
pub struct Sharing {
    /// Handlers that a unit still to run on the host owns or may notify:
    /// they run at the end of the last of those units, not here.
    pub later: BTreeSet<HandlerKey>,
    /// Handlers notified by earlier units of the host in this plan (the
    /// host's journal does not show them yet: nothing has run).
    pub notified: BTreeSet<HandlerKey>,
}

/// Everything the probe must ask to plan this unit.
pub fn queries(role: &str, prepared: &[Prepared], handlers: &Handlers) -> BTreeSet<Query> {
    let mut q: BTreeSet<Query> =
        prepared.iter().filter_map(|p| p.resource.as_ref()).flat_map(|r| r.queries()).collect();
    for h in handlers.values().filter(|h| h.resource.handler_reads_state()) {
        q.extend(h.resource.queries());
    }
    q.insert(host_state::journal_query(role));
    // The journals of the other roles whose handlers this unit notifies.
    q.extend(handlers.values().map(|h| host_state::journal_query(&h.role)));
    q
}

/// The handlers pending in the journals on the host (an earlier run was
/// cut short between a change and its handler), among `handlers`.
fn journaled(handlers: &Handlers, state: &HostState) -> Vec<String> {
    let mut owed = Vec::new();
    for (name, h) in handlers {
        let Ok(p) = host_state::journal(state, &h.role) else { continue };
        if p.content.as_ref().is_some_and(|c| String::from_utf8_lossy(c).lines().any(|l| l == name)) {
            owed.push(name.clone());
        }
    }
    owed
}

/// Plans a unit against the probed state: which resources change, which
/// handlers it owes; `sharing` says which of those a later unit runs.
pub fn plan_unit(prepared: &[Prepared], handlers: &Handlers, state: &HostState, sharing: &Sharing) -> UnitPlan {
    let mut plan = UnitPlan::default();
    // Handlers left pending by an earlier, interrupted run are owed first.
    let mut notified = journaled(handlers, state);
    let key = |name: &str, h: &Handler| HandlerKey { role: h.role.clone(), name: name.to_string() };
    notified.extend(handlers.iter().filter(|(n, h)| sharing.notified.contains(&key(n, h))).map(|(n, _)| n.clone()));
    // What changes before a resource may make the file it edits (a package, a command).
    let mut makers: Vec<(&str, &Arc<dyn Resource>)> = Vec::new();
    for p in prepared {
        let (mut r, missing) = plan_resource(p, state);
        if let Some(maker) = missing.and_then(|f| makers.iter().find(|(_, m)| m.may_make(&f))) {
            r.status = Status::Conditional;
            r.message = Some(format!("known at apply: its file is missing, and `{}` may make it first", maker.0));
        }
        if r.status == Status::Changed {
            notified.extend(r.notify.iter().cloned());
            makers.extend(p.resource.as_ref().map(|res| (p.label.as_str(), res)));
        }
        plan.resources.push(r);
    }
    settle(prepared, &mut plan.resources);
    for (name, h) in handlers {
        if notified.contains(name) {
            let steps = h.resource.handler_steps(state).unwrap_or_else(|e| {
                let e = e.to_string();
                vec![Step::new(format!("fail: {e}"), format!("echo {} >&2; exit 1\n", crate::shell::quote(&e)))]
            });
            plan.handlers.push(HandlerPlan { handler: name.clone(), role: h.role.clone(), steps, deferred: false });
        }
    }
    plan.defer(&sharing.later);
    plan
}

/// Keeps one settle step (`Resource::settle`: systemd's daemon-reload) per
/// group of resources that plan it and change one after another: the last
/// of them runs it, before any other change that may need it (a restart).
/// Resources in sync or skipped do not split a group; a conditional one
/// does (what it does is known only at apply).
fn settle(prepared: &[Prepared], resources: &mut [ResourcePlan]) {
    let mut owed: Option<(usize, String)> = None;
    for (i, p) in prepared.iter().enumerate() {
        let r = &resources[i];
        match r.status {
            Status::Changed => {}
            Status::Conditional => owed = None,
            _ => continue,
        }
        let mine = p.resource.as_ref().and_then(|res| res.settle()).map(|s| s.script);
        let ends_with_it = mine.is_some() && r.steps.last().map(|s| &s.script) == mine.as_ref();
        match (owed.take(), ends_with_it) {
            (Some((j, script)), true) if mine.as_ref() == Some(&script) => {
                resources[j].steps.pop();
                if resources[j].steps.is_empty() {
                    // It changed only to reload: the later one does that.
                    resources[j].status = Status::Ok;
                }
            }
            _ => {}
        }
        if ends_with_it {
            owed = mine.map(|s| (i, s));
        }
    }
}

/// One resource planned: ok, changed (with the handlers it notifies), skipped
/// or failed; and, when it failed because the file it edits is missing, that file.
fn plan_resource(p: &Prepared, state: &HostState) -> (ResourcePlan, Option<String>) {
    let (resource, register) = (p.label.clone(), p.registers.clone());
    let mut r = ResourcePlan { resource, status: Status::Ok, steps: vec![], notify: vec![], message: None, register };
    if let Some(name) = &p.waits {
        let message = Some(format!("known at apply: reads `{name}`, the result of an earlier command"));
        return (ResourcePlan { status: Status::Conditional, message, ..r }, None);
    }
    let Some(res) = &p.resource else {
        r.status = Status::Skipped;
        r.message = p.skipped.clone();
        return (r, None);
    };
    let mut missing = None;
    match res.plan(state) {
        Ok(steps) if steps.is_empty() => {}
        Ok(steps) => {
            r.status = Status::Changed;
            r.steps = steps;
            r.notify = res.notify().to_vec();
        }
        Err(e) => {
            r.status = Status::Failed;
            if let ResourceError::Found { path, found: Found::Missing } = &e {
                missing = Some(path.clone());
            }
            r.message = Some(e.to_string());
        }
    }
    (r, missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::command::Command;
    use crate::resource::file::File;
    use crate::resource::path::{self, PathState};
    use crate::resource::spec::PresentAbsent;

    fn file_res(path: &str, content: &str, notify: &[&str]) -> Arc<dyn Resource> {
        let mut f = File::plain(path.into(), content.into(), PresentAbsent::Present);
        f.mode = None;
        f.notify = notify.iter().map(|s| s.to_string()).collect();
        Arc::new(f)
    }

    fn prepared(r: Arc<dyn Resource>) -> Prepared {
        Prepared { label: r.label(), resource: Some(r), ..Prepared::default() }
    }

    fn command(cmd: &str) -> Arc<dyn Resource> {
        Arc::new(Command { cmd: cmd.into(), creates: None, unless: None, chdir: None, notify: vec![] })
    }

    fn handlers() -> Handlers {
        let mut h = Handlers::new();
        h.insert(
            "restart app".to_string(),
            Handler { role: "app".into(), resource: command("echo restarted >> \"$LOG\"") },
        );
        h
    }

    fn plan(p: &[Prepared], h: &Handlers, st: &HostState) -> UnitPlan {
        plan_unit(p, h, st, &Sharing::default())
    }

    #[test]
    fn handler_runs_only_when_a_notifier_changed() {
        let mut st = HostState::default();
        st.insert(path::query("/a"), PathState { content: Some(b"x".to_vec()), ..PathState::file(b"x", 0) });
        st.insert(host_state::journal_query("app"), PathState::default());
        let p = vec![prepared(file_res("/a", "x", &["restart app"]))];
        assert!(plan(&p, &handlers(), &st).handlers.is_empty());
        let p = vec![prepared(file_res("/a", "y", &["restart app"]))];
        let plan = plan(&p, &handlers(), &st);
        assert_eq!(plan.handlers.len(), 1);
        assert_eq!(plan.changes(), 2);
    }

    #[test]
    fn handlers_that_need_no_state_are_not_probed() {
        let q = queries("app", &[], &handlers());
        assert_eq!(q.into_iter().collect::<Vec<_>>(), [host_state::journal_query("app")]);
    }

    #[test]
    fn pending_handlers_from_an_interrupted_run_are_owed() {
        let mut st = HostState::default();
        st.insert(host_state::journal_query("app"), PathState::file(b"restart app\n", 0o644));
        let plan = plan(&[], &handlers(), &st);
        assert_eq!(plan.handlers[0].handler, "restart app");
    }

    /// A handler of another role: the unit journals and runs it like its own,
    /// reads that role's journal, and names it with its role in reports.
    fn shared() -> Handlers {
        let mut h = handlers();
        h.insert("reload lb".into(), Handler { role: "lb".into(), resource: command("echo reloaded") });
        h
    }

    fn lb_key() -> HandlerKey {
        HandlerKey { role: "lb".into(), name: "reload lb".into() }
    }

    fn state_with(pending_lb: &[u8]) -> HostState {
        let mut st = HostState::default();
        st.insert(path::query("/a"), PathState::default());
        st.insert(host_state::journal_query("app"), PathState::default());
        let lb = if pending_lb.is_empty() { PathState::default() } else { PathState::file(pending_lb, 0o644) };
        st.insert(host_state::journal_query("lb"), lb);
        st
    }

    #[test]
    fn a_handler_of_another_role_reads_that_roles_journal() {
        let q = queries("app", &[], &shared());
        assert!(q.contains(&host_state::journal_query("lb")), "{q:?}");
        let plan = plan(&[], &shared(), &state_with(b"reload lb\n"));
        assert_eq!(plan.handlers.len(), 1);
        assert_eq!(plan.handlers[0].shown("app"), "reload lb (role lb)");
    }

    #[test]
    fn a_shared_handler_a_later_unit_may_notify_is_deferred_to_it() {
        let p = vec![prepared(file_res("/a", "y", &["reload lb"]))];
        let later = Sharing { later: [lb_key()].into(), notified: BTreeSet::new() };
        let plan = plan_unit(&p, &shared(), &state_with(b""), &later);
        assert_eq!(plan.handlers.len(), 1, "still journaled by this unit");
        assert!(plan.handlers[0].deferred);
        assert_eq!(plan.changes(), 1, "the handler counts where it runs");
        assert_eq!(plan.run_handlers().count(), 0);
    }

    #[test]
    fn the_last_unit_runs_what_earlier_units_notified_once() {
        // An earlier unit notified it; this one notifies it too: one run.
        let p = vec![prepared(file_res("/a", "y", &["reload lb"]))];
        let earlier = Sharing { later: BTreeSet::new(), notified: [lb_key()].into() };
        let plan = plan_unit(&p, &shared(), &state_with(b""), &earlier);
        assert_eq!(plan.run_handlers().map(|h| h.handler.as_str()).collect::<Vec<_>>(), ["reload lb"]);
        // Notified only by the earlier unit: still run here, with no change of its own.
        let plan = plan_unit(&[], &shared(), &state_with(b""), &earlier);
        assert_eq!(plan.changes(), 1);
    }

    fn unit(name: &str, owed: bool, st: &mut HostState) -> Prepared {
        use crate::resource::systemd_unit::{SystemdUnitSpec, NEEDS_RELOAD};
        let spec: SystemdUnitSpec = serde_yaml::from_str(&format!("name: {name}\ncontent: x\n")).unwrap();
        let r = spec.build().unwrap();
        st.insert(path::query(&r.file.path), PathState::default());
        st.insert(path::query("/etc/systemd/system"), PathState::default());
        st.insert(crate::session::probe::Query::new(&NEEDS_RELOAD, &r.unit), owed);
        prepared(Arc::new(r))
    }

    #[test]
    fn units_that_change_together_reload_systemd_once_before_what_follows() {
        let mut st = HostState::default();
        st.insert(host_state::journal_query("app"), PathState::default());
        let (a, b, c) = (unit("a", false, &mut st), unit("b", false, &mut st), unit("c", false, &mut st));
        let p = vec![a, b, prepared(command("systemctl restart a")), c];
        let plan = plan(&p, &Handlers::new(), &st);
        let steps = |i: usize| plan.resources[i].steps.iter().map(|s| s.action.as_str()).collect::<Vec<_>>();
        assert_eq!(steps(0), ["create"]);
        assert_eq!(steps(1), ["create", "daemon-reload"], "once, before the restart");
        assert_eq!(steps(3), ["create", "daemon-reload"], "again after it: a new group");
    }

    #[test]
    fn a_unit_owed_only_a_reload_leaves_it_to_the_next_one() {
        let mut st = HostState::default();
        st.insert(host_state::journal_query("app"), PathState::default());
        let a = unit("a", true, &mut st);
        let b = unit("b", false, &mut st);
        // a's file is in sync but systemd holds an old copy of it.
        st.insert(path::query("/etc/systemd/system/a.service"), PathState::file(b"x", 0o644));
        let plan = plan(&[a, b], &Handlers::new(), &st);
        assert_eq!(plan.resources[0].status, Status::Ok);
        assert_eq!(plan.resources[1].steps.last().unwrap().action, "daemon-reload");
    }
}
