//! Secrets: the age vault that opens encrypted vars files (`*.age`,
//! armored) and the values that must never be shown. One `Secrets` value is
//! made by the CLI from its flags and passed down: loading adds every value
//! it decrypts or generates, and the output layer redacts with it. There is
//! no process-wide registry.
//!
//! Key: `--vault-key FILE` or `RIGGER_VAULT_KEY_FILE` (an age identity file,
//! `rigger vault keygen`), or a passphrase in `RIGGER_VAULT_PASSWORD`.

use age::secrecy::{ExposeSecret, SecretString};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, RwLock};

pub const MARKER: &str = "«secret»";

/// Why the vault could not open or seal something.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VaultError {
    #[error(
        "an encrypted file needs a key: pass --vault-key FILE, or set RIGGER_VAULT_KEY_FILE or RIGGER_VAULT_PASSWORD"
    )]
    NoKey,
    #[error("cannot read the vault key {}: {why}", .file.display())]
    KeyUnreadable { file: PathBuf, why: String },
    #[error("{} holds no age identity (AGE-SECRET-KEY-…); make one with `rigger vault keygen FILE`", .0.display())]
    NoIdentity(PathBuf),
    #[error("{}: bad age identity: {why}", .file.display())]
    BadIdentity { file: PathBuf, why: String },
    #[error("{0}")]
    Encrypt(String),
    #[error("cannot decrypt: {0} (wrong key?)")]
    Decrypt(String),
    #[error("cannot read {}: {why}", .path.display())]
    Read { path: PathBuf, why: String },
    /// An error about one file: which file, then what.
    #[error("{}: {source}", .path.display())]
    File { path: PathBuf, source: Box<VaultError> },
    #[error("{}: the decrypted content is not UTF-8 text", .0.display())]
    NotText(PathBuf),
}

impl From<VaultError> for crate::error::Error {
    fn from(e: VaultError) -> Self {
        crate::error::Error::Load(Box::new(e))
    }
}

/// The vault key and every value to hide; cheap to clone, shared by all
/// clones (what loading adds, the output layer sees).
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// `--vault-key`; without it, the environment is asked.
    key_file: Option<PathBuf>,
    /// Longest first, so a secret containing another is replaced whole.
    values: RwLock<Vec<String>>,
}

enum Key {
    Identity(age::x25519::Identity),
    Passphrase(SecretString),
}

impl Secrets {
    /// Secrets opened with the identity file `key_file` (else the environment's key).
    pub fn new(key_file: Option<PathBuf>) -> Self {
        Secrets { inner: Arc::new(Inner { key_file, values: RwLock::default() }) }
    }

    /// Marks a value as secret. Very short values are not redacted (they
    /// would mangle ordinary text) and are refused at load time instead.
    pub fn add(&self, value: &str) {
        if value.len() < 4 {
            return;
        }
        let mut values = self.inner.values.write().unwrap_or_else(|e| e.into_inner());
        let escaped = serde_json::to_string(value).unwrap_or_default();
        for v in [value.to_string(), escaped[1..escaped.len().saturating_sub(1)].to_string()] {
            if !values.contains(&v) {
                values.push(v);
            }
        }
        values.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Marks every string (and number) inside a value.
    pub fn add_value(&self, v: &serde_json::Value) {
        match v {
            serde_json::Value::String(s) => self.add(s),
            serde_json::Value::Number(n) => self.add(&n.to_string()),
            serde_json::Value::Array(a) => a.iter().for_each(|v| self.add_value(v)),
            serde_json::Value::Object(m) => m.values().for_each(|v| self.add_value(v)),
            _ => {}
        }
    }

    /// `text` with every secret replaced by the marker.
    pub fn redact(&self, text: &str) -> String {
        let values = self.inner.values.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_string();
        for s in values.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MARKER);
            }
        }
        out
    }

    fn key(&self) -> Result<Key, VaultError> {
        let file = self.inner.key_file.clone().or_else(|| std::env::var_os("RIGGER_VAULT_KEY_FILE").map(PathBuf::from));
        if let Some(f) = file {
            let text = std::fs::read_to_string(&f)
                .map_err(|e| VaultError::KeyUnreadable { file: f.clone(), why: e.to_string() })?;
            let line = text
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with("AGE-SECRET-KEY-"))
                .ok_or_else(|| VaultError::NoIdentity(f.clone()))?;
            return age::x25519::Identity::from_str(line)
                .map(Key::Identity)
                .map_err(|e| VaultError::BadIdentity { file: f, why: e.to_string() });
        }
        if let Ok(p) = std::env::var("RIGGER_VAULT_PASSWORD") {
            return Ok(Key::Passphrase(SecretString::from(p)));
        }
        Err(VaultError::NoKey)
    }

    /// Whether a key is configured (values can be sealed).
    pub fn has_key(&self) -> bool {
        self.key().is_ok()
    }

    pub fn encrypt(&self, plain: &[u8]) -> Result<String, VaultError> {
        let sealed = match self.key()? {
            Key::Identity(id) => age::encrypt_and_armor(&id.to_public(), plain),
            Key::Passphrase(p) => age::encrypt_and_armor(&age::scrypt::Recipient::new(p), plain),
        };
        sealed.map_err(|e| VaultError::Encrypt(e.to_string()))
    }

    pub fn decrypt(&self, cipher: &[u8]) -> Result<Vec<u8>, VaultError> {
        let res = match self.key()? {
            Key::Identity(id) => age::decrypt(&id, cipher),
            Key::Passphrase(p) => age::decrypt(&age::scrypt::Identity::new(p), cipher),
        };
        res.map_err(|e| VaultError::Decrypt(e.to_string()))
    }

    /// The text of an encrypted file. Its content is not yet a secret: the
    /// caller decides which values in it are.
    pub fn decrypt_file(&self, path: &Path) -> Result<String, VaultError> {
        let data = std::fs::read(path).map_err(|e| VaultError::Read { path: path.into(), why: e.to_string() })?;
        let plain =
            self.decrypt(&data).map_err(|e| VaultError::File { path: path.to_path_buf(), source: Box::new(e) })?;
        String::from_utf8(plain).map_err(|_| VaultError::NotText(path.to_path_buf()))
    }
}

/// A new age identity for `rigger vault keygen`: (file content, public key).
pub fn keygen() -> (String, String) {
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    (format!("# public key: {public}\n{}\n", id.to_string().expose_secret()), public)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_replaces_every_value_added_to_this_set_only() {
        let s = Secrets::default();
        s.add("hunter2-pass");
        s.add("ab");
        assert_eq!(s.redact("password=hunter2-pass; x=ab"), format!("password={MARKER}; x=ab"));
        let other = Secrets::default();
        assert_eq!(other.redact("hunter2-pass"), "hunter2-pass", "no process-wide registry");
        let clone = s.clone();
        clone.add("added-later");
        assert_eq!(s.redact("added-later"), MARKER, "clones share what loading adds");
    }

    #[test]
    fn roundtrip_with_a_key_file() {
        let d = tempfile::tempdir().unwrap();
        let (content, public) = keygen();
        assert!(public.starts_with("age1"));
        let f = d.path().join("key.txt");
        std::fs::write(&f, content).unwrap();
        let s = Secrets::new(Some(f));
        let c = s.encrypt(b"db_password: s3cr3t-value\n").unwrap();
        assert!(c.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        assert_eq!(s.decrypt(c.as_bytes()).unwrap(), b"db_password: s3cr3t-value\n");
        let missing = Secrets::new(Some(d.path().join("nope")));
        assert!(matches!(missing.encrypt(b"x"), Err(VaultError::KeyUnreadable { .. })));
    }
}
