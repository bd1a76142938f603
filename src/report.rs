//! What a run tells people and machines: the plan with unified diffs, a
//! per-host recap, and `--json` (schema in docs/json.md). Human text goes to
//! stderr when `--json` owns stdout. Colors only on a terminal.

use crate::plan::{ResourcePlan, Status};
use serde::Serialize;
use std::io::IsTerminal;

#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn detect(json: bool, mode: &str) -> Self {
        let tty = if json { std::io::stderr().is_terminal() } else { std::io::stdout().is_terminal() };
        let color = match mode {
            "always" => true,
            "never" => false,
            _ => tty && std::env::var_os("NO_COLOR").is_none(),
        };
        Style { color }
    }

    pub fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    pub fn diff(&self, d: &str) -> String {
        d.lines()
            .map(|l| {
                let code = if l.starts_with("+++") || l.starts_with("---") {
                    "1"
                } else if l.starts_with('+') {
                    "32"
                } else if l.starts_with('-') {
                    "31"
                } else if l.starts_with("@@") {
                    "36"
                } else {
                    ""
                };
                let line = if code.is_empty() { l.to_string() } else { self.paint(code, l) };
                format!("      {line}\n")
            })
            .collect()
    }
}

/// The message of a unit (or gate) an interrupt kept from starting.
pub const INTERRUPTED: &str = "interrupted";

#[derive(Debug, Clone, Serialize)]
pub struct UnitReport {
    pub role: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub resources: Vec<ResourcePlan>,
    pub handlers: Vec<String>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub ok: usize,
    pub changed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Resources that read the result of a command that runs first: known at apply (`plan` only).
    #[serde(skip_serializing_if = "is_zero")]
    pub conditional: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    pub host: String,
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// SSH round trips (remote scripts run) for this host in this run.
    pub round_trips: usize,
    pub seconds: f64,
    pub counts: Counts,
    pub units: Vec<UnitReport>,
}

impl HostReport {
    pub fn new(host: &str) -> Self {
        HostReport {
            host: host.into(),
            reachable: true,
            error: None,
            round_trips: 0,
            seconds: 0.0,
            counts: Counts::default(),
            units: vec![],
        }
    }

    pub fn recount(&mut self) {
        let mut c = Counts::default();
        for u in &self.units {
            for r in &u.resources {
                match r.status {
                    Status::Ok => c.ok += 1,
                    Status::Changed => c.changed += 1,
                    Status::Failed => c.failed += 1,
                    Status::Skipped => c.skipped += 1,
                    Status::Conditional => c.conditional += 1,
                }
            }
            c.changed += u.handlers.len();
            if u.status == Status::Failed && !u.resources.iter().any(|r| r.status == Status::Failed) {
                c.failed += 1;
            }
        }
        if !self.reachable && c.failed == 0 {
            c.failed = 1;
        }
        self.counts = c;
    }
}

#[derive(Debug, Serialize)]
pub struct RunReport {
    /// Bumped on any incompatible change to this document.
    pub schema: u32,
    pub command: String,
    pub changes_pending: bool,
    pub failed: bool,
    /// A SIGINT/SIGTERM stopped the apply; only written when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    pub seconds: f64,
    pub warnings: Vec<String>,
    pub hosts: Vec<HostReport>,
}

/// The human rendering of units' plans or results.
pub fn render_units(style: &Style, hosts: &[HostReport], applied: bool, verbose: bool) -> String {
    let mut out = String::new();
    for h in hosts {
        if let Some(e) = &h.error {
            out.push_str(&format!("{} {}: {}\n", style.paint("1;31", "✗"), style.paint("1", &h.host), e));
            continue;
        }
        for u in &h.units {
            let interesting = u.status != Status::Ok || verbose;
            if !interesting {
                continue;
            }
            let head = match u.status {
                Status::Changed => style.paint("33", if applied { "changed" } else { "will change" }),
                Status::Failed => style.paint("31", "failed"),
                Status::Skipped => style.paint("36", "skipped"),
                Status::Ok | Status::Conditional => style.paint("32", "ok"),
            };
            out.push_str(&format!("{} {}@{}: {head}", style.paint("1", "●"), u.role, h.host));
            if let Some(m) = &u.message {
                out.push_str(&format!(" ({m})"));
            }
            out.push('\n');
            for r in &u.resources {
                let mark = match r.status {
                    Status::Changed => change_mark(style, r),
                    Status::Failed => style.paint("31", "!"),
                    Status::Skipped if verbose => style.paint("36", "·"),
                    Status::Ok if verbose => style.paint("32", "="),
                    Status::Conditional => style.paint("35", "?"),
                    _ => continue,
                };
                if r.status == Status::Conditional {
                    // What it reads says why; the plan cannot say more before the command ran.
                    out.push_str(&format!("    {mark} {}: conditional (known at apply)\n", r.resource));
                    if let Some(m) = &r.message {
                        out.push_str(&format!("      {m}\n"));
                    }
                    continue;
                }
                let actions: Vec<&str> = r.steps.iter().map(|s| s.action.as_str()).collect();
                out.push_str(&format!("    {mark} {}", r.resource));
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
            }
            for hname in &u.handlers {
                out.push_str(&format!("    {} handler: {hname}\n", style.paint("35", "↻")));
            }
        }
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
