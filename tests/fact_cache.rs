//! Facts offline (issue 19): `plan` keeps each host's facts beside the
//! inventory, and `check` renders fact-using templates and fields from that
//! cache, or from a `facts:` stub in host_vars, and names the hosts it could
//! not check fully. Uses an `ansible_connection: local` host.

mod common;
use common::{rigger_local as rigger, write};

fn project(template: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let dest = p.join("out.txt");
    write(p, "inventory/hosts.yaml", "all:\n  hosts:\n    me: { ansible_connection: local }\n");
    write(p, "site.yaml", "- hosts: all\n  roles: [a]\n");
    write(p, "roles/a/role.yaml", &format!("resources:\n  - template: {{ src: t.tera, dest: {} }}\n", dest.display()));
    write(p, "roles/a/templates/t.tera", template);
    d
}

#[test]
fn check_names_a_host_whose_facts_it_lacks_and_renders_from_the_cache_after_a_plan() {
    let d = project("cpus {{ facts.cpus }}\n");
    let p = d.path();
    let r = rigger(p, &["check", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["unchecked_hosts"], serde_json::json!(["me"]), "{v}");
    assert!(rigger(p, &["check"]).all().contains("not fully checked"), "the human output says it too");

    assert_eq!(rigger(p, &["plan"]).code, 2);
    let cached: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("inventory/.rigger/facts/me.json")).unwrap()).unwrap();
    assert!(cached["cpus"].as_u64().unwrap() >= 1, "{cached}");

    let r = rigger(p, &["check", "--out", "rendered"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.all().contains("every template rendered"), "{}", r.all());
    let dest = p.join("out.txt").display().to_string();
    let rendered = std::fs::read_to_string(p.join("rendered/me").join(dest.trim_start_matches('/'))).unwrap();
    assert_eq!(rendered, format!("cpus {}\n", cached["cpus"]));
}

#[test]
fn a_facts_stub_in_host_vars_lets_check_catch_a_typo_in_a_fact_name() {
    let d = project("host {{ facts.hostnme }}\n");
    let p = d.path();
    write(p, "inventory/host_vars/me.yaml", "facts: { hostname: web1, cpus: 2 }\n");
    let r = rigger(p, &["check"]);
    assert_eq!(r.code, 1, "a typo in a fact's name is caught offline: {}", r.stderr);
    assert!(r.stderr.contains("hostnme") && r.stderr.contains("did you mean `hostname`"), "{}", r.stderr);
    write(p, "roles/a/templates/t.tera", "host {{ facts.hostname }}\n");
    let r = rigger(p, &["check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.all().contains("every template rendered"), "{}", r.all());
}

#[test]
fn rigger_facts_keeps_what_it_probed_too() {
    let d = project("cpus {{ facts.cpus }}\n");
    let p = d.path();
    assert_eq!(rigger(p, &["facts", "me"]).code, 0);
    assert!(p.join("inventory/.rigger/facts/me.json").is_file());
    let v: serde_json::Value = serde_json::from_str(&rigger(p, &["check", "--json"]).stdout).unwrap();
    assert_eq!(v["unchecked_hosts"], serde_json::json!([]), "{v}");
}

/// An imported `.j2` reads Ansible's names: `ansible_facts.os_family` is made
/// from rigger's facts (here a stub), so the template renders unchanged.
#[test]
fn ansible_facts_are_made_from_rigger_facts() {
    let d = project("");
    let p = d.path();
    let dest = p.join("out.txt");
    write(p, "roles/a/role.yaml", &format!("resources:\n  - template: {{ src: t.j2, dest: {} }}\n", dest.display()));
    write(
        p,
        "roles/a/templates/t.j2",
        "{% if ansible_facts.os_family == 'Debian' %}apt on {{ ansible_facts.distribution_release }}{% endif %}\n",
    );
    write(
        p,
        "inventory/host_vars/me.yaml",
        "facts: { os: { id: debian, family: debian, version: '12', codename: bookworm } }\n",
    );
    let r = rigger(p, &["check", "--out", "rendered"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let rendered =
        std::fs::read_to_string(p.join("rendered/me").join(dest.display().to_string().trim_start_matches('/')))
            .unwrap();
    assert_eq!(rendered, "apt on bookworm\n");
}
