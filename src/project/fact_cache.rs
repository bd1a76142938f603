//! The fact cache: each host's facts as its last probe found them, in
//! `.rigger/facts/HOST.json` beside the inventory, so `check` (offline, in
//! CI) can render fact-using templates for real instead of skipping them.
//! `plan` and `apply` write it; a `facts:` var in host_vars stands in for it.

use crate::secret::Secrets;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The cache's folder for `inventory` (a file or a folder of them).
pub fn dir(inventory: &Path) -> PathBuf {
    let base = if inventory.is_dir() { inventory } else { inventory.parent().unwrap_or(Path::new(".")) };
    base.join(".rigger").join("facts")
}

/// Why a host's facts were not cached.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("facts of {host} not cached: they hold a secret's value")]
    HoldsSecret { host: String },
    #[error("facts of {host} not cached in {}: {source}", .dir.display())]
    Io { host: String, dir: PathBuf, source: std::io::Error },
}

/// Writes `facts` of `host` (whole or not at all: a temp file renamed).
/// Facts that hold a secret's value are not written: the cache is meant to
/// be readable and committable, and nothing sealed may reach it.
pub fn write(inventory: &Path, host: &str, facts: &Value, secrets: &Secrets) -> Result<(), CacheError> {
    let text = serde_json::to_string_pretty(facts).unwrap_or_default() + "\n";
    if secrets.redact(&text) != text {
        return Err(CacheError::HoldsSecret { host: host.into() });
    }
    let dir = dir(inventory);
    let io = |source| CacheError::Io { host: host.into(), dir: dir.clone(), source };
    std::fs::create_dir_all(&dir).map_err(io)?;
    // The folder says itself that git should leave it out.
    let ignore = dir.parent().unwrap_or(&dir).join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "# rigger's caches: per machine, not for version control\n*\n").map_err(io)?;
    }
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io)?;
    tmp.write_all(text.as_bytes()).map_err(io)?;
    tmp.persist(dir.join(format!("{host}.json"))).map_err(|e| io(e.error))?;
    Ok(())
}

/// What a host's facts are offline: its `facts:` var (a stub written by
/// hand) if it has one, else the cache; None when neither is there.
pub fn read(inventory: &Path, host: &str, vars: &serde_json::Map<String, Value>) -> Option<Value> {
    if let Some(stub) = vars.get("facts") {
        return Some(stub.clone());
    }
    let text = std::fs::read_to_string(dir(inventory).join(format!("{host}.json"))).ok()?;
    serde_json::from_str(&text).ok()
}

/// Every host's offline facts, for those that have any.
pub fn read_all<'a>(
    inventory: &Path,
    hosts: impl Iterator<Item = (&'a String, &'a serde_json::Map<String, Value>)>,
) -> HashMap<String, Value> {
    hosts.filter_map(|(h, vars)| read(inventory, h, vars).map(|f| (h.clone(), f))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_cached_beside_the_inventory_and_a_stub_wins() {
        let d = tempfile::tempdir().unwrap();
        let inv = d.path().join("hosts.yaml");
        std::fs::write(&inv, "all: {}\n").unwrap();
        let facts = serde_json::json!({ "hostname": "web1", "cpus": 2 });
        write(&inv, "web1", &facts, &Secrets::default()).unwrap();
        assert!(d.path().join(".rigger/facts/web1.json").is_file());
        assert_eq!(std::fs::read_to_string(d.path().join(".rigger/.gitignore")).unwrap().lines().last(), Some("*"));
        let none = serde_json::Map::new();
        assert_eq!(read(&inv, "web1", &none), Some(facts));
        assert_eq!(read(&inv, "web2", &none), None);
        let mut stub = serde_json::Map::new();
        stub.insert("facts".into(), serde_json::json!({ "cpus": 8 }));
        assert_eq!(read(&inv, "web1", &stub), Some(serde_json::json!({ "cpus": 8 })));
    }

    #[test]
    fn facts_holding_a_secret_are_not_written() {
        let d = tempfile::tempdir().unwrap();
        let secrets = Secrets::default();
        secrets.add("hunter2-secret");
        let facts = serde_json::json!({ "hostname": "hunter2-secret" });
        assert!(matches!(write(d.path(), "h", &facts, &secrets), Err(CacheError::HoldsSecret { .. })));
        assert!(!d.path().join(".rigger/facts/h.json").exists());
    }
}
