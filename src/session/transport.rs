//! The only module that touches the network. One multiplexed SSH master per
//! host (openssh native-mux): the handshake is paid once, and one channel on
//! it, the host's sh kept open (`shell_channel`), takes every script of the
//! run — one round trip each, counted per host.
//! `ansible_connection: local` runs the same scripts with the local `sh`.

use super::shell_channel::{Channel, ChannelError};
use super::ssh_masters;
use super::target::Target;
use openssh::{KnownHosts, SessionBuilder};
use std::num::NonZeroUsize;
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
    /// `-K`: sudo's password for hosts with `ansible_become` and no password of their own.
    pub become_password: Option<crate::session::target::BecomePassword>,
    /// `--persist`: how long a host's ssh master stays up, idle, after the
    /// run for the next run to reuse (`ssh_masters`); zero: closed at exit.
    pub persist: Duration,
}

/// Why a script could not be run on a host: ssh (or the local sh) failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// No master connection: where to, what ssh said, what to check.
    #[error("{}", unreachable_text(.dest, .detail, .hint))]
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
    /// The host's sh, open for the run: every script goes down one session.
    shell: tokio::sync::Mutex<Option<Channel>>,
}

impl Connection {
    pub async fn open(target: &Target, opts: &ConnectOptions) -> Result<Self, TransportError> {
        let kind = if target.local {
            Kind::Local
        } else {
            let started = std::time::Instant::now();
            let master = Self::connect(target, opts).await?;
            let took = started.elapsed().as_secs_f64();
            crate::trace::event(2, &target.name, &format!("ssh master to {} up in {took:.3}s", target.destination()));
            Kind::Ssh(Arc::new(tokio::sync::RwLock::new(Arc::new(master))))
        };
        let shell = tokio::sync::Mutex::new(None);
        Ok(Connection { kind, target: target.clone(), opts: opts.clone(), round_trips: AtomicUsize::new(0), shell })
    }

    async fn connect(target: &Target, opts: &ConnectOptions) -> Result<openssh::Session, TransportError> {
        // The inventory's other options reach ssh in a config file of their
        // own, read only while the master starts.
        let config = ssh_config(target).map_err(|e| unreachable(target, e))?;
        let strict = !(opts.accept_new_host_keys || target.strict == Some(false));
        let folder = ssh_masters::root().and_then(|root| {
            let config_text = if target.ssh_options.is_empty() { String::new() } else { target.ssh_config() };
            ssh_masters::folder(&root, target, &config_text, if strict { "strict" } else { "accept-new" })
        });
        if let Some(dir) = &folder {
            if let Some(s) = ssh_masters::resume(dir).await {
                crate::trace::event(2, &target.name, &format!("reusing the warm ssh master in {}", dir.display()));
                return Ok(s);
            }
        }
        let mut b = SessionBuilder::default();
        b.control_directory(folder.unwrap_or_else(std::env::temp_dir));
        let timeout = target.connect_timeout.or(opts.connect_timeout);
        b.connect_timeout(timeout.unwrap_or(Duration::from_secs(10)));
        // A host that goes silent (power cut) is declared lost after ~3 × 5 s.
        b.server_alive_interval(target.server_alive_interval.unwrap_or(Duration::from_secs(5)));
        // Idle this long, the master exits: the next run's window (--persist);
        // with --persist 0, 60 s, so that a killed rigger leaves nothing
        // behind for long. `keep_alive` holds it open while the run needs it.
        let idle = NonZeroUsize::new(usize::try_from(opts.persist.as_secs()).unwrap_or(usize::MAX));
        b.control_persist(openssh::ControlPersist::IdleFor(idle.unwrap_or(NonZeroUsize::new(60).expect("non-zero"))));
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
        match (&config, &target.config_file) {
            (Some(c), _) => b.config_file(c.path()),
            (None, Some(f)) => b.config_file(f),
            (None, None) => &mut b,
        };
        b.known_hosts_check(if strict { KnownHosts::Strict } else { KnownHosts::Add });
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
    /// check on the control socket (every 20 s, more often with a short
    /// `--persist`) keeps it open, and stops when rigger does. Nothing to do
    /// for a local host.
    pub fn keep_alive(&self) -> Option<tokio::task::AbortHandle> {
        let Kind::Ssh(lock) = &self.kind else { return None };
        // Weak: closing the session must still find the master unshared.
        let lock = Arc::downgrade(lock);
        // Well within the master's idle time (`--persist`, else 60 s).
        let every = match self.opts.persist.as_secs() {
            0 => 20,
            p => (p / 3).clamp(1, 20),
        };
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(every)).await;
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
        self.run_shown(script, script).await
    }

    /// `run`, with `shown` standing for the script in `-vvv`'s trace (its
    /// secret-dependent steps sealed).
    pub async fn run_shown(&self, script: &str, shown: &str) -> Result<Output, TransportError> {
        let started = std::time::Instant::now();
        let name = &self.target.name;
        // Every script goes through here: build the trace's text only when it is shown.
        if crate::trace::on(2) {
            let via = match &self.kind {
                Kind::Local => "local sh".to_string(),
                Kind::Ssh(_) => format!("ssh {}", self.target.destination()),
            };
            crate::trace::event(2, name, &format!("{via}: {} ({} bytes on stdin)", self.target.shell(), script.len()));
        }
        if crate::trace::on(3) {
            crate::trace::event(3, name, &format!("script:\n{shown}"));
        }
        let out = self.run_script(script).await;
        if crate::trace::on(2) {
            let what = match &out {
                Ok(o) => format!(
                    "exit {}, {} bytes back",
                    o.code.map_or("by signal".into(), |c| c.to_string()),
                    o.stdout.len()
                ),
                Err(e) => format!("failed: {e}"),
            };
            crate::trace::event(2, name, &format!("{what} in {:.3}s", started.elapsed().as_secs_f64()));
        }
        out
    }

    /// Runs `script` in the host's open sh (`shell_channel`), opening it
    /// first if need be. A script that finds it busy (a health check beside
    /// a unit) gets a session of its own.
    async fn run_script(&self, script: &str) -> Result<Output, TransportError> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let Ok(mut slot) = self.shell.try_lock() else { return self.run_once(script).await };
        let open_on = slot.as_ref().and_then(|c| c.master.clone());
        if let (Kind::Ssh(lock), Some(open_on)) = (&self.kind, open_on) {
            // A master replaced since (it had gone away) took the old shell with it.
            if !Arc::ptr_eq(&open_on, &self.session(lock).await?) {
                slot.take();
            }
        }
        let channel = match slot.as_mut() {
            Some(c) => c,
            None => slot.insert(self.open_shell().await?),
        };
        let answer = match channel.run(script).await {
            Ok(Some(answer)) => answer,
            // The shell ended before it answered: what it said last is the answer.
            Ok(None) | Err(_) => slot.take().expect("open").finish().await.map_err(channel_error)?,
        };
        Ok(Output {
            stdout: String::from_utf8_lossy(&answer.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&answer.stderr).into_owned(),
            code: answer.code,
        })
    }

    /// Starts the host's sh for the run, fed its sudo password first if it takes one.
    async fn open_shell(&self) -> Result<Channel, TransportError> {
        let shell = self.target.shell();
        let mut channel = match &self.kind {
            Kind::Local => Channel::local(local_sh(&shell)?),
            Kind::Ssh(lock) => Channel::ssh(self.remote_sh(lock, &shell).await?),
        }
        .map_err(channel_error)?;
        let prefix = self.target.stdin_prefix();
        if !prefix.is_empty() {
            channel.send(prefix.as_bytes()).await.map_err(channel_error)?;
        }
        Ok(channel)
    }

    /// The host's `shell` on a new channel of its master, its stdio piped.
    async fn remote_sh(
        &self,
        lock: &tokio::sync::RwLock<Arc<openssh::Session>>,
        shell: &str,
    ) -> Result<openssh::Child<Arc<openssh::Session>>, TransportError> {
        self.session(lock)
            .await?
            .arc_raw_command(shell)
            .stdin(openssh::Stdio::piped())
            .stdout(openssh::Stdio::piped())
            .stderr(openssh::Stdio::piped())
            .spawn()
            .await
            .map_err(|e| TransportError::Lost(Arc::new(e)))
    }

    /// Runs `script` in a session of its own: one sh that reads it and ends.
    async fn run_once(&self, script: &str) -> Result<Output, TransportError> {
        let shell = self.target.shell();
        let input = format!("{}{script}", self.target.stdin_prefix());
        let out = match &self.kind {
            Kind::Local => {
                let mut child = local_sh(&shell)?;
                let mut stdin = child.stdin.take().ok_or(TransportError::NoStdin)?;
                stdin.write_all(input.as_bytes()).await.map_err(|e| TransportError::Send(Arc::new(e)))?;
                drop(stdin);
                child.wait_with_output().await.map_err(|e| TransportError::Wait(Arc::new(e)))?
            }
            Kind::Ssh(lock) => {
                let mut child = self.remote_sh(lock, &shell).await?;
                let mut stdin = child.stdin().take().ok_or(TransportError::NoStdin)?;
                stdin.write_all(input.as_bytes()).await.map_err(|e| TransportError::Send(Arc::new(e)))?;
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

    /// Ends the run's use of the host. With `--persist`, the master stays up
    /// (it exits by itself once idle that long) for the next run; else it is
    /// closed, and its folder removed.
    pub async fn close(self) {
        // The shell ends at the end of its input; the master is then idle.
        if let Some(shell) = self.shell.into_inner() {
            let _ = shell.finish().await;
        }
        if let Kind::Ssh(lock) = self.kind {
            let Ok(lock) = Arc::try_unwrap(lock) else { return };
            if let Ok(s) = Arc::try_unwrap(lock.into_inner()) {
                if !self.opts.persist.is_zero() {
                    let _ = s.detach();
                    return;
                }
                let ctl = s.control_socket().to_path_buf();
                let _ = s.close().await;
                ssh_masters::forget(&ctl);
            }
        }
    }
}

/// `sh -c shell` here, its stdio piped, in its own process group like a
/// remote sh: a Ctrl-C at the terminal is rigger's to handle, and must not
/// kill a unit mid-way.
fn local_sh(shell: &str) -> Result<tokio::process::Child, TransportError> {
    tokio::process::Command::new("sh")
        .process_group(0)
        .arg("-c")
        .arg(shell)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| TransportError::StartSh(Arc::new(e)))
}

fn channel_error(e: ChannelError) -> TransportError {
    match e {
        ChannelError::NoPipes => TransportError::NoStdin,
        ChannelError::Io(e) => TransportError::Wait(Arc::new(e)),
        ChannelError::Lost(e) => TransportError::Lost(Arc::new(e)),
    }
}

/// The inventory's ssh options as a config file, when it has any.
fn ssh_config(target: &Target) -> std::io::Result<Option<tempfile::NamedTempFile>> {
    if target.ssh_options.is_empty() {
        return Ok(None);
    }
    let mut f = tempfile::Builder::new().prefix("rigger-ssh-").suffix(".conf").tempfile()?;
    std::io::Write::write_all(&mut f, target.ssh_config().as_bytes())?;
    Ok(Some(f))
}

/// One line when ssh said one; else ssh's lines kept, each on its own line
/// under the summary (a warning and the error packed into one line read as
/// one garbled sentence).
fn unreachable_text(dest: &str, detail: &str, hint: &str) -> String {
    let lines: Vec<&str> = detail.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).collect();
    if lines.len() <= 1 {
        return format!("unreachable: cannot connect to {dest}: {detail} ({hint})");
    }
    // The openssh crate's own words head ssh's first line; the summary says as much.
    let first = lines[0].strip_prefix("failed to connect to the remote host: ").unwrap_or(lines[0]);
    let said: String = std::iter::once(first).chain(lines[1..].iter().copied()).map(|l| format!("\n    {l}")).collect();
    format!("unreachable: cannot connect to {dest} ({hint}); ssh said:{said}")
}

fn unreachable(t: &Target, e: std::io::Error) -> TransportError {
    let dest = t.address.clone();
    TransportError::Unreachable {
        dest,
        detail: format!("cannot write its ssh options: {e}"),
        hint: "is the temp directory writable?",
    }
}

fn explain_connect_error(t: &Target, e: &openssh::Error) -> TransportError {
    let mut detail = e.to_string();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = src {
        detail.push_str(&format!(": {s}"));
        src = s.source();
    }
    let detail = detail.trim().to_string();
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
    use super::unreachable_text;

    #[test]
    fn ssh_keeps_its_lines() {
        let one = unreachable_text("h:22", "connect to host h port 22: Connection refused", "is sshd up?");
        assert_eq!(
            one,
            "unreachable: cannot connect to h:22: connect to host h port 22: Connection refused (is sshd up?)"
        );
        let many =
            unreachable_text("h:22", "Warning: Permanently added 'h'.\r\nPermission denied (publickey).\n", "auth");
        assert_eq!(
            many,
            "unreachable: cannot connect to h:22 (auth); ssh said:\n    Warning: Permanently added 'h'.\n    Permission denied (publickey)."
        );
    }
}
