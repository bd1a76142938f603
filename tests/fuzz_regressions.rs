//! Replays fuzz inputs through the same harness the cargo-fuzz targets use
//! (tests/fuzz/harness.rs), as plain `cargo test`, so no nightly or
//! cargo-fuzz is needed to keep a fixed crash fixed.
//!
//! - `tests/fuzz/regressions/<target>/<name>`: inputs that once crashed a
//!   target. Each has its own test below (ignored while the bug is open),
//!   replayed in a child process bounded in time and memory, since a
//!   fuzz "crash" may be a hang or an out-of-memory rather than a panic.
//! - every seed file of the repo (inventories, site.yaml, role.yaml, the
//!   bad-input corpus) goes through its target too: none may panic.

#[path = "fuzz/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};

/// A fuzz target: its name and the harness function it runs.
type Target = (&'static str, fn(&[u8]));

const TARGETS: &[Target] = &[
    ("inventory_yaml", harness::inventory_yaml),
    ("inventory_ini", harness::inventory_ini),
    ("site", harness::site),
    ("role", harness::role),
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn target(name: &str) -> fn(&[u8]) {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f).expect("known target")
}

/// Runs `input` through `target`; `Err` with the panic message if it panics.
fn replay(target_name: &str, input: &[u8]) -> Result<(), String> {
    let f = target(target_name);
    let res = std::panic::catch_unwind(|| f(input));
    harness::cleanup();
    res.map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "non-string panic".into())
    })
}

fn files_under(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, keep, out);
        } else if keep(&p) {
            out.push(p);
        }
    }
}

/// The regression files of one target, replayed; returns the failures.
/// Every regression input, with the test that replays it. A file dropped
/// into tests/fuzz/regressions/ without an entry here fails
/// `every_regression_file_has_a_test`.
const REGRESSIONS: &[(&str, &str)] =
    &[("inventory_yaml", "oom-host-range-to-u64-max.yaml"), ("inventory_ini", "timeout-host-range-to-u64-max.ini")];

/// Replays a regression input in a child process (this test binary, running
/// `replay_child`) bounded to `secs` seconds and 2 GiB of address space, so
/// an input that hangs or eats memory fails its test instead of the suite.
fn replay_bounded(target_name: &str, rel: &str, secs: u64) -> Result<(), String> {
    use std::process::{Command, Stdio};
    let file = repo().join("tests/fuzz/regressions").join(target_name).join(rel);
    assert!(file.is_file(), "{} missing", file.display());
    let exe = std::env::current_exe().unwrap();
    // The child's scratch files go here, removed even when the child is killed.
    let scratch = tempfile::tempdir().unwrap();
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg("ulimit -v 2097152 2>/dev/null; exec \"$0\" --exact replay_child --nocapture --test-threads=1")
        .arg(&exe)
        .env("FUZZ_REPLAY_TARGET", target_name)
        .env("FUZZ_REPLAY_FILE", &file)
        .env("RIGGER_FUZZ_TMP", scratch.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            return if status.success() && text.contains("replayed ok") {
                Ok(())
            } else {
                let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
                Err(format!(
                    "{status} after {:.1}s: {}",
                    start.elapsed().as_secs_f64(),
                    tail[tail.len().saturating_sub(8)..].join("\n")
                ))
            };
        }
        if start.elapsed().as_secs() >= secs {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {secs}s (killed)"));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The child side of `replay_bounded`; does nothing in a normal test run.
#[test]
fn replay_child() {
    let (Some(t), Some(f)) = (std::env::var_os("FUZZ_REPLAY_TARGET"), std::env::var_os("FUZZ_REPLAY_FILE")) else {
        return;
    };
    let input = std::fs::read(&f).unwrap();
    match replay(&t.to_string_lossy(), &input) {
        Ok(()) => println!("replayed ok"),
        Err(e) => panic!("{} panics: {e}", PathBuf::from(f).display()),
    }
}

#[test]
fn every_regression_file_has_a_test() {
    let mut files = Vec::new();
    files_under(&repo().join("tests/fuzz/regressions"), &|_| true, &mut files);
    for f in files {
        let rel = f.strip_prefix(repo().join("tests/fuzz/regressions")).unwrap();
        let mut parts = rel.iter().map(|c| c.to_string_lossy().into_owned());
        let (t, name) = (parts.next().unwrap(), parts.collect::<Vec<_>>().join("/"));
        assert!(TARGETS.iter().any(|(n, _)| *n == t), "{}: not under a target's directory", f.display());
        assert!(
            REGRESSIONS.contains(&(t.as_str(), name.as_str())),
            "{}: add it to REGRESSIONS and give it a test",
            f.display()
        );
    }
}

/// Fuzz crash, inventory_yaml (and inventory_ini below): a host range is
/// expanded eagerly with no upper bound, so ONE line makes rigger spin and
/// allocate until it is killed (`h[0:18446744073709551615]` is ~1.8e19
/// hosts; `h[0:99999999]` already needs GBs). Found as an OOM at 2 GiB.
/// Minimal repro: `printf 'all:\n  hosts:\n    h[0:18446744073709551615]:\n' > hosts.yaml; rigger inventory -i hosts.yaml`.
#[test]
fn fuzz_inventory_yaml_host_range_oom() {
    replay_bounded("inventory_yaml", "oom-host-range-to-u64-max.yaml", 20).unwrap();
}

/// Same bug from the INI loader: `\0web[0:18446744073709551615]` as a host
/// line (the fuzzer's input; the NUL is incidental). Found as a timeout.
/// Minimal repro: `printf '[web]\nh[0:18446744073709551615]\n' > hosts.ini; rigger inventory -i hosts.ini`.
#[test]
fn fuzz_inventory_ini_host_range_timeout() {
    replay_bounded("inventory_ini", "timeout-host-range-to-u64-max.ini", 20).unwrap();
}

#[test]
fn every_seed_loads_without_panic() {
    let name_is = |names: &'static [&'static str]| {
        move |p: &Path| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| names.contains(&n))
    };
    let ext_is = |exts: &'static [&'static str]| {
        move |p: &Path| p.extension().and_then(|e| e.to_str()).is_some_and(|e| exts.contains(&e))
    };
    let mut failures = Vec::new();
    let mut count = 0;
    /// (fuzz target, fixture folder, which files in it are that target's input)
    type Case<'a> = (&'a str, &'a str, Box<dyn Fn(&Path) -> bool>);
    let cases: Vec<Case> = vec![
        ("inventory_yaml", "inventory", Box::new(ext_is(&["yaml", "yml"]))),
        (
            "inventory_yaml",
            "tests/bad_input",
            Box::new(move |p: &Path| ext_is(&["yaml", "yml"])(p) && p.to_string_lossy().contains("/inventory/")),
        ),
        ("inventory_ini", "tests/bad_input", Box::new(move |p: &Path| ext_is(&["ini"])(p) || name_is(&["hosts"])(p))),
        ("site", "tests/bad_input", Box::new(name_is(&["site.yaml"]))),
        ("site", ".", Box::new(move |p: &Path| p.parent() == Some(repo()) && name_is(&["site.yaml"])(p))),
        ("role", "roles", Box::new(name_is(&["role.yaml"]))),
        ("role", "tests/bad_input", Box::new(name_is(&["role.yaml"]))),
    ];
    for (t, dir, keep) in &cases {
        let mut files = Vec::new();
        if *dir == "." {
            files.push(repo().join("site.yaml"));
        } else {
            files_under(&repo().join(dir), keep.as_ref(), &mut files);
        }
        files.sort();
        for f in files {
            count += 1;
            if let Err(e) = replay(t, &std::fs::read(&f).unwrap()) {
                failures.push(format!("{t} {}: {e}", f.display()));
            }
        }
    }
    assert!(count > 100, "only {count} seed files found");
    assert!(failures.is_empty(), "panics:\n{}", failures.join("\n"));
}

/// Sanity: the harness does reach the parsers (a valid input loads, a bad one errors, neither panics).
#[test]
fn harness_replays_known_good_and_bad_inputs() {
    replay("inventory_yaml", b"all:\n  hosts:\n    h1: { ansible_host: 10.0.0.1 }\n").unwrap();
    replay("inventory_ini", b"[web]\nweb[1:3] ansible_port=22\n[prod:children]\nweb\n").unwrap();
    replay("site", b"- hosts: web\n  roles: [r]\n  serial: \"50%\"\n").unwrap();
    replay("role", b"resources:\n  - package: curl\n  - template: { src: t.tera, dest: /etc/x, notify: h }\nhandlers:\n  h: { service: { name: x, state: reloaded } }\n").unwrap();
    replay("role", b"resources: [ {").unwrap();
}
