//! A scenario's `site:` bindings, checked as `rigger apply` checks a
//! site.yaml (keys, roles, host patterns) but against the scenario file, so a
//! mistake is reported at its line:col there, before any host exists, and
//! not against the throwaway site.yaml the runner writes.

use super::driver::reach::Reach;
use super::model::Scenario;
use super::workspace;
use crate::error::{Error, Location, Result};
use crate::project::inventory::Inventory;
use crate::project::role::Roles;
use crate::project::site::Binding;
use crate::project::source::Source;
use serde::Deserialize;
use std::path::Path;

/// The scenario file seen through `site:` only (the rest is `model`'s).
#[derive(Deserialize)]
struct SiteOnly {
    #[serde(default)]
    site: Option<Vec<Binding>>,
}

/// Checks the bindings of `scenario` (read again from its file) against
/// `roles_dir` and the scenario's own hosts and groups.
pub fn check(scenario: &Scenario, roles_dir: &Path) -> Result<()> {
    let src = Source::read(&scenario.path)?;
    // Typed, from the file itself: unknown keys and wrong types point into it.
    let Some(bindings) = src.parse::<SiteOnly>()?.site else { return Ok(()) };
    if bindings.is_empty() {
        return Err(Error::at(
            src.locate("site:"),
            "`site` lists no binding: leave it out to bind the role to every host",
        ));
    }
    let starts = binding_lines(&src.text);
    let locate = |i: usize, token: &str| {
        let after = starts.get(i).copied().unwrap_or(1);
        Location::of_token_after(&src.path, &src.text, token, after)
    };
    let inventory = scenario_inventory(scenario)?;
    let mut roles = Roles::new(roles_dir);
    for (i, b) in bindings.iter().enumerate() {
        if b.roles.is_empty() {
            return Err(Error::at(locate(i, "roles"), "this binding lists no roles"));
        }
        for r in &b.roles {
            roles.load(r, &|| locate(i, r))?;
        }
        inventory.select(&b.hosts).map_err(|e| Error::at(locate(i, &b.hosts), e.to_string()))?;
    }
    Ok(())
}

/// The scenario's inventory as the runner writes it, loaded by the inventory
/// loader itself, so host patterns mean here what they mean to `rigger apply`.
fn scenario_inventory(scenario: &Scenario) -> Result<Inventory> {
    let dir = tempfile::Builder::new().prefix("rigger-scenario.").tempdir().map_err(Error::System)?;
    // Only the hosts' names and groups matter here, not how they are reached.
    let reach = Reach { net: "10.78.0".into(), ..Reach::default() };
    let doc = workspace::inventory(scenario, &reach);
    let text = serde_yaml::to_string(&doc).map_err(|e| Error::Lab(format!("inventory of {}: {e}", scenario.id())))?;
    let file = dir.path().join("hosts.yaml");
    std::fs::write(&file, text).map_err(|e| Error::io(&file, e))?;
    Inventory::load(&file)
}

/// The 1-based line where each binding of the top-level `site:` list starts:
/// the list's items are the lines at its first item's indent that open with `-`.
fn binding_lines(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(site) = lines.iter().position(|l| l.starts_with("site:")) else { return Vec::new() };
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut item_indent = None;
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate().skip(site + 1) {
        let t = l.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if indent(l) == 0 && !t.starts_with('-') {
            break; // the next top-level key
        }
        let at = *item_indent.get_or_insert(indent(l));
        if indent(l) == at && (t == "-" || t.starts_with("- ")) {
            out.push(i + 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_start_where_their_dash_is() {
        let text = "hosts: []\nsite:\n  # first\n  - { hosts: a, roles: [x] }\n  - hosts: b\n    roles:\n      - y\nverify: []\n";
        assert_eq!(binding_lines(text), [4, 5]);
        assert_eq!(binding_lines("site:\n- hosts: a\n  roles: [x]\n-   hosts: b\n"), [2, 4]);
        assert!(binding_lines("hosts: []\n").is_empty());
    }

    /// The sample roles' scenarios bind roles that exist to hosts they have.
    #[test]
    fn the_sample_scenarios_bindings_check() {
        let roles = Path::new(env!("CARGO_MANIFEST_DIR")).join("roles");
        for s in super::super::model::select(&roles, &[]).unwrap() {
            check(&s, &roles).unwrap_or_else(|e| panic!("{}: {e}", s.id()));
        }
    }
}
