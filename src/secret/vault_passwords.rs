//! Where ansible-vault passwords come from: `--vault-password-file [ID@]FILE`
//! (repeatable, as Ansible's `--vault-id`), `RIGGER_VAULT_PASSWORD_FILE`, or
//! `--ask-vault-pass`. A password file that is executable is run and its
//! output is the password, as Ansible does (vault password scripts). Read
//! once, on the first vaulted value, so a project without one never asks.

use std::io::{BufRead, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// A password and the vault id it is for (`None`: any).
pub type Password = (Option<String>, Vec<u8>);

/// The password sources a command was given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sources {
    pub files: Vec<(Option<String>, PathBuf)>,
    pub ask: bool,
}

/// Why a vault password could not be had.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PasswordError {
    #[error("cannot read the vault password file {}: {why}", .file.display())]
    Unreadable { file: PathBuf, why: String },
    #[error("the vault password script {} failed: {why}", .file.display())]
    Script { file: PathBuf, why: String },
    #[error("the vault password file {} is empty", .0.display())]
    Empty(PathBuf),
    #[error("--ask-vault-pass needs a terminal to ask on: {0}")]
    NoTerminal(String),
}

impl Sources {
    /// `--vault-password-file` values (`FILE` or `ID@FILE`), then the
    /// environment's file when no flag names one.
    pub fn new(flags: &[String], env_file: Option<String>, ask: bool) -> Self {
        let files = flags.iter().cloned().chain(env_file.filter(|_| flags.is_empty())).map(|f| split_id(&f)).collect();
        Sources { files, ask }
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && !self.ask
    }

    /// Every password, in the order given (the prompted one last).
    pub fn read(&self) -> Result<Vec<Password>, PasswordError> {
        let mut out = Vec::new();
        for (id, file) in &self.files {
            out.push((id.clone(), read_file(file)?));
        }
        if self.ask {
            out.push((None, ask()?));
        }
        Ok(out)
    }
}

/// `prod@/path/file` → (`prod`, `/path/file`); a path with no `@` has no id.
/// `@` inside the path (`./a@b/f` with a `/` before the `@`) is no id either.
fn split_id(arg: &str) -> (Option<String>, PathBuf) {
    match arg.split_once('@') {
        Some((id, file)) if !id.is_empty() && !id.contains('/') => (Some(id.to_string()), PathBuf::from(file)),
        _ => (None, PathBuf::from(arg)),
    }
}

/// The file's text, or an executable's output, without its line ending(s).
fn read_file(file: &PathBuf) -> Result<Vec<u8>, PasswordError> {
    let unreadable = |e: std::io::Error| PasswordError::Unreadable { file: file.clone(), why: e.to_string() };
    let meta = std::fs::metadata(file).map_err(unreadable)?;
    let raw = if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
        let out = std::process::Command::new(file)
            .stdin(std::process::Stdio::inherit())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| PasswordError::Script { file: file.clone(), why: e.to_string() })?;
        if !out.status.success() {
            return Err(PasswordError::Script { file: file.clone(), why: out.status.to_string() });
        }
        out.stdout
    } else {
        std::fs::read(file).map_err(unreadable)?
    };
    let password = strip_line_ends(raw);
    if password.is_empty() {
        return Err(PasswordError::Empty(file.clone()));
    }
    Ok(password)
}

/// Ansible strips `\r` and `\n` from both ends of a password file.
fn strip_line_ends(mut raw: Vec<u8>) -> Vec<u8> {
    while raw.last().is_some_and(|b| matches!(b, b'\r' | b'\n')) {
        raw.pop();
    }
    let start = raw.iter().position(|b| !matches!(b, b'\r' | b'\n')).unwrap_or(raw.len());
    raw.split_off(start)
}

/// Asks for the vault password on the terminal.
fn ask() -> Result<Vec<u8>, PasswordError> {
    ask_on_terminal("Vault password: ")
}

/// Asks on the terminal with `prompt`, echo off (`stty`), whatever stdin is.
pub fn ask_on_terminal(prompt: &str) -> Result<Vec<u8>, PasswordError> {
    let no_tty = |e: std::io::Error| PasswordError::NoTerminal(e.to_string());
    let tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").map_err(no_tty)?;
    let stty = |arg: &str| std::process::Command::new("stty").arg(arg).stdin(tty.try_clone()?).status().map(|_| ());
    // Echo off before the prompt shows: whatever is typed once it shows stays unseen.
    stty("-echo").map_err(no_tty)?;
    (&tty).write_all(prompt.as_bytes()).map_err(no_tty)?;
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    let _ = stty("echo");
    let _ = (&tty).write_all(b"\n");
    read.map_err(no_tty)?;
    Ok(strip_line_ends(line.into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_take_an_optional_vault_id() {
        assert_eq!(split_id("prod@/etc/p"), (Some("prod".into()), PathBuf::from("/etc/p")));
        assert_eq!(split_id("/etc/p"), (None, PathBuf::from("/etc/p")));
        assert_eq!(split_id("./a@b/p"), (None, PathBuf::from("./a@b/p")));
        let s = Sources::new(&[], Some("env-file".into()), false);
        assert_eq!(s.files, [(None, PathBuf::from("env-file"))]);
        let s = Sources::new(&["a".into()], Some("env-file".into()), false);
        assert_eq!(s.files, [(None, PathBuf::from("a"))], "a flag beats the environment");
    }

    #[test]
    fn files_and_scripts_give_the_password_without_line_ends() {
        let d = tempfile::tempdir().unwrap();
        let plain = d.path().join("p");
        std::fs::write(&plain, "pass word\r\n").unwrap();
        let script = d.path().join("s.sh");
        std::fs::write(&script, "#!/bin/sh\necho from-script\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
        let empty = d.path().join("e");
        std::fs::write(&empty, "\n").unwrap();
        let s = Sources { files: vec![(None, plain), (Some("x".into()), script)], ask: false };
        assert_eq!(s.read().unwrap(), [(None, b"pass word".to_vec()), (Some("x".into()), b"from-script".to_vec())]);
        let s = Sources { files: vec![(None, empty.clone())], ask: false };
        assert_eq!(s.read(), Err(PasswordError::Empty(empty)));
        let s = Sources { files: vec![(None, d.path().join("nope"))], ask: false };
        assert!(matches!(s.read(), Err(PasswordError::Unreadable { .. })));
    }
}
