//! Handlers that units of one host share: a handler runs once, at the end
//! of the last of its units to begin, with what the earlier ones deferred
//! to it (`plan::Sharing`). The order units of a host run in is known only
//! as they begin.

use crate::plan::{HandlerKey, HandlerPlan, UnitPlan};
use crate::project::handlers::HostHandlers;
use crate::project::Project;
use petgraph::graph::NodeIndex;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Per host: the units not begun yet, and the handlers a unit deferred to a later one.
#[derive(Default)]
pub struct SharedHandlers {
    /// Host → which role's handler each `notify:` names there.
    resolved: HashMap<String, Arc<HostHandlers>>,
    /// Host → (unit, role) of the units that have not begun.
    waiting: HashMap<String, Vec<(NodeIndex, String)>>,
    /// Host → handlers notified and not run yet, carried to the unit that runs them.
    owed: HashMap<String, Vec<HandlerPlan>>,
}

impl SharedHandlers {
    /// Every unit of the run waits at first.
    pub fn new(project: &Project) -> Self {
        let mut waiting: HashMap<String, Vec<(NodeIndex, String)>> = HashMap::new();
        for ((h, r), n) in &project.graph.units {
            waiting.entry(h.clone()).or_default().push((*n, r.clone()));
        }
        SharedHandlers { resolved: project.handlers.clone(), waiting, owed: HashMap::new() }
    }

    /// The roles of the host's units that have not begun.
    pub fn waiting(&self, host: &str) -> Vec<String> {
        self.waiting.get(host).into_iter().flatten().map(|(_, r)| r.clone()).collect()
    }

    /// Unit `n` begins: the handlers that a unit still waiting on its host owns or notifies run later.
    pub fn begin(&mut self, n: NodeIndex, host: &str) -> BTreeSet<HandlerKey> {
        let waiting = self.waiting.entry(host.to_string()).or_default();
        waiting.retain(|(m, _)| *m != n);
        let hh = self.resolved.get(host);
        hh.map(|hh| hh.later(waiting.iter().map(|(_, r)| r.as_str()))).unwrap_or_default()
    }

    /// Takes into `plan` what earlier units of the host deferred to this
    /// unit's role, marks what still waits for a later unit, and carries that on.
    pub fn share(&mut self, host: &str, role: &str, later: &BTreeSet<HandlerKey>, plan: &mut UnitPlan) {
        let Some(hh) = self.resolved.get(host) else { return };
        let owed = self.owed.entry(host.to_string()).or_default();
        for h in owed.iter() {
            if hh.in_group(&h.key(), role) && !plan.handlers.iter().any(|p| p.key() == h.key()) {
                plan.handlers.push(h.clone());
            }
        }
        plan.defer(later);
        owed.retain(|o| !plan.run_handlers().any(|p| p.key() == o.key()));
        for h in plan.handlers.iter().filter(|h| h.deferred) {
            if !owed.iter().any(|o| o.key() == h.key()) {
                owed.push(h.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Step;

    fn changed(name: &str) -> crate::plan::ResourcePlan {
        crate::plan::ResourcePlan {
            resource: name.into(),
            status: crate::plan::Status::Changed,
            steps: vec![Step::new("x", "true")],
            notify: vec![],
            message: None,
            register: None,
        }
    }

    /// Role `app` notifies `reload` of role `lb`, both on host h: whichever
    /// unit begins last runs it, once, with what the other deferred to it.
    #[test]
    fn a_shared_handler_runs_once_in_the_unit_that_begins_last() {
        let key = HandlerKey { role: "lb".into(), name: "reload".into() };
        let hh = HostHandlers::for_tests(&[("app", "reload", "lb")]);
        let handler = |deferred| HandlerPlan {
            handler: "reload".into(),
            role: "lb".into(),
            steps: vec![Step::new("reload", "true")],
            deferred,
        };
        for app_first in [true, false] {
            let (app, lb) = (NodeIndex::new(0), NodeIndex::new(1));
            let mut sh = SharedHandlers {
                resolved: [("h".to_string(), Arc::new(hh.clone()))].into(),
                waiting: [("h".to_string(), vec![(app, "app".to_string()), (lb, "lb".to_string())])].into(),
                owed: HashMap::new(),
            };
            // app's change notified it; lb's own plan knows nothing of it.
            let mut app_plan = UnitPlan { resources: vec![changed("a")], handlers: vec![handler(false)] };
            let mut lb_plan = UnitPlan::default();
            let order = if app_first { [(app, "app"), (lb, "lb")] } else { [(lb, "lb"), (app, "app")] };
            let mut ran = 0;
            for (n, role) in order {
                let plan = if role == "app" { &mut app_plan } else { &mut lb_plan };
                let later = sh.begin(n, "h");
                sh.share("h", role, &later, plan);
                ran += plan.run_handlers().count();
                assert_eq!(later.contains(&key), n == order[0].0, "only the first waits for the other");
            }
            assert_eq!(ran, 1, "once (app first: {app_first})");
            assert!(sh.owed["h"].is_empty());
            let last = if app_first { &lb_plan } else { &app_plan };
            assert_eq!(last.run_handlers().count(), 1, "in the unit that began last");
        }
    }
}
