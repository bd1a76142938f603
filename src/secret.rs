//! Secrets: the age vault that opens encrypted vars files (`*.age`,
//! armored) and the values that must never be shown. One `Secrets` value is
//! made by the CLI from its flags and passed down: loading adds every value
//! it decrypts or generates, and the output layer redacts with it. There is
//! no process-wide registry.
//!
//! Key: `--vault-key FILE` or `RIGGER_VAULT_KEY_FILE` (an age identity file,
//! `rigger vault keygen`), or a passphrase in `RIGGER_VAULT_PASSWORD`.
//! Files and values Ansible encrypted (`ansible_vault`) open with the
//! passwords of `vault_passwords`.

pub mod ansible_vault;
pub mod vault_passwords;

use age::secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, OnceLock, RwLock};
use vault_passwords::{Password, PasswordError, Sources};

pub const MARKER: &str = "«secret»";

/// What a line of text output becomes when it holds a secret too short to
/// cut out by substitution (2 or 3 characters, as a whole word).
pub const SENSITIVE_LINE: &str = "(sensitive)";

/// The context key that tells `generated()` it runs in the sealed render
/// (see `placeholders`): it then returns a stand-in, not the value.
pub const SEALED_FLAG: &str = "__rigger_sealed";

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
    #[error("{0}")]
    Ansible(#[from] ansible_vault::AnsibleVaultError),
    #[error("{0}")]
    Password(#[from] PasswordError),
    #[error("the decrypted value is not UTF-8 text")]
    ValueNotText,
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
    /// Every secret leaf exactly, whatever its length: strings, and numbers
    /// in their JSON text. JSON documents and the sealed render match these.
    leaves: RwLock<HashSet<String>>,
    /// Leaves of 2 or 3 characters: a text line holding one as a whole word
    /// prints as `(sensitive)`, since substituting them would mangle text.
    short: RwLock<Vec<String>>,
    /// Where ansible-vault passwords come from, and them once read.
    ansible: Sources,
    ansible_passwords: OnceLock<Result<Vec<Password>, PasswordError>>,
}

enum Key {
    Identity(age::x25519::Identity),
    Passphrase(SecretString),
}

impl Secrets {
    /// Secrets opened with the identity file `key_file` (else the environment's key).
    pub fn new(key_file: Option<PathBuf>) -> Self {
        Secrets { inner: Arc::new(Inner { key_file, ..Inner::default() }) }
    }

    /// `new`, with passwords for files and values encrypted by ansible-vault.
    pub fn with_vault_passwords(key_file: Option<PathBuf>, ansible: Sources) -> Self {
        Secrets { inner: Arc::new(Inner { key_file, ansible, ..Inner::default() }) }
    }

    /// Whether `value` is a secret (a leaf added with `add`).
    pub fn contains(&self, value: &str) -> bool {
        read(&self.inner.leaves).contains(value)
    }

    /// The plain text of an ansible-vault text (a whole file, or an inline
    /// `!vault` value). The password that opened it becomes a secret; what
    /// the text holds is the caller's to mark.
    pub fn open_ansible(&self, text: &str) -> Result<String, VaultError> {
        let passwords = self.inner.ansible_passwords.get_or_init(|| self.inner.ansible.read()).clone()?;
        let plain = ansible_vault::decrypt(text, &passwords)?;
        for (_, p) in &passwords {
            self.add(&String::from_utf8_lossy(p));
        }
        String::from_utf8(plain).map_err(|_| VaultError::ValueNotText)
    }

    /// Marks a value as secret. Values of 4 characters or more are cut out
    /// of text by substitution; shorter ones seal the lines that hold them
    /// as a word (a single character is refused at load, see `too_short`).
    /// Every value seals JSON leaves and the sealed render, whatever its length.
    pub fn add(&self, value: &str) {
        if value.is_empty() {
            return;
        }
        let fresh = write(&self.inner.leaves).insert(value.to_string());
        if !fresh {
            return;
        }
        if value.chars().count() < 4 {
            write(&self.inner.short).push(value.to_string());
            return;
        }
        let mut values = write(&self.inner.values);
        let escaped = serde_json::to_string(value).unwrap_or_default();
        for v in [value.to_string(), escaped[1..escaped.len().saturating_sub(1)].to_string()] {
            if !values.contains(&v) {
                values.push(v);
            }
        }
        values.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Marks every string (and number) inside a value.
    pub fn add_value(&self, v: &Value) {
        match v {
            Value::String(s) => self.add(s),
            Value::Number(n) => self.add(&n.to_string()),
            Value::Array(a) => a.iter().for_each(|v| self.add_value(v)),
            Value::Object(m) => m.values().for_each(|v| self.add_value(v)),
            _ => {}
        }
    }

    /// Whether any value is secret yet: without one there is nothing to seal,
    /// and the second (sealed) render is skipped.
    pub fn is_empty(&self) -> bool {
        read(&self.inner.leaves).is_empty()
    }

    /// `text` with every secret replaced by the marker, and every line that
    /// holds a short secret as a word replaced by `(sensitive)`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in read(&self.inner.values).iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MARKER);
            }
        }
        let short = read(&self.inner.short);
        if short.iter().any(|s| has_word(&out, s)) {
            out = out
                .split_inclusive('\n')
                .map(|line| match short.iter().any(|s| has_word(line, s)) {
                    true => format!("{SENSITIVE_LINE}{}", if line.ends_with('\n') { "\n" } else { "" }),
                    false => line.to_string(),
                })
                .collect();
        }
        out
    }

    /// Seals a JSON document before it is serialized, so it stays valid
    /// JSON: a string or number that is a secret becomes the marker string
    /// (numbers too: text substitution would leave `"port": «secret»`);
    /// longer strings (and keys) have the secrets in them replaced.
    pub fn seal_json(&self, v: &mut Value) {
        let leaves = read(&self.inner.leaves);
        self.seal_leaves(v, &leaves);
    }

    fn seal_leaves(&self, v: &mut Value, leaves: &HashSet<String>) {
        match v {
            Value::String(s) if leaves.contains(s.as_str()) => *v = Value::String(MARKER.into()),
            Value::String(s) => *s = self.redact(s),
            Value::Number(n) if leaves.contains(&n.to_string()) => *v = Value::String(MARKER.into()),
            Value::Array(a) => a.iter_mut().for_each(|x| self.seal_leaves(x, leaves)),
            Value::Object(m) => {
                let entries = std::mem::take(m);
                for (k, mut x) in entries {
                    self.seal_leaves(&mut x, leaves);
                    m.insert(self.redact(&k), x);
                }
            }
            _ => {}
        }
    }

    /// `v` with every secret in it replaced by its stand-in (`placeholder`):
    /// the vars of the sealed render. Rendering twice, once with the values
    /// and once with these, tells for any template and any filter whether a
    /// result depends on a secret: the two renders differ.
    pub fn placeholders(&self, v: &Value) -> Value {
        let leaves = read(&self.inner.leaves);
        let values = read(&self.inner.values);
        self.stand_in(v, &leaves, &values)
    }

    fn stand_in(&self, v: &Value, leaves: &HashSet<String>, values: &[String]) -> Value {
        match v {
            Value::String(s) if leaves.contains(s.as_str()) => Value::String(placeholder(s)),
            Value::String(s) => {
                let mut out = s.clone();
                for secret in values {
                    if out.contains(secret.as_str()) {
                        out = out.replace(secret.as_str(), &placeholder(secret));
                    }
                }
                Value::String(out)
            }
            Value::Number(n) if leaves.contains(&n.to_string()) => number_placeholder(n),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.stand_in(x, leaves, values)).collect()),
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, x)| (k.clone(), self.stand_in(x, leaves, values))).collect())
            }
            other => other.clone(),
        }
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
        let in_file = |e| VaultError::File { path: path.to_path_buf(), source: Box::new(e) };
        if let Some(text) = std::str::from_utf8(&data).ok().filter(|t| ansible_vault::is_vaulted(t)) {
            return self.open_ansible(text).map_err(in_file);
        }
        let plain =
            self.decrypt(&data).map_err(|e| VaultError::File { path: path.to_path_buf(), source: Box::new(e) })?;
        String::from_utf8(plain).map_err(|_| VaultError::NotText(path.to_path_buf()))
    }
}

/// The stand-in for a secret in the sealed render: as many characters, each
/// different from the secret's at the same place (and caseless), so a
/// substring, a reversal, a case change or a concatenation of it still
/// differs from the same of the secret.
pub fn placeholder(secret: &str) -> String {
    secret.chars().map(|c| if c == '¤' { '§' } else { '¤' }).collect()
}

/// A number of the same shape with every digit changed, so arithmetic and
/// comparisons still work in the sealed render.
fn number_placeholder(n: &serde_json::Number) -> Value {
    let text: String = n
        .to_string()
        .chars()
        .enumerate()
        .map(|(i, c)| match c.to_digit(10) {
            // 5 → 0 would make a leading zero; 9 differs from 5 too.
            Some(5) if i == 0 || n.to_string().starts_with('-') && i == 1 => '9',
            Some(d) => char::from_digit((d + 5) % 10, 10).unwrap_or('0'),
            None => c,
        })
        .collect();
    serde_json::from_str(&text).unwrap_or_else(|_| Value::String(placeholder(&text)))
}

/// A secret leaf too short to hide: one character can be told apart from
/// nothing in output (every `1` or `a` would go), so loading refuses it.
pub fn too_short(v: &Value) -> bool {
    match v {
        Value::String(s) => s.chars().count() == 1,
        Value::Number(n) => n.to_string().chars().count() == 1,
        Value::Array(a) => a.iter().any(too_short),
        Value::Object(m) => m.values().any(too_short),
        _ => false,
    }
}

/// Whether `text` holds `word` bounded by non-alphanumeric characters.
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
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
        assert_eq!(s.redact("password=hunter2-pass; x=abc"), format!("password={MARKER}; x=abc"));
        assert_eq!(s.redact("ok\nx=ab\n"), format!("ok\n{SENSITIVE_LINE}\n"), "a short secret seals its line");
        let other = Secrets::default();
        assert_eq!(other.redact("hunter2-pass"), "hunter2-pass", "no process-wide registry");
        let clone = s.clone();
        clone.add("added-later");
        assert_eq!(s.redact("added-later"), MARKER, "clones share what loading adds");
    }

    #[test]
    fn json_documents_are_sealed_leaf_by_leaf_and_stay_valid() {
        let s = Secrets::default();
        s.add_value(&serde_json::json!({ "pin": 987, "list": ["ab9"], "pw": "hunter2-pass" }));
        let mut doc = serde_json::json!({ "port": 987, "n": 19876, "l": ["ab9", "abc"], "url": "x://hunter2-pass@h" });
        s.seal_json(&mut doc);
        assert_eq!(
            doc,
            serde_json::json!({ "port": MARKER, "n": 19876, "l": [MARKER, "abc"], "url": format!("x://{MARKER}@h") })
        );
    }

    #[test]
    fn stand_ins_differ_from_the_secret_everywhere() {
        let s = Secrets::default();
        s.add_value(&serde_json::json!({ "pin": 5_040, "k": "-----BEGIN\nabc\n", "neg": -51 }));
        let v = s.placeholders(&serde_json::json!({ "pin": 5_040, "k": "-----BEGIN\nabc\n", "neg": -51, "x": 7 }));
        assert_eq!(v["pin"], serde_json::json!(9_595));
        assert_eq!(v["neg"], serde_json::json!(-96));
        assert_eq!(v["x"], serde_json::json!(7));
        let k = v["k"].as_str().unwrap();
        assert_eq!(k.chars().count(), 15);
        assert!(k.chars().all(|c| c == '¤'));
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
