//! A unit that follows a change on its host is planned against the host as
//! that change left it, read at the end of the changing unit's own script
//! (issue 22: no probe of its own), and every script of the run goes to the
//! same sh (one session per host), through the real binary against an
//! `ansible_connection: local` host.

mod common;
use common::{json, rigger_local as rigger, write, Run};
use std::path::Path;

/// Role `first` makes a file and a folder; role `second`, on the same host
/// after it, wants the same file (already there: no change, if it sees what
/// `first` did) and a file of its own in that folder (a change).
fn project() -> tempfile::TempDir {
    let d = common::local_project("");
    let p = d.path();
    write(p, "site.yaml", "- hosts: all\n  roles: [first, second]\n");
    write(
        p,
        "roles/first/role.yaml",
        "resources:\n  - file: { path: \"{{ out }}/shared\", content: \"same\\n\" }\n  - directory: { path: \"{{ out }}/d\" }\n",
    );
    write(
        p,
        "roles/second/role.yaml",
        "after: [first]\nresources:\n  - file: { path: \"{{ out }}/shared\", content: \"same\\n\" }\n  - file: { path: \"{{ out }}/d/own\", content: \"own\\n\" }\n",
    );
    d
}

#[test]
fn a_unit_after_a_change_is_planned_from_the_state_read_in_the_same_script() {
    let d = project();
    let p = d.path();
    let plan = rigger(p, &["plan", "--json"]);
    assert_eq!(plan.code, 2, "{}", plan.all());
    let first = rigger_counting_shells(p, &["apply", "--yes", "--json"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let v = json(&first);
    let host = &v["hosts"][0];
    let units = host["units"].as_array().unwrap();
    let second = units.iter().find(|u| u["role"] == "second").expect("second ran");
    let status: Vec<(&str, &str)> = second["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["resource"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert!(status[0].0.ends_with("/shared") && status[0].1 == "ok", "what `first` made is seen: {status:?}");
    assert_eq!(status[1].1, "changed", "{status:?}");
    // The probe, `first`'s script (which reads the host again at its end),
    // `second`'s script (which gives the lock back): no probe between them.
    assert_eq!(host["round_trips"], 3, "{host}");
    assert_eq!(std::fs::read_to_string(p.join("out/d/own")).unwrap(), "own\n");
    assert_eq!(shells(p), 1, "the probe and both units' scripts went to one sh");
    let again = rigger(p, &["apply", "--yes", "--json"]);
    assert_eq!(again.code, 0, "{}", again.all());
    let v = json(&again);
    assert_eq!(v["hosts"][0]["round_trips"], 1, "a no-op run is one round trip: {v}");
    assert_eq!(common::total(&v, "changed"), 0, "{v}");
    assert_eq!(rigger(p, &["plan"]).code, 0, "in sync");
}

/// `rigger_local`, with an `sh` first on PATH that notes each shell a
/// script is sent to (`sh -s`; a step's own `sh -c` is not one) in `shells.log`.
fn rigger_counting_shells(p: &Path, args: &[&str]) -> Run {
    write(
        p,
        "bin/sh",
        &format!("#!/bin/sh\ncase \"$1\" in -s) echo s >> {}/shells.log;; esac\nexec /bin/sh \"$@\"\n", p.display()),
    );
    let bin = p.join("bin");
    std::fs::set_permissions(bin.join("sh"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    common::rigger_local_with(p, args, &[("PATH", path)])
}

/// How many shells `rigger_counting_shells` saw scripts sent to.
fn shells(p: &Path) -> usize {
    std::fs::read_to_string(p.join("shells.log")).map(|s| s.lines().count()).unwrap_or(0)
}
