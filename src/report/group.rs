//! Identical changes across hosts, found once: a change is the same on two
//! hosts when its sealed rendering is (unit, resource, actions, diffs, error),
//! so a plan of 40 web servers shows one diff with its 40 hosts, and a host
//! whose change differs shows apart. Keys are built from what may be shown
//! only (`Secrets::seal_json` over the public report): a secret is never
//! compared, let alone printed, in clear. Files that depend on a secret show
//! a digest of their new content (`resource::sealed`), so hosts whose secret
//! files differ still print apart.

use super::run::HostReport;
use crate::plan::{ResourcePlan, Status};
use crate::secret::Secrets;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One change (a unit's outcome, a resource's, a handler's) and every host it is identical on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub role: String,
    pub hosts: Vec<String>,
    #[serde(flatten)]
    pub change: Change,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Change {
    /// A unit's own outcome: changed, failed (with its message), skipped.
    Unit {
        status: Status,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A resource of the unit, as the report shows it (no scripts).
    Resource {
        unit_status: Status,
        plan: ResourcePlan,
    },
    Handler {
        unit_status: Status,
        handler: String,
    },
}

/// The groups of `hosts`' interesting changes, in the order they first
/// appear (host by host, unit by unit). `verbose` keeps unchanged ones too.
pub fn groups(hosts: &[HostReport], secrets: &Secrets, verbose: bool) -> Vec<Group> {
    let mut found: Vec<Group> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut add = |host: &str, role: &str, change: Change| {
        let sealed = seal(secrets, role, &change);
        let key = sealed.to_string();
        match index.get(&key) {
            Some(&i) => found[i].hosts.push(host.to_string()),
            None => {
                index.insert(key, found.len());
                // What is kept is the sealed rendering: nothing else is ever shown.
                let change = serde_json::from_value(sealed["change"].clone()).unwrap_or(change);
                found.push(Group { role: role.to_string(), hosts: vec![host.to_string()], change });
            }
        }
    };
    for h in hosts.iter().filter(|h| h.error.is_none()) {
        for u in h.units.iter().filter(|u| u.status != Status::Ok || verbose) {
            add(&h.host, &u.role, Change::Unit { status: u.status, message: u.message.clone() });
            for r in u.resources.iter().filter(|r| shown(r.status, verbose)) {
                add(&h.host, &u.role, Change::Resource { unit_status: u.status, plan: r.public() });
            }
            for handler in &u.handlers {
                add(&h.host, &u.role, Change::Handler { unit_status: u.status, handler: handler.clone() });
            }
        }
    }
    found
}

/// Whether a resource of this status is listed (`verbose`: all of them).
pub fn shown(status: Status, verbose: bool) -> bool {
    verbose || matches!(status, Status::Changed | Status::Failed | Status::Conditional)
}

fn seal(secrets: &Secrets, role: &str, change: &Change) -> serde_json::Value {
    let mut v = serde_json::json!({ "role": role, "change": change });
    secrets.seal_json(&mut v);
    v
}

/// `web1, web2 … (+35 more)`: three names at most, so a line stays a line at 200 hosts.
pub fn host_list(hosts: &[String]) -> String {
    if hosts.len() <= 3 {
        return hosts.join(", ");
    }
    format!("{}, {} … (+{} more)", hosts[0], hosts[1], hosts.len() - 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::UnitReport;
    use crate::resource::Step;

    fn host(name: &str, diff: &str) -> HostReport {
        let mut step = Step::new("update", "write it\n");
        step.diff = Some(diff.into());
        let r = ResourcePlan {
            resource: "template /etc/nginx/nginx.conf".into(),
            status: Status::Changed,
            steps: vec![step],
            notify: vec![],
            message: None,
            register: None,
        };
        let mut h = HostReport::new(name);
        h.units.push(UnitReport {
            role: "nginx".into(),
            status: Status::Changed,
            message: None,
            resources: vec![r],
            handlers: vec!["reload nginx".into()],
            seconds: 0.0,
            span: None,
        });
        h
    }

    #[test]
    fn identical_changes_group_and_a_different_one_stands_apart() {
        let hosts = vec![host("web1", "-a\n+b\n"), host("web2", "-a\n+b\n"), host("web3", "-a\n+c\n")];
        let g = groups(&hosts, &Secrets::new(None), false);
        let resources: Vec<&Group> = g.iter().filter(|g| matches!(g.change, Change::Resource { .. })).collect();
        assert_eq!(resources.len(), 2);
        assert_eq!(resources[0].hosts, ["web1", "web2"]);
        assert_eq!(resources[1].hosts, ["web3"]);
        let handler = g.iter().find(|g| matches!(g.change, Change::Handler { .. })).unwrap();
        assert_eq!(handler.hosts, ["web1", "web2", "web3"]);
        // No script reaches a group.
        let Change::Resource { plan, .. } = &resources[0].change else { unreachable!() };
        assert!(plan.steps[0].script.is_empty());
    }

    #[test]
    fn hosts_differing_only_in_a_secret_group_by_their_sealed_rendering() {
        let secrets = Secrets::new(None);
        secrets.add("hunter2-long-secret");
        let hosts = vec![host("a", "+pw=hunter2-long-secret\n"), host("b", "+pw=hunter2-long-secret\n")];
        let g = groups(&hosts, &secrets, false);
        let shown = serde_json::to_string(&g).unwrap();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(g.iter().any(|g| g.hosts.len() == 2 && matches!(g.change, Change::Resource { .. })));
    }

    #[test]
    fn a_long_host_list_is_cut_to_a_line() {
        let hosts: Vec<String> = (1..=37).map(|i| format!("web{i}")).collect();
        assert_eq!(host_list(&hosts), "web1, web2 … (+35 more)");
        assert_eq!(host_list(&hosts[..3]), "web1, web2, web3");
    }
}
