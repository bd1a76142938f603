//! Inline `!vault` values in a plain vars file (`ansible-vault
//! encrypt_string`): each is decrypted in place and becomes a secret. Works
//! on the YAML document; the file around it is `source`'s.

use crate::secret::{Secrets, VaultError};
use serde_yaml::value::{Tag, Value};

/// Why an inline `!vault` value could not be opened: where it is (line and
/// key), never what it holds.
#[derive(Debug, thiserror::Error)]
pub enum InlineVaultError {
    #[error("{line}: `{key}`: {source}")]
    Open { line: usize, key: String, source: VaultError },
    #[error("{line}: `{key}`: a `!vault` value must be the text ansible-vault printed")]
    NotText { line: usize, key: String },
    #[error(
        "{line}: secret `{key}` holds a value of one character: too short to hide in output (every such \
         character would go); use a longer value"
    )]
    TooShort { line: usize, key: String },
}

/// Replaces every `!vault` value under `doc` by its plain text, added to
/// `secrets`. `text` is the file's, to tell the line of a value that fails.
pub fn open(doc: &mut Value, text: &str, secrets: &Secrets) -> Result<(), InlineVaultError> {
    walk(doc, "", text, secrets)
}

fn walk(v: &mut Value, key: &str, text: &str, secrets: &Secrets) -> Result<(), InlineVaultError> {
    match v {
        Value::Tagged(t) if t.tag == Tag::new("vault") => {
            let Value::String(cipher) = &t.value else {
                return Err(InlineVaultError::NotText { line: line_of(text, key, ""), key: key.into() });
            };
            let line = || line_of(text, key, cipher);
            let plain = secrets.open_ansible(cipher).map_err(|source| InlineVaultError::Open {
                line: line(),
                key: key.into(),
                source,
            })?;
            if plain.chars().count() == 1 {
                return Err(InlineVaultError::TooShort { line: line(), key: key.into() });
            }
            secrets.add(&plain);
            *v = Value::String(plain);
        }
        Value::Tagged(t) => walk(&mut t.value, key, text, secrets)?,
        Value::Mapping(m) => {
            for (k, x) in m.iter_mut() {
                let name = match k {
                    Value::String(s) => s.clone(),
                    other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
                };
                walk(x, &name, text, secrets)?;
            }
        }
        Value::Sequence(items) => {
            for x in items {
                walk(x, key, text, secrets)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The line of the value's key: the last `key:` before the value's first
/// line of hex (which is unique to it).
fn line_of(text: &str, key: &str, cipher: &str) -> usize {
    let body = cipher.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('$'));
    let end = body.and_then(|b| text.find(b)).unwrap_or(text.len());
    let at = text[..end].rfind(&format!("{key}:")).or_else(|| body.and_then(|b| text.find(b)));
    at.map_or(1, |i| text[..i].matches('\n').count() + 1)
}
