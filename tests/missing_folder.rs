//! A write into a folder that is not on the host is a planned failure
//! ("parent /x does not exist"), unless something planned before it on the
//! host may make it: then it plans as a create and the apply makes both.
//! Uses an `ansible_connection: local` host writing into a temp dir.

use std::path::Path;
use std::process::Command;

fn setup(dir: &Path, resources: &str) {
    let w = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w("inventory/hosts.yaml", "all:\n  hosts:\n    me: { ansible_connection: local }\n");
    w("site.yaml", "- hosts: all\n  roles: [conf]\n");
    let text = resources.replace("OUT", &dir.join("out").display().to_string());
    w("roles/conf/role.yaml", &format!("resources:\n{text}"));
    std::fs::create_dir_all(dir.join("out")).unwrap();
}

fn rigger(dir: &Path, args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("RIGGER_STATE_DIR", dir.join(".state"))
        .env("RIGGER_HOST_STATE_DIR", dir.join("host-state"))
        .output()
        .unwrap();
    (o.status.code().unwrap(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

#[test]
fn a_write_into_a_missing_folder_fails_in_the_plan_and_apply_changes_nothing() {
    let d = tempfile::tempdir().unwrap();
    setup(
        d.path(),
        "  - file: { path: OUT/first.conf, content: \"a\\n\" }\n  - file: { path: OUT/nope/app.conf, content: \"x\\n\" }\n",
    );
    let missing = d.path().join("out/nope");
    let (code, out) = rigger(d.path(), &["plan"]);
    assert_eq!(code, 1, "{out}");
    let why = format!("parent {} does not exist, and nothing planned before it makes it", missing.display());
    assert!(out.contains(&why), "{out}");
    assert!(!out.contains("mktemp") && !out.contains(".rigger-"), "no internal temp-file detail: {out}");
    let (code, out) = rigger(d.path(), &["plan", "--json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\"status\": \"failed\""), "{out}");
    let (code, out) = rigger(d.path(), &["apply", "--yes"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&why), "{out}");
    assert!(!d.path().join("out/first.conf").exists(), "a unit that plans a failure runs nothing");
    assert!(!missing.exists());
}

#[test]
fn a_parent_that_is_a_file_is_named_as_such() {
    let d = tempfile::tempdir().unwrap();
    setup(d.path(), "  - file: { path: OUT/plain/app.conf, content: \"x\\n\" }\n");
    std::fs::write(d.path().join("out/plain"), "a file\n").unwrap();
    let (code, out) = rigger(d.path(), &["plan"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("/out/plain is not a directory"), "{out}");
}

#[test]
fn a_folder_made_by_an_earlier_resource_plans_as_a_create_and_converges() {
    let d = tempfile::tempdir().unwrap();
    setup(
        d.path(),
        "  - directory: { path: OUT/made/deeper }\n  - file: { path: OUT/made/app.conf, content: \"x\\n\" }\n",
    );
    let (code, out) = rigger(d.path(), &["plan"]);
    assert_eq!(code, 2, "{out}");
    let (code, out) = rigger(d.path(), &["apply", "--yes"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(std::fs::read_to_string(d.path().join("out/made/app.conf")).unwrap(), "x\n");
    let (code, out) = rigger(d.path(), &["plan"]);
    assert_eq!(code, 0, "plan after apply is in sync: {out}");
}
