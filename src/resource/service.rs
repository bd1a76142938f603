//! systemd services: running or not, enabled or not; restart and reload.

use super::Step;
use crate::probe::{unit_name, HostState, Query};
use crate::resource::spec::ServiceState as Wanted;
use crate::shell::{check_value, quote};

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub state: Option<Wanted>,
    pub enabled: Option<bool>,
    pub notify: Vec<String>,
}

impl Service {
    pub fn queries(&self) -> Vec<Query> {
        vec![Query::Service(self.name.clone())]
    }

    fn unit(&self) -> String {
        quote(&unit_name(&self.name))
    }

    pub fn plan(&self, state: &HostState) -> Result<Vec<Step>, String> {
        check_value("service name", &self.name, true)?;
        let cur = state.service(&self.name)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::ServiceState;

    fn st(active: &str, enabled: &str) -> HostState {
        let mut s = HostState::default();
        s.services.insert(
            "haproxy".into(),
            ServiceState { load: "loaded".into(), active: active.into(), enabled: enabled.into() },
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
