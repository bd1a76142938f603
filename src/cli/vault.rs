//! `vault`: age-encrypted vars files — keygen, encrypt, decrypt, edit, and
//! import (an ansible-vault file re-encrypted to age). The
//! one command that prints without redaction: printing the secret is what
//! `decrypt` is for. What it writes in plain text (a key, the file being
//! edited) is created readable by its owner only.

use super::args::VaultAction;
use crate::error::{Error, Result};
use crate::secret::{self, Secrets};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub fn run(action: &VaultAction, secrets: &Secrets) -> Result<i32> {
    match action {
        VaultAction::Keygen { file } => {
            let (content, public) = secret::keygen();
            write_private(file, content.as_bytes())?;
            eprintln!("wrote {} (keep it out of version control)", file.display());
            println!("{public}");
        }
        VaultAction::Encrypt { file, keep } => {
            let plain = std::fs::read(file).map_err(|e| Error::io(file, e))?;
            let out = PathBuf::from(format!("{}.age", file.display()));
            let cipher = secrets.encrypt(&plain)?;
            std::fs::write(&out, cipher).map_err(|e| Error::io(&out, e))?;
            if !keep {
                std::fs::remove_file(file).map_err(|e| Error::io(file, e))?;
            }
            eprintln!("wrote {}", out.display());
        }
        VaultAction::Decrypt { file } => {
            print!("{}", secrets.decrypt_file(file)?);
        }
        VaultAction::Edit { file } => edit(file, secrets)?,
        VaultAction::Import { file, keep } => import(file, *keep, secrets)?,
    }
    Ok(0)
}

/// Decrypts `file` into a private temp file, runs $EDITOR on it and encrypts
/// the result back over `file`. If the editor fails, `file` is left alone.
fn edit(file: &Path, secrets: &Secrets) -> Result<()> {
    if is_ansible_vault(file) {
        return Err(Error::usage(format!(
            "{} is encrypted by ansible-vault: `rigger vault import {0}` re-encrypts it to age first",
            file.display()
        )));
    }
    let plain = secrets.decrypt_file(file)?;
    let dir = tempfile::tempdir().map_err(Error::System)?;
    // The editor sees the plain name (`secrets.yaml`), so it picks the right syntax.
    let tmp = dir.path().join(
        file.file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".age").to_string())
            .unwrap_or_else(|| "vars.yaml".into()),
    );
    write_private(&tmp, plain.as_bytes())?;
    let editor = std::env::var("EDITOR").unwrap_or_else(|_| "vi".into());
    // Through `sh -c`, so EDITOR may carry arguments (`code --wait`); the path is "$1", never spliced in.
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&tmp)
        .status()
        .map_err(|source| Error::EditorUnavailable { editor: editor.clone(), source })?;
    if !status.success() {
        return Err(Error::EditorFailed { editor, file: file.to_path_buf() });
    }
    let edited = std::fs::read(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let cipher = secrets.encrypt(&edited)?;
    std::fs::write(file, cipher).map_err(|e| Error::io(file, e))?;
    eprintln!("{} re-encrypted", file.display());
    Ok(())
}

/// Decrypts the ansible-vault `file` with the vault passwords and encrypts
/// it with rigger's key to `file.age` (never overwritten); the plain text
/// touches no disk.
fn import(file: &Path, keep: bool, secrets: &Secrets) -> Result<()> {
    if !is_ansible_vault(file) {
        return Err(Error::usage(format!(
            "{} is not encrypted by ansible-vault (no `$ANSIBLE_VAULT;` header); for a plain file use `rigger vault encrypt`",
            file.display()
        )));
    }
    let plain = secrets.decrypt_file(file)?;
    let cipher = secrets.encrypt(plain.as_bytes())?;
    let out = PathBuf::from(format!("{}.age", file.display()));
    write_private(&out, cipher.as_bytes())?;
    if !keep {
        std::fs::remove_file(file).map_err(|e| Error::io(file, e))?;
    }
    eprintln!("wrote {}", out.display());
    Ok(())
}

fn is_ansible_vault(file: &Path) -> bool {
    std::fs::read_to_string(file).is_ok_and(|t| secret::ansible_vault::is_vaulted(&t))
}

/// Creates `path` readable by its owner only; refuses to overwrite.
fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    f.write_all(data).map_err(|e| Error::io(path, e))
}
