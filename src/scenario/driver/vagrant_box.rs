//! The box the vagrant driver boots, and the host side it needs: runs
//! `vagrant_box.sh` (compiled into rigger, like the lab's script) to start
//! libvirtd and to build the Debian 12 box once (cached in
//! /var/lib/rigger-vagrant) and add it to Vagrant.

use std::io::Write;
use std::process::{Command, Stdio};

const SCRIPT: &str = include_str!("vagrant_box.sh");

/// What to install when Vagrant or its libvirt side is missing.
pub const INSTALL_HINT: &str = "install them (Debian 12, as root): apt-get install vagrant vagrant-libvirt \
     libvirt-daemon-system qemu-system-x86 qemu-utils/bookworm dnsmasq-base iptables ebtables debootstrap; \
     or run `bash src/scenario/driver/vagrant_box.sh install` from rigger's source";

/// Is `program` on PATH?
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// libvirtd answering, the box built (once) and added: or why not, with the
/// script's last lines.
pub fn ensure() -> Result<(), String> {
    if !on_path("vagrant") {
        return Err(format!("Vagrant is not installed (no `vagrant` on PATH): {INSTALL_HINT}"));
    }
    let dir = tempfile::Builder::new().prefix("rigger-vagrant.").tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("vagrant_box.sh");
    let mut f = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(SCRIPT.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    drop(f);
    let out = Command::new("bash")
        .arg(&path)
        .arg("ensure")
        .env("VAGRANT_NO_COLOR", "1")
        .env("VAGRANT_CHECKPOINT_DISABLE", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run bash: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!("preparing the Vagrant box failed:\n{}", tail(&String::from_utf8_lossy(&out.stderr), 30)))
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_script_is_valid_bash() {
        let out = Command::new("bash").args(["-n", "-c", SCRIPT]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
