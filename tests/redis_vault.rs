//! The sample `redis` role takes its password from the vault (issue 23):
//! with `vault_redis_password` in an age-encrypted vars file, `rigger check`
//! renders redis.conf with it, masks the file where it is written for review,
//! and shows the value only when asked (`--show-secrets`).

mod common;

use common::{rigger_local, write};
use std::path::Path;

const PASSWORD: &str = "vaulted-redis-pw-7Q";

#[test]
fn the_redis_password_comes_from_the_vault_and_stays_sealed() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The role as shipped, copied: the test reads what users get.
    std::fs::create_dir_all(p.join("roles")).unwrap();
    let copied = std::process::Command::new("cp")
        .arg("-r")
        .arg(repo.join("roles/redis"))
        .arg(p.join("roles/redis"))
        .status()
        .unwrap()
        .success()
        // The shared partials (`templates/header.tera`) come along.
        && std::process::Command::new("cp").arg("-r").arg(repo.join("templates")).arg(p).status().unwrap().success();
    assert!(copied && p.join("roles/redis/role.yaml").is_file());
    write(p, "inventory/hosts.yaml", "redis:\n  hosts:\n    r1: { ansible_host: 10.0.0.5 }\n");
    write(p, "site.yaml", "- hosts: redis\n  roles: [redis]\n");
    assert_eq!(rigger_local(p, &["vault", "keygen", "vault.key"]).code, 0);
    write(p, "inventory/group_vars/redis/vault.yaml", &format!("vault_redis_password: {PASSWORD}\n"));
    let enc = rigger_local(p, &["vault", "encrypt", "inventory/group_vars/redis/vault.yaml"]);
    assert_eq!(enc.code, 0, "{}", enc.all());

    let masked = rigger_local(p, &["check", "--out", "masked"]);
    assert_eq!(masked.code, 0, "{}", masked.all());
    assert!(!masked.all().contains(PASSWORD), "{}", masked.all());
    let conf = walk(&p.join("masked")).into_iter().find(|f| f.ends_with("redis.conf")).expect("redis.conf rendered");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(!text.contains(PASSWORD), "masked for review: {text}");

    let shown = rigger_local(p, &["check", "--out", "shown", "--show-secrets"]);
    assert_eq!(shown.code, 0, "{}", shown.all());
    let conf = walk(&p.join("shown")).into_iter().find(|f| f.ends_with("redis.conf")).unwrap();
    let text = std::fs::read_to_string(conf).unwrap();
    assert!(text.lines().any(|l| l == format!("requirepass {PASSWORD}")), "the vault's value: {text}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
