//! Offline commands over a loaded project: `check` (parse, resolve, render
//! every template for every host) and `graph` (the resolved units, by wave).
//! Neither connects to a host.

use super::settings::Settings;
use crate::error::Result;
use crate::project::Project;
use std::path::Path;

/// `check`: 0 if every template renders for every host, else 1 with one `error:` line per failure.
pub fn check(s: &Settings, site: &Path, render_to: Option<&Path>, show_secrets: bool) -> Result<i32> {
    let out = &s.out;
    let project = Project::load(&s.project(site))?;
    out.warnings(&project.warnings);
    let errors = project.check(render_to, show_secrets);
    let units = project.graph.units.len();
    let hosts = project.hosts().len();
    if out.json {
        out.document(&serde_json::json!({
            "schema": 1, "command": "check", "failed": !errors.is_empty(),
            "hosts": hosts, "units": units, "errors": errors,
        }));
    }
    if !errors.is_empty() {
        for e in &errors {
            out.error(e);
        }
        return Ok(1);
    }
    out.info(&format!("ok: {units} units on {hosts} hosts, every template rendered\n"));
    Ok(0)
}

/// `graph`: the units by wave, or Graphviz with `--dot`.
pub fn graph(s: &Settings, site: &Path, dot: bool) -> Result<i32> {
    let project = Project::load(&s.project(site))?;
    s.out.warnings(&project.warnings);
    s.out.print(&if dot { project.graph.to_dot() } else { project.graph.to_text() });
    Ok(0)
}
