//! `rigger test --driver vagrant` for real: the web role's scenario on a
//! Debian 12 VM that `vagrant up` boots (vagrant-libvirt, QEMU TCG) from the
//! box rigger builds once. Needs root, Vagrant, libvirt and a few minutes,
//! hence `#[ignore]`: run with
//!     sudo cargo test --test lab_vagrant -- --ignored --nocapture
//! (`bash src/scenario/driver/vagrant_box.sh install` installs what it needs).
//! The one test that runs always: without Vagrant the driver says how to get it.

mod common;
use common::{figure, rigger_in, root, write};
use std::process::Command;

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// libvirt domains whose name starts with `prefix`, running or not.
fn domains(prefix: &str) -> Vec<String> {
    let out = Command::new("virsh").args(["-c", "qemu:///system", "list", "--all", "--name"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with(prefix)).map(str::to_string).collect()
}

/// The web role's scenario passes on a real VM, every phase reported, and
/// the VM and its Vagrant folder are gone afterwards.
#[test]
#[ignore]
fn web_scenario_passes_on_a_vagrant_vm() {
    let d = tempfile::tempdir().unwrap();
    let junit = d.path().join("junit.xml");
    let run = rigger_in(
        &root(),
        &["test", "web:default", "--driver", "vagrant", "--json", "--junit", junit.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let sc = &doc["scenarios"][0];
    let phases = sc["phases"].as_array().unwrap();
    let names: Vec<&str> = phases.iter().map(|p| p["phase"].as_str().unwrap()).collect();
    assert_eq!(names, ["create", "converge", "idempotence", "verify", "destroy"]);
    assert!(phases.iter().all(|p| p["status"] == "passed"), "{}", run.stdout);
    // The report names the Vagrant folder; it and its machine are gone.
    let folder = std::path::Path::new(sc["lab"].as_str().unwrap());
    assert!(folder.starts_with(std::env::temp_dir()), "{}", run.stdout);
    assert!(!folder.exists(), "{} is left behind", folder.display());
    let prefix = format!("{}_", folder.file_name().unwrap().to_string_lossy().replace('.', "-"));
    assert_eq!(domains(&prefix), Vec::<String>::new());
    let secs = |p: &str| phases.iter().find(|x| x["phase"] == p).unwrap()["seconds"].as_f64().unwrap();
    figure(&format!(
        "rigger test web --driver vagrant: {:.1} s (create {:.1} s, converge {:.1} s)",
        doc["seconds"].as_f64().unwrap(),
        secs("create"),
        secs("converge")
    ));
}

/// Two VMs: each host's `vars` beat the scenario's, `groups` bind roles,
/// and each machine carries its scenario name as its hostname.
#[test]
#[ignore]
fn host_vars_and_groups_work_on_two_vms() {
    let d = tempfile::tempdir().unwrap();
    let (p, web) = (d.path(), root().join("roles/web"));
    std::fs::create_dir_all(p.join("roles/web")).unwrap();
    std::os::unix::fs::symlink(root().join("templates"), p.join("templates")).unwrap();
    std::os::unix::fs::symlink(web.join("role.yaml"), p.join("roles/web/role.yaml")).unwrap();
    std::os::unix::fs::symlink(web.join("templates"), p.join("roles/web/templates")).unwrap();
    write(
        p,
        "roles/web/tests/two.yaml",
        r#"hosts:
  - { name: web1, groups: [front], vars: { web_title: first box } }
  - { name: web2, groups: [back] }
driver: vagrant
vars: { web_title: shared title }
site:
  - { hosts: front, roles: [web] }
  - { hosts: back, roles: [web] }
verify:
  - http: { host: web1, url: "http://127.0.0.1/", status: 200, contains: "<title>first box</title>" }
  - http: { host: web2, url: "http://127.0.0.1/", status: 200, contains: "<title>shared title</title>" }
  - command: { host: web2, cmd: "hostname", stdout: "web2" }
"#,
    );
    let run = rigger_in(p, &["test", "web:two", "--json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    figure(&format!("rigger test (two VMs, driver: vagrant): {:.1} s", doc["seconds"].as_f64().unwrap()));
}

/// A scenario the box cannot serve fails at create, before any VM boots,
/// and says why; the run exits 1.
#[test]
#[ignore]
fn an_image_without_a_box_fails_at_create() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "roles/noop/role.yaml", "description: nothing\nresources: []\n");
    write(d.path(), "roles/noop/tests/default.yaml", "hosts:\n  - { name: n1 }\nimage: debian13\ndriver: vagrant\n");
    let run = rigger_in(d.path(), &["test", "noop"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("host n1: the vagrant driver has a box for debian12 only, not debian13"),
        "{}",
        run.stderr
    );
}

/// Without Vagrant on PATH, create fails with how to install it, and no
/// host is made. (Root only: `rigger test` refuses anyone else first.)
#[test]
fn without_vagrant_the_driver_says_how_to_install_it() {
    if !is_root() {
        let run = rigger_in(&root(), &["test", "web:default", "--driver", "vagrant"]);
        assert!(run.stderr.contains("must run as root"), "{}", run.all());
        return;
    }
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(["test", "web:default", "--driver", "vagrant"])
        .current_dir(root())
        .env("PATH", empty.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Vagrant is not installed (no `vagrant` on PATH)"), "{stderr}");
    assert!(stderr.contains("apt-get install vagrant vagrant-libvirt"), "{stderr}");
    assert!(stderr.contains("create FAILED") && stderr.contains("converge skipped"), "{stderr}");
}
