//! `-K` / `--ask-become-pass` through the real binary on a terminal (a pty
//! made by util-linux `script`): rigger asks once, with echo off, and hands
//! the password to `sudo -S` on stdin — never on a command line and never in
//! any output. sudo is a stand-in on PATH that records how it was called, so
//! the test sees exactly what sudo would have received.

mod common;

use common::write;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

const PASSWORD: &str = "pa ss'w0rd-K";

const FAKE_SUDO: &str = r#"#!/bin/sh
for a in "$@"; do printf '%s\n' "$a" >> "$SUDO_LOG/args"; done
case " $* " in *" -S "*) IFS= read -r p; printf '%s\n' "$p" >> "$SUDO_LOG/stdin"; exit 0;; esac
while [ $# -gt 0 ] && [ "$1" != sh ]; do shift; done
exec "$@"
"#;

#[test]
fn the_become_password_is_asked_once_and_reaches_sudo_on_stdin_only() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let d = root.display();
    write(
        root,
        "inventory/hosts.yaml",
        "all:\n  hosts:\n    me: { ansible_connection: local, ansible_become: true }\n",
    );
    write(root, "site.yaml", "- hosts: all\n  roles: [app]\n");
    write(root, "roles/app/role.yaml", &format!("resources:\n  - file: {{ path: {d}/made, content: \"x\\n\" }}\n"));
    write(root, "bin/sudo", FAKE_SUDO);
    std::fs::set_permissions(root.join("bin/sudo"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(root.join("log")).unwrap();

    let rigger = env!("CARGO_BIN_EXE_rigger");
    let mut child = Command::new("script")
        .args(["-qec", &format!("{rigger} apply --yes -K"), "/dev/null"])
        .current_dir(root)
        .env("PATH", format!("{d}/bin:/usr/bin:/bin"))
        .env("SUDO_LOG", root.join("log"))
        .env("NO_COLOR", "1")
        .env("RIGGER_HOST_STATE_DIR", root.join("host-state"))
        .env("RIGGER_STATE_DIR", root.join(".state"))
        .env_remove("RIGGER_INVENTORY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (prompted, prompt) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&seen).contains("BECOME password:") {
                let _ = prompted.send(());
            }
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    // Typed once the prompt is up (rigger turns echo off before it shows it), as a person would.
    prompt.recv_timeout(Duration::from_secs(60)).expect("rigger asks for the become password");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    let transcript = reader.join().unwrap();

    assert!(status.success(), "{transcript}");
    assert!(transcript.contains("BECOME password:"), "{transcript}");
    assert!(!transcript.contains(PASSWORD), "the password is never printed: {transcript}");
    assert_eq!(std::fs::read_to_string(root.join("made")).unwrap(), "x\n", "the run went on as root");
    let stdin_seen = std::fs::read_to_string(root.join("log/stdin")).unwrap();
    assert!(stdin_seen.lines().all(|l| l == PASSWORD) && !stdin_seen.is_empty(), "sudo -S read it: {stdin_seen:?}");
    let args = std::fs::read_to_string(root.join("log/args")).unwrap();
    assert!(!args.contains("w0rd"), "never on a command line: {args}");
}
