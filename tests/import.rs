//! `rigger import ansible` (issue 18) through the real binary: five public
//! roles vendored under tests/fixtures/ansible_import/ (each with its
//! LICENSE and SOURCE: repository, commit, path) are imported unchanged;
//! the per-task report, its totals and the exit code are pinned, and the
//! written role files are checked for rigger's shape. A small role of our
//! own goes through `rigger check` too.

mod common;
use common::{rigger_local as rigger, write};

use serde_yaml::Value;
use std::path::{Path, PathBuf};

fn fixture(role: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ansible_import").join(role)
}

/// The resource kinds and entry keys rigger's role.yaml takes (`rigger doc`).
const KINDS: &[&str] = &[
    "package",
    "file",
    "directory",
    "template",
    "service",
    "command",
    "line",
    "user",
    "group",
    "sysctl",
    "apt_repository",
    "docker_container",
    "blockinfile",
    "get_url",
    "query",
];
const ENTRY_KEYS: &[&str] = &["name", "when", "tags", "loop", "loop_var", "become", "become_user"];

/// Every entry is one kind plus entry keys, a block (recursively) or an include of a written file.
fn check_entries(role_dir: &Path, entries: &Value) {
    for e in entries.as_sequence().expect("a list of entries") {
        let m = e.as_mapping().expect("an entry is a mapping");
        if let Some(b) = m.get("block") {
            check_entries(role_dir, &b["resources"]);
            continue;
        }
        if let Some(inc) = m.get("include") {
            let text = std::fs::read_to_string(role_dir.join(inc.as_str().unwrap())).expect("included file written");
            check_entries(role_dir, &serde_yaml::from_str(&text).unwrap());
            continue;
        }
        let kinds: Vec<&str> = m.keys().filter_map(|k| k.as_str()).filter(|k| !ENTRY_KEYS.contains(k)).collect();
        assert!(kinds.len() == 1 && KINDS.contains(&kinds[0]), "entry {e:?}: keys {kinds:?}");
    }
}

/// Imports `role`; asserts the exit code and the totals line; returns the report and role.yaml.
fn import(role: &str, code: i32, totals: &str) -> (String, Value, tempfile::TempDir) {
    let d = tempfile::tempdir().unwrap();
    let run = rigger(d.path(), &["import", "ansible", fixture(role).to_str().unwrap(), "--out", "."]);
    assert_eq!(run.code, code, "{}\n{}", run.stdout, run.stderr);
    let last = run.stdout.lines().last().unwrap_or("");
    assert_eq!(last, totals, "report:\n{}", run.stdout);
    let dir = d.path().join("roles").join(role);
    let text = std::fs::read_to_string(dir.join("role.yaml")).unwrap();
    assert!(text.starts_with("dialect: jinja\n"), "{text}");
    let yaml: Value = serde_yaml::from_str(&text).unwrap();
    check_entries(&dir, &yaml["resources"]);
    for (_, h) in yaml.get("handlers").and_then(Value::as_mapping).into_iter().flatten() {
        check_entries(&dir, &Value::Sequence(vec![h.clone()]));
    }
    for f in std::fs::read_dir(fixture(role).join("templates")).into_iter().flatten() {
        let f = f.unwrap();
        let copied = std::fs::read(dir.join("templates").join(f.file_name())).unwrap();
        assert_eq!(copied, std::fs::read(f.path()).unwrap(), "template copied unchanged");
    }
    (run.stdout, yaml, d)
}

#[test]
fn haproxy_imports_with_its_version_query_and_one_task_left() {
    let (report, role, _d) = import(
        "haproxy",
        2,
        "role haproxy: 7 tasks: 4 converted, 2 converted with a note, 1 not converted (86% without a hand)",
    );
    assert!(
        report
            .contains("tasks/main.yml:13: converted with a note: Get HAProxy version. → query haproxy_version_result"),
        "{report}"
    );
    assert!(
        report.contains(
            "tasks/main.yml:19: NOT converted: Set HAProxy version.: reads the registered `haproxy_version_result`"
        ),
        "{report}"
    );
    let res = role["resources"].as_sequence().unwrap();
    assert_eq!(res[0]["package"]["name"], "haproxy");
    assert_eq!(res[1]["line"]["path"], "/etc/default/haproxy");
    assert!(res[1].get("when").is_none(), "the Debian-only when is decided at import");
    assert_eq!(res[2]["query"]["cmd"], "haproxy -v");
    assert_eq!(res[3]["template"]["mode"], "0644");
    assert_eq!(res[3]["template"]["notify"], "restart haproxy");
    assert_eq!(role["handlers"]["restart haproxy"]["service"]["state"], "restarted");
    assert_eq!(role["defaults"]["haproxy_frontend_port"], 80);
}

#[test]
fn redis_imports_whole_with_debian_vars_and_the_other_os_dropped() {
    let (report, role, d) = import(
        "redis",
        0,
        "role redis: 10 tasks: 5 converted, 5 converted with a note, 0 not converted (100% without a hand)",
    );
    assert!(
        report.contains("tasks/main.yml:25: converted with a note: include_tasks → nothing: dropped: only for RedHat"),
        "{report}"
    );
    assert_eq!(role["defaults"]["redis_daemon"], "redis-server");
    assert_eq!(role["defaults"]["redis_package"], "{{ __redis_package }}");
    let inc = std::fs::read_to_string(d.path().join("roles/redis/tasks/setup-Debian.yaml")).unwrap();
    assert!(inc.contains("name: '{{ redis_package }}'"), "{inc}");
    assert!(!d.path().join("roles/redis/tasks/setup-RedHat.yaml").exists());
    assert!(!d.path().join("roles/redis/import-todo.yaml").exists());
}

#[test]
fn nginx_imports_its_vhost_loops_and_leaves_the_ppa() {
    let (report, role, d) = import(
        "nginx",
        2,
        "role nginx: 25 tasks: 10 converted, 13 converted with a note, 2 not converted (92% without a hand)",
    );
    assert!(
        report.contains("tasks/setup-Ubuntu.yml:7: NOT converted: Add PPA for Nginx (if configured).: a PPA"),
        "{report}"
    );
    let vhosts: Value =
        serde_yaml::from_str(&std::fs::read_to_string(d.path().join("roles/nginx/tasks/vhosts.yaml")).unwrap())
            .unwrap();
    assert_eq!(vhosts[2]["loop"], "{{ nginx_vhosts }}");
    assert_eq!(vhosts[2]["when"], "item.state|default('present') != 'absent'");
    assert_eq!(role["handlers"]["reload nginx"]["when"], "nginx_service_state == \"started\"");
    let todo = std::fs::read_to_string(d.path().join("roles/nginx/import-todo.yaml")).unwrap();
    assert!(todo.contains("at: tasks/setup-Ubuntu.yml:7"), "{todo}");
}

#[test]
fn docker_and_node_exporter_say_what_needs_a_hand() {
    let (report, _, _d) = import(
        "docker",
        2,
        "role docker: 34 tasks: 10 converted, 11 converted with a note, 13 not converted (62% without a hand)",
    );
    assert!(report.contains("NOT converted: Install Docker Compose (if configured).: no `checksum`"), "{report}");
    assert!(report.contains("NOT converted: Patch docker.service: `replace` has no rigger kind"), "{report}");
    let (report, _, _d) = import(
        "node_exporter",
        2,
        "role node_exporter: 16 tasks: 3 converted, 2 converted with a note, 11 not converted (31% without a hand)",
    );
    assert!(report.contains("tasks/main.yml:10: NOT converted: Install: `include_role`"), "{report}");
}

/// A playbook with serial and max_fail_percentage, a role beside it and its own tasks.
#[test]
fn a_playbook_becomes_site_yaml_and_its_roles_check() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("ansible");
    write(&a, "site.yml", "- hosts: all\n  serial: 1\n  max_fail_percentage: 0\n  become: true\n  roles:\n    - role: motd\n      vars: { motd_enabled: false }\n  tasks:\n    - name: a user\n      user: name=deploy shell=/bin/sh groups=adm append=yes\n");
    write(&a, "roles/motd/tasks/main.yml", "- name: motd\n  ansible.builtin.template:\n    src: motd.j2\n    dest: /etc/motd\n    mode: 0644\n  when: motd_enabled\n  tags: [motd]\n- name: tools\n  apt:\n    name: [curl, jq]\n    state: present\n  when: ansible_distribution == 'Debian'\n- wait_for: port=22\n");
    write(&a, "roles/motd/templates/motd.j2", "welcome\n");
    write(&a, "roles/motd/defaults/main.yml", "motd_enabled: true\n");
    let out = d.path().join("out");
    let run =
        rigger(d.path(), &["import", "ansible", a.join("site.yml").to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    for line in [
        "site.yml:1: converted with a note: play 1 → site.yaml binding: `vars:` of role `motd` are the binding's: every role of it sees them; its tasks are the role `play1`",
        "site.yml:9: converted: a user → user",
        "roles/motd/tasks/main.yml:1: converted: motd → template",
        "roles/motd/tasks/main.yml:13: NOT converted: wait_for: `wait_for` has no rigger kind",
        "role motd: 3 tasks: 1 converted, 1 converted with a note, 1 not converted (67% without a hand)",
    ] {
        assert!(run.stdout.lines().any(|l| l == line), "{line}\nin:\n{}", run.stdout);
    }
    let site: Value = serde_yaml::from_str(&std::fs::read_to_string(out.join("site.yaml")).unwrap()).unwrap();
    assert_eq!(site[0]["serial"], 1);
    assert_eq!(site[0]["max_fail_percentage"], 0);
    assert_eq!(site[0]["become"], true);
    assert_eq!(site[0]["vars"]["motd_enabled"], false);
    assert_eq!(site[0]["roles"], serde_yaml::from_str::<Value>("[motd, play1]").unwrap());
    // `rigger check` on the result, with the dialect line taken out until `dialect:` is merged:
    // these expressions read the same in Tera. The `when:` reading facts is known later in check.
    write(&out, "inventory/hosts.yaml", "all:\n  hosts:\n    me: { ansible_connection: local }\n");
    for r in ["motd", "play1"] {
        let p = out.join("roles").join(r).join("role.yaml");
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, text.replacen("dialect: jinja\n", "", 1)).unwrap();
    }
    let check = rigger(&out, &["check"]);
    assert_eq!(check.code, 0, "{}\n{}", check.stdout, check.stderr);
}

/// The imported roles as they are, `dialect: jinja` and all.
#[test]
fn imported_roles_check_as_written() {
    let d = tempfile::tempdir().unwrap();
    for r in ["redis", "nginx"] {
        let run = rigger(d.path(), &["import", "ansible", fixture(r).to_str().unwrap(), "--out", "."]);
        assert!(run.code == 0 || run.code == 2, "{}", run.stderr);
    }
    write(d.path(), "inventory/hosts.yaml", "all:\n  hosts:\n    me: { ansible_connection: local }\n");
    write(d.path(), "site.yaml", "- hosts: all\n  roles: [redis, nginx]\n");
    let check = rigger(d.path(), &["check"]);
    assert_eq!(check.code, 0, "{}\n{}", check.stdout, check.stderr);
}

#[test]
fn a_folder_that_is_neither_role_nor_playbook_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let run = rigger(d.path(), &["import", "ansible", "nowhere"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("nowhere: neither a role"), "{}", run.stderr);
}

/// Bad YAML in the second role of a playbook: exit 1 at its file:line:col, and nothing written, not even the first role.
#[test]
fn bad_yaml_anywhere_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("ansible");
    write(&a, "site.yml", "- hosts: all\n  roles: [good, bad]\n");
    write(&a, "roles/good/tasks/main.yml", "- apt: name=curl\n");
    write(&a, "roles/bad/tasks/main.yml", "- apt: name=curl\n- service: {name: x\n");
    let out = d.path().join("out");
    let run =
        rigger(d.path(), &["import", "ansible", a.join("site.yml").to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("roles/bad/tasks/main.yml:2:12"), "{}", run.stderr);
    assert!(!out.exists(), "nothing written");
}

/// `listen:` topics become their handler's name; a handler that did not convert is not notified (a note), so the role checks.
#[test]
fn notify_follows_listen_and_skips_handlers_that_did_not_convert() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("ansible-role-app");
    write(&a, "tasks/main.yml", "- template: { src: app.conf.j2, dest: /etc/app.conf }\n  notify: app changed\n- copy: { content: \"x\\n\", dest: /etc/app.env }\n  notify: [wait for app, restart app]\n");
    write(&a, "templates/app.conf.j2", "port=1\n");
    write(&a, "handlers/main.yml", "- name: restart app\n  service: name=app state=restarted\n  listen: app changed\n- name: wait for app\n  wait_for: port=1\n");
    let run = rigger(d.path(), &["import", "ansible", a.to_str().unwrap(), "--out", "."]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let want = [
        "tasks/main.yml:1: converted with a note: template → template: notifies `app changed`, a `listen:` topic: the handler `restart app`",
        "tasks/main.yml:3: converted with a note: copy → file: notify `wait for app` dropped: that handler did not convert",
        "handlers/main.yml:1: converted with a note: restart app → service: `listen:` topics become this handler's name in the tasks that notify them",
        "handlers/main.yml:4: NOT converted: wait for app: `wait_for` has no rigger kind",
        "role app: 4 tasks: 0 converted, 3 converted with a note, 1 not converted (75% without a hand)",
    ];
    assert_eq!(run.stdout.lines().collect::<Vec<_>>(), want, "{}", run.stdout);
    let p = d.path().join("roles/app/role.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    let role: Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(role["resources"][0]["template"]["notify"], "restart app");
    assert_eq!(role["resources"][1]["file"]["notify"], serde_yaml::from_str::<Value>("[restart app]").unwrap());
    std::fs::write(&p, text.replacen("dialect: jinja\n", "", 1)).unwrap();
    write(d.path(), "inventory/hosts.yaml", "all:\n  hosts:\n    me: { ansible_connection: local }\n");
    write(d.path(), "site.yaml", "- hosts: all\n  roles: [app]\n");
    let check = rigger(d.path(), &["check"]);
    assert_eq!(check.code, 0, "{}\n{}", check.stdout, check.stderr);
}
