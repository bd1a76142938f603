//! Lab test of `rigger import ansible` (issue 18): three public roles
//! vendored under tests/fixtures/ansible_import/ (geerlingguy's haproxy,
//! nginx and redis) are imported unchanged, checked, converged on two lab
//! hosts, applied a second time with nothing changed, and their services
//! answer. `#[ignore]`d like every lab test: `tests/run.sh` runs it with the
//! lab up. Figures: the share of tasks converted without a hand, per role.
//! The imported roles say `dialect: jinja` (their expressions are Jinja:
//! `| dirname`, `.keys()`) and their templates read `ansible_facts`.

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

const LB: &str = "h7";
const WEB: &str = "h8";

fn inventory(dir: &Path) {
    let inv = format!(
        "all:\n  vars:\n    ansible_user: root\n    ansible_ssh_private_key_file: /var/lib/rigger-lab/id_ed25519\n    \
         ansible_ssh_common_args: \"-o UserKnownHostsFile=/var/lib/rigger-lab/known_hosts\"\n  children:\n    \
         lb:\n      hosts:\n        {LB}: {{ ansible_host: 10.77.0.17 }}\n    \
         web:\n      hosts:\n        {WEB}: {{ ansible_host: 10.77.0.18 }}\n"
    );
    std::fs::create_dir_all(dir.join("inventory")).unwrap();
    std::fs::write(dir.join("inventory/hosts.yaml"), inv).unwrap();
    // haproxy_version: the role sets it from `haproxy -v` with set_fact, which the import leaves to a hand.
    let site = "- hosts: web\n  roles: [nginx, redis]\n\
                - hosts: lb\n  roles: [haproxy]\n  vars:\n    haproxy_version: \"2.6\"\n    \
                haproxy_backend_servers: [{ name: web, address: \"10.77.0.18:80\" }]\n";
    std::fs::write(dir.join("site.yaml"), site).unwrap();
}

#[test]
#[ignore = "needs the lab (tests/run.sh)"]
fn t_import_three_public_roles_converge_idempotently_and_serve() {
    lab_up(8);
    wipe(&[LB, WEB]);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    for (role, code) in [("haproxy", 2), ("nginx", 2), ("redis", 0)] {
        let fixture = root().join("tests/fixtures/ansible_import").join(role);
        let run = rigger_in(dir, &["import", "ansible", fixture.to_str().unwrap(), "--out", "."]);
        assert_eq!(run.code, code, "import {role}:\n{}", run.all());
        let totals = run.stdout.lines().last().unwrap_or("").to_string();
        figure(&format!("import {totals}"));
    }
    inventory(dir);
    // haproxy's role edits /etc/default/haproxy (lineinfile, no `create`), a
    // file its own package makes in the same unit: on a bare host that edit
    // is known only at apply, and apply plans it once the package is in.
    let bare = rigger_in(dir, &["plan", "--limit", LB]);
    assert_eq!(bare.code, 2, "{}", bare.all());
    let enabled = "Ensure HAProxy is enabled (so init script will start it on Debian).: conditional (known at apply)";
    assert!(bare.stdout.contains(enabled) && bare.stdout.contains("may make it first"), "{}", bare.stdout);
    let check = rigger_in(dir, &["check"]);
    assert_eq!(check.code, 0, "check:\n{}", check.all());
    let first = rigger_in(dir, &["apply", "--yes", "--json"]);
    assert_eq!(first.code, 0, "first apply:\n{}", first.all());
    assert!(total(&json(&first), "changed") > 0, "the first apply changes the bare hosts");
    let second = rigger_in(dir, &["apply", "--yes", "--json"]);
    assert_eq!(second.code, 0, "second apply:\n{}", second.all());
    assert_eq!(total(&json(&second), "changed"), 0, "second apply changes nothing:\n{}", second.stdout);
    assert_eq!(on_ok(WEB, "redis-cli ping"), "PONG");
    let direct = http_get("10.77.0.18", 80, Duration::from_secs(5));
    assert!(direct.is_ok(), "nginx on {WEB}: {direct:?}");
    // HAProxy sends to nginx once its health check has seen it up: wait for that, with a deadline.
    let took =
        wait_for("haproxy on h7 to answer from nginx", Duration::from_secs(30), Duration::from_millis(250), || {
            http_get("10.77.0.17", 80, Duration::from_secs(5)).is_ok()
        });
    figure(&format!("import: haproxy answered through to nginx {:.1}s after the apply", took.as_secs_f64()));
    wipe(&[LB, WEB]);
}
