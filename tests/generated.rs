//! `generated()` values: rendering only reads and makes them in memory, so
//! `check` writes nothing; `plan` and `apply` save what they made before
//! anything is shown or applied, and every later run reads those values back.
//! Drives the real binary; the one host is `ansible_connection: local`,
//! writing into a temp dir, so no SSH is needed.

use std::path::Path;
use std::process::Command;

/// A project whose template asks for a fixed name and a dynamic one (built
/// from a var, as the Ceph roles do).
fn project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let w = |rel: &str, text: &str| {
        let p = d.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    let host = d.path().join("host");
    std::fs::create_dir_all(&host).unwrap();
    w("inventory/hosts.yaml", "all:\n  hosts:\n    me: { ansible_connection: local, osd_id: 3 }\n");
    w("site.yaml", "- hosts: all\n  roles: [keys]\n");
    w(
        "roles/keys/role.yaml",
        &format!("resources:\n  - template: {{ src: keys.tera, dest: {}/keys.conf }}\n", host.display()),
    );
    w(
        "roles/keys/templates/keys.tera",
        "fsid = {{ generated(name=\"fsid\", kind=\"uuid\") }}\n\
         osd = {{ generated(name=\"osd_\" ~ osd_id ~ \"_key\", kind=\"hex\") }}\n\
         again = {{ generated(name=\"fsid\", kind=\"uuid\") }}\n",
    );
    d
}

fn rigger(dir: &Path, args: &[&str], key: Option<&Path>) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rigger"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("RIGGER_STATE_DIR", dir.join(".state")) // the plan key: not in the user's home
        .env("RIGGER_HOST_STATE_DIR", dir.join("host-state"))
        .env_remove("RIGGER_VAULT_KEY_FILE")
        .env_remove("RIGGER_VAULT_PASSWORD");
    if let Some(k) = key {
        cmd.env("RIGGER_VAULT_KEY_FILE", k);
    }
    let o = cmd.output().unwrap();
    (o.status.code().unwrap(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

fn saved(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("inventory/generated")) else { return vec![] };
    let mut names: Vec<String> = entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// `name = value` lines of a rendered file.
fn values(text: &str) -> Vec<(String, String)> {
    text.lines().filter_map(|l| l.split_once(" = ")).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn check_writes_nothing_but_its_out_files() {
    let d = project();
    let (code, out) = rigger(d.path(), &["check"], None);
    assert_eq!(code, 0, "{out}");
    assert!(!d.path().join("inventory/generated").exists(), "check saved {:?}", saved(d.path()));

    let host = d.path().join("host").display().to_string();
    let written = |dir: &str| {
        std::fs::read_to_string(d.path().join(format!("{dir}/me/{}/keys.conf", host.trim_start_matches('/')))).unwrap()
    };
    // Generated values are secrets: check --out writes them masked...
    let (code, out) = rigger(d.path(), &["check", "--out", "rendered"], None);
    assert_eq!(code, 0, "{out}");
    let text = written("rendered");
    let v = values(&text);
    assert_eq!((v[0].1.chars().count(), v[1].1.chars().count()), (36, 32), "{text}");
    assert!(v.iter().all(|(_, x)| x.chars().all(|c| c == '¤')), "masked: {text}");
    // ...and as they are with --show-secrets.
    let (code, out) = rigger(d.path(), &["check", "--out", "clear", "--show-secrets"], None);
    assert_eq!(code, 0, "{out}");
    let text = written("clear");
    let v = values(&text);
    assert_eq!((v[0].1.len(), v[1].1.len()), (36, 32), "{text}");
    assert!(v[0].1.chars().all(|c| c.is_ascii_hexdigit() || c == '-'), "a uuid: {text}");
    assert_eq!(v[0].1, v[2].1, "one value per name within a run");
    assert!(!d.path().join("inventory/generated").exists(), "check --out saved {:?}", saved(d.path()));

    // A value saved earlier is what check renders, and check leaves it alone.
    std::fs::create_dir_all(d.path().join("inventory/generated")).unwrap();
    std::fs::write(d.path().join("inventory/generated/fsid"), "saved-fsid\n").unwrap();
    let (code, out) = rigger(d.path(), &["check", "--out", "rendered2", "--show-secrets"], None);
    assert_eq!(code, 0, "{out}");
    let text = written("rendered2");
    assert!(text.starts_with("fsid = saved-fsid\n"), "{text}");
    assert_eq!(saved(d.path()), ["fsid"]);
}

#[test]
fn plan_saves_what_it_made_and_apply_of_the_saved_plan_uses_it() {
    use std::os::unix::fs::PermissionsExt;
    let d = project();
    let (code, out) = rigger(d.path(), &["plan", "--out", "plan.json"], None);
    assert_eq!(code, 2, "{out}");
    assert_eq!(saved(d.path()), ["fsid", "osd_3_key"], "plan saves every value it made");
    let file = d.path().join("inventory/generated/fsid");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let fsid = std::fs::read_to_string(&file).unwrap().trim_end().to_string();
    let osd = std::fs::read_to_string(d.path().join("inventory/generated/osd_3_key")).unwrap().trim_end().to_string();
    assert!(!out.contains(&fsid) && !out.contains(&osd), "generated values are secrets: {out}");

    let (code, out) = rigger(d.path(), &["apply", "plan.json", "--yes"], None);
    assert_eq!(code, 0, "{out}");
    let on_host = std::fs::read_to_string(d.path().join("host/keys.conf")).unwrap();
    assert_eq!(on_host, format!("fsid = {fsid}\nosd = {osd}\nagain = {fsid}\n"));

    // The next run reads the same values back: nothing to change, nothing new saved.
    let (code, out) = rigger(d.path(), &["plan"], None);
    assert_eq!(code, 0, "{out}");
    assert_eq!(saved(d.path()), ["fsid", "osd_3_key"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), format!("{fsid}\n"));
}

#[test]
fn with_a_vault_key_values_are_saved_sealed_and_read_back() {
    let d = project();
    let key = d.path().join("vault.key");
    let (code, out) = rigger(d.path(), &["vault", "keygen", "vault.key"], None);
    assert_eq!(code, 0, "{out}");
    let (code, out) = rigger(d.path(), &["apply", "--yes"], Some(&key));
    assert_eq!(code, 0, "{out}");
    assert_eq!(saved(d.path()), ["fsid.age", "osd_3_key.age"]);
    let on_host = std::fs::read_to_string(d.path().join("host/keys.conf")).unwrap();
    let fsid = &values(&on_host)[0].1;
    let cipher = std::fs::read_to_string(d.path().join("inventory/generated/fsid.age")).unwrap();
    assert!(cipher.starts_with("-----BEGIN AGE ENCRYPTED FILE-----") && !cipher.contains(fsid.as_str()));

    let (code, out) = rigger(d.path(), &["plan"], Some(&key));
    assert_eq!(code, 0, "the sealed values are read back: {out}");
    // Without the key, a template asking for a sealed value fails, naming the file.
    let (code, out) = rigger(d.path(), &["check"], None);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("fsid.age") && out.contains("needs a key"), "{out}");
}
