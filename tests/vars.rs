//! Vars are rendered lazily per host, as Ansible does: through the real
//! binary, on an `ansible_connection: local` host writing into the test's
//! temp dir (and `check` offline). A `{{ }}` in inventory vars, group_vars,
//! host_vars, role defaults, site vars and `-e` reaches files rendered; a
//! cycle is an error with its path; a broken var that no one reads is no
//! error; `inventory` shows vars as written, as `ansible-inventory` does.

mod common;
use common::{rigger_local as rigger, write};

/// Host `me` (local) in group `lb`, and host `peer` (never contacted: no
/// role runs on it) whose vars `me` reads; role `keepalived` writes
/// `out/keepalived.conf` from `template`.
fn project(template: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(
        p,
        "inventory/hosts.yaml",
        "all:\n  children:\n    lb:\n      hosts:\n        me: { ansible_connection: local, ansible_host: 10.77.0.11 }\n    other:\n      hosts:\n        peer: { ansible_host: 10.77.0.12, prio: \"{{ base_prio + 1 }}\" }\n",
    );
    write(
        p,
        "inventory/group_vars/all.yaml",
        &format!("out_dir: {}\nbase_prio: 100\nunicast_src_ip: \"{{{{ ansible_host }}}}\"\n", p.join("out").display()),
    );
    write(
        p,
        "inventory/group_vars/lb.yaml",
        "vrrp_ports: \"{{ base_ports }}\"\nunused_broken: \"{{ no_such_var }}\"\n",
    );
    write(
        p,
        "site.yaml",
        "- hosts: lb\n  roles: [keepalived]\n  vars: { site_note: \"site {{ vrrp_ports | length }}\" }\n",
    );
    write(
        p,
        "roles/keepalived/role.yaml",
        "defaults:\n  base_ports: [112, \"{{ 40 + 2 }}\"]\n  peers_line: \"{% for h in groups.other %}{{ hostvars[h].ansible_host }}/{{ hosts[h].prio }}{% endfor %}\"\nresources:\n  - template: { src: keepalived.conf.tera, dest: \"{{ out_dir }}/keepalived.conf\" }\n",
    );
    write(p, "roles/keepalived/templates/keepalived.conf.tera", template);
    std::fs::create_dir_all(p.join("out")).unwrap();
    d
}

const TEMPLATE: &str = "unicast_src_ip {{ unicast_src_ip }}\n{% for p in vrrp_ports %}port {{ p + 1 }}\n{% endfor %}peers {{ peers_line }}\n{{ site_note }}\n";
const RENDERED: &str = "unicast_src_ip 10.77.0.11\nport 113\nport 43\npeers 10.77.0.12/101\nsite 2\n";

#[test]
fn templated_vars_of_every_level_reach_the_file_rendered() {
    let d = project(TEMPLATE);
    let r = rigger(d.path(), &["apply", "--yes"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(std::fs::read_to_string(d.path().join("out/keepalived.conf")).unwrap(), RENDERED);
    let r = rigger(d.path(), &["check", "--out", "rendered"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let file = d.path().join("rendered/me").join(d.path().join("out/keepalived.conf").strip_prefix("/").unwrap());
    assert_eq!(std::fs::read_to_string(file).unwrap(), RENDERED);
}

#[test]
fn extra_vars_win_and_are_rendered_too() {
    let d = project(TEMPLATE);
    let r = rigger(
        d.path(),
        &["check", "--out", "rendered", "-e", "ansible_host=192.0.2.1", "-e", "base_prio={{ 7 * 6 }}"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let file = d.path().join("rendered/me").join(d.path().join("out/keepalived.conf").strip_prefix("/").unwrap());
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.starts_with("unicast_src_ip 192.0.2.1\n") && text.contains("peers 192.0.2.1/43\n"), "{text}");
}

#[test]
fn a_cycle_is_an_error_that_prints_its_path() {
    let d = project(TEMPLATE);
    write(d.path(), "inventory/host_vars/me.yaml", "unicast_src_ip: \"{{ vip }}\"\nvip: \"{{ unicast_src_ip }}\"\n");
    for cmd in [&["check"][..], &["plan"]] {
        let r = rigger(d.path(), cmd);
        assert_eq!(r.code, 1, "{cmd:?}: {}{}", r.stdout, r.stderr);
        assert_eq!(
            r.stderr,
            "error: host me: var `unicast_src_ip` (inventory/host_vars/me.yaml:1:1): cycle: unicast_src_ip → vip → unicast_src_ip\n",
            "{cmd:?}"
        );
    }
}

#[test]
fn a_read_var_with_an_undefined_name_names_the_var_and_the_name() {
    let d = project(&format!("{TEMPLATE}{{{{ unused_broken }}}}\n"));
    let r = rigger(d.path(), &["check"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.starts_with("error: host me: var `unused_broken` (inventory/group_vars/lb.yaml:2:1): Variable `no_such_var` is not defined."),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(" --> unused_broken:1:4\n"), "{}", r.stderr);
}

#[test]
fn a_var_that_reads_facts_is_known_after_the_probe() {
    let d = project("{{ name }}\n");
    write(d.path(), "inventory/host_vars/me.yaml", "name: \"{{ facts.hostname }}-x\"\n");
    let r = rigger(d.path(), &["check"]);
    assert_eq!(r.code, 0, "check takes it as known later: {}{}", r.stdout, r.stderr);
    let r = rigger(d.path(), &["apply", "--yes"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let text = std::fs::read_to_string(d.path().join("out/keepalived.conf")).unwrap();
    assert!(text.ends_with("-x\n") && !text.contains("{{"), "{text}");
}

#[test]
fn inventory_shows_vars_as_written() {
    let d = project(TEMPLATE);
    let r = rigger(d.path(), &["inventory", "--host", "me"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["unicast_src_ip"], "{{ ansible_host }}");
    let r = rigger(d.path(), &["inventory", "--list"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["_meta"]["hostvars"]["peer"]["prio"], "{{ base_prio + 1 }}");
}

#[test]
fn a_var_built_from_a_secret_is_sealed() {
    let d = project("url {{ db_url }}\nshout {{ loud }}\n");
    let p = d.path();
    std::fs::create_dir_all(p.join("inventory/group_vars/all")).unwrap();
    std::fs::rename(p.join("inventory/group_vars/all.yaml"), p.join("inventory/group_vars/all/base.yaml")).unwrap();
    write(
        p,
        "inventory/group_vars/lb.yaml",
        "db_url: \"postgres://app:{{ vault_db_password }}@db/app\"\nloud: \"{{ vault_db_password | upper }}\"\n",
    );
    write(p, "inventory/group_vars/all/secrets.yaml", "vault_db_password: hunter2-sesame\n");
    assert_eq!(rigger(p, &["vault", "keygen", "vault.key"]).code, 0);
    let e = rigger(p, &["vault", "encrypt", "inventory/group_vars/all/secrets.yaml"]);
    assert_eq!(e.code, 0, "{}", e.stderr);
    for args in [&["plan", "-v"][..], &["plan", "--json"], &["apply", "--yes", "-v"]] {
        let r = rigger(p, args);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(r.code == 0 || r.code == 2, "{args:?}: {all}");
        for leak in ["hunter2-sesame", "HUNTER2-SESAME", "sesame", "SESAME"] {
            assert!(!all.contains(leak), "{args:?} shows {leak}: {all}");
        }
        if args[0] == "plan" && args[1] == "-v" {
            assert!(all.contains("sensitive"), "{all}");
        }
    }
    let text = std::fs::read_to_string(p.join("out/keepalived.conf")).unwrap();
    assert_eq!(text, "url postgres://app:hunter2-sesame@db/app\nshout HUNTER2-SESAME\n");
}
