//! Vagrant machines and how to reach them. `vagrant ssh-config` prints one
//! OpenSSH `Host` block per machine; this module reads that output, from
//! Vagrant run in a directory or from a recorded file, into `Machine`s, and
//! gives each machine Ansible's connection vars (`SshConfig::vars`).
//! Making an inventory of them is `project::inventory::vagrant`'s job, so
//! this module depends on no inventory and no crate-wide error.
//!
//! If `RIGGER_VAGRANT_SSH_CONFIG=FILE` is set, FILE (a recorded
//! `vagrant ssh-config` output) is read instead of running Vagrant. Tests
//! and CI machines that have no hypervisor use it.

use crate::project::source::Vars;
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Names a recorded `vagrant ssh-config` output to read instead of running Vagrant.
pub const RECORDED_ENV: &str = "RIGGER_VAGRANT_SSH_CONFIG";

/// `-i vagrant:DIR`: the inventory of the Vagrant environment in DIR.
pub const PREFIX: &str = "vagrant:";

/// One `Host` block of `vagrant ssh-config`: what rigger needs to reach a machine.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Machine {
    pub name: String,
    /// Line of the `Host` line, for messages.
    pub line: usize,
    pub host_name: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// Every `IdentityFile`, in order. ssh tries them in turn; rigger uses the first.
    pub identity_files: Vec<String>,
    pub user_known_hosts_file: Option<String>,
    pub strict_host_key_checking: Option<String>,
    /// (line, command): rigger's transport cannot use a ProxyCommand.
    pub proxy_command: Option<(usize, String)>,
}

/// Where a `vagrant ssh-config` output came from, so every error can name the line.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// A recorded output, by its path (or any label given to `parse`).
    File(String),
    /// The output of `vagrant ssh-config` run in this directory.
    Run(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(label) => f.write_str(label),
            Origin::Run(dir) => write!(f, "`vagrant ssh-config` in {}", dir.display()),
        }
    }
}

impl Origin {
    fn at(&self, line: usize, problem: LineProblem) -> VagrantError {
        VagrantError::Line { origin: self.clone(), line, problem }
    }
}

/// `origin:line: problem` for a file, `origin, line N: problem` for Vagrant's own output.
fn located(origin: &Origin, line: usize, problem: &LineProblem) -> String {
    match origin {
        Origin::File(_) => format!("{origin}:{line}: {problem}"),
        Origin::Run(_) => format!("{origin}, line {line}: {problem}"),
    }
}

/// What is wrong with one line of a `vagrant ssh-config` output.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LineProblem {
    #[error("`{key}`: unterminated double quote")]
    UnterminatedQuote { key: String },
    #[error("`{key}` needs a value")]
    NoValue { key: String },
    #[error("`{key}` takes one value, found {found} (quote a path that contains spaces)")]
    ManyValues { key: String, found: usize },
    #[error("`Host` needs a machine name")]
    NoMachineName,
    #[error("`Host {0}` is a pattern, not one machine name (Vagrant prints `Host NAME`)")]
    HostPattern(String),
    #[error("machine `{name}` appears twice (first at line {first})")]
    Duplicate { name: String, first: usize },
    #[error("`Match` blocks are not part of `vagrant ssh-config` output and are not supported")]
    Match,
    #[error("`{0}` before any `Host` line: this does not look like `vagrant ssh-config` output")]
    BeforeHost(String),
    #[error("`Port {0}` is not a port number (1-65535)")]
    BadPort(String),
    #[error("`ProxyCommand` needs a command")]
    NoProxyCommand,
    #[error(
        "machine `{machine}` is reached through `ProxyCommand {command}`, and rigger cannot use a ProxyCommand \
         (it supports only ProxyJump/-J). Make the machine reachable directly, or put the proxy for {address} in ~/.ssh/config \
         and delete this line from a recorded output that you pass in {RECORDED_ENV}"
    )]
    ProxyCommand { machine: String, command: String, address: String },
    #[error("machine `{machine}`: rigger cannot pass a UserKnownHostsFile path that contains spaces (`{path}`)")]
    KnownHostsWithSpaces { machine: String, path: String },
}

/// Why the Vagrant machines, or how to reach them, could not be had.
#[derive(Debug, thiserror::Error)]
pub enum VagrantError {
    /// A line of the output at fault.
    #[error("{}", located(.origin, *.line, .problem))]
    Line { origin: Origin, line: usize, problem: LineProblem },
    #[error("{0}: no machine (no `Host` line): is any machine created? (`vagrant up`)")]
    NoMachine(Origin),
    #[error("cannot read {} (named by {RECORDED_ENV}): {source}", .file.display())]
    Recorded { file: PathBuf, source: std::io::Error },
    #[error(
        "{}: not a directory (--from-vagrant and `-i vagrant:DIR` take the directory that holds the Vagrantfile)",
        .0.display()
    )]
    NotADirectory(PathBuf),
    #[error("no Vagrantfile in {}", .0.display())]
    NoVagrantfile(PathBuf),
    /// The directory could not be made absolute.
    #[error("{}: {source}", .dir.display())]
    Dir { dir: PathBuf, source: std::io::Error },
    #[error(
        "Vagrant is not installed (no `{program}` command on PATH). Install it (https://developer.hashicorp.com/vagrant/install), \
         or record the output where Vagrant runs (`vagrant ssh-config > ssh-config.txt` in {}) and use that file: \
         {RECORDED_ENV}=ssh-config.txt rigger ...",
        .dir.display()
    )]
    NotInstalled { program: String, dir: PathBuf },
    #[error("cannot run `{program} ssh-config` in {}: {source}", .dir.display())]
    CannotRun { program: String, dir: PathBuf, source: std::io::Error },
    /// `vagrant ssh-config` ran and failed; `stderr` is its message on one line.
    #[error(
        "`vagrant ssh-config` in {} failed ({}): {}\n(every machine of the Vagrantfile must be created and running: `vagrant up` there; `vagrant status` shows their states)",
        .dir.display(),
        .code.map_or_else(|| "killed by a signal".to_string(), |c| format!("exit {c}")),
        if .stderr.is_empty() { "no message" } else { .stderr }
    )]
    Failed { dir: PathBuf, code: Option<i32>, stderr: String },
}

/// Splits a directive's arguments on whitespace, keeping "double quoted" words whole.
fn words(key: &str, args: &str) -> Result<Vec<String>, LineProblem> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in args.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        return Err(LineProblem::UnterminatedQuote { key: key.to_string() });
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// The single argument of a directive.
fn one(key: &str, args: &str) -> Result<String, LineProblem> {
    let w = words(key, args)?;
    match w.as_slice() {
        [v] => Ok(v.clone()),
        [] => Err(LineProblem::NoValue { key: key.to_string() }),
        _ => Err(LineProblem::ManyValues { key: key.to_string(), found: w.len() }),
    }
}

/// Parses `vagrant ssh-config` output (`origin` names it in errors). Directives
/// rigger does not use are ignored. As in ssh, the first value of a directive in
/// a block wins, except for `IdentityFile`, which can be given more than once.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Machine>, VagrantError> {
    parse_from(text, &Origin::File(origin.to_string()))
}

fn parse_from(text: &str, origin: &Origin) -> Result<Vec<Machine>, VagrantError> {
    let mut machines: Vec<Machine> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        parse_line(raw, line_no, &mut machines).map_err(|problem| origin.at(line_no, problem))?;
    }
    Ok(machines)
}

/// One line: a new machine, a directive of the last one, or nothing.
fn parse_line(raw: &str, line_no: usize, machines: &mut Vec<Machine>) -> Result<(), LineProblem> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(());
    }
    // `Keyword value`, `Keyword=value` or `Keyword = value`, as ssh_config(5) allows.
    let split = match line.find(|c: char| c.is_whitespace() || c == '=') {
        Some(0) | None => line.find(char::is_whitespace).unwrap_or(line.len()),
        Some(n) => n,
    };
    let (key, rest) = line.split_at(split);
    let rest = rest.trim_start();
    let args = rest.strip_prefix('=').map(str::trim_start).unwrap_or(rest);
    let lower = key.to_ascii_lowercase();
    if lower == "host" {
        let names = words("Host", args)?;
        let name = match names.as_slice() {
            [n] if !n.contains(['*', '?', '!', ',']) => n.clone(),
            [] => return Err(LineProblem::NoMachineName),
            _ => return Err(LineProblem::HostPattern(args.to_string())),
        };
        if let Some(first) = machines.iter().find(|m| m.name == name) {
            return Err(LineProblem::Duplicate { name, first: first.line });
        }
        machines.push(Machine { name, line: line_no, ..Default::default() });
        return Ok(());
    }
    if lower == "match" {
        return Err(LineProblem::Match);
    }
    let Some(m) = machines.last_mut() else {
        return Err(LineProblem::BeforeHost(key.to_string()));
    };
    match lower.as_str() {
        "hostname" => {
            let v = one(key, args)?;
            m.host_name.get_or_insert(v);
        }
        "user" => {
            let v = one(key, args)?;
            m.user.get_or_insert(v);
        }
        "port" => {
            let v = one(key, args)?;
            let port = v.parse::<u16>().ok().filter(|p| *p > 0).ok_or(LineProblem::BadPort(v))?;
            m.port.get_or_insert(port);
        }
        "identityfile" => {
            let v = one(key, args)?;
            m.identity_files.push(v);
        }
        "userknownhostsfile" => {
            let v = one(key, args)?;
            m.user_known_hosts_file.get_or_insert(v);
        }
        "stricthostkeychecking" => {
            let v = one(key, args)?;
            m.strict_host_key_checking.get_or_insert(v.to_ascii_lowercase());
        }
        "proxycommand" => {
            if args.is_empty() {
                return Err(LineProblem::NoProxyCommand);
            }
            m.proxy_command.get_or_insert((line_no, args.to_string()));
        }
        // PasswordAuthentication, IdentitiesOnly, LogLevel, ForwardAgent,
        // ForwardX11, Include, PubkeyAcceptedKeyTypes, HostKeyAlgorithms...
        _ => {}
    }
    Ok(())
}

/// Ansible's connection vars for one machine.
fn machine_vars(m: &Machine, origin: &Origin) -> Result<Vars, VagrantError> {
    if let Some((line, cmd)) = &m.proxy_command {
        return Err(origin.at(
            *line,
            LineProblem::ProxyCommand {
                machine: m.name.clone(),
                command: cmd.clone(),
                address: m.host_name.clone().unwrap_or_else(|| m.name.clone()),
            },
        ));
    }
    let mut v = Vars::new();
    if let Some(h) = &m.host_name {
        v.insert("ansible_host".into(), Value::String(h.clone()));
    }
    if let Some(p) = m.port {
        v.insert("ansible_port".into(), Value::from(p));
    }
    if let Some(u) = &m.user {
        v.insert("ansible_user".into(), Value::String(u.clone()));
    }
    if let Some(k) = m.identity_files.first() {
        v.insert("ansible_ssh_private_key_file".into(), Value::String(k.clone()));
    }
    // Vagrant prints `UserKnownHostsFile /dev/null` + `StrictHostKeyChecking no`:
    // a machine's host key changes every time it is re-created.
    let mut args = Vec::new();
    if let Some(f) = &m.user_known_hosts_file {
        if f.contains(char::is_whitespace) {
            return Err(
                origin.at(m.line, LineProblem::KnownHostsWithSpaces { machine: m.name.clone(), path: f.clone() })
            );
        }
        args.push(format!("-o UserKnownHostsFile={f}"));
    }
    if let Some(s) = &m.strict_host_key_checking {
        args.push(format!("-o StrictHostKeyChecking={s}"));
    }
    if !args.is_empty() {
        v.insert("ansible_ssh_common_args".into(), Value::String(args.join(" ")));
    }
    // Vagrant boxes log in as `vagrant`, which has passwordless sudo (a base box requirement).
    if m.user.as_deref().is_some_and(|u| u != "root") {
        v.insert("ansible_become".into(), Value::Bool(true));
    }
    Ok(v)
}

/// The machines of one `vagrant ssh-config` output, and where it came from.
#[derive(Debug, Clone)]
pub struct SshConfig {
    /// Names the output in messages.
    pub origin: Origin,
    /// The recorded file, or the directory Vagrant ran in, as the user gave it.
    pub path: PathBuf,
    /// In the order Vagrant printed them; never empty.
    pub machines: Vec<Machine>,
}

impl SshConfig {
    fn parse(text: &str, origin: Origin, path: &Path) -> Result<Self, VagrantError> {
        let machines = parse_from(text, &origin)?;
        // An empty output is a Vagrant environment with nothing created, not an empty inventory.
        if machines.is_empty() {
            return Err(VagrantError::NoMachine(origin));
        }
        Ok(SshConfig { origin, path: path.to_path_buf(), machines })
    }

    /// Ansible's connection vars for `machine`, one of these machines; errors name its line.
    pub fn vars(&self, machine: &Machine) -> Result<Vars, VagrantError> {
        machine_vars(machine, &self.origin)
    }
}

/// The machines of a `vagrant ssh-config` output read from `path` (named in errors).
pub fn from_ssh_config(text: &str, path: &Path) -> Result<SshConfig, VagrantError> {
    SshConfig::parse(text, Origin::File(path.display().to_string()), path)
}

/// The machines of the Vagrant environment in `dir`, from `vagrant ssh-config`
/// run there (or from the file that `RIGGER_VAGRANT_SSH_CONFIG` names).
pub fn from_dir(dir: &Path) -> Result<SshConfig, VagrantError> {
    let recorded = std::env::var_os(RECORDED_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
    from_dir_with(dir, recorded.as_deref(), "vagrant")
}

/// The machines of the Vagrant environment in `dir`, always from `vagrant
/// ssh-config` run there (`rigger test` has just made them).
pub fn from_vagrant_in(dir: &Path) -> Result<SshConfig, VagrantError> {
    from_dir_with(dir, None, "vagrant")
}

fn from_dir_with(dir: &Path, recorded: Option<&Path>, program: &str) -> Result<SshConfig, VagrantError> {
    if let Some(file) = recorded {
        let text = std::fs::read_to_string(file)
            .map_err(|source| VagrantError::Recorded { file: file.to_path_buf(), source })?;
        return from_ssh_config(&text, file);
    }
    let text = run_ssh_config(dir, program)?;
    SshConfig::parse(&text, Origin::Run(dir.to_path_buf()), dir)
}

fn run_ssh_config(dir: &Path, program: &str) -> Result<String, VagrantError> {
    if !dir.is_dir() {
        return Err(VagrantError::NotADirectory(dir.to_path_buf()));
    }
    let custom_name = std::env::var_os("VAGRANT_VAGRANTFILE").is_some();
    if !custom_name && !dir.join("Vagrantfile").is_file() && !dir.join("vagrantfile").is_file() {
        return Err(VagrantError::NoVagrantfile(dir.to_path_buf()));
    }
    // Absolute: Vagrant resolves a relative VAGRANT_CWD from its own working directory.
    let abs = dir.canonicalize().map_err(|source| VagrantError::Dir { dir: dir.to_path_buf(), source })?;
    let out = Command::new(program)
        .arg("ssh-config")
        .current_dir(&abs)
        // A VAGRANT_CWD of the user's would make Vagrant look elsewhere; no color codes and no version check on stdout.
        .env("VAGRANT_CWD", &abs)
        .env("VAGRANT_NO_COLOR", "1")
        .env("VAGRANT_CHECKPOINT_DISABLE", "1")
        .stdin(Stdio::null())
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(VagrantError::NotInstalled { program: program.to_string(), dir: dir.to_path_buf() })
        }
        Err(source) => {
            return Err(VagrantError::CannotRun { program: program.to_string(), dir: dir.to_path_buf(), source })
        }
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let stderr = err.split_whitespace().collect::<Vec<_>>().join(" ");
        return Err(VagrantError::Failed { dir: dir.to_path_buf(), code: out.status.code(), stderr });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `vagrant:DIR` → `DIR`; any other inventory argument → None.
pub fn spec(inventory_arg: &Path) -> Option<&Path> {
    inventory_arg.to_str()?.strip_prefix(PREFIX).map(Path::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::target::Target;
    use serde_json::json;

    const MULTI: &str = include_str!("../../tests/fixtures/vagrant/virtualbox-multi.txt");
    const QUOTED: &str = include_str!("../../tests/fixtures/vagrant/quoted-identity.txt");
    const LIBVIRT: &str = include_str!("../../tests/fixtures/vagrant/libvirt.txt");
    const PROXY: &str = include_str!("../../tests/fixtures/vagrant/libvirt-proxycommand.txt");
    const INSECURE: &str = include_str!("../../tests/fixtures/vagrant/insecure-keys-2.4.txt");

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vagrant").join(name)
    }

    fn config(text: &str) -> SshConfig {
        from_ssh_config(text, Path::new("ssh-config.txt")).unwrap()
    }

    fn names(config: &SshConfig) -> Vec<&str> {
        config.machines.iter().map(|m| m.name.as_str()).collect()
    }

    /// The connection vars of machine `name`.
    fn vars(text: &str, name: &str) -> Vars {
        let config = config(text);
        let machine = config.machines.iter().find(|m| m.name == name).unwrap();
        config.vars(machine).unwrap()
    }

    /// The first error met on the way to an inventory: the output's, then each machine's vars in turn.
    fn err(text: &str) -> String {
        from_ssh_config(text, Path::new("ssh-config.txt"))
            .and_then(|c| c.machines.iter().try_for_each(|m| c.vars(m).map(|_| ())))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn transport_reads_the_vars_as_vagrant_meant_them() {
        let t = Target::from_vars("web1", &vars(MULTI, "web1")).unwrap();
        assert_eq!((t.address.as_str(), t.port, t.user.as_deref()), ("127.0.0.1", Some(2222), Some("vagrant")));
        assert_eq!(t.key.as_deref(), Some("/home/alice/src/shop/.vagrant/machines/web1/virtualbox/private_key"));
        assert_eq!(t.known_hosts_file.as_deref(), Some("/dev/null"));
        assert_eq!(t.strict, Some(false));
        assert!(t.become_);
        assert_eq!(t.jump, None);
    }

    #[test]
    fn quoted_identity_file_with_spaces_is_unquoted() {
        assert_eq!(names(&config(QUOTED)), ["default"]);
        let v = vars(QUOTED, "default");
        assert_eq!(
            v["ansible_ssh_private_key_file"],
            "/Users/bob/Projects/Ops Lab/.vagrant/machines/default/virtualbox/private_key"
        );
        let t = Target::from_vars("default", &v).unwrap();
        assert_eq!(
            t.key.as_deref(),
            Some("/Users/bob/Projects/Ops Lab/.vagrant/machines/default/virtualbox/private_key")
        );
    }

    #[test]
    fn libvirt_machines_have_real_addresses_on_port_22() {
        let v = vars(LIBVIRT, "node2");
        assert_eq!(v["ansible_host"], "192.168.121.203");
        assert_eq!(v["ansible_port"], 22);
        assert_eq!(
            v["ansible_ssh_private_key_file"],
            "/home/carol/k8s-lab/.vagrant/machines/node2/libvirt/private_key"
        );
        assert_eq!(Target::from_vars("node2", &v).unwrap().port, Some(22));
    }

    #[test]
    fn first_identity_file_wins_and_unknown_directives_are_ignored() {
        let machines = parse(INSECURE, "insecure.txt").unwrap();
        assert_eq!(
            machines[0].identity_files,
            [
                "/home/dave/.vagrant.d/insecure_private_keys/vagrant.key.ed25519",
                "/home/dave/.vagrant.d/insecure_private_keys/vagrant.key.rsa"
            ]
        );
        let v = vars(INSECURE, "default");
        assert_eq!(
            v["ansible_ssh_private_key_file"],
            "/home/dave/.vagrant.d/insecure_private_keys/vagrant.key.ed25519"
        );
        assert_eq!(v.len(), 6, "PubkeyAcceptedKeyTypes, HostKeyAlgorithms, LogLevel... add nothing: {v:?}");
    }

    #[test]
    fn ssh_config_syntax_variants() {
        // `=` separators, any case, tabs, CRLF, comments; first value of a directive wins, as in ssh.
        let text = "# recorded\r\nHost a\r\n\tHOSTNAME=10.0.0.5\r\n\tport = 2201\r\n\tPort 9999\r\n\tuser\tops\r\n\tIdentityFile=\"/k/a b\"\r\n";
        let v = vars(text, "a");
        assert_eq!(
            Value::Object(v),
            json!({ "ansible_host": "10.0.0.5", "ansible_port": 2201, "ansible_user": "ops", "ansible_ssh_private_key_file": "/k/a b", "ansible_become": true })
        );
        // No known-hosts directives (config.ssh.verify_host_key): no ssh args, strict checking stays on.
        let root = vars("Host r\n  HostName 10.0.0.6\n  User root\n", "r");
        assert_eq!(Value::Object(root), json!({ "ansible_host": "10.0.0.6", "ansible_user": "root" }));
    }

    #[test]
    fn malformed_input_names_the_line() {
        assert_eq!(
            err("  HostName 127.0.0.1\nHost a\n"),
            "ssh-config.txt:1: `HostName` before any `Host` line: this does not look like `vagrant ssh-config` output"
        );
        assert_eq!(
            err("Host a\n  HostName 127.0.0.1\n  Port 22x\n"),
            "ssh-config.txt:3: `Port 22x` is not a port number (1-65535)"
        );
        assert_eq!(err("Host a\n  Port 70000\n"), "ssh-config.txt:2: `Port 70000` is not a port number (1-65535)");
        assert_eq!(
            err("Host a\n\n  IdentityFile \"/x/y z\n"),
            "ssh-config.txt:3: `IdentityFile`: unterminated double quote"
        );
        assert_eq!(
            err("Host a\n  IdentityFile /x/y z\n"),
            "ssh-config.txt:2: `IdentityFile` takes one value, found 2 (quote a path that contains spaces)"
        );
        assert_eq!(err("Host a\n  User\n"), "ssh-config.txt:2: `User` needs a value");
        assert_eq!(err("Host a\nHost b\nHost a\n"), "ssh-config.txt:3: machine `a` appears twice (first at line 1)");
        assert!(err("Host *\n").starts_with("ssh-config.txt:1: `Host *` is a pattern"));
        assert!(err("Host a b\n").starts_with("ssh-config.txt:1: `Host a b` is a pattern"));
        assert!(err("Host a\nMatch all\n").starts_with("ssh-config.txt:2: `Match` blocks"));
        assert_eq!(err("\n\n"), "ssh-config.txt: no machine (no `Host` line): is any machine created? (`vagrant up`)");
        // The banner of a failed run, if someone recorded it.
        assert!(err("==> default: A newer version of the box is available\nHost default\n")
            .starts_with("ssh-config.txt:1: `==>` before any `Host` line"));
    }

    #[test]
    fn proxy_command_is_refused_not_dropped() {
        let e = err(PROXY);
        assert!(e.starts_with("ssh-config.txt:11: machine `node1` is reached through `ProxyCommand ssh 'kvm01.example.net' -l 'carol'"), "{e}");
        assert!(e.contains("ProxyJump"), "{e}");
    }

    #[test]
    fn recorded_output_replaces_running_vagrant() {
        let config =
            from_dir_with(Path::new("/nonexistent"), Some(&fixture("virtualbox-multi.txt")), "vagrant").unwrap();
        assert_eq!(config.machines.len(), 3);
        assert_eq!(config.path, fixture("virtualbox-multi.txt"));
        let e = from_dir_with(Path::new("."), Some(Path::new("/nonexistent/ssh-config.txt")), "vagrant")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cannot read /nonexistent/ssh-config.txt (named by RIGGER_VAGRANT_SSH_CONFIG)"), "{e}");
    }

    #[test]
    fn missing_vagrant_says_how_to_use_a_recorded_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("Vagrantfile"), "").unwrap();
        let e = from_dir_with(d.path(), None, "rigger-test-no-such-vagrant").unwrap_err().to_string();
        assert!(e.starts_with("Vagrant is not installed (no `rigger-test-no-such-vagrant` command on PATH)"), "{e}");
        assert!(
            e.contains("vagrant ssh-config > ssh-config.txt") && e.contains("RIGGER_VAGRANT_SSH_CONFIG=ssh-config.txt"),
            "{e}"
        );
        let e = from_dir_with(&d.path().join("nope"), None, "vagrant").unwrap_err().to_string();
        assert!(e.ends_with("nope: not a directory (--from-vagrant and `-i vagrant:DIR` take the directory that holds the Vagrantfile)"), "{e}");
        let empty = tempfile::tempdir().unwrap();
        assert!(from_dir_with(empty.path(), None, "vagrant")
            .unwrap_err()
            .to_string()
            .starts_with("no Vagrantfile in "));
    }

    /// A stand-in `vagrant` shows the command, its directory, and a failure's stderr.
    #[cfg(unix)]
    #[test]
    fn runs_vagrant_ssh_config_in_the_directory() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("Vagrantfile"), "").unwrap();
        let fake = d.path().join("fake-vagrant");
        let script = format!(
            "#!/bin/sh\n[ \"$1\" = ssh-config ] || exit 9\n[ -f Vagrantfile ] && [ \"$VAGRANT_CWD\" = \"$PWD\" ] || exit 8\n\
             if [ -f broken ]; then echo 'The provider for this Vagrant-managed machine is reporting that it' >&2; echo 'is not yet ready for SSH.' >&2; exit 1; fi\n\
             cat '{}'\n",
            fixture("libvirt.txt").display()
        );
        std::fs::write(&fake, script).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Executing a file just written races with other test threads' forks (ETXTBSY): retry.
        let run = || {
            let mut r = from_dir_with(d.path(), None, fake.to_str().unwrap());
            for _ in 0..20 {
                match &r {
                    Err(VagrantError::CannotRun { source, .. })
                        if source.kind() == std::io::ErrorKind::ExecutableFileBusy =>
                    {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        r = from_dir_with(d.path(), None, fake.to_str().unwrap());
                    }
                    _ => break,
                }
            }
            r
        };
        let config = run().unwrap();
        assert_eq!(names(&config), ["node1", "node2"]);
        assert_eq!(config.path, d.path());

        std::fs::write(d.path().join("broken"), "").unwrap();
        let e = run().unwrap_err().to_string();
        assert!(e.contains("failed (exit 1): The provider for this Vagrant-managed machine is reporting that it is not yet ready for SSH."), "{e}");
        assert!(e.contains("`vagrant up`"), "{e}");

        std::fs::remove_file(d.path().join("broken")).unwrap();
        std::fs::write(&fake, "#!/bin/sh\necho 'Host a'\necho '  Port ssh'\n").unwrap();
        let e = run().unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "`vagrant ssh-config` in {}, line 2: `Port ssh` is not a port number (1-65535)",
                d.path().display()
            )
        );
    }

    /// A relative DIR (as users type it) reaches Vagrant as one absolute directory.
    #[cfg(unix)]
    #[test]
    fn relative_dir_is_passed_absolute() {
        use std::os::unix::fs::PermissionsExt;
        let cwd = std::env::current_dir().unwrap();
        let d = tempfile::tempdir_in(&cwd).unwrap();
        let rel = d.path().strip_prefix(&cwd).unwrap();
        assert!(rel.is_relative());
        std::fs::write(d.path().join("Vagrantfile"), "").unwrap();
        let fake = d.path().join("fake-vagrant");
        let script = format!(
            "#!/bin/sh\ncase \"$VAGRANT_CWD\" in /*) ;; *) echo \"relative VAGRANT_CWD $VAGRANT_CWD\" >&2; exit 1;; esac\n\
             [ \"$VAGRANT_CWD\" = \"$(pwd -P)\" ] || exit 8\ncat '{}'\n",
            fixture("libvirt.txt").display()
        );
        std::fs::write(&fake, script).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = from_dir_with(rel, None, fake.to_str().unwrap()).unwrap();
        assert_eq!(config.machines.len(), 2);
        assert_eq!(config.path, rel, "messages keep the path as the user gave it");
    }

    #[test]
    fn inventory_argument_prefix() {
        assert_eq!(spec(Path::new("vagrant:inventory/lab")), Some(Path::new("inventory/lab")));
        assert_eq!(spec(Path::new("inventory/lab")), None);
    }
}
