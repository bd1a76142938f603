//! The throwaway project a scenario converges: `site.yaml` (the scenario's
//! bindings), `roles/` and `templates/` linked to the real project's, and an
//! inventory of the scenario's hosts with the logins their driver gave.

use super::driver::reach::Reach;
use super::model::Scenario;
use crate::error::{Error, Result};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Writes the project into `dir`; returns the site file's path.
pub fn write(dir: &Path, project: &Path, scenario: &Scenario, reach: &Reach) -> Result<PathBuf> {
    let project = project.canonicalize().map_err(|e| Error::io(project, e))?;
    for sub in ["roles", "templates"] {
        if project.join(sub).is_dir() {
            std::os::unix::fs::symlink(project.join(sub), dir.join(sub)).map_err(|e| Error::io(&dir.join(sub), e))?;
        }
    }
    let site = dir.join("site.yaml");
    let text =
        serde_yaml::to_string(&scenario.site).map_err(|e| Error::Lab(format!("site of {}: {e}", scenario.id())))?;
    std::fs::write(&site, text).map_err(|e| Error::io(&site, e))?;
    let inv = dir.join("inventory");
    std::fs::create_dir_all(&inv).map_err(|e| Error::io(&inv, e))?;
    let doc = inventory(scenario, reach);
    let text = serde_yaml::to_string(&doc).map_err(|e| Error::Lab(format!("inventory of {}: {e}", scenario.id())))?;
    std::fs::write(inv.join("hosts.yaml"), text).map_err(|e| Error::io(&inv.join("hosts.yaml"), e))?;
    Ok(site)
}

/// The inventory: every host with its login and vars, its groups listing
/// hosts in scenario order (which orders backends and priorities).
pub fn inventory(scenario: &Scenario, reach: &Reach) -> Value {
    let mut vars = reach.common.clone();
    vars.extend(scenario.vars.clone());
    let mut hosts = Map::new();
    let mut groups: indexmap::IndexMap<String, Map<String, Value>> = indexmap::IndexMap::new();
    for h in &scenario.hosts {
        let mut hv = reach.hosts.get(&h.name).map(|l| l.vars.clone()).unwrap_or_default();
        hv.extend(h.vars.clone());
        hosts.insert(h.name.clone(), Value::Object(hv));
        for g in &h.groups {
            groups.entry(g.clone()).or_default().insert(h.name.clone(), Value::Null);
        }
    }
    let children: Map<String, Value> = groups.into_iter().map(|(g, hs)| (g, json!({ "hosts": hs }))).collect();
    json!({ "all": { "vars": vars, "hosts": hosts, "children": children } })
}

/// Hosts that will run Docker: those bound (by name, group or `all`) to a
/// role that is, or requires, `docker`. They need a Docker-capable lab host,
/// and so do hosts that ask for `writable_sys` (its writable /proc/sys and /sys).
pub fn docker_hosts(scenario: &Scenario, roles_dir: &Path) -> Vec<String> {
    let bindings = scenario.site.as_sequence().cloned().unwrap_or_default();
    let mut out: BTreeSet<String> = scenario.hosts.iter().filter(|h| h.writable_sys).map(|h| h.name.clone()).collect();
    for b in &bindings {
        let roles: Vec<String> = b
            .get("roles")
            .and_then(|r| r.as_sequence())
            .map(|rs| rs.iter().filter_map(|r| r.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        if !roles.iter().any(|r| needs_docker(roles_dir, r, 0)) {
            continue;
        }
        let pattern = b.get("hosts").and_then(|h| h.as_str()).unwrap_or("");
        for term in pattern.split([',', ':']).map(str::trim) {
            for h in &scenario.hosts {
                if term == "all" || term == h.name || h.groups.iter().any(|g| g == term) {
                    out.insert(h.name.clone());
                }
            }
        }
    }
    scenario.hosts.iter().map(|h| h.name.clone()).filter(|h| out.contains(h)).collect()
}

fn needs_docker(roles_dir: &Path, role: &str, depth: usize) -> bool {
    if role == "docker" {
        return true;
    }
    if depth > 10 {
        return false;
    }
    let text = std::fs::read_to_string(roles_dir.join(role).join("role.yaml")).unwrap_or_default();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap_or_default();
    let requires = doc.get("requires").and_then(|r| r.as_sequence()).cloned().unwrap_or_default();
    requires.iter().filter_map(|r| r.as_str()).any(|r| needs_docker(roles_dir, r, depth + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(role: &str) -> Scenario {
        let roles = Path::new(env!("CARGO_MANIFEST_DIR")).join("roles");
        Scenario::load(role, &roles.join(role).join("tests/default.yaml")).unwrap()
    }

    /// A Docker role's hosts, and hosts that ask for writable_sys, get a Docker-capable lab host.
    #[test]
    fn docker_capable_hosts_come_from_docker_roles_and_writable_sys() {
        let roles = Path::new(env!("CARGO_MANIFEST_DIR")).join("roles");
        assert_eq!(docker_hosts(&sample("docker"), &roles), ["docker1"]);
        assert_eq!(docker_hosts(&sample("redis"), &roles), ["redis1"]);
        assert!(docker_hosts(&sample("web"), &roles).is_empty());
    }
}
