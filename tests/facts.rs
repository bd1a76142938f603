//! Facts are gathered only when something in the run can read them: a
//! project that never names `facts` costs each host no `hostname -f`, `ip`
//! or `id`. Uses an `ansible_connection: local` host and a `hostname` on PATH
//! that logs each call before running the real one.

use std::path::Path;
use std::process::Command;

fn w(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A project whose one file has `content`; returns (exit code, output, calls of `hostname`).
fn apply(content: &str, extra_var: &str) -> (i32, String, String, tempfile::TempDir) {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let real = Command::new("sh").args(["-c", "command -v hostname"]).output().unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
    assert!(!real.is_empty(), "this test needs hostname(1)");
    w(
        dir,
        "bin/hostname",
        &format!("#!/bin/sh\necho \"hostname $*\" >> {}\nexec {real} \"$@\"\n", dir.join("calls").display()),
    );
    Command::new("chmod").args(["+x", dir.join("bin/hostname").to_str().unwrap()]).status().unwrap();
    w(
        dir,
        "inventory/hosts.yaml",
        &format!("all:\n  vars: {{ {extra_var} }}\n  hosts:\n    me: {{ ansible_connection: local }}\n"),
    );
    w(dir, "site.yaml", "- hosts: all\n  roles: [conf]\n");
    w(
        dir,
        "roles/conf/role.yaml",
        &format!("resources:\n  - template: {{ src: out.tera, dest: {} }}\n", dir.join("out/out.conf").display()),
    );
    w(dir, "roles/conf/templates/out.tera", content);
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let path = format!("{}:{}", dir.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let o = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(["apply", "--yes"])
        .current_dir(dir)
        .env("RIGGER_HOST_STATE_DIR", dir.join("host-state"))
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let calls = std::fs::read_to_string(dir.join("calls")).unwrap_or_default();
    (o.status.code().unwrap(), out, calls, d)
}

#[test]
fn a_project_that_never_names_facts_runs_no_fact_programs() {
    // `artifacts` contains "facts" but is another name.
    let (code, out, calls, d) = apply("port={{ port }} dir={{ artifacts }}\n", "port: 80, artifacts: /srv/a");
    assert_eq!(code, 0, "{out}");
    assert_eq!(std::fs::read_to_string(d.path().join("out/out.conf")).unwrap(), "port=80 dir=/srv/a\n");
    assert_eq!(calls, "", "no fact was needed, so `hostname -f` must not run");
}

#[test]
fn a_template_that_reads_facts_gets_them() {
    let (code, out, calls, d) = apply("fqdn={{ facts.fqdn }}\n", "port: 80");
    assert_eq!(code, 0, "{out}");
    assert!(calls.contains("hostname -f"), "{calls}");
    let fqdn = Command::new("hostname").arg("-f").output().unwrap();
    let fqdn = String::from_utf8_lossy(&fqdn.stdout).trim().to_string();
    let fqdn = if fqdn.is_empty() {
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string()
    } else {
        fqdn
    };
    assert_eq!(std::fs::read_to_string(d.path().join("out/out.conf")).unwrap(), format!("fqdn={fqdn}\n"));
}

#[test]
fn a_var_whose_value_reads_facts_gets_them() {
    let (code, out, calls, _d) = apply("name={{ name }}\n", "name: \"{{ facts.hostname }}-x\"");
    assert_eq!(code, 0, "{out}");
    assert!(calls.contains("hostname -f"), "a var's value is a template too: {calls}");
}
