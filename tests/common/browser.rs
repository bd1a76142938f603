//! Headless Chromium (Debian's `chromium`) for the HTML report tests: the
//! page's DOM as the browser built it, a screenshot, and every console
//! message the page logged. Without chromium a test is skipped with a clear
//! message, except in CI (`CI=true`), where its absence fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// What the browser made of a page.
pub struct Rendered {
    pub dom: String,
    /// Console lines the page logged (errors, CSP violations, uncaught exceptions).
    pub console: Vec<String>,
}

/// Whether chromium is there; false (and a line saying so) lets a test
/// skip outside CI. In CI it panics: a browser test must not pass unrun.
pub fn available() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{CHROMIUM} is missing and CI=true: install it (apt-get install -y chromium; tests/run.sh does)");
    }
    eprintln!("SKIPPED: {CHROMIUM} is not installed (apt-get install -y chromium); the HTML report was not rendered");
    false
}

fn chromium(page: &Path, extra: &[String]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1400,1100",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(url);
    cmd.output().expect("run chromium")
}

/// The DOM after load, and the page's console lines.
pub fn render(page: &Path) -> Rendered {
    let out = chromium(page, &["--dump-dom".to_string()]);
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Content Security Policy"))
        .map(String::from)
        .collect();
    Rendered { dom: String::from_utf8_lossy(&out.stdout).into(), console }
}

/// A PNG of the page's first screen.
pub fn screenshot(page: &Path, png: &Path) -> PathBuf {
    let out = chromium(page, &[format!("--screenshot={}", png.display())]);
    assert!(out.status.success() && png.is_file(), "no screenshot: {}", String::from_utf8_lossy(&out.stderr));
    png.to_path_buf()
}
