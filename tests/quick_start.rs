//! The README's quick start, run as written: the shell block between the
//! `quick-start` markers, line by line, by a user who is not root (nobody,
//! when the tests run as root) with an empty home and `rigger` on its PATH.
//! Each line must exit as its comment says (`# exit N`, else 0), so the test
//! fails when the README and the code disagree.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// The lines of the README's quick-start block.
fn quick_start() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("<!-- quick-start -->").expect("README has a <!-- quick-start --> marker");
    let end = readme.find("<!-- /quick-start -->").expect("README has a <!-- /quick-start --> marker");
    let block = &readme[start..end];
    let body = block.split("```sh\n").nth(1).expect("a ```sh block inside the markers");
    let body = body.split("```").next().unwrap();
    body.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
}

/// A script that runs each line and stops at the first whose exit status is
/// not the one its comment promises.
fn script(lines: &[String]) -> String {
    let mut s = String::from("set -u\n");
    for (i, line) in lines.iter().enumerate() {
        let (cmd, comment) = line.split_once(" #").unwrap_or((line, ""));
        let want = comment.split("exit ").nth(1).and_then(|r| r.chars().next()).and_then(|c| c.to_digit(10));
        let want = want.unwrap_or(0);
        s.push_str(&format!(
            "echo '$ {}'\n{cmd}\nrc=$?\nif [ $rc != {want} ]; then echo \"quick start line {}: exit $rc, the README says {want}\"; exit 1; fi\n",
            cmd.trim().replace('\'', ""),
            i + 1
        ));
    }
    s
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

#[test]
fn the_readme_quick_start_works_without_root() {
    let lines = quick_start();
    assert!(lines.iter().any(|l| l.contains("rigger init")), "the quick start makes a project: {lines:?}");
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_rigger")).parent().unwrap().display().to_string();
    let mut cmd = if is_root() {
        // nobody: no root, no sudo, a home of its own.
        Command::new("chown").args(["65534:65534"]).arg(&home).status().unwrap();
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c"]);
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c");
        c
    };
    let out = cmd
        .arg(script(&lines))
        .current_dir(&home)
        .env_clear()
        .env("HOME", &home)
        .env("PATH", format!("{bin}:/usr/bin:/bin"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{printed}");
    let greeting = std::fs::read_to_string(home.join("rigger-hello/greeting.txt")).unwrap();
    assert_eq!(greeting, "Hi from localhost: this file is managed by rigger.\n", "the last apply's -e");
    let changes = std::fs::read_to_string(home.join("rigger-hello/changes.log")).unwrap();
    assert_eq!(changes.lines().count(), 2, "the handler ran for each of the two changes only: {changes}");
    assert!(home.join(".local/state/rigger").is_dir(), "rigger's state is the user's own: {printed}");
    assert!(printed.contains("changed=0"), "a second apply changes nothing: {printed}");
}
