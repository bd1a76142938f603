//! Vagrant machines as an inventory: `project::vagrant` reads `vagrant
//! ssh-config`; this module makes its machines ungrouped hosts with
//! Ansible's connection vars, the way `Inventory::load` would have built
//! them from a YAML file. Uses:
//!
//! - `rigger inventory --from-vagrant DIR` prints it as YAML (`to_yaml`).
//! - `-i vagrant:DIR` uses it directly (`load`). If DIR also holds an
//!   inventory (as `inventory/lab/` does), that inventory keeps its groups and
//!   vars, and Vagrant adds the login for each machine (`overlay`).

use super::model::{Group, Host, Inventory};
use crate::error::{Error, Result};
use crate::project::source::{merge_into, Vars};
use crate::project::vagrant::{self, SshConfig, VagrantError};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Hosts of the inventory beside a Vagrantfile that Vagrant has no machine for.
#[derive(Debug, thiserror::Error)]
#[error(
    "{}: no Vagrant machine for host(s) {} of the inventory; define them in the Vagrantfile (`config.vm.define \"NAME\"`), \
     or use the inventory without `vagrant:`",
    .origin.display(),
    .hosts.join(", ")
)]
pub struct MachinesMissing {
    /// The `vagrant ssh-config` output the machines came from.
    pub origin: PathBuf,
    pub hosts: Vec<String>,
}

// error.rs depends on no module of its own crate, so the typed errors of
// loading from Vagrant become crate errors here, where both are known.
impl From<VagrantError> for Error {
    fn from(e: VagrantError) -> Self {
        Error::Load(Box::new(e))
    }
}

impl From<MachinesMissing> for Error {
    fn from(e: MachinesMissing) -> Self {
        Error::Load(Box::new(e))
    }
}

/// The machines as an inventory: `all` → `ungrouped` → one host per machine.
fn build(config: &SshConfig) -> Result<Inventory, VagrantError> {
    let mut inv = Inventory { origin: config.path.clone(), ..Default::default() };
    // The shape Inventory::load gives hosts listed in no group: `all` → `ungrouped` → hosts.
    inv.groups
        .insert("all".into(), Group { name: "all".into(), children: vec!["ungrouped".into()], ..Default::default() });
    let mut ungrouped = Group { name: "ungrouped".into(), ..Default::default() };
    for m in &config.machines {
        inv.hosts.insert(m.name.clone(), Host { name: m.name.clone(), vars: config.vars(m)? });
        ungrouped.hosts.push(m.name.clone());
    }
    inv.groups.insert("ungrouped".into(), ungrouped);
    Ok(inv)
}

/// The machines of the Vagrant environment in `dir` as an inventory, from
/// `vagrant ssh-config` run there (or from the file that `RIGGER_VAGRANT_SSH_CONFIG` names).
pub fn from_dir(dir: &Path) -> Result<Inventory, VagrantError> {
    build(&vagrant::from_dir(dir)?)
}

/// Puts each Vagrant machine's login onto the inventory host of the same name.
/// The host's vars take `ansible_user`, `ansible_ssh_private_key_file`,
/// `ansible_ssh_common_args` and `ansible_become` from the machine.
/// `ansible_host` and `ansible_port` are handled differently: a host that
/// already has an `ansible_host` keeps it and its own port (22 unless the
/// inventory says otherwise). That is a private_network address, and
/// templates also use it as the host's address. A host without one gets the address Vagrant printed
/// (127.0.0.1 and a forwarded port, for VirtualBox).
/// Machines that are not in the inventory are added, ungrouped. It is an error
/// if an inventory host has no machine.
pub fn overlay(inv: &mut Inventory, machines: &Inventory) -> Result<(), MachinesMissing> {
    let missing: Vec<String> = inv.hosts.keys().filter(|h| !machines.hosts.contains_key(*h)).cloned().collect();
    if !missing.is_empty() {
        return Err(MachinesMissing { origin: machines.origin.clone(), hosts: missing });
    }
    for (name, machine) in &machines.hosts {
        match inv.hosts.get_mut(name) {
            Some(host) => {
                let mut login = machine.vars.clone();
                if host.vars.contains_key("ansible_host") {
                    login.remove("ansible_host");
                    login.remove("ansible_port");
                }
                merge_into(&mut host.vars, &login);
            }
            None => {
                inv.hosts.insert(name.clone(), machine.clone());
                let u = inv
                    .groups
                    .entry("ungrouped".into())
                    .or_insert_with(|| Group { name: "ungrouped".into(), ..Default::default() });
                u.hosts.push(name.clone());
                let all = inv
                    .groups
                    .entry("all".into())
                    .or_insert_with(|| Group { name: "all".into(), ..Default::default() });
                if !all.children.iter().any(|c| c == "ungrouped") {
                    all.children.push("ungrouped".into());
                }
            }
        }
    }
    Ok(())
}

/// Prints an inventory as Ansible YAML (`all:` / `hosts:` / `children:` / `vars:`).
/// Hosts in no group are listed under `all: hosts:`. A host's vars are printed
/// where the host first appears. `Inventory::load` reads the output back to the
/// same hosts, groups and vars.
pub fn to_yaml(inv: &Inventory) -> String {
    let mut done_hosts: Vec<String> = Vec::new();
    let mut seen_groups: Vec<String> = Vec::new();
    let all = group_yaml(inv, "all", &mut done_hosts, &mut seen_groups);
    let mut top = serde_json::Map::new();
    top.insert("all".into(), all);
    let body = serde_yaml::to_string(&Value::Object(top)).unwrap_or_default();
    format!(
        "# Generated by `rigger inventory --from-vagrant` from `vagrant ssh-config` ({}).\n\
         # Ports and keys change when machines are re-created: regenerate this file, do not edit it.\n{body}",
        inv.origin.display()
    )
}

fn group_yaml(inv: &Inventory, name: &str, done_hosts: &mut Vec<String>, seen_groups: &mut Vec<String>) -> Value {
    seen_groups.push(name.to_string());
    let mut out = serde_json::Map::new();
    let Some(g) = inv.groups.get(name) else { return Value::Object(out) };
    if !g.vars.is_empty() {
        out.insert("vars".into(), Value::Object(g.vars.clone()));
    }
    let mut hosts: Vec<String> = g.hosts.clone();
    let mut children: Vec<String> = g.children.clone();
    if name == "all" {
        // `ungrouped` is implicit in Ansible: its hosts go straight under `all`.
        if let Some(u) = inv.groups.get("ungrouped") {
            hosts.extend(u.hosts.iter().filter(|h| !hosts.contains(h)).cloned().collect::<Vec<_>>());
            children.extend(u.children.iter().filter(|c| !children.contains(c)).cloned().collect::<Vec<_>>());
        }
        children.retain(|c| c != "ungrouped");
    }
    if !hosts.is_empty() {
        let mut hm = serde_json::Map::new();
        for h in hosts {
            let vars = match inv.hosts.get(&h) {
                Some(host) if !done_hosts.contains(&h) => host.vars.clone(),
                _ => Vars::new(),
            };
            done_hosts.push(h.clone());
            hm.insert(h, if vars.is_empty() { Value::Null } else { Value::Object(vars) });
        }
        out.insert("hosts".into(), Value::Object(hm));
    }
    let mut cm = serde_json::Map::new();
    for c in children {
        if seen_groups.contains(&c) {
            // Already printed with its contents; naming it again nests it here too.
            cm.insert(c, Value::Null);
            continue;
        }
        let v = group_yaml(inv, &c, done_hosts, seen_groups);
        cm.insert(c, if v.as_object().is_some_and(|o| o.is_empty()) { Value::Null } else { v });
    }
    if !cm.is_empty() {
        out.insert("children".into(), Value::Object(cm));
    }
    Value::Object(out)
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secrets;
    use crate::session::target::Target;
    use serde_json::json;

    const MULTI: &str = include_str!("../../../tests/fixtures/vagrant/virtualbox-multi.txt");
    const QUOTED: &str = include_str!("../../../tests/fixtures/vagrant/quoted-identity.txt");
    const LIBVIRT: &str = include_str!("../../../tests/fixtures/vagrant/libvirt.txt");
    const INSECURE: &str = include_str!("../../../tests/fixtures/vagrant/insecure-keys-2.4.txt");
    const LAB: &str = include_str!("../../../tests/fixtures/vagrant/lab.txt");

    fn inv(text: &str) -> Inventory {
        inv_at(text, "ssh-config.txt")
    }

    const VAGRANT_ARGS: &str = "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no";

    #[test]
    fn virtualbox_machines_become_ungrouped_hosts_with_connection_vars() {
        let inv = inv(MULTI);
        assert_eq!(inv.hosts.keys().collect::<Vec<_>>(), ["web1", "web2", "db1"]);
        assert_eq!(inv.groups.keys().collect::<Vec<_>>(), ["all", "ungrouped"]);
        assert_eq!(inv.groups["all"].children, ["ungrouped"]);
        assert_eq!(inv.group_hosts("ungrouped"), ["web1", "web2", "db1"]);
        assert_eq!(inv.host_groups("web2"), ["all", "ungrouped"]);
        assert_eq!(
            Value::Object(inv.host_vars("web2")),
            json!({
                "ansible_host": "127.0.0.1",
                "ansible_port": 2200,
                "ansible_user": "vagrant",
                "ansible_ssh_private_key_file": "/home/alice/src/shop/.vagrant/machines/web2/virtualbox/private_key",
                "ansible_ssh_common_args": VAGRANT_ARGS,
                "ansible_become": true,
            })
        );
        let ports: Vec<Value> = inv.hosts.keys().map(|h| inv.host_vars(h)["ansible_port"].clone()).collect();
        assert_eq!(ports, [json!(2222), json!(2200), json!(2201)]);
        assert_eq!(
            inv.host_vars("db1")["ansible_ssh_private_key_file"],
            "/home/alice/src/shop/.vagrant/machines/db1/virtualbox/private_key"
        );
        assert_eq!(inv.select("web*").unwrap(), ["web1", "web2"]);
        let j = inv.to_ansible_json();
        assert_eq!(j["ungrouped"]["hosts"], json!(["web1", "web2", "db1"]));
        assert_eq!(j["all"]["children"], json!(["ungrouped"]));
    }

    #[test]
    fn yaml_output_loads_back_to_the_same_inventory() {
        let d = tempfile::tempdir().unwrap();
        for text in [MULTI, QUOTED, LIBVIRT, INSECURE, LAB] {
            let inv = inv(text);
            let yaml = to_yaml(&inv);
            assert!(yaml.starts_with("# Generated by `rigger inventory --from-vagrant`"), "{yaml}");
            assert!(yaml.contains("\nall:\n  hosts:\n"), "{yaml}");
            std::fs::write(d.path().join("vagrant.yaml"), &yaml).unwrap();
            let back = Inventory::load(&d.path().join("vagrant.yaml")).unwrap();
            assert_eq!(back.to_ansible_json(), inv.to_ansible_json(), "{yaml}");
            for h in inv.hosts.keys() {
                assert_eq!(Target::from_vars(h, &back.host_vars(h)), Target::from_vars(h, &inv.host_vars(h)));
            }
        }
    }

    #[test]
    fn yaml_output_exact() {
        let inv = inv("Host web1\n  HostName 127.0.0.1\n  User vagrant\n  Port 2222\n  UserKnownHostsFile /dev/null\n  StrictHostKeyChecking no\n  IdentityFile \"/home/a b/private_key\"\n");
        assert_eq!(
            to_yaml(&inv),
            "# Generated by `rigger inventory --from-vagrant` from `vagrant ssh-config` (ssh-config.txt).\n\
             # Ports and keys change when machines are re-created: regenerate this file, do not edit it.\n\
             all:\n  hosts:\n    web1:\n      ansible_host: 127.0.0.1\n      ansible_port: 2222\n      ansible_user: vagrant\n      \
             ansible_ssh_private_key_file: /home/a b/private_key\n      ansible_ssh_common_args: -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no\n      \
             ansible_become: true\n"
        );
    }

    /// to_yaml is general: a grouped inventory (the lab's, with group_vars) round-trips too.
    #[test]
    fn yaml_output_of_a_grouped_inventory_round_trips() {
        let lab = Inventory::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("inventory/lab")).unwrap();
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("hosts.yaml"), to_yaml(&lab)).unwrap();
        let back = Inventory::load(&d.path().join("hosts.yaml")).unwrap();
        assert_eq!(back.to_ansible_json(), lab.to_ansible_json());
    }

    /// `-i vagrant:inventory/lab`: the lab's groups and vars, Vagrant's logins,
    /// the lab addresses (on the private network) kept for connecting and for templates.
    #[test]
    fn lab_inventory_with_vagrant_logins() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("inventory/lab");
        let machines = inv(LAB);
        let inv = Inventory::with_vagrant_machines(&dir, machines, &Secrets::default()).unwrap();
        assert_eq!(inv.group_hosts("lb"), ["h1", "h2"]);
        assert_eq!(inv.group_hosts("web"), ["h3", "h4"]);
        assert_eq!(inv.group_hosts("ungrouped"), Vec::<String>::new());
        let v = inv.host_vars("h2");
        assert_eq!(v["vip"], "10.77.0.100", "group_vars are kept");
        assert_eq!(v["ansible_host"], "10.77.0.12", "the lab address stays");
        assert!(!v.contains_key("ansible_port"), "port 22 on the private network, not the NAT port");
        assert_eq!(v["ansible_user"], "vagrant");
        assert_eq!(
            v["ansible_ssh_private_key_file"],
            "/home/erin/rigger/inventory/lab/.vagrant/machines/h2/virtualbox/private_key"
        );
        let t = Target::from_vars("h2", &v).unwrap();
        assert_eq!(
            (t.address.as_str(), t.port, t.known_hosts_file.as_deref(), t.strict, t.become_),
            ("10.77.0.12", None, Some("/dev/null"), Some(false), true)
        );
    }

    #[test]
    fn overlay_adds_unknown_machines_and_refuses_hosts_without_one() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("hosts.yaml"),
            "all:\n  children:\n    web:\n      hosts:\n        web1:\n        web2: { ansible_port: 2299 }\n",
        )
        .unwrap();
        let inv = Inventory::with_vagrant_machines(d.path(), inv(MULTI), &Secrets::default()).unwrap();
        assert_eq!(inv.group_hosts("web"), ["web1", "web2"]);
        assert_eq!(inv.group_hosts("ungrouped"), ["db1"]);
        assert!(inv.groups["all"].children.contains(&"ungrouped".to_string()));
        // No ansible_host in the inventory: Vagrant's address and port are used.
        assert_eq!(inv.host_vars("web2")["ansible_port"], 2200);
        assert_eq!(inv.host_vars("web1")["ansible_host"], "127.0.0.1");

        let e = Inventory::with_vagrant_machines(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("inventory/lab"),
            inv_at(MULTI, "vm/ssh-config.txt"),
            &Secrets::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(
                "vm/ssh-config.txt: no Vagrant machine for host(s) h1, h2, h3, h4, h5, h6, h7, h8 of the inventory"
            ),
            "{e}"
        );
    }

    /// `-i vagrant:DIR` opens the encrypted vars beside the Vagrantfile with the
    /// run's vault key, and their values are hidden from output like any vault value.
    #[test]
    fn encrypted_vars_beside_the_vagrantfile_use_the_vault_key() {
        let d = tempfile::tempdir().unwrap();
        let key = d.path().join("vault.key");
        std::fs::write(&key, crate::secret::keygen().0).unwrap();
        let secrets = Secrets::new(Some(key));
        std::fs::write(d.path().join("hosts.yaml"), "all:\n  hosts:\n    web1:\n").unwrap();
        std::fs::create_dir(d.path().join("group_vars")).unwrap();
        let sealed = secrets.encrypt(b"db_password: correct-horse-battery\n").unwrap();
        std::fs::write(d.path().join("group_vars/all.yaml.age"), sealed).unwrap();
        let inv = Inventory::with_vagrant_machines(d.path(), inv(MULTI), &secrets).unwrap();
        assert_eq!(inv.host_vars("web1")["db_password"], "correct-horse-battery");
        assert!(!secrets.redact("pw correct-horse-battery").contains("correct-horse-battery"));
    }

    fn inv_at(text: &str, path: &str) -> Inventory {
        build(&vagrant::from_ssh_config(text, Path::new(path)).unwrap()).unwrap()
    }
}
