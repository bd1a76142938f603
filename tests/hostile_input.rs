//! Inputs too big to commit to `tests/bad_input/`, built here: a chain of
//! 100,000 groups, a 5 MB line, a file of nothing but `[`. Each must get an
//! answer (a run or a located error), never a crash, a hang or a message
//! the size of the input. How long they take is measured in benches, not
//! asserted here.

use std::path::Path;
use std::process::Command;

/// A project whose site runs role `app` on `hosts`, with `inventory` as its
/// inventory file (named `inventory_name`).
fn project(inventory_name: &str, inventory: &str, hosts: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let w = |rel: &str, text: &str| {
        let p = d.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w(&format!("inventory/{inventory_name}"), inventory);
    w("site.yaml", &format!("- hosts: {hosts}\n  roles: [app]\n"));
    w("roles/app/role.yaml", "resources:\n  - package: nginx\n");
    d
}

fn rigger(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_rigger")).args(args).current_dir(dir).env("NO_COLOR", "1").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const LEVELS: usize = 100_000;

/// `[g0:children]` g1, `[g1:children]` g2, … and the host in the last group.
fn ini_chain() -> String {
    let mut text = String::new();
    for i in 0..LEVELS {
        text.push_str(&format!("[g{i}:children]\ng{}\n", i + 1));
    }
    text.push_str(&format!("[g{LEVELS}]\nh1 ansible_host=127.0.0.1 ansible_port=9\n"));
    text
}

/// The line and column the caret points at, read back from a rendered error,
/// and the character under it.
fn caret_target(err: &str) -> char {
    let lines: Vec<&str> = err.lines().collect();
    let caret_line = lines.iter().rposition(|l| l.trim_end().ends_with('^')).expect("a caret line");
    let at = lines[caret_line].chars().position(|c| c == '^').unwrap();
    lines[caret_line - 1].chars().nth(at).expect("a character above the caret")
}

#[test]
fn a_chain_of_100000_groups_resolves() {
    let d = project("hosts.ini", &ini_chain(), "g0");
    let (code, out, err) = rigger(d.path(), &["check"]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "ok: 1 unit on 1 host, every template rendered\n", ""));
    let (code, list, err) = rigger(d.path(), &["inventory", "--list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        list.contains("\"g99999\": {\n    \"children\": [\n      \"g100000\"\n    ]"),
        "{}",
        &list[..list.len().min(500)]
    );
}

#[test]
fn a_loop_of_100000_groups_is_reported_at_the_line_that_closes_it() {
    let text = format!("{}[g{LEVELS}:children]\ng0\n", ini_chain());
    let d = project("hosts.ini", &text, "g0");
    let (code, _, err) = rigger(d.path(), &["check"]);
    assert_eq!(code, 1);
    let closing = 2 * LEVELS + 4;
    assert!(
        err.starts_with(&format!(
            "error: adding `g0` as a child of `g{LEVELS}` makes a loop: g0 → g1 → g2 → g3 → g4 → … (99992 more) → g99997 → g99998 → g99999 → g{LEVELS} → g0\n  --> inventory/hosts.ini:{closing}:1\n"
        )),
        "{err}"
    );
}

#[test]
fn a_yaml_chain_of_100000_groups_resolves_and_its_loop_is_found() {
    let mut text = String::new();
    for i in 0..LEVELS {
        text.push_str(&format!("g{i}:\n  children:\n    g{}:\n", i + 1));
    }
    let chain = format!("{text}g{LEVELS}:\n  hosts:\n    h1: {{ ansible_host: 127.0.0.1, ansible_port: 9 }}\n");
    let d = project("hosts.yaml", &chain, "g0");
    let (code, out, err) = rigger(d.path(), &["check"]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "ok: 1 unit on 1 host, every template rendered\n", ""));
    let looped = format!("{text}g{LEVELS}:\n  children:\n    g0:\n");
    std::fs::write(d.path().join("inventory/hosts.yaml"), looped).unwrap();
    let (code, _, err) = rigger(d.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(err.starts_with(&format!("error: adding `g0` as a child of `g{LEVELS}` makes a loop: g0 → g1")), "{err}");
    assert!(err.len() < 1000, "{err}");
}

#[test]
fn a_5mb_line_is_shown_around_the_fault() {
    // The `}` that closes a list is the mistake, 5 MB into the line.
    let line = format!("    web1: {{ ansible_host: 127.0.0.1, x: [{}}}", "a, ".repeat(1_700_000));
    let d = project("hosts.yaml", &format!("web:\n  hosts:\n{line}\n"), "web");
    let (code, _, err) = rigger(d.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(err.len() < 1000, "{} bytes of error: {}", err.len(), &err[..err.len().min(1000)]);
    assert!(err.contains(&format!("--> inventory/hosts.yaml:3:{}", line.len())), "{err}");
    assert!(err.contains(" | …a, a, a"), "{err}");
    assert_eq!(caret_target(&err), '}', "{err}");
}

#[test]
fn a_5mb_line_in_a_template_is_shown_around_the_fault() {
    let d = project("hosts.yaml", "web:\n  hosts:\n    web1: { ansible_host: 127.0.0.1, ansible_port: 9 }\n", "web");
    let role = "resources:\n  - template: { src: big.tera, dest: /etc/big }\n";
    std::fs::write(d.path().join("roles/app/role.yaml"), role).unwrap();
    std::fs::create_dir_all(d.path().join("roles/app/templates")).unwrap();
    let line = format!("{}{{{{ nope }}}}{}", "a".repeat(5_000_000), "b".repeat(1000));
    std::fs::write(d.path().join("roles/app/templates/big.tera"), format!("{line}\n")).unwrap();
    let (code, _, err) = rigger(d.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(err.len() < 1000 && err.contains("Variable `nope` is not defined"), "{}", &err[..err.len().min(1000)]);
    assert_eq!(caret_target(&err), 'n', "{err}");
}

#[test]
fn a_200kb_nested_list_is_refused_at_the_bracket_past_the_limit() {
    let d = project("hosts.yaml", &format!("web:\n  hosts: {}\n", "[".repeat(200_000)), "web");
    let (code, _, err) = rigger(d.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: `[` nested more than 128 levels deep: rigger reads YAML nested at most 128 levels\n  --> inventory/hosts.yaml:2:138\n"),
        "{err}"
    );
    assert_eq!(caret_target(&err), '[', "{err}");
    assert!(err.len() < 1000, "{err}");
}
