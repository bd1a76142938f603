//! The nspawn driver: a scenario's hosts as systemd-nspawn containers on a
//! lab of their own (`rigger lab`), each scenario on its own bridge and
//! subnet (10.78.K.0/24, lab `tK`), claimed with a lock so parallel runs
//! never share. Hosts log in as root with the lab key.

use super::machines::Machines;
use super::reach::{Login, Reach};
use crate::error::{Error, Result};
use crate::lab::{self, Image, LabSpec};
use crate::scenario::model::Scenario;
use crate::scenario::workspace;
use serde_json::json;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

const LABS: &str = "/var/lib/rigger-lab/labs";
const SLOTS: &str = "/run/rigger-lab-slots";

/// A claimed lab slot and the lab on it.
pub struct Nspawn {
    /// Held for the scenario's life: the slot's lock.
    _slot: File,
    lab: String,
    net: String,
    spec: LabSpec,
    /// Every host's image, whatever the scenario says.
    image: Option<Image>,
}

impl Nspawn {
    /// Claims a free slot for `scenario`'s lab.
    pub fn claim(scenario: &Scenario, project: &Path, image: Option<Image>) -> Result<Self> {
        let (slot, k) = claim_slot()?;
        let (lab, net) = (format!("t{k}"), format!("10.78.{k}"));
        let mut spec = LabSpec::new(Some(&lab), Some(&net), Image::default())?;
        spec.docker_hosts = workspace::docker_hosts(scenario, &project.join("roles"));
        // Disposable hosts: a short orderly poweroff, then the power is cut.
        spec.stop_wait = Some(5);
        Ok(Nspawn { _slot: slot, lab, net, spec, image })
    }

    fn reach(&self, scenario: &Scenario) -> Reach {
        let key =
            PathBuf::from(std::env::var("RIGGER_LAB_KEY").unwrap_or_else(|_| "/var/lib/rigger-lab/id_ed25519".into()));
        let known_hosts = Path::new(LABS).join(&self.lab).join("known_hosts");
        let mut common = serde_json::Map::new();
        common.insert("ansible_user".into(), json!("root"));
        common.insert("ansible_ssh_private_key_file".into(), json!(key.display().to_string()));
        common.insert(
            "ansible_ssh_common_args".into(),
            json!(format!("-o UserKnownHostsFile={}", known_hosts.display())),
        );
        common.insert("rigger_lab_net".into(), json!(self.net));
        let mut hosts = indexmap::IndexMap::new();
        for (i, h) in scenario.hosts.iter().enumerate() {
            let addr = LabSpec::address(&self.net, i + 1);
            let mut ssh: Vec<String> = ["-F", "none", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
                .into_iter()
                .chain(["-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5"])
                .map(String::from)
                .collect();
            ssh.extend(["-i".to_string(), key.display().to_string(), "-o".to_string()]);
            ssh.push(format!("UserKnownHostsFile={}", known_hosts.display()));
            ssh.push(format!("root@{addr}"));
            let mut vars = serde_json::Map::new();
            vars.insert("ansible_host".into(), json!(addr));
            hosts.insert(h.name.clone(), Login { vars, ssh, sudo: false });
        }
        Reach { common, hosts, net: self.net.clone() }
    }
}

impl Machines for Nspawn {
    fn create(&mut self, scenario: &Scenario) -> std::result::Result<Reach, String> {
        let specs: Vec<String> = scenario
            .hosts
            .iter()
            .zip(&scenario.images)
            .map(|(h, img)| format!("{}:{}", h.name, self.image.unwrap_or(*img)))
            .collect();
        lab::capture(&self.spec, &[vec!["create".to_string()], specs].concat()).map_err(|e| e.to_string())?;
        Ok(self.reach(scenario))
    }

    fn destroy(&mut self) -> std::result::Result<(), String> {
        lab::capture(&self.spec, &["down".to_string()]).map(|_| ()).map_err(|e| e.to_string())
    }

    fn keep(&mut self, scenario: &Scenario) -> String {
        let (lab, net) = (&self.lab, &self.net);
        format!(
            "hosts kept on lab {lab} ({net}.0/24): sudo rigger lab status --lab {lab}; sudo rigger lab ssh --lab {lab} {} ; sudo rigger lab down --lab {lab}",
            scenario.hosts[0].name
        )
    }

    fn place(&self) -> (String, String) {
        (self.lab.clone(), self.net.clone())
    }
}

/// A free lab slot K: its lock held (released when the File drops), no lab
/// state under its name, and its subnet 10.78.K.0/24 on no interface.
fn claim_slot() -> Result<(File, u8)> {
    std::fs::create_dir_all(SLOTS).map_err(|e| Error::io(Path::new(SLOTS), e))?;
    let addrs = Command::new("ip").args(["-o", "-4", "addr", "show"]).output().map_err(Error::System)?;
    let addrs = String::from_utf8_lossy(&addrs.stdout).into_owned();
    for k in 1..=250u8 {
        if Path::new(LABS).join(format!("t{k}")).exists() || addrs.contains(&format!(" 10.78.{k}.")) {
            continue;
        }
        let path = Path::new(SLOTS).join(format!("t{k}.lock"));
        let f = File::create(&path).map_err(|e| Error::io(&path, e))?;
        if f.try_lock().is_ok() {
            return Ok((f, k));
        }
    }
    Err(Error::Lab("no free lab slot (10.78.1-250.0/24 all taken)".into()))
}
