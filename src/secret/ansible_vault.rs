//! The ansible-vault format (1.1 and 1.2, AES256), so vars files that
//! Ansible encrypted open unchanged. Pure: text and passwords in, plain
//! bytes out; which password to try, and sealing what comes out, belong to
//! the caller.
//!
//! Layout (ansible-core `parsing/vault`): a header line
//! `$ANSIBLE_VAULT;1.1;AES256` or `$ANSIBLE_VAULT;1.2;AES256;VAULT_ID`, then
//! hex lines of `hex(salt) \n hex(hmac) \n hex(ciphertext)`. PBKDF2-HMAC-SHA256
//! (10000 rounds) makes 80 bytes: the AES-256 key, the HMAC-SHA256 key and the
//! CTR counter block. The HMAC over the ciphertext is checked before anything
//! is decrypted; the plain text carries PKCS#7 padding.

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const HEADER: &str = "$ANSIBLE_VAULT;";
const ROUNDS: u32 = 10_000;

/// Why a vaulted text could not be opened.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnsibleVaultError {
    #[error("not an ansible-vault text (expected a `$ANSIBLE_VAULT;1.1;AES256` header)")]
    NoHeader,
    #[error("ansible-vault format {0} is not supported (rigger reads 1.1 and 1.2)")]
    Version(String),
    #[error("ansible-vault cipher {0} is not supported (rigger reads AES256)")]
    Cipher(String),
    #[error("the ansible-vault body is damaged: {0}")]
    Damaged(&'static str),
    /// No password given opens it (the HMAC did not match any).
    #[error("{}", no_password(.vault_id, *.tried))]
    WrongPassword { vault_id: Option<String>, tried: usize },
}

fn no_password(vault_id: &Option<String>, tried: usize) -> String {
    let id = vault_id.as_ref().map(|i| format!(" (vault id `{i}`)")).unwrap_or_default();
    match tried {
        0 => format!(
            "encrypted with ansible-vault{id}: pass --vault-password-file FILE (or ID@FILE), --ask-vault-pass, \
             or set RIGGER_VAULT_PASSWORD_FILE"
        ),
        n => format!("no vault password given opens it{id}: wrong password? ({n} tried)"),
    }
}

/// A vaulted text, its header read and its body decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The vault id of a 1.2 header; 1.1 has none.
    pub vault_id: Option<String>,
    salt: Vec<u8>,
    mac: Vec<u8>,
    cipher: Vec<u8>,
}

/// Whether `text` is an ansible-vault text (a whole file or an inline value).
pub fn is_vaulted(text: &str) -> bool {
    text.trim_start().starts_with(HEADER)
}

impl Envelope {
    pub fn parse(text: &str) -> Result<Self, AnsibleVaultError> {
        let mut lines = text.trim_start().lines().map(str::trim);
        let header = lines.next().filter(|h| h.starts_with(HEADER)).ok_or(AnsibleVaultError::NoHeader)?;
        let fields: Vec<&str> = header.split(';').collect();
        let version = fields.get(1).copied().unwrap_or("");
        if version != "1.1" && version != "1.2" {
            return Err(AnsibleVaultError::Version(version.to_string()));
        }
        let cipher = fields.get(2).copied().unwrap_or("");
        if cipher != "AES256" {
            return Err(AnsibleVaultError::Cipher(cipher.to_string()));
        }
        let vault_id = match (version, fields.get(3)) {
            ("1.2", Some(id)) if !id.is_empty() => Some(id.to_string()),
            ("1.2", _) => return Err(AnsibleVaultError::Damaged("a 1.2 header names no vault id")),
            _ => None,
        };
        let body: String = lines.collect();
        let inner = unhex(&body).ok_or(AnsibleVaultError::Damaged("the body is not hex"))?;
        let inner = String::from_utf8(inner).map_err(|_| AnsibleVaultError::Damaged("the body is not hex lines"))?;
        let parts: Vec<&str> = inner.split('\n').collect();
        let [salt, mac, cipher] = parts[..] else {
            return Err(AnsibleVaultError::Damaged("expected salt, hmac and ciphertext"));
        };
        let decode = |s: &str, what| unhex(s).ok_or(AnsibleVaultError::Damaged(what));
        Ok(Envelope {
            vault_id,
            salt: decode(salt, "the salt is not hex")?,
            mac: decode(mac, "the hmac is not hex")?,
            cipher: decode(cipher, "the ciphertext is not hex")?,
        })
    }

    /// The plain bytes, if `password` is the one: `None` when the HMAC
    /// does not match (a wrong password, or a damaged file).
    pub fn open(&self, password: &[u8]) -> Option<Vec<u8>> {
        let mut keys = [0u8; 80];
        pbkdf2::pbkdf2_hmac::<Sha256>(password, &self.salt, ROUNDS, &mut keys);
        let (aes_key, rest) = keys.split_at(32);
        let (mac_key, iv) = rest.split_at(32);
        let mut mac = Hmac::<Sha256>::new_from_slice(mac_key).ok()?;
        mac.update(&self.cipher);
        // Constant time: `verify_slice` compares without an early exit.
        mac.verify_slice(&self.mac).ok()?;
        let mut plain = self.cipher.clone();
        let mut ctr = ctr::Ctr128BE::<aes::Aes256>::new_from_slices(aes_key, iv).ok()?;
        ctr.apply_keystream(&mut plain);
        unpad(plain)
    }
}

/// Tries the passwords in turn, those of the text's own vault id first (as
/// Ansible does), and returns the plain bytes of the first that opens it.
pub fn decrypt(text: &str, passwords: &[(Option<String>, Vec<u8>)]) -> Result<Vec<u8>, AnsibleVaultError> {
    let envelope = Envelope::parse(text)?;
    let id = envelope.vault_id.as_deref();
    let (mine, others): (Vec<_>, Vec<_>) = passwords.iter().partition(|(i, _)| i.as_deref() == id && id.is_some());
    for (_, password) in mine.into_iter().chain(others) {
        if let Some(plain) = envelope.open(password) {
            return Ok(plain);
        }
    }
    Err(AnsibleVaultError::WrongPassword { vault_id: envelope.vault_id, tried: passwords.len() })
}

/// PKCS#7: the last byte says how many bytes of padding there are.
fn unpad(mut plain: Vec<u8>) -> Option<Vec<u8>> {
    let n = usize::from(*plain.last()?);
    if n == 0 || n > 16 || n > plain.len() || !plain[plain.len() - n..].iter().all(|b| usize::from(*b) == n) {
        return None;
    }
    plain.truncate(plain.len() - n);
    Some(plain)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    s.as_bytes().chunks(2).map(|p| Some((digit(p[0])? * 16 + digit(p[1])?) as u8)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ansible_vault");
        std::fs::read_to_string(dir.join(name)).unwrap()
    }

    fn password(name: &str) -> Vec<u8> {
        fixture(name).trim_end_matches(['\r', '\n']).as_bytes().to_vec()
    }

    #[test]
    fn opens_format_1_1_made_by_ansible_vault() {
        let plain = decrypt(&fixture("vault-1.1.yml"), &[(None, password("password"))]).unwrap();
        assert_eq!(plain, b"db_password: s3cret-db-pass\ndb_port: 5432\nusers:\n  - alice\n  - bob\n");
    }

    #[test]
    fn opens_format_1_2_with_its_vault_id_tried_first() {
        let text = fixture("vault-1.2-prod.yml");
        assert_eq!(Envelope::parse(&text).unwrap().vault_id.as_deref(), Some("prod"));
        let passwords = [(None, password("password")), (Some("prod".to_string()), password("prod-password"))];
        assert_eq!(decrypt(&text, &passwords).unwrap(), b"api_token: prod-api-token-value\n");
        // An id that names another vault is still tried, after the matching ones, as Ansible does.
        let mislabelled = [(Some("dev".to_string()), password("prod-password"))];
        assert_eq!(decrypt(&text, &mislabelled).unwrap(), b"api_token: prod-api-token-value\n");
    }

    #[test]
    fn a_wrong_or_missing_password_is_an_error_not_garbage() {
        let text = fixture("vault-1.1.yml");
        let wrong = decrypt(&text, &[(None, b"not-it".to_vec())]).unwrap_err();
        assert_eq!(wrong, AnsibleVaultError::WrongPassword { vault_id: None, tried: 1 });
        assert!(decrypt(&text, &[]).unwrap_err().to_string().contains("--vault-password-file"));
    }

    #[test]
    fn damaged_texts_are_refused() {
        let text = fixture("vault-1.1.yml");
        assert_eq!(Envelope::parse("plain: yes\n"), Err(AnsibleVaultError::NoHeader));
        let v10 = text.replacen("1.1", "1.0", 1);
        assert!(matches!(Envelope::parse(&v10), Err(AnsibleVaultError::Version(_))));
        let truncated = &text[..text.len() - 3];
        assert!(matches!(Envelope::parse(truncated), Err(AnsibleVaultError::Damaged(_))));
        // One flipped ciphertext digit: the HMAC catches it before decryption.
        let last = text.trim_end().len() - 1;
        let flipped = format!("{}{}", &text[..last], if &text[last..last + 1] == "0" { "1" } else { "0" });
        let err = decrypt(&flipped, &[(None, password("password"))]);
        assert!(err.is_err(), "{err:?}");
    }

    #[test]
    fn padding_is_checked() {
        assert_eq!(unpad(vec![b'a', 1]), Some(vec![b'a']));
        assert_eq!(unpad(vec![b'a', 2, 2]), Some(vec![b'a']));
        assert_eq!(unpad(vec![b'a', 3, 2]), None);
        assert_eq!(unpad(vec![b'a', 0]), None);
        assert_eq!(unpad(vec![]), None);
    }
}
