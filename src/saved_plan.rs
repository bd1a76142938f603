//! Saved plans (`plan --out FILE`, then `apply FILE`): the steps of every
//! unit and a digest of what the probe saw on each host, so that applying
//! refuses when any host has moved since the plan was made.

use crate::plan::UnitPlan;
use crate::project::source::Vars;
use crate::project::Settings;
use crate::secret::Secrets;
use crate::session::transport::ConnectOptions;
use indexmap::IndexMap;
use std::fmt;
use std::path::PathBuf;

/// A plan saved by `plan --out`: the steps and what each host looked like.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SavedPlan {
    pub kind: String,
    pub schema: u32,
    pub site: PathBuf,
    pub inventory: PathBuf,
    #[serde(default)]
    pub limit: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub extra_vars: Vars,
    pub hosts: IndexMap<String, SavedHost>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SavedHost {
    /// Digest of the state the probe observed (see `probe::HostState::digest`).
    pub digest: String,
    pub units: IndexMap<String, UnitPlan>,
}

pub const KIND: &str = "rigger-plan";
pub const SCHEMA: u32 = 1;

/// What a fresh probe of a host found, to compare with the saved digest.
pub enum Observed<'a> {
    Digest(&'a str),
    Error(&'a str),
}

/// Why a saved plan cannot be applied to this run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Stale {
    #[error("{0} is in this run but not in the saved plan")]
    HostNotSaved(String),
    #[error("{host}: {error}")]
    Unreachable { host: String, error: String },
    #[error("{0}: the observed state changed since the plan was made")]
    Changed(String),
    #[error("{0} is in the saved plan but not in this run")]
    HostNotInRun(String),
    #[error("{role}@{host} is not in the saved plan")]
    UnitNotSaved { role: String, host: String },
}

impl SavedPlan {
    pub fn new(s: &Settings, hosts: IndexMap<String, SavedHost>) -> Self {
        SavedPlan {
            kind: KIND.into(),
            schema: SCHEMA,
            site: s.site.clone(),
            inventory: s.inventory.clone(),
            limit: s.limit.clone(),
            tags: s.tags.clone(),
            extra_vars: s.extra_vars.clone(),
            hosts,
        }
    }

    /// The settings the plan was made with (connection, forks and the vault
    /// are this run's).
    pub fn settings(&self, connect: ConnectOptions, forks: Option<usize>, secrets: Secrets) -> Settings {
        Settings {
            inventory: self.inventory.clone(),
            site: self.site.clone(),
            limit: self.limit.clone(),
            tags: self.tags.clone(),
            extra_vars: self.extra_vars.clone(),
            forks,
            connect,
            secrets,
        }
    }

    /// The saved steps of `role` on `host`.
    pub fn unit(&self, host: &str, role: &str) -> Option<&UnitPlan> {
        self.hosts.get(host).and_then(|h| h.units.get(role))
    }

    /// Every reason this plan is stale for a run of `units` (host, role),
    /// given what each host of the run looks like now.
    pub fn stale<'a>(
        &self,
        hosts: &[String],
        observed: impl Fn(&str) -> Option<Observed<'a>>,
        units: &[(String, String)],
    ) -> Vec<Stale> {
        let mut stale = Vec::new();
        for h in hosts {
            let Some(saved) = self.hosts.get(h) else {
                stale.push(Stale::HostNotSaved(h.clone()));
                continue;
            };
            match observed(h) {
                Some(Observed::Error(e)) => stale.push(Stale::Unreachable { host: h.clone(), error: e.to_string() }),
                Some(Observed::Digest(d)) if d != saved.digest => stale.push(Stale::Changed(h.clone())),
                _ => {}
            }
        }
        for h in self.hosts.keys().filter(|h| !hosts.contains(h)) {
            stale.push(Stale::HostNotInRun(h.clone()));
        }
        for (host, role) in units {
            if self.unit(host, role).is_none() {
                stale.push(Stale::UnitNotSaved { role: role.clone(), host: host.clone() });
            }
        }
        stale
    }
}

impl fmt::Display for SavedPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (schema {}) of {} on {}", self.kind, self.schema, self.site.display(), self.inventory.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> SavedPlan {
        let mut hosts = IndexMap::new();
        let units = IndexMap::from([("web".to_string(), UnitPlan::default())]);
        hosts.insert("h1".to_string(), SavedHost { digest: "d1".into(), units });
        hosts.insert("h2".to_string(), SavedHost { digest: "d2".into(), units: IndexMap::new() });
        SavedPlan::new(&Settings::default(), hosts)
    }

    #[test]
    fn fresh_when_every_host_looks_the_same() {
        let hosts = ["h1".to_string(), "h2".to_string()];
        let seen = |h: &str| Some(Observed::Digest(if h == "h1" { "d1" } else { "d2" }));
        assert_eq!(plan().stale(&hosts, seen, &[("h1".into(), "web".into())]), []);
    }

    #[test]
    fn every_reason_is_named() {
        let hosts = ["h1".to_string(), "h3".to_string()];
        let seen = |h: &str| match h {
            "h1" => Some(Observed::Digest("moved")),
            _ => Some(Observed::Error("unreachable")),
        };
        let units = [("h1".to_string(), "web".to_string()), ("h1".to_string(), "db".to_string())];
        let got: Vec<String> = plan().stale(&hosts, seen, &units).iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "h1: the observed state changed since the plan was made",
                "h3 is in this run but not in the saved plan",
                "h2 is in the saved plan but not in this run",
                "db@h1 is not in the saved plan",
            ]
        );
    }
}
