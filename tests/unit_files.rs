//! `systemd_unit` and `limits` against the local host, in a test's own
//! folder: a stand-in `systemctl` on PATH logs what rigger asks of systemd,
//! so the test sees how many daemon-reloads a run does, and when.

mod common;

use common::{json, local_project, total, write};
use std::path::Path;
use std::process::Command;

/// A stand-in systemctl: logs its arguments; `show` says no reload is owed.
fn fake_systemctl(dir: &Path) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> {}\n[ \"$1\" = show ] && echo no\nexit 0\n",
        dir.join("systemctl.log").display()
    );
    std::fs::write(bin.join("systemctl"), script).unwrap();
    std::fs::set_permissions(bin.join("systemctl"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// `rigger ARGS --json` as `common::rigger_local` runs it, the stand-in first on PATH.
fn rigger(dir: &Path, args: &[&str]) -> serde_json::Value {
    let path = format!("{}:{}", dir.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(args)
        .arg("--json")
        .current_dir(dir)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env_remove("RIGGER_INVENTORY")
        .env("RIGGER_STATE_DIR", dir.join(".state"))
        .env("RIGGER_HOST_STATE_DIR", dir.join("host-state"))
        .output()
        .unwrap();
    let run = common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    };
    assert!(run.code == 0 || run.code == 2, "rigger {args:?} failed:\n{}", run.all());
    json(&run)
}

fn reloads(dir: &Path) -> usize {
    let log = std::fs::read_to_string(dir.join("systemctl.log")).unwrap_or_default();
    log.lines().filter(|l| *l == "daemon-reload").count()
}

const ROLE: &str = "\
resources:
  - systemd_unit:
      name: app
      dir: \"{{ out }}/systemd\"
      unit: { Description: the app }
      service: { ExecStart: /bin/true, LimitNOFILE: \"{{ nofile }}\" }
      install: { WantedBy: multi-user.target }
  - systemd_unit: { name: app, dropin: limits, dir: \"{{ out }}/systemd\", service: { LimitNOFILE: \"{{ nofile }}\" } }
  - limits:
      name: app
      dir: \"{{ out }}\"
      entries: [ { domain: app, type: \"-\", item: nofile, value: \"{{ nofile }}\" } ]
";

fn project(nofile: u32) -> tempfile::TempDir {
    let d = local_project(&format!("nofile: {nofile}"));
    write(d.path(), "site.yaml", "- hosts: all\n  roles: [app]\n");
    write(d.path(), "roles/app/role.yaml", ROLE);
    std::fs::create_dir_all(d.path().join("out/systemd")).unwrap();
    fake_systemctl(d.path());
    d
}

#[test]
fn units_and_limits_converge_with_one_daemon_reload_then_stay_in_sync() {
    let d = project(10032);
    let r = rigger(d.path(), &["apply", "--yes"]);
    assert_eq!(total(&r, "changed"), 3, "{r:#}");
    assert_eq!(reloads(d.path()), 1, "two units changed together: one reload");
    let out = d.path().join("out");
    let unit = std::fs::read_to_string(out.join("systemd/app.service")).unwrap();
    assert_eq!(
        unit,
        "# Managed by rigger.\n\n[Unit]\nDescription=the app\n\n[Service]\nExecStart=/bin/true\nLimitNOFILE=10032\n\n\
         [Install]\nWantedBy=multi-user.target\n"
    );
    let dropin = std::fs::read_to_string(out.join("systemd/app.service.d/limits.conf")).unwrap();
    assert!(dropin.ends_with("[Service]\nLimitNOFILE=10032\n"), "{dropin}");
    assert_eq!(std::fs::read_to_string(out.join("app.conf")).unwrap(), "# Managed by rigger.\napp\t-\tnofile\t10032\n");

    let r = rigger(d.path(), &["apply", "--yes"]);
    assert_eq!(total(&r, "changed"), 0, "{r:#}");
    assert_eq!(reloads(d.path()), 1, "nothing changed: no reload");
}

#[test]
fn a_changed_setting_shows_its_diff_and_reloads_again() {
    let d = project(10032);
    rigger(d.path(), &["apply", "--yes"]);
    write(d.path(), "inventory/host_vars/me.yaml", "nofile: 20000\n");
    let plan = rigger(d.path(), &["plan"]);
    let text = plan.to_string();
    assert!(text.contains("-LimitNOFILE=10032") && text.contains("+LimitNOFILE=20000"), "{plan:#}");
    assert!(text.contains("daemon-reload"), "{plan:#}");
    rigger(d.path(), &["apply", "--yes"]);
    assert_eq!(reloads(d.path()), 2);
}
