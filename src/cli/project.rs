//! Offline commands over a loaded project: `check` (parse, resolve, render
//! every template for every host) and `graph` (the resolved units, by wave).
//! Neither connects to a host.

use super::settings::Settings;
use crate::error::Result;
use crate::project::{fact_cache, Project};
use std::path::Path;

/// `check`: 0 if every template renders for every host, else 1 with one `error:` line per failure.
pub fn check(s: &Settings, site: &Path, render_to: Option<&Path>, show_secrets: bool) -> Result<i32> {
    let out = &s.out;
    let mut project = Project::load(&s.project(site))?;
    out.warnings(&project.warnings);
    // Facts as the last plan found them (or `facts:` stubs): what reads them is rendered too.
    let facts = fact_cache::read_all(&s.inventory, project.vars.iter());
    let mut errors: Vec<String> =
        if facts.is_empty() { vec![] } else { project.set_globals(&facts).iter().map(ToString::to_string).collect() };
    let checked = project.check(render_to, show_secrets, &facts);
    errors.extend(checked.errors);
    let units = project.graph.units.len();
    let hosts = project.hosts().len();
    if out.json {
        out.document(&serde_json::json!({
            "schema": 1, "command": "check", "failed": !errors.is_empty(),
            "hosts": hosts, "units": units, "errors": errors, "unchecked_hosts": checked.unchecked,
        }));
    }
    if !errors.is_empty() {
        for e in &errors {
            out.error(e);
        }
        return Ok(1);
    }
    let n = |k: usize, what: &str| format!("{k} {what}{}", if k == 1 { "" } else { "s" });
    let (units, hosts) = (n(units, "unit"), n(hosts, "host"));
    if checked.unchecked.is_empty() {
        out.info(&format!("ok: {units} on {hosts}, every template rendered\n"));
    } else {
        out.info(&format!(
            "ok: {units} on {hosts}; not fully checked, as what reads their facts is not rendered \
             without them: {} (`rigger plan` caches a host's facts in {}; or give it a `facts:` var in host_vars)\n",
            checked.unchecked.join(", "),
            fact_cache::dir(&s.inventory).display()
        ));
    }
    Ok(0)
}

/// What `graph` shows.
pub enum View {
    /// The units by wave, with what each waits for.
    Waves,
    /// Graphviz.
    Dot,
    /// The hosts the run would touch.
    Hosts,
    /// Per host, its units in order and their resources.
    Resources,
}

/// `graph`: the units by wave, Graphviz, the hosts, or what would run per host.
pub fn graph(s: &Settings, site: &Path, view: View) -> Result<i32> {
    let project = Project::load(&s.project(site))?;
    s.out.warnings(&project.warnings);
    let text = match view {
        View::Waves => project.graph.to_text(),
        View::Dot => project.graph.to_dot(),
        View::Hosts => project.hosts().iter().map(|h| format!("{h}\n")).collect(),
        View::Resources => resources(&project),
    };
    s.out.print(&text);
    Ok(0)
}

/// Each host's units in the order they run and, under each, the resources
/// as `check` renders them (offline: a unit whose resources need facts or
/// fail to render says so instead).
fn resources(project: &Project) -> String {
    let mut out = String::new();
    for host in project.hosts() {
        out.push_str(&format!("{host}:\n"));
        for role in project.graph.roles_in_order(&host) {
            out.push_str(&format!("  {role}\n"));
            // `when:` decided where it can be offline; else every resource, undecided.
            let full = project.prepare_unit_with(&host, &role, None, true, true);
            match full.or_else(|_| project.prepare_unit_with(&host, &role, None, false, true)) {
                Ok((prepared, _)) => {
                    for p in &prepared {
                        let skipped = p.skipped.as_ref().map(|w| format!(" (skipped: {w})")).unwrap_or_default();
                        out.push_str(&format!("    {}{skipped}\n", p.label));
                    }
                }
                Err(e) => {
                    out.push_str(&format!("    (not known offline: {})\n", e.to_string().lines().next().unwrap_or("")))
                }
            }
        }
    }
    out
}
