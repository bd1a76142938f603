//! Values rigger generates once on the control machine and then reuses: a
//! Ceph fsid, cluster keys, passwords. Templates call
//! `generated(name="ceph_fsid", kind="uuid")`; the first call creates
//! `<inventory dir>/generated/<name>` (age-encrypted as `<name>.age` when a
//! vault key is configured, else mode 0600), later calls read it back, so
//! every host gets the same value and a second run changes nothing. Every
//! generated value is a secret: redacted from all output.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct Store {
    dir: PathBuf,
    lock: Mutex<()>,
}

fn random(n: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(buf)
}

/// A new value of `kind`.
pub fn make(kind: &str) -> Result<String, String> {
    use base64::Engine;
    Ok(match kind {
        "uuid" => {
            let mut b = random(16)?;
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
            format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
        }
        // Ceph's CryptoKey: type (1 = AES), creation time, length, 16 secret bytes; base64.
        "ceph_key" => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            let mut b = Vec::with_capacity(28);
            b.extend_from_slice(&1u16.to_le_bytes());
            b.extend_from_slice(&(now.as_secs() as u32).to_le_bytes());
            b.extend_from_slice(&now.subsec_nanos().to_le_bytes());
            b.extend_from_slice(&16u16.to_le_bytes());
            b.extend_from_slice(&random(16)?);
            base64::engine::general_purpose::STANDARD.encode(b)
        }
        "password" => {
            const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
            random(24)?.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
        }
        "hex" => random(16)?.iter().map(|b| format!("{b:02x}")).collect(),
        other => return Err(format!("generated(): unknown kind {other:?} (uuid, ceph_key, password, hex)")),
    })
}

impl Store {
    pub fn new(inventory: &Path) -> Self {
        let base = if inventory.is_dir() {
            inventory.to_path_buf()
        } else {
            inventory.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        Store { dir: base.join("generated"), lock: Mutex::new(()) }
    }

    /// The value called `name`, generated on first use.
    pub fn get(&self, name: &str, kind: &str) -> Result<String, String> {
        if name.is_empty()
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
            || name.starts_with('.')
        {
            return Err(format!("generated(): bad name {name:?} (letters, digits, `_-.`)"));
        }
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let plain = self.dir.join(name);
        let sealed = self.dir.join(format!("{name}.age"));
        let value = if sealed.is_file() {
            crate::secret::decrypt_file(&sealed)?.trim_end().to_string()
        } else if plain.is_file() {
            std::fs::read_to_string(&plain)
                .map_err(|e| format!("cannot read {}: {e}", plain.display()))?
                .trim_end()
                .to_string()
        } else {
            let value = make(kind)?;
            std::fs::create_dir_all(&self.dir).map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
            match crate::secret::encrypt(format!("{value}\n").as_bytes()) {
                Ok(cipher) => {
                    std::fs::write(&sealed, cipher).map_err(|e| format!("cannot write {}: {e}", sealed.display()))?
                }
                Err(_) => {
                    use std::io::Write;
                    use std::os::unix::fs::OpenOptionsExt;
                    let mut f = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(&plain)
                        .map_err(|e| format!("cannot write {}: {e}", plain.display()))?;
                    f.write_all(format!("{value}\n").as_bytes()).map_err(|e| e.to_string())?;
                }
            }
            value
        };
        crate::secret::register(&value);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_reused() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::new(d.path());
        let a = s.get("ceph_fsid", "uuid").unwrap();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_eq!(Store::new(d.path()).get("ceph_fsid", "uuid").unwrap(), a, "a second run reads the same value");
        let k = s.get("ceph_admin_key", "ceph_key").unwrap();
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD.decode(&k).unwrap();
        assert_eq!((raw.len(), raw[0], raw[10]), (28, 1, 16));
        assert!(s.get("../x", "uuid").is_err());
        assert!(s.get("x", "nope").is_err());
    }
}
