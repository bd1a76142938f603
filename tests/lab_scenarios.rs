//! `rigger test` for real: role scenarios on disposable lab hosts (each on a
//! lab of its own, 10.78.K.0/24; the default lab is not touched). Root and
//! systemd-nspawn needed, hence `#[ignore]`: run with
//!     sudo cargo test --test lab_scenarios -- --ignored --nocapture

mod common;
use common::{figure, rigger_in, root, write};

/// The web role's scenario passes on a fresh Debian 12 host, and the reports
/// say so: one JUnit testcase per phase, a JSON document with every phase passed.
#[test]
#[ignore]
fn web_scenario_passes_on_a_fresh_host() {
    let d = tempfile::tempdir().unwrap();
    let junit = d.path().join("junit.xml");
    let run = rigger_in(&root(), &["test", "web", "--json", "--junit", junit.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.all());
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["failed"], false);
    let phases = doc["scenarios"][0]["phases"].as_array().unwrap();
    let names: Vec<&str> = phases.iter().map(|p| p["phase"].as_str().unwrap()).collect();
    assert_eq!(names, ["create", "converge", "idempotence", "verify", "destroy"]);
    assert!(phases.iter().all(|p| p["status"] == "passed"), "{}", run.stdout);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 5, "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");
    // The lab it ran on is gone.
    let lab = doc["scenarios"][0]["lab"].as_str().unwrap();
    assert!(!std::path::Path::new("/var/lib/rigger-lab/labs").join(lab).exists());
    figure(&format!("rigger test web (debian12): {:.1} s", doc["seconds"].as_f64().unwrap()));
}

/// A role that is not idempotent fails the idempotence phase, and the report
/// names the resource that changed again with its diff; a failing check says
/// what it expected and what it saw. The run exits 1.
#[test]
#[ignore]
fn idempotence_and_verify_failures_explain_themselves() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "roles/flaky/role.yaml",
        "description: undoes its own file\nresources:\n  - file: { path: /etc/flaky, content: \"a\\n\", mode: \"0644\" }\n  - command: { cmd: \"echo b > /etc/flaky\" }\n",
    );
    write(
        d.path(),
        "roles/flaky/tests/default.yaml",
        "hosts:\n  - { name: f1 }\nverify:\n  - file: { host: f1, path: /etc/flaky, mode: \"0600\", within: 1 }\n  - service: { host: f1, name: ssh, active: true }\n",
    );
    let run = rigger_in(d.path(), &["test", "flaky"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("f1 / flaky: file /etc/flaky changed again"), "{}", run.stderr);
    assert!(run.stderr.contains("      -b\n      +a\n"), "{}", run.stderr);
    assert!(run.stderr.contains("f1 / flaky: command echo b > /etc/flaky changed again"), "{}", run.stderr);
    assert!(run.stderr.contains("file f1 /etc/flaky: expected mode 0600; saw mode 0644"), "{}", run.stderr);
    assert!(!run.stderr.contains("service f1 ssh"), "a passing check is not reported as failed:\n{}", run.stderr);
}
