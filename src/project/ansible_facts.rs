//! Ansible's names for the facts rigger gathers: `ansible_facts` (and
//! `hostvars[h].ansible_facts`) as real roles' templates read them
//! (`ansible_facts.os_family == 'Debian'`, `ansible_facts.default_ipv4.address`),
//! made from rigger's own `facts`, so an imported `.j2` renders unchanged.

use serde_json::{json, Map, Value};

/// What `ansible_facts` holds for a host whose rigger facts are `facts`.
/// Only the facts rigger gathers, under Ansible's names and spellings
/// (`Debian`, not `debian`); a template that reads another is an undefined
/// name, as always.
pub fn view(facts: &Value) -> Value {
    let f = |k: &str| facts.get(k).cloned().unwrap_or(Value::Null);
    let os = |k: &str| facts.get("os").and_then(|o| o.get(k)).and_then(Value::as_str).unwrap_or("");
    let version = os("version");
    let mut out = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            out.insert(k.into(), v);
        }
    };
    put("hostname", f("hostname"));
    put("nodename", f("hostname"));
    put("fqdn", f("fqdn"));
    put("architecture", f("arch"));
    put("kernel", f("kernel"));
    put("system", json!("Linux"));
    put("os_family", text(family(os("family"), os("id"))));
    put("distribution", text(&capitalise(os("id"))));
    put("distribution_version", text(version));
    put("distribution_major_version", text(version.split('.').next().unwrap_or("")));
    put("distribution_release", text(os("codename")));
    put("processor_vcpus", f("cpus"));
    put("processor_nproc", f("cpus"));
    put("memtotal_mb", f("memory_mb"));
    put("default_ipv4", f("default_ipv4"));
    put("all_ipv4_addresses", f("all_ipv4_addresses"));
    put("user_id", f("user"));
    if let Some(ifaces) = facts.get("interfaces").and_then(Value::as_object) {
        put("interfaces", json!(ifaces.keys().collect::<Vec<_>>()));
    }
    Value::Object(out)
}

fn text(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        json!(s)
    }
}

/// Ansible's `os_family`: `Debian` for Debian, Ubuntu and their kin.
fn family(family: &str, id: &str) -> &'static str {
    match (family, id) {
        ("debian", _) | (_, "debian" | "ubuntu" | "raspbian" | "linuxmint") => "Debian",
        ("rhel", _) | (_, "rhel" | "centos" | "rocky" | "almalinux" | "fedora") => "RedHat",
        _ => "",
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_facts_read_as_ansible_names_them() {
        let facts = json!({
            "hostname": "web1", "fqdn": "web1.example", "arch": "x86_64", "cpus": 2, "memory_mb": 1024,
            "os": { "id": "debian", "family": "debian", "version": "12", "codename": "bookworm" },
            "default_ipv4": { "address": "10.0.0.5", "interface": "eth0" },
            "interfaces": { "lo": {}, "eth0": {} }
        });
        let a = view(&facts);
        assert_eq!(a["os_family"], "Debian");
        assert_eq!(a["distribution"], "Debian");
        assert_eq!(a["distribution_major_version"], "12");
        assert_eq!(a["distribution_release"], "bookworm");
        assert_eq!(a["processor_vcpus"], 2);
        assert_eq!(a["memtotal_mb"], 1024);
        assert_eq!(a["default_ipv4"]["address"], "10.0.0.5");
        assert_eq!(a["interfaces"], json!(["lo", "eth0"]));
        assert!(a.get("kernel").is_none(), "a fact rigger did not gather is left out: {a}");
    }
}
