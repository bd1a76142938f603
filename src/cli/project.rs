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
    if checked.unchecked.is_empty() {
        out.info(&format!("ok: {units} units on {hosts} hosts, every template rendered\n"));
    } else {
        out.info(&format!(
            "ok: {units} units on {hosts} hosts; not fully checked, as what reads their facts is not rendered \
             without them: {} (`rigger plan` caches a host's facts in {}; or give it a `facts:` var in host_vars)\n",
            checked.unchecked.join(", "),
            fact_cache::dir(&s.inventory).display()
        ));
    }
    Ok(0)
}

/// `graph`: the units by wave, or Graphviz with `--dot`.
pub fn graph(s: &Settings, site: &Path, dot: bool) -> Result<i32> {
    let project = Project::load(&s.project(site))?;
    s.out.warnings(&project.warnings);
    s.out.print(&if dot { project.graph.to_dot() } else { project.graph.to_text() });
    Ok(0)
}
