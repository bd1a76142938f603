//! Scheduling through the real binary with `ansible_connection: local`
//! hosts: each unit's command appends timestamped lines to a log in a temp
//! dir, so ordering, concurrency, skip propagation and serial batches are
//! observable without a network. The lab tests prove the same on real hosts.

use std::path::Path;
use std::process::Command;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A role whose one command logs `start`/`end` lines around a sleep.
fn role(dir: &Path, name: &str, extra: &str, secs: &str) {
    write(
        dir,
        &format!("roles/{name}/role.yaml"),
        &format!(
            "{extra}resources:\n  - command: {{ cmd: 'echo \"$(date +%s.%N) start {name}@{{{{ inventory_hostname }}}}\" >> {log}; sleep {secs}; echo \"$(date +%s.%N) end {name}@{{{{ inventory_hostname }}}}\" >> {log}' }}\n",
            log = dir.join("log").display()
        ),
    );
}

fn inventory(dir: &Path, hosts: &[&str]) {
    let mut s = String::from("all:\n  vars: { ansible_connection: local }\n  children:\n");
    for (g, hs) in [("a", &hosts[..1]), ("rest", &hosts[1..])] {
        s.push_str(&format!("    {g}:\n      hosts:\n"));
        for h in hs {
            s.push_str(&format!("        {h}:\n"));
        }
    }
    write(dir, "inventory/hosts.yaml", &s);
}

fn run(dir: &Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        // Each local host keeps its run lock under the test's own folder.
        .env("RIGGER_HOST_STATE_DIR", dir.join("host-state"))
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap(), json, String::from_utf8_lossy(&out.stderr).into())
}

/// (time, event, unit) from the log.
fn log(dir: &Path) -> Vec<(f64, String, String)> {
    std::fs::read_to_string(dir.join("log"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let mut p = l.split(' ');
            (p.next().unwrap().parse().unwrap(), p.next().unwrap().to_string(), p.next().unwrap().to_string())
        })
        .collect()
}

fn time_of(events: &[(f64, String, String)], event: &str, unit: &str) -> f64 {
    events
        .iter()
        .find(|(_, e, u)| e == event && u == unit)
        .unwrap_or_else(|| panic!("no {event} {unit} in {events:?}"))
        .0
}

#[test]
fn cross_host_after_orders_units_and_independent_units_overlap() {
    let d = tempfile::tempdir().unwrap();
    inventory(d.path(), &["x", "y", "z"]);
    role(d.path(), "db", "", "0.4");
    role(d.path(), "app", "after: [db]\n", "0.1");
    role(d.path(), "other", "", "0.4");
    write(d.path(), "site.yaml", "- hosts: rest\n  roles: [app]\n- hosts: a\n  roles: [db, other]\n");
    let (code, _, err) = run(d.path(), &["apply", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let ev = log(d.path());
    // Every app unit starts after db finished on the other host.
    for h in ["y", "z"] {
        assert!(time_of(&ev, "start", &format!("app@{h}")) >= time_of(&ev, "end", "db@x"), "{ev:?}");
    }
    // app@y and app@z do not wait for each other: they overlap.
    assert!(
        time_of(&ev, "start", "app@z") < time_of(&ev, "end", "app@y")
            && time_of(&ev, "start", "app@y") < time_of(&ev, "end", "app@z"),
        "{ev:?}"
    );
    // Units on the same host never overlap (other@x and db@x).
    let (s1, e1, s2, e2) = (
        time_of(&ev, "start", "db@x"),
        time_of(&ev, "end", "db@x"),
        time_of(&ev, "start", "other@x"),
        time_of(&ev, "end", "other@x"),
    );
    assert!(e1 <= s2 || e2 <= s1, "{ev:?}");
}

#[test]
fn a_failure_skips_only_its_descendants() {
    let d = tempfile::tempdir().unwrap();
    inventory(d.path(), &["x", "y"]);
    write(d.path(), "roles/bad/role.yaml", "resources:\n  - command: { cmd: 'echo broken >&2; exit 3' }\n");
    role(d.path(), "child", "requires: [bad]\n", "0");
    role(d.path(), "far", "after: [child]\n", "0");
    role(d.path(), "solo", "", "0");
    write(d.path(), "site.yaml", "- hosts: a\n  roles: [child]\n- hosts: rest\n  roles: [solo, far]\n");
    let (code, report, err) = run(d.path(), &["apply", "--yes", "--json"]);
    assert_eq!(code, 1, "{err}");
    let units = |h: usize| report["hosts"][h]["units"].as_array().unwrap().clone();
    let x = units(0);
    assert_eq!(x[0]["role"], "bad");
    assert_eq!(x[0]["status"], "failed");
    assert!(x[0]["message"].as_str().unwrap().contains("exit 3: broken"), "{x:?}");
    assert_eq!(x[1]["status"], "skipped");
    assert_eq!(x[1]["message"], "because bad failed on host x");
    let y = units(1);
    let status = |role: &str| y.iter().find(|u| u["role"] == role).unwrap()["status"].clone();
    assert_eq!(status("solo"), "changed", "independent units still run");
    assert_eq!(status("far"), "skipped", "cross-host descendants are skipped too");
    let ev = log(d.path());
    assert!(
        ev.iter().any(|(_, _, u)| u == "solo@y")
            && !ev.iter().any(|(_, _, u)| u.starts_with("child") || u.starts_with("far")),
        "{ev:?}"
    );
}

#[test]
fn serial_batches_run_one_host_at_a_time_behind_the_health_gate() {
    let d = tempfile::tempdir().unwrap();
    inventory(d.path(), &["x", "y", "z"]);
    role(d.path(), "rolling", "", "0.2");
    let gate = format!("echo \"$(date +%s.%N) gate -\" >> {}", d.path().join("log").display());
    write(
        d.path(),
        "site.yaml",
        &format!("- hosts: all\n  roles: [rolling]\n  serial: 1\n  health_check: {{ cmd: '{gate}', retries: 0 }}\n"),
    );
    let (code, _, err) = run(d.path(), &["apply", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let ev = log(d.path());
    let seq: Vec<String> = ev.iter().map(|(_, e, u)| format!("{e} {u}")).collect();
    assert_eq!(
        seq,
        [
            "start rolling@x",
            "end rolling@x",
            "gate -",
            "start rolling@y",
            "end rolling@y",
            "gate -",
            "start rolling@z",
            "end rolling@z"
        ],
        "strictly one host at a time, gated"
    );
}

#[test]
fn a_failing_health_gate_stops_further_batches() {
    let d = tempfile::tempdir().unwrap();
    inventory(d.path(), &["x", "y"]);
    role(d.path(), "rolling", "", "0");
    write(
        d.path(),
        "site.yaml",
        "- hosts: all\n  roles: [rolling]\n  serial: 1\n  health_check: { cmd: 'exit 1', retries: 1, delay: 0.1 }\n",
    );
    let (code, report, _) = run(d.path(), &["apply", "--yes", "--json"]);
    assert_eq!(code, 1);
    let y = &report["hosts"][1]["units"][0];
    assert_eq!(y["status"], "skipped");
    assert!(y["message"].as_str().unwrap().contains("health check `exit 1` failed on x after 2 tries"), "{y}");
}

#[test]
fn forks_one_means_one_host_at_a_time() {
    let d = tempfile::tempdir().unwrap();
    inventory(d.path(), &["x", "y", "z"]);
    role(d.path(), "r", "", "0.2");
    write(d.path(), "site.yaml", "- hosts: all\n  roles: [r]\n");
    let (code, _, err) = run(d.path(), &["apply", "--yes", "--forks", "1"]);
    assert_eq!(code, 0, "{err}");
    let ev = log(d.path());
    for w in ev.chunks(2) {
        assert_eq!((w[0].1.as_str(), w[1].1.as_str()), ("start", "end"), "no overlap: {ev:?}");
        assert_eq!(w[0].2, w[1].2);
    }
}

#[test]
fn units_pulled_in_by_requires_are_part_of_the_serial_batches() {
    let d = tempfile::tempdir().unwrap();
    inventory(d.path(), &["x", "y"]);
    role(d.path(), "base", "", "0.1");
    role(d.path(), "svc", "requires: [base]\n", "0.1");
    let gate = format!("echo \"$(date +%s.%N) gate -\" >> {}", d.path().join("log").display());
    write(
        d.path(),
        "site.yaml",
        &format!("- hosts: all\n  roles: [svc]\n  serial: 1\n  health_check: {{ cmd: '{gate}', retries: 0 }}\n"),
    );
    let (code, _, err) = run(d.path(), &["apply", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let seq: Vec<String> = log(d.path()).iter().map(|(_, e, u)| format!("{e} {u}")).collect();
    assert_eq!(
        seq,
        [
            "start base@x",
            "end base@x",
            "start svc@x",
            "end svc@x",
            "gate -",
            "start base@y",
            "end base@y",
            "start svc@y",
            "end svc@y"
        ]
    );
}
