//! The `service` kind: a systemd unit running or not, enabled or not; as a
//! handler, a restart or reload.

use super::kind::{Doc, Field, Resolve, Resource, ResourceError, Spec, Step};
use super::spec::OneOrMany;
use crate::session::probe::{answer, Ask, HostState, Probe, Query};
use crate::shell::{check_value, quote};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Wanted {
    Started,
    Stopped,
    Restarted,
    Reloaded,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub name: String,
    #[serde(default)]
    pub state: Option<Wanted>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub notify: OneOrMany,
}

impl Spec for ServiceSpec {
    const KIND: &'static str = "service";
    const DOC: Doc = Doc {
        summary: "A systemd unit: running or stopped, enabled or not. As a handler, `restarted` or `reloaded` \
                  runs when notified (a reload of a stopped service starts it).",
        fields: &[
            Field { name: "name", ty: "unit", default: "", help: "`haproxy` means haproxy.service" },
            Field { name: "state", ty: "started | stopped | restarted | reloaded", default: "unmanaged", help: "" },
            Field { name: "enabled", ty: "bool", default: "unmanaged", help: "start at boot" },
            Field { name: "notify", ty: "handler or list", default: "none", help: "" },
        ],
        example: "service: { name: haproxy, state: started, enabled: true }",
    };

    fn notify(&self) -> &[String] {
        &self.notify.0
    }

    fn resolve(self, _: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
        Ok(Arc::new(Service { name: self.name, state: self.state, enabled: self.enabled, notify: self.notify.0 }))
    }
}

/// systemd's view of a unit.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct UnitState {
    pub load: String,
    pub active: String,
    pub enabled: String,
}

pub static UNIT: Probe = Probe {
    name: "service",
    ask: Ask::Each(|n| {
        format!("systemctl show -p LoadState -p ActiveState -p UnitFileState -- {} 2>/dev/null", quote(&unit_name(n)))
    }),
    parse: |_, lines| {
        let mut s = UnitState::default();
        for l in lines {
            match l.split_once('=') {
                Some(("LoadState", v)) => s.load = v.to_string(),
                Some(("ActiveState", v)) => s.active = v.to_string(),
                Some(("UnitFileState", v)) => s.enabled = v.to_string(),
                _ => {}
            }
        }
        Ok(answer(s))
    },
};

/// `haproxy` → `haproxy.service`; names with a unit suffix are kept.
pub fn unit_name(n: &str) -> String {
    let suffixes = [".service", ".socket", ".timer", ".target", ".mount", ".path"];
    if suffixes.iter().any(|s| n.ends_with(s)) {
        n.to_string()
    } else {
        format!("{n}.service")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub state: Option<Wanted>,
    pub enabled: Option<bool>,
    pub notify: Vec<String>,
}

impl Service {
    fn unit(&self) -> String {
        quote(&unit_name(&self.name))
    }

    /// What a notified handler does: the state's action, whatever the current state.
    pub fn forced(&self) -> Vec<Step> {
        let u = self.unit();
        let (action, script) = match self.state {
            Some(Wanted::Reloaded) => (
                "reload",
                // A stopped service has nothing to reload: start it instead.
                format!(
                    "if systemctl is-active -q -- {u}; then systemctl reload -- {u}; else systemctl start -- {u}; fi\n"
                ),
            ),
            // A deliberate restart should not count towards the unit's crash-loop
            // limit (docker: 3 starts a minute), or two applies in a row that each
            // change a config fail with "start of the service was attempted too
            // often". reset-failed clears that counter; a real failure still fails.
            Some(Wanted::Restarted) => {
                ("restart", format!("systemctl reset-failed -- {u} 2>/dev/null; systemctl restart -- {u}\n"))
            }
            Some(Wanted::Stopped) => ("stop", format!("systemctl stop -- {u}\n")),
            Some(Wanted::Started) | None => ("start", format!("systemctl start -- {u}\n")),
        };
        vec![Step::new(action, script)]
    }
}

impl Resource for Service {
    fn label(&self) -> String {
        format!("service {}", self.name)
    }

    fn queries(&self) -> Vec<Query> {
        vec![Query::new(&UNIT, &self.name)]
    }

    fn plan(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        check_value("service name", &self.name, true)?;
        let cur = state.get::<UnitState>(&Query::new(&UNIT, &self.name))?;
        let u = self.unit();
        let mut steps = Vec::new();
        if let Some(want) = self.enabled {
            let is_enabled = matches!(
                cur.enabled.as_str(),
                "enabled" | "enabled-runtime" | "static" | "alias" | "indirect" | "generated"
            );
            if want && !is_enabled {
                // Planned against the state before this run, but a package
                // installed earlier in the same script often enables its
                // unit. `systemctl enable` reloads systemd (and on Debian runs
                // update-rc.d), so it is skipped when no longer needed.
                steps.push(Step::new(
                    "enable",
                    format!("systemctl is-enabled -q -- {u} 2>/dev/null || systemctl enable -- {u}\n"),
                ));
            } else if !want && cur.enabled == "enabled" {
                steps.push(Step::new("disable", format!("systemctl disable -- {u}\n")));
            }
        }
        let active = matches!(cur.active.as_str(), "active" | "reloading" | "activating");
        match self.state {
            Some(Wanted::Started) if !active => steps.push(Step::new("start", format!("systemctl start -- {u}\n"))),
            Some(Wanted::Stopped) if active => steps.push(Step::new("stop", format!("systemctl stop -- {u}\n"))),
            Some(Wanted::Restarted | Wanted::Reloaded) => steps.extend(self.forced()),
            _ => {}
        }
        Ok(steps)
    }

    fn handler_steps(&self, _: &HostState) -> Result<Vec<Step>, ResourceError> {
        Ok(self.forced())
    }

    fn handler_reads_state(&self) -> bool {
        false
    }

    fn notify(&self) -> &[String] {
        &self.notify
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(active: &str, enabled: &str) -> HostState {
        let mut s = HostState::default();
        s.insert(
            Query::new(&UNIT, "haproxy"),
            UnitState { load: "loaded".into(), active: active.into(), enabled: enabled.into() },
        );
        s
    }

    fn svc(state: Option<Wanted>, enabled: Option<bool>) -> Service {
        Service { name: "haproxy".into(), state, enabled, notify: vec![] }
    }

    #[test]
    fn started_and_enabled_in_sync() {
        assert!(svc(Some(Wanted::Started), Some(true)).plan(&st("active", "enabled")).unwrap().is_empty());
    }

    #[test]
    fn stopped_disabled_service_is_started_and_enabled() {
        let steps = svc(Some(Wanted::Started), Some(true)).plan(&st("inactive", "disabled")).unwrap();
        let actions: Vec<&str> = steps.iter().map(|s| s.action.as_str()).collect();
        assert_eq!(actions, ["enable", "start"]);
        assert_eq!(steps[1].script, "systemctl start -- haproxy.service\n");
    }

    /// The enable step against a stand-in systemctl that logs its argv and
    /// answers is-enabled with `exit_code`: what really runs.
    fn run_enable(is_enabled_exit: i32) -> String {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let fake = dir.path().join("systemctl");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\necho \"$*\" >> {}\n[ \"$1\" = is-enabled ] && exit {is_enabled_exit}\nexit 0\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let steps = svc(None, Some(true)).plan(&st("inactive", "not-found")).unwrap();
        assert_eq!(steps.len(), 1);
        let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
        let ok = std::process::Command::new("sh")
            .arg("-c")
            .arg(&steps[0].script)
            .env("PATH", path)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        std::fs::read_to_string(log).unwrap()
    }

    #[test]
    fn enable_is_skipped_when_an_earlier_step_already_enabled_the_unit() {
        // The plan saw no unit (the package comes in the same run); its postinst enabled it.
        assert_eq!(run_enable(0), "is-enabled -q -- haproxy.service\n");
        assert_eq!(run_enable(1), "is-enabled -q -- haproxy.service\nenable -- haproxy.service\n");
    }

    #[test]
    fn stop_and_handler_reload() {
        let steps = svc(Some(Wanted::Stopped), None).plan(&st("active", "enabled")).unwrap();
        assert_eq!(steps[0].action, "stop");
        let h = svc(Some(Wanted::Reloaded), None).forced();
        assert!(h[0].script.contains("systemctl reload -- haproxy.service"));
    }
}
