//! The only module that touches the network. One multiplexed SSH master per
//! host (openssh native-mux): the handshake is paid once, and every script
//! after that is one channel — one round trip — counted per host.
//! `ansible_connection: local` runs the same scripts with the local `sh`.

use crate::project::source::Vars;
use openssh::{KnownHosts, SessionBuilder};
use serde_json::Value;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// Accept (and record) keys of hosts seen for the first time.
    pub accept_new_host_keys: bool,
    pub connect_timeout: Option<Duration>,
    /// How long to wait for a host's run lock held by another run (`--lock-timeout`; 0: fail at once).
    pub lock_timeout: Duration,
}

/// Where and how to reach a host, from Ansible's connection vars.
#[derive(Debug, Clone, PartialEq)]
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
    pub local: bool,
    pub become_: bool,
    pub become_user: Option<String>,
}

/// Why a host's connection vars do not say how to reach it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TargetError {
    /// `ansible_port` (or `ansible_ssh_port`) as written.
    #[error("ansible_port {0} is not a port number (1-65535)")]
    BadPort(Value),
    /// `-o`, `-J` or `-F` last, with nothing after it.
    #[error("ssh option without a value")]
    NoValue,
    #[error("unsupported ssh argument `{0}` (rigger understands -o Key=Value, -J and -F)")]
    UnsupportedArgument(String),
    #[error("ssh option `{0}` needs Key=Value")]
    NotKeyValue(String),
    #[error("unsupported ssh option `{0}` (use ~/.ssh/config for it)")]
    UnsupportedOption(String),
}

/// Why a script could not be run on a host: ssh (or the local sh) failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// No master connection: where to, what ssh said, what to check.
    #[error("unreachable: cannot connect to {dest}: {detail} ({hint})")]
    Unreachable { dest: String, detail: String, hint: &'static str },
    #[error("cannot start sh: {0}")]
    StartSh(Arc<std::io::Error>),
    #[error("no stdin")]
    NoStdin,
    #[error("cannot send the script: {0}")]
    Send(Arc<std::io::Error>),
    /// The local sh's output could not be read.
    #[error("{0}")]
    Wait(Arc<std::io::Error>),
    /// The master connection went away under a script.
    #[error("lost the connection: {0}")]
    Lost(Arc<openssh::Error>),
}

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
        let port = match vars.get("ansible_port").or_else(|| vars.get("ansible_ssh_port")) {
            None => None,
            Some(v) => {
                let s =
                    var_str(vars, if vars.contains_key("ansible_port") { "ansible_port" } else { "ansible_ssh_port" })
                        .unwrap_or_default();
                Some(s.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| TargetError::BadPort(v.clone()))?)
            }
        };
        let mut t = Target {
            name: name.to_string(),
            address: var_str(vars, "ansible_host")
                .or_else(|| var_str(vars, "ansible_ssh_host"))
                .unwrap_or_else(|| name.to_string()),
            port,
            user: var_str(vars, "ansible_user").or_else(|| var_str(vars, "ansible_ssh_user")),
            key: var_str(vars, "ansible_ssh_private_key_file"),
            known_hosts_file: None,
            strict: None,
            jump: None,
            config_file: None,
            local: var_str(vars, "ansible_connection").as_deref() == Some("local"),
            become_: truthy(vars.get("ansible_become")),
            become_user: var_str(vars, "ansible_become_user"),
        };
        for k in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
            if let Some(args) = var_str(vars, k) {
                t.apply_ssh_args(&args)?;
            }
        }
        Ok(t)
    }

    /// Understands the ssh options inventories commonly carry; anything else is refused, not ignored.
    fn apply_ssh_args(&mut self, args: &str) -> Result<(), TargetError> {
        let words: Vec<&str> = args.split_whitespace().collect();
        let mut i = 0;
        while i < words.len() {
            let (flag, val) = match words[i] {
                "-o" | "-J" | "-F" => {
                    i += 1;
                    (words[i - 1], words.get(i).copied().ok_or(TargetError::NoValue)?)
                }
                w if w.starts_with("-o") => ("-o", &w[2..]),
                w if w.starts_with("-J") => ("-J", &w[2..]),
                w if w.starts_with("-F") => ("-F", &w[2..]),
                w => return Err(TargetError::UnsupportedArgument(w.to_string())),
            };
            i += 1;
            match flag {
                "-J" => {
                    self.jump = Some(val.to_string());
                    continue;
                }
                "-F" => {
                    self.config_file = Some(val.to_string());
                    continue;
                }
                _ => {}
            }
            let (k, v) = val.split_once('=').ok_or_else(|| TargetError::NotKeyValue(val.to_string()))?;
            match k.to_ascii_lowercase().as_str() {
                "userknownhostsfile" => self.known_hosts_file = Some(v.to_string()),
                "stricthostkeychecking" => {
                    self.strict = Some(!matches!(v.to_ascii_lowercase().as_str(), "no" | "off" | "accept-new"))
                }
                "proxyjump" => self.jump = Some(v.to_string()),
                _ => return Err(TargetError::UnsupportedOption(k.to_string())),
            }
        }
        Ok(())
    }

    /// The remote command that runs a script fed on stdin.
    fn shell(&self) -> String {
        match (self.become_, &self.become_user) {
            (false, _) => "sh -s".into(),
            (true, None) => "sudo -n sh -s".into(),
            (true, Some(u)) => format!("sudo -n -u {} sh -s", crate::shell::quote(u)),
        }
    }
}

pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
}

enum Kind {
    /// The master connection; replaced when it has gone away (see `run`).
    Ssh(Arc<tokio::sync::RwLock<Arc<openssh::Session>>>),
    Local,
}

pub struct Connection {
    kind: Kind,
    pub target: Target,
    opts: ConnectOptions,
    round_trips: AtomicUsize,
}

impl Connection {
    pub async fn open(target: &Target, opts: &ConnectOptions) -> Result<Self, TransportError> {
        let kind = if target.local {
            Kind::Local
        } else {
            Kind::Ssh(Arc::new(tokio::sync::RwLock::new(Arc::new(Self::connect(target, opts).await?))))
        };
        Ok(Connection { kind, target: target.clone(), opts: opts.clone(), round_trips: AtomicUsize::new(0) })
    }

    async fn connect(target: &Target, opts: &ConnectOptions) -> Result<openssh::Session, TransportError> {
        let mut b = SessionBuilder::default();
        b.control_directory(std::env::temp_dir());
        b.connect_timeout(opts.connect_timeout.unwrap_or(Duration::from_secs(10)));
        // A host that goes silent (power cut) is declared lost after ~3 × 5 s.
        b.server_alive_interval(Duration::from_secs(5));
        // If rigger itself is killed, its master connection must not outlive it for long.
        b.control_persist(openssh::ControlPersist::IdleFor(std::num::NonZeroUsize::new(60).expect("non-zero")));
        if let Some(u) = &target.user {
            b.user(u.clone());
        }
        if let Some(p) = target.port {
            b.port(p);
        }
        if let Some(k) = &target.key {
            b.keyfile(k);
        }
        if let Some(f) = &target.known_hosts_file {
            b.user_known_hosts_file(f);
        }
        if let Some(j) = &target.jump {
            b.jump_hosts(j.split(','));
        }
        if let Some(f) = &target.config_file {
            b.config_file(f);
        }
        let check = if opts.accept_new_host_keys || target.strict == Some(false) {
            KnownHosts::Add
        } else {
            KnownHosts::Strict
        };
        b.known_hosts_check(check);
        b.connect_mux(&target.address).await.map_err(|e| explain_connect_error(target, &e))
    }

    /// The live master session. The master exits after 60 s without a channel (so a
    /// killed rigger leaves nothing behind for long); a host that waited longer than
    /// that for other hosts gets a fresh master here instead of a failure.
    async fn session(
        &self,
        lock: &tokio::sync::RwLock<std::sync::Arc<openssh::Session>>,
    ) -> Result<std::sync::Arc<openssh::Session>, TransportError> {
        let current = lock.read().await.clone();
        if current.check().await.is_ok() {
            return Ok(current);
        }
        let mut w = lock.write().await;
        if std::sync::Arc::ptr_eq(&w, &current) {
            *w = std::sync::Arc::new(Self::connect(&self.target, &self.opts).await?);
        }
        Ok(w.clone())
    }

    pub fn round_trips(&self) -> usize {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// While a run holds the host's lock, the master is the lock's holder on
    /// the host (its sshd process): a master closed for being idle while
    /// this host waits for others would make the lock look abandoned. A
    /// check on the control socket every 20 s keeps it open, and stops when
    /// rigger does. Nothing to do for a local host.
    pub fn keep_alive(&self) -> Option<tokio::task::AbortHandle> {
        let Kind::Ssh(lock) = &self.kind else { return None };
        // Weak: closing the session must still find the master unshared.
        let lock = Arc::downgrade(lock);
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(20)).await;
                let Some(lock) = lock.upgrade() else { return };
                let master = lock.read().await.clone();
                drop(lock);
                let _ = master.check().await;
            }
        });
        Some(task.abort_handle())
    }

    /// Sends `script` to the host's sh on stdin: one round trip.
    pub async fn run(&self, script: &str) -> Result<Output, TransportError> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let shell = self.target.shell();
        let out = match &self.kind {
            Kind::Local => {
                let mut child = tokio::process::Command::new("sh")
                    // Its own process group, like a remote sh: a Ctrl-C at the
                    // terminal is rigger's to handle, and must not kill a unit mid-way.
                    .process_group(0)
                    .arg("-c")
                    .arg(&shell)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| TransportError::StartSh(Arc::new(e)))?;
                let mut stdin = child.stdin.take().ok_or(TransportError::NoStdin)?;
                stdin.write_all(script.as_bytes()).await.map_err(|e| TransportError::Send(Arc::new(e)))?;
                drop(stdin);
                child.wait_with_output().await.map_err(|e| TransportError::Wait(Arc::new(e)))?
            }
            Kind::Ssh(lock) => {
                let s = self.session(lock).await?;
                let mut child = s
                    .raw_command(&shell)
                    .stdin(openssh::Stdio::piped())
                    .stdout(openssh::Stdio::piped())
                    .stderr(openssh::Stdio::piped())
                    .spawn()
                    .await
                    .map_err(|e| TransportError::Lost(Arc::new(e)))?;
                let mut stdin = child.stdin().take().ok_or(TransportError::NoStdin)?;
                stdin.write_all(script.as_bytes()).await.map_err(|e| TransportError::Send(Arc::new(e)))?;
                stdin.shutdown().await.ok();
                drop(stdin);
                child.wait_with_output().await.map_err(|e| TransportError::Lost(Arc::new(e)))?
            }
        };
        Ok(Output {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code(),
        })
    }

    pub async fn close(self) {
        if let Kind::Ssh(lock) = self.kind {
            let Ok(lock) = Arc::try_unwrap(lock) else { return };
            if let Ok(s) = Arc::try_unwrap(lock.into_inner()) {
                let _ = s.close().await;
            }
        }
    }
}

fn explain_connect_error(t: &Target, e: &openssh::Error) -> TransportError {
    let mut detail = e.to_string();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = src {
        detail.push_str(&format!(": {s}"));
        src = s.source();
    }
    let detail = detail.trim().replace('\n', " ");
    let dest = format!(
        "{}{}:{}",
        t.user.as_ref().map(|u| format!("{u}@")).unwrap_or_default(),
        t.address,
        t.port.unwrap_or(22)
    );
    let hint = if detail.contains("Host key verification failed")
        || detail.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
    {
        "the host key is unknown or has changed; check it, add it to known_hosts, or pass --accept-new-host-keys for a first contact"
    } else if detail.contains("Permission denied") {
        "authentication failed; check ansible_user and ansible_ssh_private_key_file"
    } else if detail.contains("timed out") || detail.contains("No route") || detail.contains("refused") {
        "is the host up and is sshd listening?"
    } else {
        "check that `ssh` to this address works from here"
    };
    TransportError::Unreachable { dest, detail, hint }
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
    fn bad_port_and_unknown_ssh_option_are_errors() {
        assert!(Target::from_vars("h", &vars("ansible_port: 99999")).unwrap_err().to_string().contains("not a port"));
        assert!(Target::from_vars("h", &vars("ansible_port: abc")).is_err());
        assert!(Target::from_vars("h", &vars("ansible_ssh_common_args: '-o Ciphers=x'"))
            .unwrap_err()
            .to_string()
            .contains("unsupported"));
    }
}
