//! The Vagrantfile rigger writes for a scenario run with the vagrant driver:
//! one machine per host, from the local box `rigger/debian12` (see
//! `vagrant_box.sh`), on vagrant-libvirt under plain QEMU (TCG: this works
//! where nested KVM does not), with no synced folder.

/// The box every machine starts from; `vagrant_box.sh` builds and adds it.
pub const BOX: &str = "rigger/debian12";

/// Per machine: enough for apt and a service or two.
const MEMORY_MB: u32 = 1024;

/// The Vagrantfile for `hosts` (names checked by the scenario model:
/// a-z, 0-9 and -, so they need no quoting in Ruby). `prefix` makes the
/// libvirt domain names unique to this run.
pub fn render(scenario_id: &str, prefix: &str, hosts: &[&str]) -> String {
    let mut out = format!(
        "# Written by `rigger test --driver vagrant` for scenario {scenario_id}.\n\
         # `vagrant ssh NAME` reaches a machine; `vagrant destroy -f` removes them all.\n\
         Vagrant.configure(\"2\") do |config|\n\
         \x20 config.vm.box = \"{BOX}\"\n\
         \x20 # Emulated (TCG) boots take longer than Vagrant's default allows.\n\
         \x20 config.vm.boot_timeout = 900\n\
         \x20 config.vm.synced_folder \".\", \"/vagrant\", disabled: true\n\
         \x20 config.vm.provider :libvirt do |lv|\n\
         \x20   lv.driver = \"qemu\"\n\
         \x20   lv.memory = {MEMORY_MB}\n\
         \x20   lv.cpus = 1\n\
         \x20   lv.default_prefix = \"{prefix}\"\n\
         \x20 end\n"
    );
    for h in hosts {
        // The hostname by a provisioner: Vagrant's own Debian hostname
        // capability restarts networking, which this box does not need.
        out.push_str(&format!(
            "  config.vm.define \"{h}\" do |m|\n\
             \x20   m.vm.provision \"shell\", inline: \"hostname {h} && echo {h} > /etc/hostname && echo '127.0.1.1 {h}' >> /etc/hosts\"\n\
             \x20 end\n"
        ));
    }
    out.push_str("end\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_machine_per_host_on_qemu_from_the_local_box() {
        let v = render("web:default", "rigger-abc-", &["web1", "db-2"]);
        assert!(v.contains("config.vm.box = \"rigger/debian12\""), "{v}");
        assert!(v.contains("lv.driver = \"qemu\"") && v.contains("lv.default_prefix = \"rigger-abc-\""), "{v}");
        assert!(v.contains("config.vm.define \"web1\"") && v.contains("config.vm.define \"db-2\""), "{v}");
        assert!(v.contains("hostname db-2 && echo db-2 > /etc/hostname"), "{v}");
        assert_eq!(v.matches(" do |").count(), 4, "{v}");
        assert_eq!(v.lines().filter(|l| l.trim() == "end").count(), 4, "{v}");
    }
}
