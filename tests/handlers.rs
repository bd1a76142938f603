//! Handlers across roles through the real binary, on one
//! `ansible_connection: local` host: a role's change notifies a handler of
//! another role on the same host; when two roles notify it, it runs once,
//! after both changes; a second apply changes nothing.
//!
//! The pending journal lives in the host's state folder, `STATE/pending/ROLE`,
//! here the test's own (`RIGGER_HOST_STATE_DIR`/me).

use std::path::Path;
use std::process::{Command, Output};

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// stdout then stderr.
fn printed(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

struct Project {
    dir: tempfile::TempDir,
    /// Suffix of every role name: unique to this test process and test.
    id: String,
}

impl Project {
    /// Roles `cfg` and `web` write a file each and notify `log reload`,
    /// which role `svc` defines: it logs both files' contents.
    fn new(test: &str, site_roles: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let id = format!("{test}{}", std::process::id());
        let d = dir.path().display().to_string();
        let root = dir.path();
        write(&root.join("inventory/hosts.yaml"), "all:\n  hosts:\n    me: { ansible_connection: local }\n");
        let roles: Vec<String> = site_roles.iter().map(|r| format!("{r}{id}")).collect();
        write(&root.join("site.yaml"), &format!("- hosts: all\n  roles: [{}]\n", roles.join(", ")));
        for (role, var) in [("cfg", "a"), ("web", "b")] {
            write(
                &root.join(format!("roles/{role}{id}/role.yaml")),
                &format!(
                    "defaults: {{ {var}: \"1\" }}\nresources:\n  - file: {{ path: {d}/{var}.conf, content: \"{{{{ {var} }}}}\\n\", notify: log reload }}\n"
                ),
            );
        }
        write(
            &root.join(format!("roles/svc{id}/role.yaml")),
            &format!(
                "resources:\n  - directory: {{ path: {d}/svc }}\nhandlers:\n  log reload: {{ command: {{ cmd: 'echo reload $(cat {d}/a.conf {d}/b.conf 2>/dev/null) >> {d}/log' }} }}\n"
            ),
        );
        Project { dir, id }
    }

    fn rigger(&self, args: &[&str]) -> Output {
        let root = self.dir.path();
        Command::new(env!("CARGO_BIN_EXE_rigger"))
            .args(args)
            .current_dir(root)
            .env("NO_COLOR", "1")
            .env("RIGGER_HOST_STATE_DIR", root.join("host-state"))
            .env("RIGGER_STATE_DIR", root.join(".state"))
            .env_remove("RIGGER_INVENTORY")
            .output()
            .unwrap()
    }

    /// `apply --yes` must succeed; what it printed.
    fn apply(&self, extra: &[&str]) -> String {
        let mut args = vec!["apply", "--yes"];
        args.extend_from_slice(extra);
        let out = self.rigger(&args);
        let printed = printed(&out);
        assert_eq!(out.status.code(), Some(0), "{printed}");
        printed
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    fn pending(&self, role: &str) -> bool {
        self.dir.path().join(format!("host-state/me/pending/{role}{}", self.id)).exists()
    }
}

#[test]
fn a_change_in_one_role_notifies_another_roles_handler() {
    let p = Project::new("one", &["cfg", "svc"]);
    p.apply(&[]);
    assert_eq!(p.log(), "reload 1\n", "ran once, after cfg's change");
    assert!(!p.pending("svc"), "journal cleared");
    let again = p.apply(&[]);
    assert!(again.contains("changed=0"), "{again}");
    assert_eq!(p.log(), "reload 1\n", "not run when nothing changed");
}

#[test]
fn two_roles_notifying_one_handler_run_it_once_after_both() {
    let p = Project::new("two", &["cfg", "web", "svc"]);
    let first = p.apply(&[]);
    assert_eq!(p.log(), "reload 1 1\n", "once, after both files were written:\n{first}");
    assert_eq!(first.matches("handler: log reload (role svc").count(), 1, "{first}");
    let again = p.apply(&[]);
    assert!(again.contains("changed=0"), "{again}");
    // Only one notifier changes: the handler runs once more.
    p.apply(&["-e", "b=2"]);
    assert_eq!(p.log(), "reload 1 1\nreload 1 2\n");
    assert!(!p.pending("svc"));
}

#[test]
fn plan_shows_the_shared_handler_once_where_it_runs() {
    let p = Project::new("plan", &["cfg", "web", "svc"]);
    let out = p.rigger(&["plan"]);
    let err = printed(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("handler: log reload (role svc").count(), 1, "{err}");
    assert_eq!(p.log(), "", "plan runs nothing");
}

/// A failure after the change and before the shared handler leaves it
/// journaled in its role's pending file; the next run owes it and runs it.
#[test]
fn a_failure_before_the_shared_handler_leaves_it_pending_for_the_next_run() {
    let p = Project::new("fail", &["cfg", "svc"]);
    let (root, id) = (p.dir.path(), &p.id);
    let d = root.display();
    // cfg runs last (it requires svc), writes its file, then fails while `fail` exists.
    write(
        &root.join(format!("roles/cfg{id}/role.yaml")),
        &format!(
            "requires: [svc{id}]\nresources:\n  - file: {{ path: {d}/a.conf, content: \"1\\n\", notify: log reload }}\n  - command: {{ cmd: 'test ! -e {d}/fail && touch {d}/ok', creates: {d}/ok }}\n"
        ),
    );
    write(&root.join("fail"), "");
    let out = p.rigger(&["apply", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    assert_eq!(p.log(), "", "the handler did not run after the failure");
    let journal = root.join(format!("host-state/me/pending/svc{id}"));
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), "log reload\n");
    std::fs::remove_file(root.join("fail")).unwrap();
    p.apply(&[]);
    assert_eq!(p.log(), "reload 1\n", "owed, and run once");
    assert!(!p.pending("svc"));
}

/// A saved plan runs the shared handler once too, wherever the units' order
/// puts the last of them at apply.
#[test]
fn a_saved_plan_runs_the_shared_handler_once() {
    let p = Project::new("saved", &["cfg", "web", "svc"]);
    let out = p.rigger(&["plan", "--out", "plan.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", printed(&out));
    let out = p.rigger(&["apply", "--yes", "plan.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    assert_eq!(p.log(), "reload 1 1\n");
    assert!(!p.pending("svc"));
}
