//! The plan-time check that a file's folder is there, or that something
//! planned before it on the host may make it (issue "Trust", paths).

use crate::plan::{Status, UnitPlan};
use crate::prepare::Prepared;
use crate::resource::{path, Resource};
use crate::session::probe::HostState;
use std::sync::Arc;

/// Fails, in the plan, a write into a folder that is not on the host and
/// that nothing planned before it on the host may make (`Resource::may_make`):
/// without this it would plan as `create` and fail at apply. `earlier` holds
/// the host's changed resources from units planned before this one; this
/// unit's changed resources are added to it.
pub fn check(prepared: &[Prepared], plan: &mut UnitPlan, state: &HostState, earlier: &mut Vec<Arc<dyn Resource>>) {
    for (p, rp) in prepared.iter().zip(plan.resources.iter_mut()) {
        let Some(res) = &p.resource else { continue };
        if rp.status != Status::Changed {
            continue;
        }
        if let Some(dir) = res.writes_into() {
            let missing = match path::state(state, dir) {
                Ok(st) if st.kind == path::PathKind::Directory => None,
                Ok(st) if st.exists() => Some("is not a directory"),
                Ok(_) => Some("does not exist"),
                // Not probed (a saved plan, a test): nothing to say.
                Err(_) => None,
            };
            if let Some(why) = missing.filter(|_| !earlier.iter().any(|e| e.may_make(dir))) {
                rp.status = Status::Failed;
                rp.steps.clear();
                rp.notify.clear();
                rp.message = Some(format!("parent {dir} {why}, and nothing planned before it makes it"));
                continue;
            }
        }
        earlier.push(res.clone());
    }
}
