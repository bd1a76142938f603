//! The vagrant driver: a scenario's hosts as real VMs, made by `vagrant up`
//! from a Vagrantfile written into a folder of the run's own, reached as
//! `vagrant ssh-config` says (user `vagrant`, become root by sudo), removed
//! by `vagrant destroy -f`.

use super::machines::Machines;
use super::reach::{Login, Reach};
use super::vagrant_box::{self, tail};
use super::vagrantfile;
use crate::lab::Image;
use crate::project::vagrant as ssh_config;
use crate::scenario::model::Scenario;
use serde_json::json;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The Vagrant environment of one scenario run.
pub struct Vagrant {
    /// None once kept: then the folder outlives rigger.
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    image: Option<Image>,
}

impl Vagrant {
    /// Checks Vagrant and its box are ready; a fresh folder for the run.
    pub fn prepare(image: Option<Image>) -> Result<Self, String> {
        vagrant_box::ensure()?;
        let dir = tempfile::Builder::new()
            .prefix("rigger-vagrant.")
            .tempdir_in(std::env::temp_dir())
            .map_err(|e| format!("cannot make the Vagrant folder: {e}"))?;
        let path = dir.path().to_path_buf();
        Ok(Vagrant { dir: Some(dir), path, image })
    }

    /// `vagrant ARGS` in the run's folder: its output, or its exit and tail.
    fn vagrant(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("vagrant")
            .args(args)
            .current_dir(&self.path)
            .env("VAGRANT_CWD", &self.path)
            .env("VAGRANT_DEFAULT_PROVIDER", "libvirt")
            .env("VAGRANT_NO_COLOR", "1")
            .env("VAGRANT_CHECKPOINT_DISABLE", "1")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run vagrant: {e}"))?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if out.status.success() {
            return Ok(text);
        }
        let code = out.status.code().map_or_else(|| "a signal".to_string(), |c| format!("exit {c}"));
        Err(format!("`vagrant {}` in {} failed ({code}):\n{}", args.join(" "), self.path.display(), tail(&text, 30)))
    }
}

/// One machine's login from its `vagrant ssh-config` block.
fn login(config: &ssh_config::SshConfig, m: &ssh_config::Machine) -> Result<Login, String> {
    let vars = config.vars(m).map_err(|e| e.to_string())?;
    let user = m.user.clone().unwrap_or_else(|| "vagrant".into());
    let mut ssh: Vec<String> = ["-F", "none", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
        .into_iter()
        .chain(["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5"])
        .map(String::from)
        .collect();
    // A machine made a minute ago has a host key nobody has seen: as Vagrant does.
    let known = m.user_known_hosts_file.clone().unwrap_or_else(|| "/dev/null".into());
    let strict = m.strict_host_key_checking.clone().unwrap_or_else(|| "no".into());
    ssh.extend([
        "-o".into(),
        format!("UserKnownHostsFile={known}"),
        "-o".into(),
        format!("StrictHostKeyChecking={strict}"),
    ]);
    if let Some(k) = m.identity_files.first() {
        ssh.extend(["-i".into(), k.clone()]);
    }
    ssh.extend(["-p".into(), m.port.unwrap_or(22).to_string()]);
    ssh.push(format!("{user}@{}", m.host_name.clone().unwrap_or_else(|| m.name.clone())));
    Ok(Login { vars, ssh, sudo: user != "root" })
}

/// `A.B.C` of an IPv4 address, for `{{ rigger_lab_net }}`.
fn subnet(addr: &str) -> String {
    addr.rsplit_once('.').map(|(n, _)| n.to_string()).unwrap_or_default()
}

impl Machines for Vagrant {
    fn create(&mut self, scenario: &Scenario) -> Result<Reach, String> {
        if let Some((h, img)) =
            scenario.hosts.iter().zip(&scenario.images).find(|(_, i)| self.image.unwrap_or(**i) != Image::Debian12)
        {
            return Err(format!("host {}: the vagrant driver has a box for debian12 only, not {img}", h.name));
        }
        let names: Vec<&str> = scenario.hosts.iter().map(|h| h.name.as_str()).collect();
        let base = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let prefix = format!("{}_", base.replace('.', "-"));
        let file = self.path.join("Vagrantfile");
        std::fs::write(&file, vagrantfile::render(&scenario.id(), &prefix, &names))
            .map_err(|e| format!("{}: {e}", file.display()))?;
        self.vagrant(&["up", "--provider", "libvirt"])?;
        let config = ssh_config::from_vagrant_in(&self.path).map_err(|e| e.to_string())?;
        let mut reach = Reach::default();
        for h in &names {
            let m = config.machines.iter().find(|m| m.name == *h);
            let m = m.ok_or_else(|| format!("`vagrant ssh-config` printed no machine `{h}`"))?;
            reach.hosts.insert(h.to_string(), login(&config, m)?);
        }
        let first = reach.hosts.values().next().and_then(|l| l.vars.get("ansible_host")).and_then(|v| v.as_str());
        reach.net = subnet(first.unwrap_or_default());
        reach.common.insert("rigger_lab_net".into(), json!(reach.net));
        Ok(reach)
    }

    fn destroy(&mut self) -> Result<(), String> {
        if self.path.join("Vagrantfile").is_file() {
            self.vagrant(&["destroy", "-f"])?;
        }
        Ok(())
    }

    fn keep(&mut self, scenario: &Scenario) -> String {
        if let Some(d) = self.dir.take() {
            let _ = d.keep();
        }
        let p = self.path.display();
        format!("machines kept: cd {p} && vagrant ssh {} ; cd {p} && vagrant destroy -f", scenario.hosts[0].name)
    }

    fn place(&self) -> (String, String) {
        (self.path.display().to_string(), String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_machine_is_reached_as_vagrant_ssh_config_says_with_sudo() {
        let text = "Host web1\n  HostName 192.168.121.57\n  User vagrant\n  Port 22\n  UserKnownHostsFile /dev/null\n  StrictHostKeyChecking no\n  IdentityFile /var/lib/rigger-vagrant/id_ed25519\n";
        let config = ssh_config::from_ssh_config(text, Path::new("recorded")).unwrap();
        let l = login(&config, &config.machines[0]).unwrap();
        assert!(l.sudo);
        assert_eq!(l.vars["ansible_host"], "192.168.121.57");
        assert_eq!(l.vars["ansible_user"], "vagrant");
        assert_eq!(l.vars["ansible_become"], true);
        assert_eq!(l.vars["ansible_ssh_private_key_file"], "/var/lib/rigger-vagrant/id_ed25519");
        assert_eq!(l.ssh.last().unwrap(), "vagrant@192.168.121.57");
        assert!(l.ssh.windows(2).any(|w| w == ["-i", "/var/lib/rigger-vagrant/id_ed25519"]), "{:?}", l.ssh);
        assert_eq!(subnet("192.168.121.57"), "192.168.121");
    }
}
