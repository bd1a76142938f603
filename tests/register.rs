//! `register:` through the real binary on one `ansible_connection: local`
//! host: `plan` shows what reads a result as conditional, apply runs the
//! command first and plans the rest with its real rc and stdout, a second
//! apply changes nothing; a command that will not run has a known result;
//! mistakes are located bad input; a saved plan refuses what it cannot hold.

use std::path::Path;
use std::process::{Command, Output};

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn rigger(root: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(args)
        .current_dir(root)
        .env("NO_COLOR", "1")
        .env("RIGGER_HOST_STATE_DIR", root.join("host-state"))
        .env("RIGGER_STATE_DIR", root.join(".state"))
        .env_remove("RIGGER_INVENTORY")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into());
    (out.status.code(), stdout, stderr)
}

/// A project whose role `app` has `resources` (`D` is the project folder).
fn project(resources: &str) -> tempfile::TempDir {
    project_as("app", resources)
}

/// `project` with another role name (a role with handlers journals them in
/// the host's state folder, `host-state/me/pending/ROLE` here).
fn project_as(role: &str, resources: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("inventory/hosts.yaml"), "all:\n  hosts:\n    me: { ansible_connection: local, greeting: hi }\n");
    write(&root.join("site.yaml"), &format!("- hosts: all\n  roles: [{role}]\n"));
    let d = root.display().to_string();
    write(&root.join(format!("roles/{role}/role.yaml")), &format!("resources:\n{}", resources.replace('D', &d)));
    dir
}

/// A migration that runs once (it leaves a marker), prints two lines, and
/// the resources that read its result.
const MIGRATE: &str = r#"  - file: { path: D/before, content: "first\n" }
  - command: { cmd: "echo run >> D/runs; echo migrated 3 tables; echo done; touch D/marker", creates: D/marker, register: migrated }
  - file: { path: D/changed, content: "{{ migrated.stdout }}\n" }
    when: migrated.changed
  - template: { src: report.tera, dest: D/report }
  - file: { path: D/always, content: "rc {{ migrated.rc }}\n" }
  - file: { path: D/plain, content: "{{ greeting }}\n" }
"#;

#[test]
fn plan_shows_what_reads_a_result_as_conditional_and_apply_uses_the_real_one() {
    let dir = project(MIGRATE);
    let root = dir.path();
    write(&root.join("roles/app/templates/report.tera"), "changed={{ migrated.changed }}\n{{ migrated.stdout }}\n");
    let (code, out, err) = rigger(root, &["check"]);
    assert_eq!(code, Some(0), "check renders with stand-ins: {out}{err}");

    let (code, out, err) = rigger(root, &["plan"]);
    assert_eq!(code, Some(2), "{out}{err}");
    let d = root.display();
    for conditional in [format!("file {d}/changed"), format!("template {d}/report"), format!("file {d}/always")] {
        assert!(out.contains(&format!("? {conditional}: conditional (known at apply)")), "{conditional}: {out}");
    }
    assert!(out.contains(&format!("+ file {d}/plain")), "what does not read it plans as usual: {out}");
    assert!(out.contains("conditional=3"), "the recap counts them: {out}");
    let (_, json, _) = rigger(root, &["plan", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let statuses: Vec<&str> = v["hosts"][0]["units"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["changed", "changed", "conditional", "conditional", "conditional", "changed"]);
    assert_eq!(v["hosts"][0]["counts"]["conditional"], 3);
    assert!(!root.join("runs").exists(), "plan runs nothing");

    let (code, out, err) = rigger(root, &["apply", "--yes"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(std::fs::read_to_string(root.join("changed")).unwrap(), "migrated 3 tables\ndone\n");
    assert_eq!(std::fs::read_to_string(root.join("report")).unwrap(), "changed=true\nmigrated 3 tables\ndone\n");
    assert_eq!(std::fs::read_to_string(root.join("always")).unwrap(), "rc 0\n");
    assert_eq!(std::fs::read_to_string(root.join("runs")).unwrap(), "run\n", "the command ran once");
    assert!(out.contains("round_trips=4"), "probe; apply up to the command; probe and apply the rest: {out}");

    // The marker is there: the command will not run, so its result is
    // known (not changed, no output) and nothing is conditional; the
    // template follows it, the file under `when:` is skipped and kept.
    let (code, out, err) = rigger(root, &["plan"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(!out.contains("conditional"), "{out}");
    assert!(out.contains("+changed=false"), "{out}");
    assert!(out.contains("round_trips=1"), "{out}");
    let (code, out, err) = rigger(root, &["apply", "--yes"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(std::fs::read_to_string(root.join("report")).unwrap(), "changed=false\n\n");
    assert_eq!(std::fs::read_to_string(root.join("changed")).unwrap(), "migrated 3 tables\ndone\n");
    assert_eq!(std::fs::read_to_string(root.join("runs")).unwrap(), "run\n", "the command ran once");
    let (code, out, err) = rigger(root, &["apply", "--yes"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("changed=0"), "{out}");
    let (code, out, err) = rigger(root, &["plan"]);
    assert_eq!(code, Some(0), "in sync: {out}{err}");
}

#[test]
fn a_second_apply_changes_nothing_when_the_dependents_agree() {
    let dir = project(
        r#"  - command: { cmd: "touch D/marker; echo made", creates: D/marker, register: made }
  - file: { path: D/flag, content: "made\n" }
    when: made.changed
  - file: { path: D/rc, content: "{{ made.rc }}\n" }
"#,
    );
    let root = dir.path();
    let (code, out, err) = rigger(root, &["apply", "--yes"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(std::fs::read_to_string(root.join("flag")).unwrap(), "made\n", "when: made.changed held");
    let (code, out, err) = rigger(root, &["apply", "--yes"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("changed=0"), "{out}");
    let (code, out, err) = rigger(root, &["plan"]);
    assert_eq!(code, Some(0), "in sync: {out}{err}");
    assert!(out.contains("round_trips=1"), "a command that will not run needs no stage: {out}");
}

#[test]
fn a_failing_command_fails_the_unit_and_runs_nothing_after_it() {
    let dir = project(
        r#"  - command: { cmd: "echo partial; echo broken >&2; exit 4", register: r }
  - file: { path: D/after, content: "{{ r.stdout }}" }
"#,
    );
    let root = dir.path();
    let (code, out, err) = rigger(root, &["apply", "--yes", "--json"]);
    assert_eq!(code, Some(1), "{out}{err}");
    let all = format!("{out}{err}");
    assert!(all.contains("exit 4") && all.contains("broken") && all.contains("partial"), "stderr and stdout: {all}");
    assert!(all.contains("not run: an earlier step failed"), "{all}");
    assert!(!root.join("after").exists());
}

#[test]
fn a_saved_plan_refuses_a_conditional_resource() {
    let dir = project(
        r#"  - command: { cmd: "echo x", register: r }
  - file: { path: D/after, content: "{{ r.stdout }}" }
"#,
    );
    let root = dir.path();
    let (code, out, err) = rigger(root, &["plan", "--out", "saved.json"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("cannot save the plan") && err.contains(&format!("app@me: file {}/after", root.display())),
        "{err}"
    );
    assert!(!root.join("saved.json").exists());
}

#[test]
fn mistakes_with_register_are_located() {
    let cases = [
        ("  - file: { path: /tmp/x, content: x, register: r }\n", "unknown field `register`"),
        ("  - command: { cmd: x }\n    register: r\n", "`register:` is a key of `command:`"),
        ("  - file: { path: /tmp/x, content: \"{{ r.stdout }}\" }\n  - command: { cmd: x, register: r }\n", "`r`"),
        ("  - command: { cmd: x, register: query }\n", "register `query`"),
        ("  - command: { cmd: x, register: greeting }\n", "register `greeting`: this host already has a var"),
        ("  - command: { cmd: x, register: a-b }\n", "must be an identifier"),
        ("  - command: { cmd: x, register: r }\n  - command: { cmd: y, register: r }\n", "another command"),
        ("  - command: { cmd: x, register: r }\n    loop: [1, 2]\n", "cannot register"),
        (
            "  - block:\n      loop: [1]\n      resources:\n        - command: { cmd: x, register: r }\n",
            "cannot register",
        ),
    ];
    for (resources, want) in cases {
        let dir = project(resources);
        let (code, out, err) = rigger(dir.path(), &["check"]);
        assert_eq!(code, Some(1), "{resources}: {out}{err}");
        assert!(err.contains(want), "{resources}: {err}");
        assert!(err.contains("role.yaml:"), "located: {err}");
    }
}

/// A command that depends on a secret registers a secret stdout: what
/// reads it shows `(sensitive)`, in every output of the apply.
#[test]
fn a_registered_stdout_of_a_secret_command_is_sealed() {
    let dir = project(
        r#"  - command: { cmd: "printf %s {{ db_password }} | rev", creates: D/never-there, register: tok }
  - file: { path: D/token, content: "{{ tok.stdout }}\n" }
"#,
    );
    let root = dir.path();
    write(&root.join("inventory/group_vars/all/secrets.yaml"), "db_password: hunter2-very-secret\n");
    let vault = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_rigger"))
            .args(args)
            .current_dir(root)
            .env("RIGGER_VAULT_KEY_FILE", root.join("vault.key"))
            .env("RIGGER_STATE_DIR", root.join(".state"))
            .env("RIGGER_HOST_STATE_DIR", root.join("host-state"))
            .env_remove("RIGGER_INVENTORY")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code(), text)
    };
    assert_eq!(vault(&["vault", "keygen", "vault.key"]).0, Some(0));
    assert_eq!(vault(&["vault", "encrypt", "inventory/group_vars/all/secrets.yaml"]).0, Some(0));
    // The stdout is the secret reversed: no redaction of the secret's own text finds it.
    let (code, out) = vault(&["apply", "--yes", "-v", "--json"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(std::fs::read_to_string(root.join("token")).unwrap(), "terces-yrev-2retnuh\n");
    assert!(!out.contains("hunter2") && !out.contains("2retnuh"), "{out}");
    assert!(out.contains("sensitive"), "the file reading it is sealed: {out}");
}

/// A block whose `when:` reads a result waits with all it holds; a second
/// command reads the first's result; handlers notified before and after
/// the registering command run once, at the unit's end.
#[test]
fn blocks_chains_and_handlers_follow_the_real_result() {
    let role = format!("register{}", std::process::id());
    let dir = project_as(
        &role,
        r#"  - command: { cmd: "echo one; touch D/m1", creates: D/m1, register: first, notify: log }
  - command: { cmd: "echo got {{ first.stdout }} >> D/chain; echo two", unless: "test -s D/chain", register: second }
  - block:
      when: second.changed
      notify: log
      resources:
        - file: { path: D/second, content: "{{ second.stdout }} after {{ first.stdout }}\n" }
  - file: { path: D/never, content: x }
    when: first.rc != 0
handlers:
  log: { command: { cmd: "echo handled >> D/handled" } }
"#,
    );
    let root = dir.path();
    let d = root.display();
    let (code, out, err) = rigger(root, &["plan"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.contains(&format!("? file {d}/second: conditional (known at apply)")), "{out}");
    assert!(out.contains(&format!("? file {d}/never: conditional (known at apply)")), "{out}");
    assert!(out.contains("? command echo got"), "the second command waits for the first: {out}");
    let (code, out, err) = rigger(root, &["apply", "--yes"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(std::fs::read_to_string(root.join("chain")).unwrap(), "got one\n");
    assert_eq!(std::fs::read_to_string(root.join("second")).unwrap(), "two after one\n");
    assert!(!root.join("never").exists());
    assert_eq!(std::fs::read_to_string(root.join("handled")).unwrap(), "handled\n", "once, at the end");
    assert!(root.join("host-state/me/pending").is_dir(), "the journal lives in the host's state folder");
    assert!(!root.join(format!("host-state/me/pending/{role}")).exists(), "the journal is cleared");
    // Both commands are done: their results are known, the block is skipped, nothing changes.
    let (code, out, err) = rigger(root, &["plan"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!out.contains("conditional"), "{out}");
}
