//! `show PLAN`: a plan saved by `plan --out`, its seal checked first, printed
//! the way `plan` prints its plan (per host, per unit, resources, actions and
//! diffs). Never a script: scripts hold file contents, secret ones included.
//! Secret values in names, actions and diffs were hidden when it was saved.

use super::output::Out;
use crate::error::Result;
use crate::report;
use crate::saved_plan::{self, SavedPlan};
use std::path::Path;

/// Prints the saved plan at `path`; 0, or 1 when it is unreadable or its seal does not match.
pub fn show(path: &Path, out: &Out) -> Result<i32> {
    let plan = saved_plan::read_for_user(path)?;
    if out.json {
        out.document(&plan.public());
        return Ok(0);
    }
    out.human(&header(&plan));
    out.human(&report::render_units(&out.style, &plan.reports(), false, out.verbose));
    let changes = plan.changes();
    if changes == 0 {
        out.human("no changes: every host was in sync\n");
    } else {
        out.human(&format!(
            "{changes} change(s) on {} host(s); `rigger apply {}` applies exactly these, or refuses if a host moved\n",
            plan.hosts.values().filter(|h| h.units.values().any(|u| u.changes() > 0)).count(),
            path.display()
        ));
    }
    Ok(0)
}

/// What the plan was made of: site, inventory, and the options that chose its hosts and vars.
/// `-e` values are not shown, only their names: one may be a password.
fn header(plan: &SavedPlan) -> String {
    let mut h = format!("saved plan of {} on {}", plan.site.display(), plan.inventory.display());
    if let Some(l) = &plan.limit {
        h.push_str(&format!(", --limit {l}"));
    }
    if !plan.tags.only.is_empty() {
        h.push_str(&format!(", --tags {}", plan.tags.only.join(",")));
    }
    if !plan.tags.skip.is_empty() {
        h.push_str(&format!(", --skip-tags {}", plan.tags.skip.join(",")));
    }
    if !plan.extra_vars.is_empty() {
        let names: Vec<&str> = plan.extra_vars.keys().map(String::as_str).collect();
        h.push_str(&format!(", -e {}", names.join(" ")));
    }
    h + "\n"
}
