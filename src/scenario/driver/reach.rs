//! How converge and the checks reach a scenario's hosts, whichever driver
//! made them: the connection vars of the generated inventory and the `ssh`
//! command a check runs through.

use crate::scenario::check::Seen;
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::process::{Command, Stdio};

/// Every host's login, in scenario order.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// Vars every host gets before the scenario's own (a login they share).
    pub common: Map<String, Value>,
    /// By host name.
    pub hosts: IndexMap<String, Login>,
    /// What `{{ rigger_lab_net }}` stands for in checks: the hosts' subnet `A.B.C`.
    pub net: String,
}

/// One host's login.
#[derive(Debug, Clone, Default)]
pub struct Login {
    /// The host's connection vars (`ansible_host`, `ansible_port`, ...).
    pub vars: Map<String, Value>,
    /// `ssh` arguments up to and including the destination (`USER@HOST`).
    pub ssh: Vec<String>,
    /// The login user is not root: checks run through `sudo -n`.
    pub sudo: bool,
}

impl Login {
    /// The remote command line for `script`, as root.
    pub fn remote(&self, script: &str) -> String {
        if !self.sudo {
            return script.to_string();
        }
        format!("sudo -n sh -c {}", crate::shell::quote(script))
    }

    /// Runs `script` on the host as root; nothing is installed there.
    pub fn run(&self, script: &str) -> Seen {
        let out = Command::new("ssh").args(&self.ssh).arg(self.remote(script)).stdin(Stdio::null()).output();
        match out {
            Ok(o) => Seen {
                rc: o.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            },
            Err(e) => Seen { rc: -1, stdout: String::new(), stderr: format!("cannot run ssh: {e}") },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_root_login_runs_checks_through_sudo_quoted_whole() {
        let root = Login::default();
        assert_eq!(root.remote("ss -Hltn"), "ss -Hltn");
        let vagrant = Login { sudo: true, ..Default::default() };
        let script = "stat -c %a -- '/x y' && echo \"$HOME\"";
        let words = shlex::split(&vagrant.remote(script)).unwrap();
        assert_eq!(words, ["sudo", "-n", "sh", "-c", script]);
    }
}
