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

/// An inventory file with its block-style `!vault` values (`key: !vault |`
/// and the indented lines under it) taken out: each becomes the string
/// `token(n)` on the same line, and its lines blank lines, so the file's
/// other errors keep their line numbers and quote no cipher text.
pub struct Masked {
    pub text: String,
    /// Per token: the line of its key and the ansible-vault text.
    pub values: Vec<(usize, String)>,
}

/// What stands for the `n`th value of a masked file until it is opened.
pub fn token(n: usize) -> String {
    format!("«rigger-vault:{n}»")
}

pub fn mask(text: &str) -> Masked {
    let mut out = Vec::new();
    let mut values = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let indent = line.len() - line.trim_start().len();
        let head = line.trim_end();
        let tag = head.rfind("!vault").filter(|&at| {
            let after = head[at + "!vault".len()..].trim();
            let before = head[..at].trim_end();
            matches!(after, "|" | "|-" | "|+" | ">" | ">-" | ">+") && (before.ends_with(':') || before.ends_with('-'))
        });
        let Some(at) = tag else {
            out.push(line.to_string());
            continue;
        };
        let mut cipher = Vec::new();
        while let Some((_, next)) = lines.peek() {
            let deeper = next.len() - next.trim_start().len() > indent;
            if !(next.trim().is_empty() || deeper) {
                break;
            }
            cipher.push(next.trim().to_string());
            out.push(String::new());
            lines.next();
        }
        out.insert(out.len() - cipher.len(), format!("{}\"{}\"", &line[..at], token(values.len())));
        values.push((i + 1, cipher.join("\n")));
    }
    let mut text = out.join("\n");
    text.push('\n');
    Masked { text, values }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_values_are_masked_line_for_line() {
        let text = "all:\n  hosts:\n    h1:\n      pw: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\n        6162\n      user: x\n    h2:\n";
        let m = mask(text);
        assert_eq!(m.text, "all:\n  hosts:\n    h1:\n      pw: \"«rigger-vault:0»\"\n\n\n      user: x\n    h2:\n");
        assert_eq!(m.values, [(4, "$ANSIBLE_VAULT;1.1;AES256\n6162".to_string())]);
        assert_eq!(mask("a: '!vault |'\n").values, []);
    }
}
