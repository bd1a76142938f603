//! `plan --out` then `apply plan.json`: applies exactly the saved steps, or
//! refuses when a host's observed state changed in between (Terraform-style).
//! Uses an `ansible_connection: local` host writing into a temp dir.

use std::path::Path;
use std::process::Command;

fn setup(dir: &Path) {
    let w = |rel: &str, text: String| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w("inventory/hosts.yaml", "all:\n  hosts:\n    me: { ansible_connection: local }\n".into());
    w("site.yaml", "- hosts: all\n  roles: [conf]\n".into());
    w(
        "roles/conf/role.yaml",
        format!(
            "defaults: {{ v: one }}\nresources:\n  - file: {{ path: {}, content: \"v={{{{ v }}}}\\n\" }}\n",
            dir.join("out/app.conf").display()
        ),
    );
    std::fs::create_dir_all(dir.join("out")).unwrap();
}

fn rigger(dir: &Path, args: &[&str]) -> (i32, String) {
    // The plan key lives in the test's own folder, not the user's home.
    let o = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("RIGGER_STATE_DIR", dir.join(".state"))
        // The local host's run lock in the test's own folder, not /var/lib/rigger.
        .env("RIGGER_HOST_STATE_DIR", dir.join("host-state"))
        .output()
        .unwrap();
    (o.status.code().unwrap(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

#[test]
fn saved_plan_applies_exactly_or_refuses_when_stale() {
    let d = tempfile::tempdir().unwrap();
    setup(d.path());
    let conf = d.path().join("out/app.conf");
    let (code, out) = rigger(d.path(), &["plan", "--out", "plan.json", "-e", "v=two"]);
    assert_eq!(code, 2, "{out}");
    let saved = std::fs::read_to_string(d.path().join("plan.json")).unwrap();
    assert!(saved.contains("\"kind\": \"rigger-plan\"") && saved.contains("base64 -d"), "the plan carries its steps");

    // The saved plan carries its own vars: applying it writes v=two, not the default.
    let (code, out) = rigger(d.path(), &["apply", "plan.json", "--yes"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "v=two\n");

    // A new plan, then someone edits the file: the plan is stale and nothing is applied.
    std::fs::write(&conf, "v=zero\n").unwrap();
    let (code, _) = rigger(d.path(), &["plan", "--out", "plan.json", "-e", "v=three"]);
    assert_eq!(code, 2);
    std::fs::write(&conf, "v=edited by hand\n").unwrap();
    let (code, out) = rigger(d.path(), &["apply", "plan.json", "--yes"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the saved plan is stale")
            && out.contains("me: the observed state changed since the plan was made"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "v=edited by hand\n", "nothing applied");
}

#[test]
fn apply_without_yes_and_no_terminal_refuses_but_still_reports_json() {
    let d = tempfile::tempdir().unwrap();
    setup(d.path());
    let o = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(["apply", "--json"])
        .current_dir(d.path())
        .env("RIGGER_HOST_STATE_DIR", d.path().join("host-state"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["failed"], true);
    assert!(doc["warnings"][0].as_str().unwrap().contains("pass --yes"), "{doc}");
    assert!(!d.path().join("out/app.conf").exists(), "nothing applied");
}
