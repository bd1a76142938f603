//! Secrets: an age-encrypted vars file opened with a key file; the secret is
//! written where it belongs (on the host) and appears in no output of any
//! command — diffs, recap, --json, progress, errors, inventory dumps.
//! Uses an `ansible_connection: local` host writing into a temp dir.

use std::path::Path;
use std::process::Command;

const SECRET: &str = "s3cr3t-Pa55word";

fn rigger(dir: &Path, args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("RIGGER_HOST_STATE_DIR", dir.join("host-state"))
        .env("RIGGER_VAULT_KEY_FILE", dir.join("vault.key"))
        .output()
        .unwrap();
    (o.status.code().unwrap(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

#[test]
fn a_secret_appears_in_no_output() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let w = |rel: &str, text: &str| {
        std::fs::create_dir_all(p.join(rel).parent().unwrap()).unwrap();
        std::fs::write(p.join(rel), text).unwrap();
    };
    w("inventory/hosts.yaml", "all:\n  hosts:\n    me: { ansible_connection: local }\n");
    w("inventory/group_vars/all/plain.yaml", &format!("out_dir: {}\n", p.join("host").display()));
    w("inventory/group_vars/all/secrets.yaml", &format!("db_password: {SECRET}\n"));
    w("site.yaml", "- hosts: all\n  roles: [app]\n");
    w("roles/app/role.yaml", "resources:\n  - template: { src: app.conf.tera, dest: \"{{ out_dir }}/app.conf\" }\n  - command: { cmd: \"echo connecting with {{ db_password }}\", creates: \"{{ out_dir }}/app.conf\" }\n");
    w("roles/app/templates/app.conf.tera", "user = app\npassword = {{ db_password }}\n");
    std::fs::create_dir_all(p.join("host")).unwrap();

    let mut outputs = Vec::new();
    let (code, out) = rigger(p, &["vault", "keygen", "vault.key"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = rigger(p, &["vault", "encrypt", "inventory/group_vars/all/secrets.yaml"]);
    assert_eq!(code, 0, "{out}");
    assert!(!p.join("inventory/group_vars/all/secrets.yaml").exists(), "the plain file is removed");
    let cipher = std::fs::read_to_string(p.join("inventory/group_vars/all/secrets.yaml.age")).unwrap();
    assert!(cipher.starts_with("-----BEGIN AGE ENCRYPTED FILE-----") && !cipher.contains(SECRET));

    for args in [
        &["check"][..],
        &["plan"],
        &["plan", "--json"],
        &["plan", "-v"],
        &["apply", "--yes", "--json"],
        &["apply", "--yes", "-v"],
        &["inventory", "--list"],
        &["inventory", "--host", "me"],
        &["facts", "me", "--offline"],
    ] {
        let (code, out) = rigger(p, args);
        assert!(code == 0 || code == 2, "{args:?}: {out}");
        outputs.push((args.join(" "), out));
    }
    // A failing step whose output echoes the secret.
    w(
        "roles/app/role.yaml",
        "resources:\n  - command: { cmd: \"echo 'bad password {{ db_password }}' >&2; exit 1\" }\n",
    );
    let (code, out) = rigger(p, &["apply", "--yes"]);
    assert_eq!(code, 1, "{out}");
    outputs.push(("apply (failing)".into(), out.clone()));
    let (_, json) = rigger(p, &["apply", "--yes", "--json", "--junit", "run.xml", "--report", "run.html"]);
    outputs.push(("apply --json (failing)".into(), json));
    // What runs leave behind: the JUnit and HTML files and the recorded runs (issue 21).
    for f in ["run.xml", "run.html"] {
        outputs.push((format!("apply --junit/--report: {f}"), std::fs::read_to_string(p.join(f)).unwrap()));
    }
    let runs = p.join("inventory/.rigger/runs");
    let recorded: Vec<_> = std::fs::read_dir(&runs).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(recorded.len() >= 4, "every plan and apply is recorded: {recorded:?}");
    for r in recorded {
        outputs.push((format!("runs: {}", r.display()), std::fs::read_to_string(&r).unwrap()));
    }
    let (_, shown) = rigger(p, &["runs", "show", "last", "--report", "again.html"]);
    outputs.push(("runs show last".into(), shown));
    outputs.push(("runs show --report".into(), std::fs::read_to_string(p.join("again.html")).unwrap()));

    for (what, out) in &outputs {
        assert!(!out.contains(SECRET), "`rigger {what}` leaked the secret:\n{out}");
    }
    assert!(outputs[1].1.contains("(sensitive: 2 lines changed, sha256 "), "the diff is sealed:\n{}", outputs[1].1);
    // The step depends on the secret: its output is not shown, in any form.
    assert!(out.contains("exit 1: (output sealed: the step depends on a secret)"), "{out}");
    // On the host, the real value.
    assert_eq!(std::fs::read_to_string(p.join("host/app.conf")).unwrap(), format!("user = app\npassword = {SECRET}\n"));
    // Without the key: a clear error, no content.
    let o = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(["check"])
        .current_dir(p)
        .env_remove("RIGGER_VAULT_KEY_FILE")
        .env_remove("RIGGER_VAULT_PASSWORD")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("needs a key: pass --vault-key FILE"), "{err}");
}
