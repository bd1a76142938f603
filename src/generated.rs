//! Values rigger generates once on the control machine and then reuses: a
//! Ceph fsid, cluster keys, passwords. Templates call
//! `generated(name="ceph_fsid", kind="uuid")`.
//!
//! Three steps keep rendering pure:
//! - `Store::load` (when the project loads) reads every value already saved
//!   under `<inventory dir>/generated/` (`<name>.age`, age-encrypted, or a
//!   plain `<name>`) and registers each as a secret.
//! - `Store::get` (the template function) only touches memory: a name not
//!   saved yet gets a fresh value, remembered for the rest of the process so
//!   every host and every render of the run see the same one.
//! - `Store::persist_new` writes the values made this run (`<name>.age` when
//!   a vault key is configured, else a 0600 plain file). `plan` and `apply`
//!   call it before showing or applying anything; `check` never does, so it
//!   writes nothing.
//!
//! Every generated value is a secret: redacted from all output.

use crate::secret::{Secrets, VaultError};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What can go wrong making, reading or saving a generated value. Clone,
/// because a file that could not be read at load is reported each time a
/// template asks for it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("generated(): bad name {0:?} (letters, digits, `_-.`)")]
    BadName(String),
    #[error("generated(): unknown kind {0:?} (uuid, ceph_key, password, hex)")]
    UnknownKind(String),
    #[error("cannot read /dev/urandom: {0}")]
    Random(Arc<std::io::Error>),
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: PathBuf, source: Arc<std::io::Error> },
    /// The vault's message, which names the file.
    #[error(transparent)]
    Decrypt(VaultError),
    #[error("cannot create {}: {source}", .path.display())]
    CreateDir { path: PathBuf, source: Arc<std::io::Error> },
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: Arc<std::io::Error> },
}

impl From<StoreError> for crate::error::Error {
    fn from(e: StoreError) -> Self {
        crate::error::Error::Load(Box::new(e))
    }
}

/// The generated values of one project, in memory for the whole run.
pub struct Store {
    dir: PathBuf,
    state: Mutex<State>,
    /// Where every value read or made is marked secret, and the vault key.
    secrets: Secrets,
}

#[derive(Default)]
struct State {
    /// Every value known this run: read at load or made since.
    values: HashMap<String, String>,
    /// Saved values that could not be read at load. Reported only when a
    /// template asks for the name, as before: a run that never needs a value
    /// does not need the key that opens it.
    unreadable: HashMap<String, StoreError>,
    /// Names made this run and not written yet, in the order they were made.
    fresh: Vec<String>,
}

fn random(n: usize) -> Result<Vec<u8>, StoreError> {
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| StoreError::Random(Arc::new(e)))?;
    Ok(buf)
}

/// A new value of `kind`.
pub fn make(kind: &str) -> Result<String, StoreError> {
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
        other => return Err(StoreError::UnknownKind(other.to_string())),
    })
}

/// A name a template may ask for: it becomes a file name, so no path
/// separators and no leading dot.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)) && !name.starts_with('.')
}

impl Store {
    /// Reads every value saved beside `inventory` (a file or a directory).
    /// No `generated/` directory is fine (nothing saved yet); one that cannot
    /// be listed is an error. A value that cannot be read or decrypted is
    /// remembered and reported when a template asks for it.
    pub fn load(inventory: &Path, secrets: &Secrets) -> Result<Self, StoreError> {
        let base = if inventory.is_dir() {
            inventory.to_path_buf()
        } else {
            inventory.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let dir = base.join("generated");
        let mut state = State::default();
        let unlisted = |e| StoreError::Read { path: dir.clone(), source: Arc::new(e) };
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => Some(entries),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(unlisted(e)),
        };
        // `x.age` holds the sealed value of `x`, a plain file its own name's;
        // when both exist the sealed one wins, as lookups always did. (A plain
        // `y.age` is taken for sealed `y`: `y.age` is then made anew and saving
        // it fails on the existing file, loudly rather than silently.)
        let mut names = std::collections::BTreeSet::new();
        for entry in entries.into_iter().flatten() {
            let file = entry.map_err(unlisted)?.file_name();
            let Some(file) = file.to_str() else { continue };
            let name = file.strip_suffix(".age").unwrap_or(file);
            if valid_name(name) {
                names.insert(name.to_string());
            }
        }
        for name in names {
            match read_saved(&dir, &name, secrets) {
                Some(Ok(value)) => {
                    secrets.add(&value);
                    state.values.insert(name, value);
                }
                Some(Err(e)) => {
                    state.unreadable.insert(name, e);
                }
                None => {}
            }
        }
        Ok(Store { dir, state: Mutex::new(state), secrets: secrets.clone() })
    }

    /// The value called `name`: the saved one, else the one made earlier in
    /// this run, else a new one of `kind`, kept in memory only (see
    /// `persist_new`). Safe from many threads: a name gets one value per run.
    pub fn get(&self, name: &str, kind: &str) -> Result<String, StoreError> {
        if !valid_name(name) {
            return Err(StoreError::BadName(name.to_string()));
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(value) = state.values.get(name) {
            return Ok(value.clone());
        }
        if let Some(e) = state.unreadable.get(name) {
            return Err(e.clone());
        }
        let value = make(kind)?;
        self.secrets.add(&value);
        state.values.insert(name.to_string(), value.clone());
        state.fresh.push(name.to_string());
        Ok(value)
    }

    /// Writes every value made this run and not written yet; returns how
    /// many. Called once planning is done, before a plan is shown, saved or
    /// applied, so whatever reaches a host is on disk for the next run.
    /// Files are created new, never overwritten: if another run saved the same
    /// name since this one loaded, its value may already be on hosts, so that
    /// is an error. A value stays pending until written, so a retry resumes.
    pub fn persist_new(&self) -> Result<usize, StoreError> {
        // As before, no usable vault key means a plain 0600 file.
        self.persist_with(|plain| self.secrets.encrypt(plain).ok())
    }

    /// `persist_new` with the sealing step given: `seal` returns the armored
    /// cipher text, or None when no vault key is configured.
    fn persist_with(&self, seal: impl Fn(&[u8]) -> Option<String>) -> Result<usize, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.fresh.is_empty() {
            return Ok(0);
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| StoreError::CreateDir { path: self.dir.clone(), source: Arc::new(e) })?;
        let mut written = 0;
        while let Some(name) = state.fresh.first().cloned() {
            write(&self.dir, &name, &state.values[&name], &seal)?;
            state.fresh.remove(0);
            written += 1;
        }
        Ok(written)
    }
}

/// One value on disk: `<name>.age` when `seal` can encrypt (a vault key is
/// configured), else a plain `<name>` only its owner can read.
fn write(dir: &Path, name: &str, value: &str, seal: impl Fn(&[u8]) -> Option<String>) -> Result<(), StoreError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let text = format!("{value}\n");
    let (path, bytes, mode) = match seal(text.as_bytes()) {
        // 0666 before the umask: what `fs::write` gave sealed files before.
        Some(cipher) => (dir.join(format!("{name}.age")), cipher.into_bytes(), 0o666),
        None => (dir.join(name), text.into_bytes(), 0o600),
    };
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&path)
        .and_then(|mut f| f.write_all(&bytes))
        .map_err(|e| StoreError::Write { path, source: Arc::new(e) })
}

/// The saved value of `name` (sealed first, then plain), or None when
/// neither file exists.
fn read_saved(dir: &Path, name: &str, secrets: &Secrets) -> Option<Result<String, StoreError>> {
    let sealed = dir.join(format!("{name}.age"));
    let plain = dir.join(name);
    if sealed.is_file() {
        Some(secrets.decrypt_file(&sealed).map(|v| v.trim_end().to_string()).map_err(StoreError::Decrypt))
    } else if plain.is_file() {
        Some(
            std::fs::read_to_string(&plain)
                .map(|v| v.trim_end().to_string())
                .map_err(|e| StoreError::Read { path: plain, source: Arc::new(e) }),
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{context, Renderer};

    /// No vault key: values are written in plain files.
    fn unsealed(_: &[u8]) -> Option<String> {
        None
    }

    fn listing(dir: &Path) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(dir.join("generated")) else { return vec![] };
        let mut names: Vec<String> = entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn kinds_names_and_their_errors() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::load(d.path(), &Secrets::default()).unwrap();
        let a = s.get("ceph_fsid", "uuid").unwrap();
        assert_eq!((a.len(), &a[14..15]), (36, "4"));
        let k = s.get("ceph_admin_key", "ceph_key").unwrap();
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD.decode(&k).unwrap();
        assert_eq!((raw.len(), raw[0], raw[10]), (28, 1, 16));
        assert_eq!(s.get("db", "password").unwrap().len(), 24);
        assert_eq!(s.get("token", "hex").unwrap().len(), 32);
        assert_eq!(
            s.get("../x", "uuid").unwrap_err().to_string(),
            "generated(): bad name \"../x\" (letters, digits, `_-.`)"
        );
        assert!(matches!(s.get(".hidden", "uuid"), Err(StoreError::BadName(_))));
        assert_eq!(
            s.get("x", "nope").unwrap_err().to_string(),
            "generated(): unknown kind \"nope\" (uuid, ceph_key, password, hex)"
        );
    }

    #[test]
    fn a_render_makes_values_in_memory_and_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let secrets = Secrets::default();
        let store = Arc::new(Store::load(d.path(), &secrets).unwrap());
        let r = Renderer::new(d.path(), [], Some(store.clone())).unwrap();
        let ctx = context(&serde_json::Map::new());
        let call = "{{ generated(name='fsid', kind='uuid') }}";
        let first = r.render_str(call, &ctx, "x").unwrap();
        assert_eq!(r.render_str(call, &ctx, "x").unwrap(), first, "one value per name for the whole run");
        assert_eq!(store.get("fsid", "uuid").unwrap(), first);
        assert_eq!(secrets.redact(&first), crate::secret::MARKER, "a generated value is a secret");
        assert!(!d.path().join("generated").exists(), "rendering created {:?}", listing(d.path()));
        let e = r.render_str("{{ generated(name='a/b') }}", &ctx, "x").unwrap_err().to_string();
        assert!(e.contains("generated(): bad name \"a/b\""), "{e}");
    }

    #[test]
    fn persisting_writes_what_was_made_and_the_next_load_reads_it_back() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let s = Store::load(d.path(), &Secrets::default()).unwrap();
        let fsid = s.get("fsid", "uuid").unwrap();
        let key = s.get("admin_key", "ceph_key").unwrap();
        assert_eq!(s.persist_with(unsealed).unwrap(), 2);
        assert_eq!(listing(d.path()), ["admin_key", "fsid"]);
        let file = d.path().join("generated/fsid");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), format!("{fsid}\n"));
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(s.persist_with(unsealed).unwrap(), 0, "each value is written once");

        // The next run: `hosts.yaml` beside `generated/` finds the same directory.
        let again = Store::load(&d.path().join("hosts.yaml"), &Secrets::default()).unwrap();
        assert_eq!(again.get("fsid", "uuid").unwrap(), fsid);
        assert_eq!(again.get("admin_key", "nope").unwrap(), key, "a saved value is not made again");
        assert_eq!(again.persist_with(unsealed).unwrap(), 0, "nothing new to write");
    }

    #[test]
    fn persisting_never_overwrites_a_value_saved_meanwhile() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::load(d.path(), &Secrets::default()).unwrap();
        s.get("fsid", "uuid").unwrap();
        // Another run saved the same name after this one loaded.
        std::fs::create_dir_all(d.path().join("generated")).unwrap();
        std::fs::write(d.path().join("generated/fsid"), "theirs\n").unwrap();
        let e = s.persist_with(unsealed).unwrap_err();
        assert!(matches!(e, StoreError::Write { .. }) && e.to_string().starts_with("cannot write "), "{e}");
        assert_eq!(std::fs::read_to_string(d.path().join("generated/fsid")).unwrap(), "theirs\n");
    }

    #[test]
    fn an_unreadable_value_fails_only_the_templates_that_ask_for_it() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("generated");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("sealed.age"), "not age at all").unwrap();
        std::fs::write(dir.join("plain"), "saved-value\n").unwrap();
        std::fs::write(dir.join(".gitignore"), "*\n").unwrap();
        let secrets = Secrets::default();
        let s = Store::load(d.path(), &secrets).unwrap();
        assert_eq!(s.get("plain", "uuid").unwrap(), "saved-value");
        assert_eq!(secrets.redact("saved-value"), crate::secret::MARKER, "registered at load");
        let e = s.get("sealed", "uuid").unwrap_err();
        assert!(matches!(e, StoreError::Decrypt(_)) && e.to_string().contains("sealed.age"), "{e}");
        assert!(s.get("sealed", "uuid").is_err(), "still reported, never replaced by a new value");
        assert_eq!(s.persist_with(unsealed).unwrap(), 0);
    }
}
