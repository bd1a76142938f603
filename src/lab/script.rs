//! Runs the lab script (`lab.sh`, compiled into the binary) for one lab: from
//! a private copy, so what runs as root is exactly what was built, and no
//! checkout needs to be around.

use super::spec::LabSpec;
use crate::error::{Error, Result};
use std::io::Write;
use std::process::{Command, Stdio};

const SCRIPT: &str = include_str!("lab.sh");

/// The lab makes network namespaces, a bridge, overlay mounts and
/// containers: all need root. Says so before anything starts.
pub fn ensure_root(what: &str) -> Result<()> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|l| l.split_whitespace().nth(1));
    if euid == Some("0") {
        return Ok(());
    }
    Err(Error::Lab(format!(
        "rigger {what} must run as root: the lab makes network namespaces, a bridge, overlay mounts and systemd-nspawn containers (try: sudo rigger {what})"
    )))
}

/// Runs `lab.sh ARGS` for `lab` with this terminal; returns its exit code.
pub fn run(lab: &LabSpec, args: &[String]) -> Result<i32> {
    let (_dir, mut cmd) = command(lab, args)?;
    let status = cmd.status().map_err(Error::System)?;
    Ok(status.code().unwrap_or(1))
}

/// Runs `lab.sh ARGS` for `lab`; its stdout, or its stderr as the error.
pub fn capture(lab: &LabSpec, args: &[String]) -> Result<String> {
    let (_dir, mut cmd) = command(lab, args)?;
    let out = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).output().map_err(Error::System)?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(Error::Lab(format!("lab {} failed: {}", args.join(" "), stderr.trim_end())))
}

/// `bash COPY ARGS` with the lab's environment; the temp dir holding the copy
/// must outlive the process.
fn command(lab: &LabSpec, args: &[String]) -> Result<(tempfile::TempDir, Command)> {
    let dir = tempfile::Builder::new().prefix("rigger-lab.").tempdir().map_err(Error::System)?;
    let path = dir.path().join("lab.sh");
    let mut f = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
    f.write_all(SCRIPT.as_bytes()).map_err(|e| Error::io(&path, e))?;
    let mut cmd = Command::new("bash");
    cmd.arg(&path).args(args).env("LAB_PROG", "rigger lab");
    for (k, v) in lab.env() {
        cmd.env(k, v);
    }
    Ok((dir, cmd))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_script_is_valid_bash() {
        let out = std::process::Command::new("bash").args(["-n", "-c", super::SCRIPT]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
