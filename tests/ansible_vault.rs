//! ansible-vault: group_vars encrypted whole by Ansible's own `ansible-vault`
//! (formats 1.1 and 1.2 with a vault id) and inline `!vault` values open
//! with `--vault-password-file` / `RIGGER_VAULT_PASSWORD_FILE`, reach the
//! host, and appear in no output. A wrong password or a broken decrypted
//! file is an error that names the file (and line) and quotes nothing.
//! Fixtures: tests/fixtures/ansible_vault (made by its `make.sh`).
//! Uses an `ansible_connection: local` host writing into a temp dir.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every plain text in the fixtures (see make.sh).
const PLAIN: [&str; 5] = ["s3cret-db-pass", "prod-api-token-value", "inline-app-secret", "inline-prod-key", "alice"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ansible_vault")
}

fn rigger(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> (i32, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rigger"));
    c.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("RIGGER_HOST_STATE_DIR", dir.join("host-state"))
        .env("RIGGER_STATE_DIR", dir.join("state"))
        .env_remove("RIGGER_INVENTORY")
        .env_remove("RIGGER_VAULT_PASSWORD_FILE")
        .env_remove("RIGGER_VAULT_KEY_FILE")
        .env_remove("RIGGER_VAULT_PASSWORD");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    (o.status.code().unwrap(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

/// A project whose group_vars/all holds the three fixtures as Ansible left them.
fn project(p: &Path) {
    let w = |rel: &str, text: &str| {
        std::fs::create_dir_all(p.join(rel).parent().unwrap()).unwrap();
        std::fs::write(p.join(rel), text).unwrap();
    };
    let copy = |name: &str, rel: &str| {
        std::fs::create_dir_all(p.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(fixtures().join(name), p.join(rel)).unwrap();
    };
    w("inventory/hosts.yaml", "all:\n  hosts:\n    me: { ansible_connection: local }\n");
    w("inventory/group_vars/all/plain.yaml", &format!("out_dir: {}\n", p.join("host").display()));
    copy("vault-1.1.yml", "inventory/group_vars/all/vault.yml");
    copy("vault-1.2-prod.yml", "inventory/group_vars/all/prod.yml");
    copy("inline.yml", "inventory/group_vars/all/inline.yml");
    w("site.yaml", "- hosts: all\n  roles: [app]\n");
    w("roles/app/role.yaml", "resources:\n  - template: { src: app.conf.tera, dest: \"{{ out_dir }}/app.conf\" }\n");
    w(
        "roles/app/templates/app.conf.tera",
        "db = {{ db_password }}:{{ db_port }}\napi = {{ api_token }}\napp = {{ app_user }}/{{ app_password }}\nprod = {{ prod_key }}\nfirst = {{ users[0] }}\n",
    );
    std::fs::create_dir_all(p.join("host")).unwrap();
}

#[test]
fn vaulted_files_and_inline_values_open_and_stay_sealed() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    project(p);
    let (pw, prod) = (fixtures().join("password"), fixtures().join("prod-password"));
    let prod_flag = format!("prod@{}", prod.display());
    let flags = ["--vault-password-file", pw.to_str().unwrap(), "--vault-password-file", &prod_flag];
    let mut outputs = Vec::new();
    for args in [
        &["check"][..],
        &["plan"],
        &["plan", "--json"],
        &["inventory", "--list"],
        &["inventory", "--host", "me"],
        &["apply", "--yes", "--json"],
    ] {
        let (code, out) = rigger(p, &[args, &flags[..]].concat(), &[]);
        assert!(code == 0 || code == 2, "{args:?}: {out}");
        outputs.push((args.join(" "), out));
    }
    for (what, out) in &outputs {
        for plain in PLAIN {
            assert!(!out.contains(plain), "`rigger {what}` shows `{plain}`:\n{out}");
        }
    }
    assert!(outputs[1].1.contains("(sensitive: "), "the diff is sealed:\n{}", outputs[1].1);
    let host = serde_json::from_str::<serde_json::Value>(&outputs[4].1).unwrap();
    assert_eq!(host["app_user"], "deploy", "plain values stay plain");
    assert_eq!(host["app_password"], "«secret»");
    // On the host, the real values: each vault opened with its password.
    let written = std::fs::read_to_string(p.join("host/app.conf")).unwrap();
    assert_eq!(
        written,
        "db = s3cret-db-pass:5432\napi = prod-api-token-value\napp = deploy/inline-app-secret\nprod = inline-prod-key\nfirst = alice\n"
    );
    // The environment's password file works alike; the vault id is a hint, not a must (as in Ansible).
    let (code, out) =
        rigger(p, &["plan", "--vault-password-file", pw.to_str().unwrap(), "--vault-id", prod.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "in sync after apply: {out}");
    let (code, out) =
        rigger(p, &["inventory", "--host", "me", "--vault-id", &prod_flag], &[("RIGGER_VAULT_PASSWORD_FILE", &pw)]);
    assert_eq!(code, 1, "a flag replaces the environment's file: {out}");
}

#[test]
fn a_wrong_or_missing_password_names_the_file_and_the_line() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    project(p);
    let wrong = p.join("wrong");
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    let (code, out) = rigger(p, &["plan"], &[("RIGGER_VAULT_PASSWORD_FILE", &wrong)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("group_vars/all/inline.yml:2: `app_password`: no vault password given opens it"), "{out}");
    std::fs::remove_file(p.join("inventory/group_vars/all/inline.yml")).unwrap();
    let (code, out) = rigger(p, &["inventory", "--list"], &[("RIGGER_VAULT_PASSWORD_FILE", &wrong)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("group_vars/all/prod.yml: no vault password given opens it (vault id `prod`)"), "{out}");
    let (code, out) = rigger(p, &["inventory", "--list"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("encrypted with ansible-vault (vault id `prod`): pass --vault-password-file"), "{out}");
}

#[test]
fn a_broken_decrypted_file_is_located_but_not_quoted() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    project(p);
    std::fs::copy(fixtures().join("broken.yml"), p.join("inventory/group_vars/all/vault.yml")).unwrap();
    std::fs::remove_file(p.join("inventory/group_vars/all/inline.yml")).unwrap();
    std::fs::remove_file(p.join("inventory/group_vars/all/prod.yml")).unwrap();
    let (code, out) =
        rigger(p, &["inventory", "--list", "--json"], &[("RIGGER_VAULT_PASSWORD_FILE", &fixtures().join("password"))]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("group_vars/all/vault.yml:2:"), "{out}");
    assert!(out.contains("(the decrypted text is not shown)"), "{out}");
    for plain in ["unclosed-secret-text", "fine-value", "good", "bad"] {
        assert!(!out.contains(plain), "quotes `{plain}`:\n{out}");
    }
}

#[test]
fn vault_import_re_encrypts_to_age() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::copy(fixtures().join("vault-1.2-prod.yml"), p.join("prod.yml")).unwrap();
    let key = p.join("vault.key");
    let (code, out) = rigger(p, &["vault", "keygen", "vault.key"], &[]);
    assert_eq!(code, 0, "{out}");
    let prod_flag = format!("prod@{}", fixtures().join("prod-password").display());
    let (code, out) = rigger(
        p,
        &["vault", "import", "prod.yml", "--vault-password-file", &prod_flag],
        &[("RIGGER_VAULT_KEY_FILE", &key)],
    );
    assert_eq!(code, 0, "{out}");
    assert!(!p.join("prod.yml").exists(), "the ansible-vault file is replaced");
    let age = std::fs::read_to_string(p.join("prod.yml.age")).unwrap();
    assert!(age.starts_with("-----BEGIN AGE ENCRYPTED FILE-----") && !age.contains("prod-api-token-value"));
    let (code, out) = rigger(p, &["vault", "decrypt", "prod.yml.age"], &[("RIGGER_VAULT_KEY_FILE", &key)]);
    assert_eq!((code, out.as_str()), (0, "api_token: prod-api-token-value\n"));
    let (code, out) = rigger(p, &["vault", "import", "prod.yml.age"], &[("RIGGER_VAULT_KEY_FILE", &key)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not encrypted by ansible-vault"), "{out}");
}

/// `!vault` values in the inventory file itself, a become password among
/// them: it passes the load check (it is a secret), and is sealed.
#[test]
fn inline_values_in_the_inventory_file_open_too() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    project(p);
    let inline = std::fs::read_to_string(fixtures().join("inline.yml")).unwrap();
    let indented: String = inline.lines().skip(1).map(|l| format!("      {l}\n")).collect();
    let become_ = indented.replace("prod_key:", "ansible_become_password:");
    std::fs::remove_file(p.join("inventory/group_vars/all/inline.yml")).unwrap();
    std::fs::write(
        p.join("inventory/hosts.yaml"),
        format!("all:\n  hosts:\n    me:\n      ansible_connection: local\n      app_user: deploy\n{indented}  vars:\n    x: 1\n  children:\n    g:\n      hosts:\n        other:\n          ansible_connection: local\n{}", become_.replace("      ", "          ")),
    )
    .unwrap();
    let pw = fixtures().join("password");
    let prod_flag = format!("prod@{}", fixtures().join("prod-password").display());
    let flags = ["--vault-password-file", pw.to_str().unwrap(), "--vault-password-file", &prod_flag];
    let (code, out) = rigger(p, &[&["inventory", "--host", "other"][..], &flags].concat(), &[]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((v["ansible_become_password"].as_str(), v["x"].as_i64()), (Some("«secret»"), Some(1)), "{out}");
    // A become password from a vault passes the load check (one in clear does not: tests/bad_input/125-…).
    let checked = ["check", "--limit", "other", "-e", "app_user=u", "-e", "prod_key=k"];
    let (code, out) = rigger(p, &[&checked[..], &flags].concat(), &[]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = rigger(p, &[&["apply", "--yes", "--limit", "me"][..], &flags].concat(), &[]);
    assert_eq!(code, 0, "{out}");
    for plain in PLAIN {
        assert!(!out.contains(plain), "shows `{plain}`:\n{out}");
    }
    let written = std::fs::read_to_string(p.join("host/app.conf")).unwrap();
    assert!(written.contains("app = deploy/inline-app-secret\nprod = inline-prod-key\n"), "{written}");
    let (code, out) = rigger(p, &["check", "--vault-password-file", pw.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("no vault password given opens it (vault id `prod`)") && out.contains("hosts.yaml:13:1"),
        "{out}"
    );
}
