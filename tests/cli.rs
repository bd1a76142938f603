//! Offline CLI tests: drive the real binary in a temp project and pin what it
//! prints. No host is contacted (hosts point at an address nothing uses,
//! and none of these commands connect).

use std::path::Path;
use std::process::Command;

fn project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let w = |rel: &str, text: &str| {
        let p = d.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w("inventory/hosts.yaml", "all:\n  children:\n    lb:\n      hosts:\n        lb1: { ansible_host: 10.77.0.91 }\n    web:\n      hosts:\n        web1: { ansible_host: 10.77.0.92 }\n");
    w("site.yaml", "- hosts: web\n  roles: [app]\n- hosts: lb\n  roles: [proxy]\n");
    w("roles/app/role.yaml", "defaults:\n  port: 8080\nresources:\n  - template: { src: app.conf.tera, dest: /etc/app.conf, notify: restart app }\nhandlers:\n  restart app: { service: { name: app, state: restarted } }\n");
    w("roles/app/templates/app.conf.tera", "port = {{ port }}\n");
    w(
        "roles/proxy/role.yaml",
        "after: [app]\nresources:\n  - template: { src: proxy.conf.tera, dest: /etc/proxy.conf }\n",
    );
    w(
        "roles/proxy/templates/proxy.conf.tera",
        "{% for h in groups.web %}server {{ h }} {{ hosts[h].ansible_host }}:{{ hosts[h].port }}\n{% endfor %}",
    );
    d
}

fn rigger(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_rigger")).args(args).current_dir(dir).env("NO_COLOR", "1").output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn check_renders_everything_offline() {
    let d = project();
    let (code, out, err) = rigger(d.path(), &["check"]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "ok: 2 units on 2 hosts, every template rendered\n", ""));
}

/// `validate` (Terraform's word) is `check`.
#[test]
fn validate_is_check() {
    let d = project();
    let (code, out, err) = rigger(d.path(), &["validate"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!((code, out, err), rigger(d.path(), &["check"]));
}

/// Ansible's --list-hosts and --list-tasks: `graph --list-hosts`, `graph --resources`.
#[test]
fn graph_lists_the_hosts_and_what_would_run_on_each() {
    let d = project();
    let (code, out, err) = rigger(d.path(), &["graph", "--list-hosts"]);
    assert_eq!((code, out.as_str()), (0, "lb1\nweb1\n"), "{err}");
    let (_, out, _) = rigger(d.path(), &["graph", "--list-hosts", "--limit", "web"]);
    assert_eq!(out, "web1\n");
    let (code, out, err) = rigger(d.path(), &["graph", "--resources"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "lb1:\n  proxy\n    template /etc/proxy.conf\nweb1:\n  app\n    template /etc/app.conf\n");
}

#[test]
fn graph_orders_cross_host() {
    let d = project();
    let (code, out, _) = rigger(d.path(), &["graph"]);
    assert_eq!(code, 0);
    assert_eq!(out, "wave 1:\n  app@web1\nwave 2:\n  proxy@lb1  ← app@web1\n");
    let (_, dot, _) = rigger(d.path(), &["graph", "--dot"]);
    assert!(dot.starts_with("digraph rigger {") && dot.contains("style=dashed"), "{dot}");
}

#[test]
fn cycle_is_reported_with_the_whole_path() {
    let d = project();
    std::fs::write(d.path().join("roles/app/role.yaml"), "requires: [base]\nresources: []\n").unwrap();
    std::fs::create_dir_all(d.path().join("roles/base")).unwrap();
    std::fs::write(d.path().join("roles/base/role.yaml"), "requires: [app]\n").unwrap();
    let (code, out, err) = rigger(d.path(), &["check"]);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "error: dependency cycle: app@web1 → base@web1 → app@web1\n  base@web1 requires app@web1 (declared at roles/base/role.yaml:1:12)\n  app@web1 requires base@web1 (declared at roles/app/role.yaml:1:12)\n"
    );
}

#[test]
fn unknown_key_points_at_the_line() {
    let d = project();
    std::fs::write(d.path().join("site.yaml"), "- hosts: web\n  roles: [app]\n  seriel: 1\n").unwrap();
    let (code, _, err) = rigger(d.path(), &["check"]);
    assert_eq!(code, 1);
    assert_eq!(err, "error: [0]: unknown field `seriel`, expected one of `hosts`, `roles`, `serial`, `max_fail_percentage`, `health_check`, `vars`, `become`\n  --> site.yaml:3:3\n   |\n 3 |   seriel: 1\n   |   ^\n  = help: did you mean `serial`?\n");
}

#[test]
fn missing_role_lists_the_known_ones() {
    let d = project();
    std::fs::write(d.path().join("site.yaml"), "- hosts: web\n  roles: [app, nope]\n").unwrap();
    let (code, _, err) = rigger(d.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("error: role `nope` not found: no roles/nope/role.yaml\n  --> site.yaml:2:16\n"), "{err}");
    assert!(err.contains("= help: roles in roles: app, proxy"), "{err}");
}

#[test]
fn unknown_host_pattern_is_an_error() {
    let d = project();
    std::fs::write(d.path().join("site.yaml"), "- hosts: webz\n  roles: [app]\n").unwrap();
    let (code, _, err) = rigger(d.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(err.contains("`webz` is neither a host nor a group") && err.contains("site.yaml:1:10"), "{err}");
}

#[test]
fn undefined_variable_names_template_line_and_host() {
    let d = project();
    std::fs::write(d.path().join("roles/app/templates/app.conf.tera"), "port = {{ prot }}\n").unwrap();
    let (code, _, err) = rigger(d.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("host web1: role app")
            && err.contains("Variable `prot` is not defined")
            && err.contains("roles/app/templates/app.conf.tera:1:11"),
        "{err}"
    );
}

#[test]
fn inventory_list_is_ansible_shaped() {
    let d = project();
    let (code, out, _) = rigger(d.path(), &["inventory", "--list"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["web"]["hosts"], serde_json::json!(["web1"]));
    assert_eq!(v["_meta"]["hostvars"]["lb1"]["ansible_host"], "10.77.0.91");
}

#[test]
fn unreachable_hosts_fail_the_run_before_anything_runs() {
    let d = project();
    // Nothing listens on the local discard port: the connection is refused at once, on this machine.
    let inv = d.path().join("inventory/hosts.yaml");
    std::fs::write(&inv, "all:\n  children:\n    web:\n      hosts:\n        web1: { ansible_host: 127.0.0.1, ansible_port: 9 }\n    lb:\n      hosts:\n        lb1: { ansible_host: 127.0.0.1, ansible_port: 9 }\n").unwrap();
    let (code, out, err) = rigger(d.path(), &["plan"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("web1: unreachable: cannot connect to 127.0.0.1:9") && !out.contains("no changes"), "{out}");
    let (code, _, err) = rigger(d.path(), &["apply"]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn extra_vars_override_everything() {
    let d = project();
    let (code, out, _) = rigger(d.path(), &["inventory", "--host", "web1", "-e", "port=9"]);
    assert_eq!(code, 0);
    assert!(out.contains("\"port\": 9"), "{out}");
}

/// Precedence, lowest first: role defaults < group vars (parents before children)
/// < host vars < binding vars < -e — observed in rendered files.
#[test]
fn variable_precedence_end_to_end() {
    let d = tempfile::tempdir().unwrap();
    let w = |rel: &str, text: &str| {
        let p = d.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w("inventory/hosts.yaml", "all:\n  vars: { b: all, c: all }\n  children:\n    parent:\n      vars: { c: parent, d: parent }\n      children:\n        child:\n          vars: { d: child, e: child }\n          hosts:\n            h1: { e: host, f: host }\n            h2:\n");
    w("inventory/group_vars/child.yaml", "g: child-file\n");
    w("site.yaml", "- hosts: child\n  roles: [r]\n  vars: { f: binding, h: binding }\n");
    w("roles/r/role.yaml", "defaults: { a: default, b: default, c: default, d: default, e: default, f: default, g: default, h: default, i: default }\nresources:\n  - template: { src: t.tera, dest: /etc/t }\n");
    w("roles/r/templates/t.tera", "{{ a }} {{ b }} {{ c }} {{ d }} {{ e }} {{ f }} {{ g }} {{ h }} {{ i }}\n");
    let out = d.path().join("out");
    let (code, _, err) = rigger(d.path(), &["check", "--out", out.to_str().unwrap(), "-e", "i=extra", "-e", "h=extra"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(out.join("h1/etc/t")).unwrap(),
        "default all parent child host binding child-file extra extra\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("h2/etc/t")).unwrap(),
        "default all parent child child binding child-file extra extra\n"
    );
}

/// A usage error exits 1, never 2 (which `plan` keeps for "changes pending"),
/// and under `--json` still prints a JSON error document; help exits 0.
#[test]
fn usage_errors_exit_1_with_a_json_document() {
    let d = project();
    let (code, out, err) = rigger(d.path(), &["plan", "--json", "--limt", "web1"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("unexpected argument '--limt'"), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!((doc["command"].as_str(), doc["failed"].as_bool()), (Some("plan"), Some(true)), "{doc}");
    let (code, _, _) = rigger(d.path(), &["nosuchcommand"]);
    assert_eq!(code, 1);
    let (code, out, _) = rigger(d.path(), &["plan", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Usage: rigger plan"), "{out}");
    let (code, _, _) = rigger(d.path(), &[]);
    assert_eq!(code, 1, "no subcommand is a usage error");
}

/// A byte-order mark before site.yaml or role.yaml is not content (issue 16, point 8).
#[test]
fn a_byte_order_mark_is_accepted() {
    let d = project();
    for f in ["site.yaml", "roles/app/role.yaml"] {
        let p = d.path().join(f);
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, format!("\u{feff}{text}")).unwrap();
    }
    let (code, _, err) = rigger(d.path(), &["check"]);
    assert_eq!(code, 0, "{err}");
}

/// `check --out DIR` writes nothing outside DIR, whatever a dest says (issue 16, point 8).
#[test]
fn check_out_refuses_a_dest_that_leaves_the_folder() {
    let d = project();
    std::fs::write(
        d.path().join("roles/app/role.yaml"),
        "resources:\n  - file: { path: \"/../../../../escaped\", content: x }\n",
    )
    .unwrap();
    let out = d.path().join("rendered");
    let (code, _, err) = rigger(d.path(), &["check", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("refusing to write /../../../../escaped outside"), "{err}");
    assert!(!d.path().join("escaped").exists() && !Path::new("/escaped").exists());
}

/// Each subcommand's help lists only the flags that apply to it, and a flag
/// given to the wrong one says which subcommands take it.
#[test]
fn each_subcommand_takes_only_its_own_flags() {
    let d = project();
    let help = |args: &[&str]| rigger(d.path(), args).1;
    let man = help(&["man", "--help"]);
    assert!(man.contains("--json") && !man.contains("--limit") && !man.contains("--forks"), "{man}");
    let keygen = help(&["vault", "keygen", "--help"]);
    assert!(
        keygen.contains("--vault-key") && !keygen.contains("--forks") && !keygen.contains("--inventory"),
        "{keygen}"
    );
    let check = help(&["check", "--help"]);
    assert!(check.contains("--limit") && check.contains("--tags") && !check.contains("--forks"), "{check}");
    let plan = help(&["plan", "--help"]);
    for flag in ["--limit", "--forks", "--ask-become-pass", "--lock-timeout", "--vault-key", "--json"] {
        assert!(plan.contains(flag), "plan takes {flag}: {plan}");
    }
    let (code, _, err) = rigger(d.path(), &["check", "--forks", "3"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: --forks is not a flag of `rigger check`; it is one of `rigger plan`, `rigger apply`, `rigger facts`"),
        "{err}"
    );
    // Ansible's --check habit: where the dry run is.
    let (code, _, err) = rigger(d.path(), &["--check"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("error: --check: the dry run is `rigger plan` (or `rigger apply --check`)"), "{err}");
}

/// `rigger man --out DIR` writes rigger(1) and a page for every subcommand
/// that rigger(1) refers to; `rigger man SUB` prints one.
#[test]
fn every_man_page_rigger_1_names_exists() {
    let d = project();
    let (code, _, err) = rigger(d.path(), &["man", "--out", "man"]);
    assert_eq!(code, 0, "{err}");
    let main = std::fs::read_to_string(d.path().join("man/rigger.1")).unwrap();
    let named: Vec<String> = main
        .split("rigger\\-")
        .skip(1)
        .filter_map(|s| s.split("(1)").next())
        .map(|n| format!("rigger-{n}.1"))
        .collect();
    assert!(named.len() >= 10, "{named:?}");
    for page in &named {
        let text =
            std::fs::read_to_string(d.path().join("man").join(page)).unwrap_or_else(|_| panic!("{page} is missing"));
        assert!(text.contains(".TH rigger"), "{page}");
    }
    let (code, out, _) = rigger(d.path(), &["man", "plan"]);
    assert_eq!(code, 0);
    assert!(out.contains(".TH rigger-plan 1") && out.contains("\\-\\-lock\\-timeout"), "{out}");
    let (code, _, err) = rigger(d.path(), &["man", "pln"]);
    assert_eq!((code, err.contains("did you mean `plan`?")), (1, true), "{err}");
}

/// `rigger lab` and `rigger test` need root and say why, before touching
/// anything; a scenario mistake is reported before that. Run as `nobody`
/// through setpriv (skipped where the tests do not run as root).
#[test]
fn lab_and_test_refuse_without_root_and_say_why() {
    let is_root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !is_root || !Path::new("/usr/bin/setpriv").exists() {
        eprintln!("skipped: needs root and setpriv to become nobody");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let roles = d.path().join("roles/r/tests");
    std::fs::create_dir_all(&roles).unwrap();
    std::fs::write(d.path().join("roles/r/role.yaml"), "resources: []\n").unwrap();
    std::fs::write(roles.join("default.yaml"), "hosts:\n  - { name: a1 }\n").unwrap();
    std::fs::set_permissions(d.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let nobody = |args: &[&str]| {
        let out = Command::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_rigger")])
            .args(args)
            .current_dir(d.path())
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = nobody(&["lab", "status"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("rigger lab must run as root: the lab makes network namespaces"), "{err}");
    let (code, err) = nobody(&["test", "r"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("rigger test must run as root"), "{err}");
    std::fs::write(roles.join("default.yaml"), "hosts: []\n").unwrap();
    let (_, err) = nobody(&["test", "r"]);
    assert!(err.contains("a scenario needs at least one host"), "{err}");
}

/// The README's resource table is `rigger doc --markdown`, the same source the
/// parser uses: when a kind or key changes, this fails until the README is
/// regenerated.
#[test]
fn the_readme_resource_table_is_generated_from_rigger_doc() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("<!-- resource-table").expect("README has the resource-table marker");
    let body = &readme[readme[start..].find("-->\n").unwrap() + start + 4..];
    let table = &body[..body.find("<!-- /resource-table -->").expect("and its end marker")];
    let d = project();
    let (code, out, err) = rigger(d.path(), &["doc", "--markdown"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(table, out, "README.md's resource table differs from `rigger doc --markdown`: regenerate it");
}
