//! One rule for which dialect evaluates an expression: the file it is
//! written in (issue 17). A role's `dialect: jinja` makes every expression
//! of its files Jinja2 (fields, `when:`, `loop:`, included files, handlers,
//! defaults); inventory vars and `-e` are Jinja2 whoever reads them; a Tera
//! role's defaults stay Tera when a jinja role reads them. Through the real
//! binary against an `ansible_connection: local` host writing into the
//! test's temp dir.

mod common;
use common::{rigger_local as rigger, write, Run};

use serde_json::Value;
use std::path::Path;

/// One local host with `vars` (YAML lines under `all: vars:`, so written
/// in the inventory) and the site binding `roles` to it; roles are written
/// by each test.
fn project(vars: &str, roles: &str) -> tempfile::TempDir {
    let d = common::local_project(vars);
    let p = d.path();
    write(p, "site.yaml", &format!("- hosts: all\n  roles: [{roles}]\n"));
    d
}

fn read(p: &Path, f: &str) -> String {
    std::fs::read_to_string(p.join("out").join(f)).unwrap_or_else(|e| panic!("{f}: {e}"))
}

fn apply(p: &Path) -> Run {
    let r = rigger(p, &["apply", "--yes"]);
    assert_eq!(r.code, 0, "apply: {}\n{}", r.stdout, r.stderr);
    r
}

/// A second apply changes nothing.
fn converged(p: &Path) {
    let r = rigger(p, &["plan"]);
    assert_eq!(r.code, 0, "a second plan still has changes:\n{}{}", r.stdout, r.stderr);
}

/// `plan --json`: the first unit's resources as (label, status, message).
fn planned(p: &Path) -> Vec<(String, String, String)> {
    let r = rigger(p, &["plan", "--json"]);
    assert!(r.code == 0 || r.code == 2, "plan: {}\n{}", r.code, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    let res = v["hosts"][0]["units"][0]["resources"].as_array().unwrap().clone();
    let s = |r: &Value, k: &str| r[k].as_str().unwrap_or("").to_string();
    res.iter().map(|r| (s(r, "resource"), s(r, "status"), s(r, "message"))).collect()
}

const JINJA_ROLE: &str = r#"dialect: jinja
defaults:
  greeting: "{{ motd | default('hello') }}"
  shout: "{{ greeting | upper }}"
resources:
  - name: "greeting {{ 'file' if enabled | bool else 'none' }}"
    file: { path: "{{ out }}/greeting", content: "{{ shout }} {{ extra | default('-') }}\n", notify: record }
  - file: { path: "{{ out }}/u-{{ item.0 }}", content: "{{ item.1 }}\n" }
    loop: "{{ users.items() | list }}"
    when: item.1 is defined and enabled | bool and item.0 != 'carol'
  - file: { path: "{{ out }}/never", content: x }
    when: missing is defined
  - block:
      when: "'alice' in users and (enabled | bool)"
      resources:
        - file: { path: "{{ out }}/first", content: "{{ (users | dictsort | first)[0] }}\n" }
  - include: tasks/more.yaml
    loop: "{{ users | list }}"
    loop_var: who
    when: who is not match('c')
handlers:
  record:
    command: { cmd: "echo {{ 'on' if enabled | bool else 'off' }} >> {{ out | quote }}/handler" }
    when: "record_changes | default(true) | bool"
"#;

#[test]
fn a_jinja_role_evaluates_every_expression_in_jinja() {
    let d = project("enabled: \"yes\"\nusers: { alice: 1, bob: 2, carol: 3 }", "app");
    let p = d.path();
    write(p, "roles/app/role.yaml", JINJA_ROLE);
    write(
        p,
        "roles/app/tasks/more.yaml",
        "- file: { path: \"{{ out }}/more-{{ who }}\", content: \"{{ who | length }}\\n\" }\n",
    );
    let out = p.join("out").display().to_string();
    let plan = planned(p);
    let shown: Vec<(&str, &str)> = plan.iter().map(|(l, s, _)| (l.as_str(), s.as_str())).collect();
    let want = [
        ("greeting file".to_string(), "changed"),
        (format!("file {out}/u-alice[0]"), "changed"),
        (format!("file {out}/u-bob[1]"), "changed"),
        (format!("file {out}/u-carol[2]"), "skipped"),
        (format!("file {out}/never"), "skipped"),
        (format!("file {out}/first"), "changed"),
        (format!("file {out}/more-alice[0]"), "changed"),
        (format!("file {out}/more-bob[1]"), "changed"),
        (format!("file {out}/more-carol[2]"), "skipped"),
    ];
    let want: Vec<(&str, &str)> = want.iter().map(|(l, s)| (l.as_str(), *s)).collect();
    assert_eq!(shown, want);
    apply(p);
    assert_eq!(read(p, "greeting"), "HELLO -\n", "defaults rendered in Jinja, `default('…')` taken");
    assert_eq!(read(p, "u-bob"), "2\n");
    assert_eq!(read(p, "first"), "alice\n");
    assert_eq!(read(p, "more-alice"), "5\n");
    assert_eq!(read(p, "handler"), "on\n", "the handler's when: and cmd are Jinja too");
    converged(p);
}

#[test]
fn an_inventory_var_in_jinja_is_read_by_a_tera_role_and_a_tera_template() {
    let d = project(
        "port: \"{{ base_port | default(8080) }}\"\nnames: \"{{ ['web', 'db'] | map('upper') | list }}\"\non: \"{{ 'yes' | bool }}\"",
        "app",
    );
    let p = d.path();
    write(p, "inventory/group_vars/all.yaml", "label: \"{{ names | join('+') }}-{{ greet }}\"\n");
    write(
        p,
        "roles/app/role.yaml",
        r#"resources:
  - file: { path: "{{ out }}/field", content: "{{ port + 1 }} {{ names | join(sep=',') }} {{ label }}\n" }
    when: on and port > 80
  - template: { src: app.conf.tera, dest: "{{ out }}/app.conf" }
"#,
    );
    write(p, "roles/app/templates/app.conf.tera", "{% for n in names %}{{ n | lower }}:{{ port }}\n{% endfor %}");
    // `-e` is Jinja2 too, as Ansible's.
    let r = rigger(p, &["apply", "--yes", "-e", "greet={{ nobody | default('hi') | title }}"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(read(p, "field"), "8081 WEB,DB WEB+DB-Hi\n", "a whole Jinja expression keeps its type");
    assert_eq!(read(p, "app.conf"), "web:8080\ndb:8080\n");
}

#[test]
fn a_tera_default_is_read_by_a_jinja_role() {
    let d = project("ports: [80, 443]", "base, app");
    let p = d.path();
    write(
        p,
        "roles/base/role.yaml",
        "defaults:\n  listen: \"{{ ports | join(sep=',') }}\"\n  conf: \"{{ out ~ '/app.conf' }}\"\n",
    );
    write(
        p,
        "roles/app/role.yaml",
        "dialect: jinja\nafter: [base]\nresources:\n  - file: { path: \"{{ conf }}\", content: \"listen {{ listen | default('none') }}\\n\" }\n",
    );
    apply(p);
    assert_eq!(read(p, "app.conf"), "listen 80,443\n");
    converged(p);
}

#[test]
fn a_jinja_role_keeps_secrets_sealed() {
    let d = project("", "app");
    let p = d.path();
    write(
        p,
        "roles/app/role.yaml",
        "dialect: jinja\nresources:\n  - name: \"pw {{ db_password | regex_replace('s3', '') }}\"\n    file: { path: \"{{ out }}/pw\", content: \"{{ db_password | upper }}\\n\" }\n    when: db_password | length > 3\n",
    );
    write(p, "inventory/group_vars/all/secrets.yaml", "db_password: s3cretGamma7\n");
    assert_eq!(rigger(p, &["vault", "keygen", "vault.key"]).code, 0);
    let e = rigger(p, &["vault", "encrypt", "inventory/group_vars/all/secrets.yaml"]);
    assert_eq!(e.code, 0, "{}", e.stderr);
    for args in [&["plan", "-v"][..], &["plan", "--json"], &["apply", "--yes", "-v"]] {
        let r = rigger(p, args);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(r.code == 0 || r.code == 2, "{args:?}: {all}");
        for leak in ["s3cretGamma7", "S3CRETGAMMA7", "cretGamma7"] {
            assert!(!all.contains(leak), "{args:?} shows {leak}:\n{all}");
        }
        assert!(all.contains("sensitive"), "{args:?}: {all}");
    }
    assert_eq!(read(p, "pw"), "S3CRETGAMMA7\n");
}

#[test]
fn an_undefined_name_is_an_error_in_a_jinja_role() {
    let d = project("", "app");
    let p = d.path();
    write(
        p,
        "roles/app/role.yaml",
        "dialect: jinja\nresources:\n  - file: { path: \"{{ out }}/x\", content: x }\n    when: enabeld | bool\n",
    );
    let r = rigger(p, &["check"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("roles/app/role.yaml:3:5"), "{}", r.stderr);
    assert!(r.stderr.contains("Variable `enabeld` is not defined"), "{}", r.stderr);
}

#[test]
fn rigger_doc_states_the_rule() {
    let d = tempfile::tempdir().unwrap();
    let r = rigger(d.path(), &["doc"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = r.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for said in
        ["`dialect: tera | jinja`", "(default tera)", "group_vars, host_vars and `-e`: Jinja2", "site.yaml: Tera"]
    {
        assert!(text.contains(said), "rigger doc does not say {said}:\n{}", r.stdout);
    }
}
