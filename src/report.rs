//! What a run tells people and machines: the plan with unified diffs, a
//! per-host recap, and `--json` (schema in docs/json.md). Human text goes to
//! stderr when `--json` owns stdout. Colors only on a terminal. Identical
//! changes on several hosts print once (`group`); runs are recorded
//! (`history`) and rendered for CI (`junit`) and browsers (`html`).

pub mod group;
pub mod history;
pub mod html;
pub mod junit;
mod run;
mod style;
pub mod svg;

pub use run::{Counts, HostReport, RunReport, Span, UnitReport, INTERRUPTED};
pub use style::Style;

use crate::plan::{ResourcePlan, Status};
use group::{Change, Group};
use serde::Serialize;

/// The `--json` document of `plan` and `apply`: the run's report, per host,
/// and its changes grouped across hosts.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    #[serde(flatten)]
    pub report: &'a RunReport,
    pub groups: &'a [Group],
}

/// The human rendering of units' plans or results, host by host (`--no-group`).
pub fn render_units(style: &Style, hosts: &[HostReport], applied: bool, verbose: bool) -> String {
    let mut out = String::new();
    for h in hosts {
        if let Some(e) = &h.error {
            out.push_str(&host_error(style, h, e));
            continue;
        }
        for u in h.units.iter().filter(|u| u.status != Status::Ok || verbose) {
            out.push_str(&unit_head(style, &u.role, &h.host, u.status, u.message.as_deref(), applied));
            for r in u.resources.iter().filter(|r| group::shown(r.status, verbose)) {
                out.push_str(&resource_lines(style, r, ""));
            }
            for hname in &u.handlers {
                out.push_str(&handler_line(style, hname, ""));
            }
        }
    }
    out
}

/// The same, an identical change on several hosts once with its hosts
/// (`web1, web2 … (+35 more): ~ template …`); for one host it reads as
/// `render_units`. Unreachable hosts come first.
pub fn render_grouped(style: &Style, hosts: &[HostReport], groups: &[Group], applied: bool) -> String {
    let mut out: String = hosts.iter().filter_map(|h| h.error.as_ref().map(|e| host_error(style, h, e))).collect();
    let mut done = vec![false; groups.len()];
    for unit in groups {
        let Change::Unit { status, message } = &unit.change else { continue };
        out.push_str(&unit_head(
            style,
            &unit.role,
            &group::host_list(&unit.hosts),
            *status,
            message.as_deref(),
            applied,
        ));
        for (g, done) in groups.iter().zip(done.iter_mut()) {
            let under = match &g.change {
                Change::Resource { unit_status, .. } | Change::Handler { unit_status, .. } => unit_status == status,
                Change::Unit { .. } => false,
            };
            if *done || !under || g.role != unit.role || !unit.hosts.contains(&g.hosts[0]) {
                continue;
            }
            *done = true;
            // Hosts are named on a line only when they are not all the unit's.
            let prefix =
                if g.hosts == unit.hosts { String::new() } else { format!("{}: ", group::host_list(&g.hosts)) };
            match &g.change {
                Change::Resource { plan, .. } => out.push_str(&resource_lines(style, plan, &prefix)),
                Change::Handler { handler, .. } => out.push_str(&handler_line(style, handler, &prefix)),
                Change::Unit { .. } => {}
            }
        }
    }
    out
}

fn host_error(style: &Style, h: &HostReport, e: &str) -> String {
    format!("{} {}: {}\n", style.paint("1;31", "✗"), style.paint("1", &h.host), e)
}

fn unit_head(style: &Style, role: &str, hosts: &str, status: Status, message: Option<&str>, applied: bool) -> String {
    let head = match status {
        Status::Changed => style.paint("33", if applied { "changed" } else { "will change" }),
        Status::Failed => style.paint("31", "failed"),
        Status::Skipped => style.paint("36", "skipped"),
        Status::Ok | Status::Conditional => style.paint("32", "ok"),
    };
    let mut out = format!("{} {role}@{hosts}: {head}", style.paint("1", "●"));
    if let Some(m) = message {
        out.push_str(&format!(" ({m})"));
    }
    out.push('\n');
    out
}

fn handler_line(style: &Style, handler: &str, prefix: &str) -> String {
    format!("    {prefix}{} handler: {handler}\n", style.paint("35", "↻"))
}

/// A resource's line (its mark, label and actions), its error, and its diffs.
fn resource_lines(style: &Style, r: &ResourcePlan, prefix: &str) -> String {
    let mark = match r.status {
        Status::Changed => change_mark(style, r),
        Status::Failed => style.paint("31", "!"),
        Status::Skipped => style.paint("36", "·"),
        Status::Ok => style.paint("32", "="),
        Status::Conditional => style.paint("35", "?"),
    };
    let mut out = String::new();
    if r.status == Status::Conditional {
        // What it reads says why; the plan cannot say more before the command ran.
        out.push_str(&format!("    {prefix}{mark} {}: conditional (known at apply)\n", r.resource));
        if let Some(m) = &r.message {
            out.push_str(&format!("      {m}\n"));
        }
        return out;
    }
    let actions: Vec<&str> = r.steps.iter().map(|s| s.action.as_str()).collect();
    out.push_str(&format!("    {prefix}{mark} {}", r.resource));
    if !actions.is_empty() {
        out.push_str(&format!(": {}", actions.join(", ")));
    }
    if let Some(m) = &r.message {
        out.push_str(&format!("\n      {}", style.paint("31", m)));
    }
    out.push('\n');
    // A failure says its error; its diff was shown by the plan already.
    for d in r.steps.iter().filter_map(|s| s.diff.as_ref()).filter(|_| r.status != Status::Failed) {
        out.push_str(&style.diff(d));
    }
    out
}

/// Terraform's marks: `+` a resource made (its first step creates or
/// installs), `-` one taken away (removes, purges), `~` one changed.
fn change_mark(style: &Style, r: &ResourcePlan) -> String {
    let first = r.steps.first().map(|s| s.action.as_str()).unwrap_or("");
    let starts = |words: &[&str]| words.iter().any(|w| first.starts_with(w));
    if starts(&["create", "install"]) {
        style.paint("32", "+")
    } else if starts(&["remove", "purge", "delete", "uninstall"]) {
        style.paint("31", "-")
    } else {
        style.paint("33", "~")
    }
}

/// One line per host; an `interrupted` run says so and names the units it did not start.
pub fn recap(style: &Style, hosts: &[HostReport], interrupted: bool) -> String {
    let width = hosts.iter().map(|h| h.host.len()).max().unwrap_or(4).max(4);
    let mut out = String::from(if interrupted { "\nRECAP (interrupted)\n" } else { "\nRECAP\n" });
    for h in hosts {
        let c = &h.counts;
        let name = if c.failed > 0 {
            style.paint("31", &h.host)
        } else if c.changed > 0 {
            style.paint("33", &h.host)
        } else {
            style.paint("32", &h.host)
        };
        let pad = " ".repeat(width - h.host.len());
        out.push_str(&format!(
            "{name}{pad}  ok={:<3} changed={:<3} failed={:<3} skipped={:<3} round_trips={:<2} {:.2}s",
            c.ok, c.changed, c.failed, c.skipped, h.round_trips, h.seconds
        ));
        if c.conditional > 0 {
            out.push_str(&format!(" conditional={}", c.conditional));
        }
        out.push('\n');
    }
    if interrupted {
        let not_started: Vec<String> = hosts
            .iter()
            .flat_map(|h| h.units.iter().map(move |u| (h, u)))
            .filter(|(_, u)| u.status == Status::Skipped && u.message.as_deref() == Some(INTERRUPTED))
            .map(|(h, u)| format!("{}@{}", u.role, h.host))
            .collect();
        if !not_started.is_empty() {
            out.push_str(&format!("not started (interrupted): {}\n", not_started.join(", ")));
        }
        out.push_str("the units that ran finished; the next run converges the rest\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Step;

    fn changed(actions: &[&str]) -> ResourcePlan {
        ResourcePlan {
            resource: "file /x".into(),
            status: Status::Changed,
            steps: actions.iter().map(|a| Step::new(*a, "true\n")).collect(),
            notify: vec![],
            message: None,
            register: None,
        }
    }

    #[test]
    fn a_failure_shows_its_error_and_not_its_diff_again() {
        let mut r = changed(&["create"]);
        r.steps[0].diff = Some("--- /dev/null\n+++ /x\n@@ -0,0 +1 @@\n+new line\n".into());
        let mut host = HostReport::new("h1");
        host.units.push(UnitReport {
            role: "app".into(),
            status: Status::Changed,
            message: None,
            resources: vec![r.clone()],
            handlers: vec![],
            seconds: 0.0,
            span: None,
        });
        let plain = Style { color: false };
        assert!(render_units(&plain, std::slice::from_ref(&host), true, false).contains("+new line"));
        r.status = Status::Failed;
        r.message = Some("exit 1: disk full".into());
        host.units[0].resources = vec![r];
        let shown = render_units(&plain, &[host], true, false);
        assert!(shown.contains("exit 1: disk full") && !shown.contains("+new line"), "{shown}");
    }

    #[test]
    fn a_change_is_marked_plus_minus_or_tilde_by_its_first_step() {
        let plain = Style { color: false };
        assert_eq!(change_mark(&plain, &changed(&["create"])), "+");
        assert_eq!(change_mark(&plain, &changed(&["install haproxy, socat"])), "+");
        assert_eq!(change_mark(&plain, &changed(&["remove"])), "-");
        assert_eq!(change_mark(&plain, &changed(&["mode 0600 → 0644", "create"])), "~");
    }
}
