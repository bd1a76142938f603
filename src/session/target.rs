//! Where and how to reach a host, from Ansible's connection vars: address,
//! port, user, key, the ssh options of `ansible_ssh_*args` (`ssh_args`),
//! and how to become root (or `ansible_become_user`). What rigger cannot do
//! (a password login, another connection plugin, another become method) is
//! an error here, so no host is ever reached in a way the inventory did not
//! say.

use super::ssh_args::{SshArgs, SshArgsError};
use crate::project::source::Vars;
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Target {
    pub name: String,
    pub address: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub key: Option<String>,
    pub known_hosts_file: Option<String>,
    pub strict: Option<bool>,
    pub jump: Option<String>,
    /// An ssh_config file used instead of ~/.ssh/config (`-F FILE`).
    pub config_file: Option<String>,
    /// Every other ssh option of the inventory, as `ssh_config` lines.
    pub ssh_options: Vec<String>,
    /// Options of the inventory that rigger's master sets itself.
    pub overridden: Vec<String>,
    pub connect_timeout: Option<Duration>,
    pub server_alive_interval: Option<Duration>,
    pub local: bool,
    pub become_: bool,
    pub become_user: Option<String>,
    /// `ansible_become_password`: fed to sudo on stdin, never on a command line.
    pub become_password: Option<BecomePassword>,
    /// `rigger_state_dir`: rigger's own folder on the host (`host_state`).
    pub state_dir: Option<String>,
}

/// A sudo password; its `Debug` shows nothing.
#[derive(Clone, PartialEq)]
pub struct BecomePassword(pub String);

impl std::fmt::Debug for BecomePassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BecomePassword(«secret»)")
    }
}

/// Why a host's connection vars do not say how to reach it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TargetError {
    /// `ansible_port` (or `ansible_ssh_port`) as written.
    #[error("{var} {value} is not a port number (1-65535)")]
    BadPort { var: &'static str, value: Value },
    #[error("{var}: {source}")]
    SshArgs { var: &'static str, source: SshArgsError },
    #[error(
        "{0} is set, but rigger does not log in with a password: use a key (ansible_ssh_private_key_file) or \
         ssh-agent"
    )]
    Password(&'static str),
    #[error("ansible_connection `{0}` is not supported: rigger connects with ssh (or `local`)")]
    Connection(String),
    #[error("ansible_become_method `{0}` is not supported: rigger becomes with sudo")]
    BecomeMethod(String),
}

impl TargetError {
    /// The var at fault, to say where it was set.
    pub fn var(&self) -> &'static str {
        match self {
            TargetError::BadPort { var, .. } | TargetError::SshArgs { var, .. } | TargetError::Password(var) => var,
            TargetError::Connection(_) => "ansible_connection",
            TargetError::BecomeMethod(_) => "ansible_become_method",
        }
    }
}

/// The vars that hold the become password, Ansible's names.
pub const BECOME_PASSWORD: [&str; 2] = ["ansible_become_password", "ansible_become_pass"];

/// Password logins, which rigger refuses.
const LOGIN_PASSWORD: [&str; 3] = ["ansible_ssh_pass", "ansible_password", "ansible_ssh_password"];

/// In Ansible's order: `ssh_args` first, the per-host ones after; ssh keeps the first value.
const SSH_ARGS: [&str; 3] = ["ansible_ssh_args", "ansible_ssh_common_args", "ansible_ssh_extra_args"];

fn var_str(vars: &Vars, k: &str) -> Option<String> {
    match vars.get(k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.to_ascii_lowercase().as_str(), "yes" | "true" | "1" | "on"),
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    }
}

impl Target {
    pub fn from_vars(name: &str, vars: &Vars) -> Result<Self, TargetError> {
        let local = match var_str(vars, "ansible_connection").as_deref() {
            None | Some("ssh" | "smart") => false,
            Some("local") => true,
            Some(other) => return Err(TargetError::Connection(other.to_string())),
        };
        if let Some(var) = LOGIN_PASSWORD.into_iter().find(|k| vars.get(*k).is_some_and(|v| !v.is_null())) {
            if !local {
                return Err(TargetError::Password(var));
            }
        }
        if let Some(m) = var_str(vars, "ansible_become_method").filter(|m| m != "sudo") {
            return Err(TargetError::BecomeMethod(m));
        }
        let mut ssh = SshArgs::default();
        for var in SSH_ARGS {
            if let Some(args) = var_str(vars, var) {
                ssh.parse(&args).map_err(|source| TargetError::SshArgs { var, source })?;
            }
        }
        let seconds = |s: Option<u64>| s.map(Duration::from_secs);
        Ok(Target {
            name: name.to_string(),
            address: var_str(vars, "ansible_host")
                .or_else(|| var_str(vars, "ansible_ssh_host"))
                .unwrap_or_else(|| name.to_string()),
            port: port(vars)?.or(ssh.port),
            user: var_str(vars, "ansible_user").or_else(|| var_str(vars, "ansible_ssh_user")).or(ssh.user),
            key: var_str(vars, "ansible_ssh_private_key_file").or(ssh.key),
            known_hosts_file: ssh.known_hosts_file,
            strict: ssh.strict,
            jump: ssh.jump,
            config_file: ssh.config_file,
            ssh_options: ssh.options,
            overridden: ssh.overridden,
            connect_timeout: seconds(ssh.connect_timeout),
            server_alive_interval: seconds(ssh.server_alive_interval),
            local,
            become_: truthy(vars.get("ansible_become")),
            become_user: var_str(vars, "ansible_become_user"),
            become_password: BECOME_PASSWORD.iter().find_map(|k| var_str(vars, k)).map(BecomePassword),
            state_dir: var_str(vars, "rigger_state_dir"),
        })
    }

    /// `user@address:port`, as much of it as the inventory says.
    pub fn destination(&self) -> String {
        let user = self.user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{user}{}{port}", self.address)
    }

    /// The target with `-K`'s password when it becomes and has none of its own.
    pub fn with_become_password(mut self, opts: &crate::session::transport::ConnectOptions) -> Self {
        if self.become_ && self.become_password.is_none() {
            self.become_password = opts.become_password.clone();
        }
        self
    }

    /// The remote command that runs a script fed on stdin. With a become
    /// password, stdin starts with it: the outer `sh` reads that line alone
    /// and hands it to `sudo -S -v` through a pipe (`printf` is a builtin, so
    /// it is on no command line), then `sudo -n` runs the script on the
    /// rest. A sudo that needs no password never sees it as a command.
    pub fn shell(&self) -> String {
        match self.become_script() {
            Some(inner) => format!("sh -c {}", crate::shell::quote(&inner)),
            None if self.become_ => format!("sudo -n {}sh -s", self.sudo_user()),
            None => "sh -s".into(),
        }
    }

    /// The script of the outer `sh` when a become password is fed first.
    fn become_script(&self) -> Option<String> {
        self.become_password.as_ref().filter(|_| self.become_)?;
        let user = self.sudo_user();
        Some(format!(
            "IFS= read -r p; printf '%s\\n' \"$p\" | sudo -S -p '' -v 2>/dev/null; unset p; sudo -n {user}sh -s"
        ))
    }

    fn sudo_user(&self) -> String {
        self.become_user.as_ref().map(|u| format!("-u {} ", crate::shell::quote(u))).unwrap_or_default()
    }

    /// The `ssh_config` text carrying the inventory's ssh options (`-F`).
    pub fn ssh_config(&self) -> String {
        let args =
            SshArgs { options: self.ssh_options.clone(), config_file: self.config_file.clone(), ..SshArgs::default() };
        args.config(&self.address)
    }

    /// What goes on stdin before the script: the become password's line.
    pub fn stdin_prefix(&self) -> String {
        match (&self.become_password, self.become_) {
            (Some(p), true) => format!("{}\n", p.0),
            _ => String::new(),
        }
    }
}

/// `ansible_port` (or `ansible_ssh_port`) as a port number.
fn port(vars: &Vars) -> Result<Option<u16>, TargetError> {
    let var = if vars.contains_key("ansible_port") { "ansible_port" } else { "ansible_ssh_port" };
    let Some(value) = vars.get(var) else { return Ok(None) };
    let parsed = var_str(vars, var).and_then(|s| s.parse::<u16>().ok()).filter(|p| *p > 0);
    parsed.map(Some).ok_or_else(|| TargetError::BadPort { var, value: value.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(y: &str) -> Vars {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn ansible_connection_vars() {
        let t = Target::from_vars("h1", &vars("ansible_host: 10.77.0.11\nansible_port: 2222\nansible_user: deploy\nansible_become: yes\nansible_ssh_common_args: '-o UserKnownHostsFile=/x/known -o StrictHostKeyChecking=yes -J jump'\n")).unwrap();
        assert_eq!(t.address, "10.77.0.11");
        assert_eq!(t.port, Some(2222));
        assert!(t.become_);
        assert_eq!(t.known_hosts_file.as_deref(), Some("/x/known"));
        assert_eq!(t.strict, Some(true));
        assert_eq!(t.jump.as_deref(), Some("jump"));
        assert_eq!(t.shell(), "sudo -n sh -s");
    }

    #[test]
    fn ssh_args_fill_what_the_vars_leave_and_the_rest_reaches_ssh() {
        let t = Target::from_vars(
            "h",
            &vars("ansible_user: ops\nansible_ssh_args: -C -o ControlMaster=auto -o ControlPersist=60s\nansible_ssh_common_args: -p 2200 -l other -i /k -o ProxyCommand='ssh -W %h:%p b'\nansible_ssh_extra_args: -o ConnectTimeout=3\n"),
        )
        .unwrap();
        assert_eq!((t.port, t.user.as_deref(), t.key.as_deref()), (Some(2200), Some("ops"), Some("/k")));
        assert_eq!(t.ssh_options, ["Compression yes", "ProxyCommand=ssh -W %h:%p b"]);
        assert_eq!(t.overridden, ["ControlMaster", "ControlPersist"]);
        assert_eq!(t.connect_timeout, Some(Duration::from_secs(3)));
    }

    #[test]
    fn what_rigger_cannot_do_is_an_error() {
        let err = |y: &str| Target::from_vars("h", &vars(y)).unwrap_err();
        assert_eq!(err("ansible_port: 99999").var(), "ansible_port");
        assert!(err("ansible_port: abc").to_string().contains("not a port"));
        assert_eq!(err("ansible_ssh_pass: x"), TargetError::Password("ansible_ssh_pass"));
        assert_eq!(err("ansible_password: x").var(), "ansible_password");
        assert_eq!(err("ansible_connection: winrm"), TargetError::Connection("winrm".into()));
        assert_eq!(err("ansible_connection: docker").var(), "ansible_connection");
        assert_eq!(err("ansible_become_method: su").var(), "ansible_become_method");
        assert_eq!(err("ansible_ssh_common_args: '-t'").var(), "ansible_ssh_common_args");
        assert!(Target::from_vars("h", &vars("ansible_connection: smart")).is_ok());
    }

    #[test]
    fn become_user_and_password_go_to_sudo_never_on_a_command_line() {
        let t = Target::from_vars("h", &vars("ansible_become: true\nansible_become_user: post gres\n")).unwrap();
        assert_eq!(t.shell(), "sudo -n -u 'post gres' sh -s");
        assert_eq!(t.stdin_prefix(), "");
        let t = Target::from_vars(
            "h",
            &vars("ansible_become: true\nansible_become_user: app\nansible_become_password: \"s3cr'et pw\"\n"),
        )
        .unwrap();
        assert!(!t.shell().contains("s3cr"), "{}", t.shell());
        let inner = t.become_script().unwrap();
        assert!(inner.contains("sudo -S -p '' -v") && inner.ends_with("sudo -n -u app sh -s"), "{inner}");
        assert_eq!(t.stdin_prefix(), "s3cr'et pw\n");
        assert!(!format!("{t:?}").contains("s3cr"), "Debug shows no password");
    }

    /// The wrapper, run by a local `sh`: the password line is consumed
    /// before the script, whether sudo asks for it or not.
    #[test]
    fn the_password_line_never_reaches_the_script() {
        let t = Target { become_: true, ..Target::from_vars("h", &vars("ansible_become_pass: pw-line\n")).unwrap() };
        // sudo's stand-ins: one that reads the password, one that does not.
        for (validate, reads) in [("cat >/dev/null", true), ("true", false)] {
            let inner = t.become_script().unwrap().replace("sudo -S -p '' -v", validate).replace("sudo -n ", "");
            let shell = format!("sh -c {}", crate::shell::quote(&inner));
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf '%s' \"$1\" | {shell}"))
                .arg("sh")
                .arg(format!("{}echo script-ran\n", t.stdin_prefix()))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), "script-ran\n", "sudo reads the password: {reads}");
            assert!(!String::from_utf8_lossy(&out.stderr).contains("pw-line"));
        }
    }
}
