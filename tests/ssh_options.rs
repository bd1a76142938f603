//! The inventory's ssh options reach ssh: `rigger plan` runs against a
//! stand-in `ssh` (first on PATH) that records its command line and the
//! config file it is given, then fails as an unreachable host would. So
//! nothing leaves this machine, and what rigger would have run is exact.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn write(p: &Path, rel: &str, text: &str) {
    std::fs::create_dir_all(p.join(rel).parent().unwrap()).unwrap();
    std::fs::write(p.join(rel), text).unwrap();
}

#[test]
fn every_option_reaches_ssh_and_the_masters_own_are_named() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(
        p,
        "bin/ssh",
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$RECORD/args\"\nwhile [ $# -gt 0 ]; do\n  [ \"$1\" = -F ] && cat \"$2\" > \"$RECORD/config\"\n  shift\ndone\necho 'ssh: connect to host 192.0.2.7 port 2200: Connection refused' >&2\nexit 255\n",
    );
    std::fs::set_permissions(p.join("bin/ssh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    write(
        p,
        "inventory/hosts.yaml",
        "all:\n  hosts:\n    web1:\n      ansible_host: 192.0.2.7\n      ansible_ssh_args: -C -o ControlMaster=auto -o ControlPersist=10m\n      ansible_ssh_common_args: >-\n        -o ProxyCommand='ssh -W %h:%p bastion.example' -o ForwardAgent=yes -p 2200 -i '/keys/my key'\n        -o ConnectTimeout=4 -o IdentitiesOnly=yes -o KexAlgorithms=curve25519-sha256 -o LogLevel=ERROR\n      ansible_ssh_extra_args: -o 'ServerAliveCountMax 4' -l deploy\n",
    );
    write(p, "site.yaml", "- hosts: all\n  roles: [app]\n");
    write(p, "roles/app/role.yaml", "resources:\n  - package: nginx\n");
    std::fs::create_dir_all(p.join("record")).unwrap();
    let path = format!("{}:{}", p.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(["plan"])
        .current_dir(p)
        .env("PATH", path)
        .env("RECORD", p.join("record"))
        .env("NO_COLOR", "1")
        .env("RIGGER_HOST_STATE_DIR", p.join("host-state"))
        .env("RIGGER_STATE_DIR", p.join("state"))
        .env_remove("RIGGER_INVENTORY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "unreachable: {stderr}");
    assert!(
        stderr.contains("ssh option ControlMaster of web1 is ignored")
            && stderr.contains("ssh option ControlPersist of web1 is ignored"),
        "the master's own options are named: {stderr}"
    );
    let args = std::fs::read_to_string(p.join("record/args")).expect("rigger ran ssh");
    let args: Vec<&str> = args.lines().collect();
    let pair = |flag: &str, value: &str| args.windows(2).any(|w| w == [flag, value]);
    assert!(pair("-p", "2200") && pair("-l", "deploy") && pair("-i", "/keys/my key"), "{args:?}");
    assert!(pair("-o", "ConnectTimeout=4"), "the inventory's timeout, not rigger's default: {args:?}");
    assert!(pair("-o", "ControlPersist=60s") && !args.contains(&"ControlPersist=10m"), "rigger's own: {args:?}");
    assert_eq!(args.last(), Some(&"192.0.2.7"));
    let config = std::fs::read_to_string(p.join("record/config")).expect("a config file with -F");
    assert_eq!(
        config,
        "# Written by rigger: the ssh options of the inventory.\nMatch originalhost 192.0.2.7\n  Compression yes\n  \
         ProxyCommand=ssh -W %h:%p bastion.example\n  ForwardAgent=yes\n  IdentitiesOnly=yes\n  \
         KexAlgorithms=curve25519-sha256\n  LogLevel=ERROR\n  ServerAliveCountMax 4\nMatch all\nInclude ~/.ssh/config\n\
         Include /etc/ssh/ssh_config\n"
    );
}
