//! Saved plans are sensitive and sealed: `plan --out` writes them 0600 with an
//! HMAC seal under the user's plan key; `apply PLAN` and `show PLAN` refuse any
//! edit before using the file; `show` prints the changes, never a script or a
//! secret. Uses an `ansible_connection: local` host writing into a temp dir.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const SECRET: &str = "s3cr3t-Pa55word";
const TLS_KEY: &str = "PRIVATE-KEY-material-42";

/// A role with a template that uses a vault secret and a `secret: true` file.
fn setup(p: &Path) {
    let w = |rel: &str, text: &str| {
        std::fs::create_dir_all(p.join(rel).parent().unwrap()).unwrap();
        std::fs::write(p.join(rel), text).unwrap();
    };
    w("inventory/hosts.yaml", "all:\n  hosts:\n    me: { ansible_connection: local }\n");
    w("inventory/group_vars/all/plain.yaml", &format!("out_dir: {}\n", p.join("host").display()));
    w("inventory/group_vars/all/secrets.yaml", &format!("db_password: {SECRET}\n"));
    w("site.yaml", "- hosts: all\n  roles: [app]\n");
    w(
        "roles/app/role.yaml",
        &format!(
            "resources:\n  - template: {{ src: app.conf.tera, dest: \"{{{{ out_dir }}}}/app.conf\" }}\n  - file: {{ path: \"{{{{ out_dir }}}}/tls.key\", content: \"{TLS_KEY}\\n\", secret: true }}\n"
        ),
    );
    w("roles/app/templates/app.conf.tera", "user = app\npassword = {{ db_password }}\n");
    std::fs::create_dir_all(p.join("host")).unwrap();
    for args in [&["vault", "keygen", "vault.key"][..], &["vault", "encrypt", "inventory/group_vars/all/secrets.yaml"]]
    {
        let (code, out) = rigger(p, args);
        assert_eq!(code, 0, "{out}");
    }
}

fn rigger(dir: &Path, args: &[&str]) -> (i32, String) {
    rigger_as(dir, ".state", args)
}

/// rigger with its plan key in `state` (one folder per user).
fn rigger_as(dir: &Path, state: &str, args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("RIGGER_VAULT_KEY_FILE", dir.join("vault.key"))
        .env("RIGGER_STATE_DIR", dir.join(state))
        // The local host's run lock in the test's own folder, not /var/lib/rigger.
        .env("RIGGER_HOST_STATE_DIR", dir.join("host-state"))
        .output()
        .unwrap();
    (o.status.code().unwrap(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_saved_plan_is_private_and_an_edited_one_runs_nothing() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    setup(p);
    let (code, out) = rigger(p, &["plan", "--out", "plan.json"]);
    assert_eq!(code, 2, "{out}");
    let saved = p.join("plan.json");
    assert_eq!(mode(&saved), 0o600, "the plan holds secrets (in its scripts)");
    assert_eq!((mode(&p.join(".state")), mode(&p.join(".state/plan.key"))), (0o700, 0o600));

    // Append a command to the first script, as an attacker with write access would.
    let marker = p.join("pwned");
    let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let script = &mut doc["hosts"]["me"]["units"]["app"]["resources"][0]["steps"][0]["script"];
    *script = format!("{}touch {}\n", script.as_str().unwrap(), marker.display()).into();
    std::fs::write(&saved, serde_json::to_string_pretty(&doc).unwrap()).unwrap();

    for args in [&["apply", "plan.json", "--yes"][..], &["show", "plan.json"], &["show", "plan.json", "--json"]] {
        let (code, out) = rigger(p, args);
        assert_eq!(code, 1, "{args:?}: {out}");
        assert!(
            out.contains("plan.json: the plan was altered") && out.contains("seal does not match"),
            "{args:?}: {out}"
        );
    }
    assert!(!marker.exists(), "the appended command ran");
    assert!(!p.join("host/app.conf").exists(), "nothing was applied");
}

#[test]
fn a_plan_is_applied_by_the_user_who_made_it() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    setup(p);
    let (code, out) = rigger(p, &["plan", "--out", "plan.json"]);
    assert_eq!(code, 2, "{out}");
    let (code, out) = rigger_as(p, ".other-user", &["apply", "plan.json", "--yes"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("seal cannot be checked") && out.contains("no plan key"), "{out}");
    let (code, out) = rigger(p, &["apply", "plan.json", "--yes"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(std::fs::read_to_string(p.join("host/tls.key")).unwrap(), format!("{TLS_KEY}\n"));
}

#[test]
fn show_prints_the_changes_but_no_script_and_no_secret() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    setup(p);
    let (code, out) = rigger(p, &["plan", "--out", "plan.json"]);
    assert_eq!(code, 2, "{out}");

    let (code, shown) = rigger(p, &["show", "plan.json"]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("● app@me: will change"), "{shown}");
    assert!(shown.contains("/app.conf: create"), "the change is shown: {shown}");
    assert!(shown.contains("lines changed, sha256 "), "a diff that depends on the vault is sealed: {shown}");
    assert!(shown.contains("/tls.key"), "{shown}");

    // `plan saved.json`, as a Terraform user would type it, shows the same.
    assert_eq!(rigger(p, &["plan", "plan.json"]), (0, shown.clone()));

    let (code, json) = rigger(p, &["show", "plan.json", "--json"]);
    assert_eq!(code, 0, "{json}");
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let steps = &doc["hosts"]["me"]["units"]["app"]["resources"][0]["steps"];
    assert!(steps[0]["action"].is_string() && steps[0].get("script").is_none(), "{doc}");

    // The saved file does hold the secret file's content, in its script (hence 0600 and sealed).
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{TLS_KEY}\n"));
    assert!(std::fs::read_to_string(p.join("plan.json")).unwrap().contains(&encoded));
    for out in [&shown, &json] {
        assert!(!out.contains("script") && !out.contains("base64"), "a script is shown: {out}");
        assert!(!out.contains(SECRET) && !out.contains(TLS_KEY) && !out.contains(&encoded), "a secret is shown: {out}");
    }
}
