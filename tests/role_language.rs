//! The structure of role files (issue 17): `loop:`, `block:`, `include:` and
//! templated fields of any type, through the real binary against an
//! `ansible_connection: local` host writing into the test's temp dir.

mod common;
use common::{rigger_local as rigger, write, Run};

use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// A project with one local host, `vars` (YAML lines) for it, and role `app` from `role`.
fn project(vars: &str, role: &str) -> tempfile::TempDir {
    let d = common::local_project(vars);
    let p = d.path();
    write(p, "site.yaml", "- hosts: all\n  roles: [app]\n");
    write(p, "roles/app/role.yaml", role);
    d
}

/// `plan --json`: each resource of the unit as (label, status, message).
fn planned(p: &Path) -> Vec<(String, String, String)> {
    let r = rigger(p, &["plan", "--json"]);
    assert!(r.code == 0 || r.code == 2, "plan: {}\n{}", r.code, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    v["hosts"][0]["units"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            (s("resource"), s("status"), s("message"))
        })
        .collect()
}

fn labels(p: &Path) -> Vec<String> {
    planned(p).into_iter().map(|(l, ..)| l).collect()
}

fn read(p: &Path, f: &str) -> String {
    std::fs::read_to_string(p.join("out").join(f)).unwrap_or_else(|e| panic!("{f}: {e}"))
}

fn apply(p: &Path) -> Run {
    let r = rigger(p, &["apply", "--yes"]);
    assert_eq!(r.code, 0, "apply: {}\n{}", r.stdout, r.stderr);
    r
}

/// A second apply changes nothing.
fn converged(p: &Path) {
    let r = rigger(p, &["plan"]);
    assert_eq!(r.code, 0, "a second plan still has changes:\n{}", r.stderr);
}

#[test]
fn a_loop_over_a_list_and_a_map_is_one_resource_per_item_and_converges() {
    let d = project(
        "users: [alice, bob]\nports: { http: 80, https: 443 }\nnobody: []",
        r#"resources:
  - file: { path: "{{ out }}/u-{{ item }}", content: "{{ item }} is number {{ loop_index }}\n" }
    loop: "{{ users }}"
  - file: { path: "{{ out }}/p-{{ p.key }}", content: "{{ p.value }}\n" }
    loop: "{{ ports }}"
    loop_var: p
  - file: { path: "{{ out }}/{{ item }}", content: x }
    loop: [lit-a, lit-b]
  - file: { path: "{{ out }}/never-{{ item }}", content: x }
    loop: "{{ nobody }}"
"#,
    );
    let p = d.path();
    let out = p.join("out").display().to_string();
    let want: Vec<String> = ["u-alice[0]", "u-bob[1]", "p-http[0]", "p-https[1]", "lit-a[0]", "lit-b[1]"]
        .iter()
        .map(|f| format!("file {out}/{f}"))
        .collect();
    assert_eq!(labels(p), want, "one resource per item, none for the empty loop");
    apply(p);
    assert_eq!(read(p, "u-bob"), "bob is number 1\n");
    assert_eq!(read(p, "p-https"), "443\n");
    assert!(p.join("out/lit-b").is_file());
    converged(p);
}

#[test]
fn a_block_shares_when_tags_and_notify_and_nests() {
    let d = project(
        "flag: false\nother: true",
        r#"resources:
  - block:
      when: flag
      resources:
        - file: { path: "{{ out }}/skipped", content: x }
  - block:
      when: other
      tags: [conf]
      notify: log it
      resources:
        - file: { path: "{{ out }}/a", content: a }
          when: other
        - block:
            when: "not flag"
            resources:
              - file: { path: "{{ out }}/b", content: b }
handlers:
  log it: { command: { cmd: "echo ran >> {{ out }}/handler" } }
"#,
    );
    let p = d.path();
    let out = p.join("out").display().to_string();
    let plan = planned(p);
    assert_eq!(plan[0], (format!("file {out}/skipped"), "skipped".into(), "when: flag".into()));
    assert_eq!(plan[1].1, "changed");
    assert_eq!(plan[2].0, format!("file {out}/b"));
    // Block tags reach the resources inside: `--tags conf` plans them and not the first.
    let r = rigger(p, &["plan", "--tags", "conf", "--json"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let res = &v["hosts"][0]["units"][0]["resources"];
    assert_eq!(res[0]["message"], "not in --tags");
    assert_eq!(res[1]["status"], "changed");
    assert_eq!(res[1]["notify"][0], "log it");
    apply(p);
    assert_eq!(read(p, "handler"), "ran\n", "the block's notify ran its handler once");
    assert!(!p.join("out/skipped").exists());
    converged(p);
}

#[test]
fn skip_tags_leave_out_and_a_mistyped_tag_is_an_error() {
    let d = project(
        "",
        r#"resources:
  - file: { path: "{{ out }}/conf", content: c }
    tags: [conf]
  - block:
      tags: [slow]
      resources:
        - file: { path: "{{ out }}/slow", content: s }
"#,
    );
    let p = d.path();
    let r = rigger(p, &["plan", "--skip-tags", "slow", "--json"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let res = &v["hosts"][0]["units"][0]["resources"];
    assert_eq!(res[0]["status"], "changed");
    assert_eq!(res[1]["status"], "skipped");
    assert_eq!(res[1]["message"], "in --skip-tags");
    // --skip-tags wins over --tags, and a role's name is a tag.
    let r = rigger(p, &["plan", "--tags", "app", "--skip-tags", "conf", "--json"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let res = &v["hosts"][0]["units"][0]["resources"];
    assert_eq!((res[0]["message"].as_str(), res[1]["status"].as_str()), (Some("in --skip-tags"), Some("changed")));
    // A typo is not "every host is in sync": it is an error that names the tag, with a suggestion.
    for args in [&["plan", "--tags", "conff"][..], &["apply", "--yes", "--skip-tags", "slw"]] {
        let r = rigger(p, args);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(
            r.stderr.contains("no resource of the site has this tag") && r.stderr.contains("did you mean"),
            "{}",
            r.stderr
        );
    }
    assert!(!p.join("out/conf").exists(), "an unknown tag changes nothing");
}

#[test]
fn an_include_with_a_loop_and_when_reads_its_file() {
    let d = project(
        "sites: [one, two, three]",
        r#"resources:
  - include: tasks/site.yaml
    loop: "{{ sites }}"
    loop_var: site
    when: site != "three"
"#,
    );
    let p = d.path();
    write(
        p,
        "roles/app/tasks/site.yaml",
        "- file: { path: \"{{ out }}/{{ site }}\", content: \"{{ site }}\\n\" }\n- include: tasks/more.yaml\n",
    );
    write(p, "roles/app/tasks/more.yaml", "- file: { path: \"{{ out }}/{{ site }}.more\", content: x }\n");
    let out = p.join("out").display().to_string();
    let plan = planned(p);
    let shown: Vec<(&str, &str)> = plan.iter().map(|(l, s, _)| (l.as_str(), s.as_str())).collect();
    assert_eq!(
        shown,
        [
            (format!("file {out}/one[0]").as_str(), "changed"),
            (format!("file {out}/one.more[0]").as_str(), "changed"),
            (format!("file {out}/two[1]").as_str(), "changed"),
            (format!("file {out}/two.more[1]").as_str(), "changed"),
            (format!("file {out}/three[2]").as_str(), "skipped"),
            (format!("file {out}/three.more[2]").as_str(), "skipped"),
        ]
    );
    apply(p);
    assert_eq!(read(p, "two"), "two\n");
    converged(p);
}

#[test]
fn typed_fields_take_templates_and_keep_the_value_type() {
    let d = project(
        "s: present\nm: \"0600\"\ngone: absent\npkgs: [rigger-test-no-such-pkg-a, rigger-test-no-such-pkg-b]",
        r#"resources:
  - file: { path: "{{ out }}/f", content: x, state: "{{ s }}", mode: "{{ m }}" }
  - file: { path: "{{ out }}/g", state: "{{ gone }}" }
  - package: { names: "{{ pkgs }}", state: absent }
    when: false
  - package: { name: "{{ item }}", state: absent }
    loop: "{{ pkgs }}"
    when: false
"#,
    );
    let p = d.path();
    let out = p.join("out").display().to_string();
    let plan = planned(p);
    // A list var given to a list field is that list: one package per name.
    assert_eq!(plan[2].0, "package rigger-test-no-such-pkg-a, rigger-test-no-such-pkg-b");
    assert_eq!(plan[0].0, format!("file {out}/f"));
    apply(p);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(p.join("out/f")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    converged(p);
}

#[test]
fn a_package_loop_is_one_resource() {
    // Absent packages that are not installed: planned without apt running.
    let d = project(
        "pkgs: [rigger-test-no-such-pkg-a, rigger-test-no-such-pkg-b]",
        "resources:\n  - package: { name: \"{{ item }}\", state: absent }\n    loop: \"{{ pkgs }}\"\n",
    );
    let r = rigger(d.path(), &["check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    if Command::new("dpkg-query").arg("--version").output().is_err() {
        return; // no dpkg here: the probe cannot answer
    }
    assert_eq!(labels(d.path()), ["package rigger-test-no-such-pkg-a, rigger-test-no-such-pkg-b"]);
}

#[test]
fn a_templated_field_of_the_wrong_type_after_rendering_names_its_place() {
    let d = project(
        "svc_enabled: maybe",
        "resources:\n  - service:\n      name: x\n      enabled: \"{{ svc_enabled }}\"\n",
    );
    let r = rigger(d.path(), &["check"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("roles/app/role.yaml:4:7:\n`service.enabled` after rendering: invalid type: string \"maybe\", expected a boolean"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_loop_over_secrets_keeps_them_sealed() {
    let d = project("", "resources:\n  - file: { path: \"{{ out }}/pw{{ loop_index }}\", content: \"{{ item }}\\n\" }\n    loop: \"{{ db_passwords }}\"\n  - file: { path: \"{{ out }}/{{ item }}\", content: x }\n    loop: \"{{ db_passwords }}\"\n");
    let p = d.path();
    write(p, "inventory/group_vars/all/secrets.yaml", "db_passwords: [s3cretAlpha1, s3cretBeta22]\n");
    assert_eq!(rigger(p, &["vault", "keygen", "vault.key"]).code, 0);
    let e = rigger(p, &["vault", "encrypt", "inventory/group_vars/all/secrets.yaml"]);
    assert_eq!(e.code, 0, "{}", e.stderr);
    for args in [&["plan"][..], &["plan", "--json"], &["apply", "--yes", "-v"]] {
        let r = rigger(p, args);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(r.code == 0 || r.code == 2, "{args:?}: {all}");
        assert!(!all.contains("s3cretAlpha1") && !all.contains("s3cretBeta22"), "{args:?} shows a secret:\n{all}");
        assert!(all.contains("(sensitive)"), "{args:?}: {all}");
    }
    assert_eq!(read(p, "pw1"), "s3cretBeta22\n");
    converged(p);
}

#[test]
fn facts_named_only_in_an_included_file_are_gathered() {
    let d = project("", "resources:\n  - include: tasks/host.yaml\n");
    let p = d.path();
    write(
        p,
        "roles/app/tasks/host.yaml",
        "- file: { path: \"{{ out }}/host\", content: \"{{ facts.hostname }}\\n\" }\n",
    );
    apply(p);
    assert!(!read(p, "host").trim().is_empty());
    converged(p);
}

#[test]
fn rigger_doc_lists_the_entry_keys_and_each_kind() {
    let d = tempfile::tempdir().unwrap();
    let r = rigger(d.path(), &["doc"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for key in ["loop ", "loop_var ", "block ", "include ", "loop_index", "item.key", "type-checked after", "package "]
    {
        assert!(r.stdout.contains(key), "`{key}` missing:\n{}", r.stdout);
    }
    let r = rigger(d.path(), &["doc", "service"]);
    assert!(r.code == 0 && r.stdout.contains("enabled ") && r.stdout.contains("Example:"), "{}", r.stdout);
    let r = rigger(d.path(), &["doc", "servce"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no resource kind `servce`; kinds: package, file"), "{}", r.stderr);
}

/// `become_user:` on a block runs its resources' steps as that user, a
/// resource's own `become: true` wins over the block's, and what they made
/// converges. The test host's connection is whoever runs the tests: as root
/// the switch is `runuser`; otherwise `sudo -n` would be needed, so the
/// test only runs as root (as CI does).
#[test]
fn become_user_on_a_block_runs_its_steps_as_that_user() {
    if !nix_is_root() {
        eprintln!("skipped: needs root to switch users without sudo");
        return;
    }
    let d = project(
        "",
        r#"resources:
  - block:
      become_user: nobody
      resources:
        - command: { cmd: "id -un > {{ out }}/as-block", creates: "{{ out }}/as-block" }
        - file: { path: "{{ out }}/made-by", content: "x\n" }
        - command: { cmd: "id -un > {{ out }}/as-root", creates: "{{ out }}/as-root" }
          become: true
          become_user: root
  - command: { cmd: "id -un > {{ out }}/as-connection", creates: "{{ out }}/as-connection" }
"#,
    );
    let p = d.path();
    let mut perm = std::fs::metadata(p.join("out")).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o777);
    std::fs::set_permissions(p.join("out"), perm).unwrap();
    // tempdir's parents must be searchable by `nobody`.
    let mut perm = std::fs::metadata(p).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(p, perm).unwrap();
    apply(p);
    assert_eq!(read(p, "as-block"), "nobody\n");
    assert_eq!(read(p, "as-root"), "root\n");
    assert_eq!(read(p, "as-connection"), "root\n");
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(p.join("out/made-by")).unwrap());
    assert_eq!(owner, 65534, "the file was written by nobody");
    converged(p);
}

fn nix_is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// Ansible's habits: `apply --check --diff` is `plan` (exit 2, nothing changed).
#[test]
fn apply_check_is_plan() {
    let d = project("", "resources:\n  - file: { path: \"{{ out }}/f\", content: x }\n");
    let p = d.path();
    let r = rigger(p, &["apply", "--check", "--diff"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    // The recap's seconds differ from run to run; the rest is the plan's.
    let timeless = |s: &str| regex::Regex::new(r"\d+\.\d+s").unwrap().replace_all(s, "Ns").into_owned();
    let plan = rigger(p, &["plan"]);
    assert!(r.stdout.contains("changed=1"), "{}", r.stdout);
    assert_eq!((timeless(&r.stdout), r.stderr), (timeless(&plan.stdout), plan.stderr));
    assert!(!p.join("out/f").exists(), "--check changed nothing");
}

/// A file made by an earlier step of the unit (a package's config, here a
/// command's output) can be edited by a later `line` with `create: false`:
/// plan cannot read it yet, so the edit is known at apply, and apply plans
/// it again once the step before it ran (Ansible's lineinfile after apt).
#[test]
fn an_edit_of_a_file_an_earlier_step_makes_is_planned_at_apply() {
    let d = project(
        "",
        r#"resources:
  - command: { cmd: "printf 'a=1\n' > {{ out }}/made", creates: "{{ out }}/made" }
  - line: { path: "{{ out }}/made", line: "b=2", create: false }
"#,
    );
    let p = d.path();
    let r = rigger(p, &["plan"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.contains("? line ") && r.stdout.contains("may make it first"), "{}", r.stdout);
    apply(p);
    assert_eq!(read(p, "made"), "a=1\nb=2\n");
    converged(p);
    // Nothing before it makes the file: the usual error, at plan.
    std::fs::remove_file(p.join("out/made")).unwrap();
    std::fs::write(
        p.join("roles/app/role.yaml"),
        "resources:\n  - line: { path: \"{{ out }}/made\", line: b=2, create: false }\n",
    )
    .unwrap();
    let r = rigger(p, &["plan"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.all().contains("does not exist"), "{}", r.all());
}
