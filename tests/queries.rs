//! `query:` through the real binary on one `ansible_connection: local` host:
//! the command runs in the probe (one round trip for a plan), its stdout and
//! rc reach a file's content, a template and a `when:`, and a second apply
//! changes nothing.

use std::path::Path;
use std::process::{Command, Output};

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn rigger(root: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(args)
        .current_dir(root)
        .env("NO_COLOR", "1")
        .env("RIGGER_HOST_STATE_DIR", root.join("host-state"))
        .env("RIGGER_STATE_DIR", root.join(".state"))
        .env_remove("RIGGER_INVENTORY")
        .output()
        .unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), printed)
}

#[test]
fn a_querys_output_reaches_fields_templates_and_when() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let d = root.display();
    write(&root.join("inventory/hosts.yaml"), "all:\n  hosts:\n    me: { ansible_connection: local, who: world }\n");
    write(&root.join("site.yaml"), "- hosts: all\n  roles: [app]\n");
    write(&root.join("seen"), "v1\n");
    write(
        &root.join("roles/app/role.yaml"),
        &format!(
            "resources:\n  - query: {{ name: version, cmd: 'cat {d}/seen' }}\n  - query: {{ name: hello, cmd: 'echo hello {{{{ who }}}}; echo bye; exit 3' }}\n  - file: {{ path: {d}/out, content: \"version {{{{ query.version.stdout }}}} rc {{{{ query.hello.rc }}}}\\n\" }}\n  - template: {{ src: lines.tera, dest: {d}/lines }}\n    when: \"query.hello.rc == 3\"\n  - file: {{ path: {d}/never, content: x }}\n    when: \"query.version.rc != 0\"\n"
        ),
    );
    write(&root.join("roles/app/templates/lines.tera"), "{% for l in query.hello.lines %}[{{ l }}]\n{% endfor %}");
    let (code, out) = rigger(root, &["check"]);
    assert_eq!(code, Some(0), "check renders with stand-ins: {out}");
    let (code, out) = rigger(root, &["plan"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("+version v1 rc 3"), "{out}");
    assert!(out.contains("round_trips=1"), "queries ride the one probe: {out}");
    let (code, out) = rigger(root, &["apply", "--yes"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(std::fs::read_to_string(root.join("out")).unwrap(), "version v1 rc 3\n");
    assert_eq!(std::fs::read_to_string(root.join("lines")).unwrap(), "[hello world]\n[bye]\n");
    assert!(!root.join("never").exists());
    let (code, out) = rigger(root, &["apply", "--yes"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("changed=0"), "{out}");
    // What the query reads moved: the file follows.
    write(&root.join("seen"), "v2\n");
    let (code, out) = rigger(root, &["apply", "--yes"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(std::fs::read_to_string(root.join("out")).unwrap(), "version v2 rc 3\n");
}
