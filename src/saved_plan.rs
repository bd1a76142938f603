//! Saved plans (`plan --out FILE`, then `apply FILE` or `show FILE`): the
//! steps of every unit and a digest of what the probe saw on each host, so
//! that applying refuses when any host has moved since the plan was made.
//!
//! A saved plan is sensitive and runs as it is: its scripts carry every file
//! content (secret ones included) and run on the hosts, often as root. So
//! it is written 0600 from the start (a private temp file beside it, then a
//! rename), and sealed with HMAC-SHA256 under a per-user key (`plan.key`,
//! 0600 in a 0700 folder, see [`PlanKey::dir`]). [`read`] refuses a file
//! whose seal does not match before any of its content is used, so an edited
//! script, digest, host or setting is never applied. A keyed MAC, not a
//! checksum: whoever edits the file cannot compute a new seal without the key.
//!
//! Over 500 lines only with its tests (about 160 lines: every kind of
//! edit, keys, file modes); the code itself is about 480.

use crate::plan::{ResourcePlan, Status, UnitPlan};
use crate::project::source::Vars;
use crate::project::tags::Tags;
use crate::project::Settings;
use crate::report::{HostReport, UnitReport};
use crate::resource::Step;
use crate::secret::Secrets;
use crate::session::transport::ConnectOptions;
use hmac::{Hmac, Mac};
use indexmap::IndexMap;
use sha2::Sha256;
use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A plan saved by `plan --out`: the steps and what each host looked like.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SavedPlan {
    pub kind: String,
    pub schema: u32,
    pub site: PathBuf,
    pub inventory: PathBuf,
    #[serde(default)]
    pub limit: Option<String>,
    #[serde(flatten)]
    pub tags: Tags,
    #[serde(default)]
    pub extra_vars: Vars,
    pub hosts: IndexMap<String, SavedHost>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SavedHost {
    /// Digest of the state the probe observed (see `probe::HostState::digest`).
    pub digest: String,
    pub units: IndexMap<String, UnitPlan>,
}

pub const KIND: &str = "rigger-plan";
/// 2: sealed. Plans of schema 1 had no seal; they are refused as unsealed.
pub const SCHEMA: u32 = 2;
/// The seal's field in the file, and how its value starts.
const SEAL_FIELD: &str = "seal";
const SEAL_PREFIX: &str = "hmac-sha256:";
/// What `show` prints in place of an `-e` value.
pub const NOT_SHOWN: &str = "«not shown»";
/// The key's file name in its folder.
pub const KEY_FILE: &str = "plan.key";

/// What a fresh probe of a host found, to compare with the saved digest.
pub enum Observed<'a> {
    Digest(&'a str),
    Error(&'a str),
}

/// Why a saved plan cannot be applied to this run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Stale {
    #[error("{0} is in this run but not in the saved plan")]
    HostNotSaved(String),
    #[error("{host}: {error}")]
    Unreachable { host: String, error: String },
    #[error("{0}: the observed state changed since the plan was made")]
    Changed(String),
    #[error("{0} is in the saved plan but not in this run")]
    HostNotInRun(String),
    #[error("{role}@{host} is not in the saved plan")]
    UnitNotSaved { role: String, host: String },
}

impl SavedPlan {
    pub fn new(s: &Settings, hosts: IndexMap<String, SavedHost>) -> Self {
        SavedPlan {
            kind: KIND.into(),
            schema: SCHEMA,
            site: s.site.clone(),
            inventory: s.inventory.clone(),
            limit: s.limit.clone(),
            tags: s.tags.clone(),
            extra_vars: s.extra_vars.clone(),
            hosts,
        }
    }

    /// The settings the plan was made with (connection, forks and the vault
    /// are this run's).
    pub fn settings(&self, connect: ConnectOptions, forks: Option<usize>, secrets: Secrets) -> Settings {
        Settings {
            inventory: self.inventory.clone(),
            site: self.site.clone(),
            limit: self.limit.clone(),
            tags: self.tags.clone(),
            extra_vars: self.extra_vars.clone(),
            forks,
            connect,
            secrets,
        }
    }

    /// The saved steps of `role` on `host`.
    pub fn unit(&self, host: &str, role: &str) -> Option<&UnitPlan> {
        self.hosts.get(host).and_then(|h| h.units.get(role))
    }

    /// Hides every secret value in what the plan shows people (resource
    /// names, actions, diffs, messages), so that `show` needs no vault to be
    /// safe. Scripts keep their values: they are what runs.
    pub fn hide_secrets(&mut self, secrets: &Secrets) {
        let hide_step = |s: &mut Step| {
            s.action = secrets.redact(&s.action);
            s.diff = s.diff.as_deref().map(|d| secrets.redact(d));
        };
        for unit in self.hosts.values_mut().flat_map(|h| h.units.values_mut()) {
            for r in &mut unit.resources {
                r.resource = secrets.redact(&r.resource);
                r.message = r.message.as_deref().map(|m| secrets.redact(m));
                r.steps.iter_mut().for_each(hide_step);
            }
            unit.handlers.iter_mut().flat_map(|h| h.steps.iter_mut()).for_each(hide_step);
        }
    }

    /// The plan without a script (`show --json`), and without the values of
    /// `-e` (one may come from an encrypted `-e @FILE`; only names are kept).
    pub fn public(&self) -> SavedPlan {
        let mut p = self.clone();
        p.extra_vars.values_mut().for_each(|v| *v = NOT_SHOWN.into());
        for u in p.hosts.values_mut().flat_map(|h| h.units.values_mut()) {
            *u = public_unit(u);
        }
        p
    }

    /// Per host, per unit, what `plan` showed when this was saved (without scripts).
    pub fn reports(&self) -> Vec<HostReport> {
        self.hosts
            .iter()
            .map(|(name, h)| {
                let mut rep = HostReport::new(name);
                rep.units = h.units.iter().map(|(role, u)| unit_report(role, u)).collect();
                rep.recount();
                rep
            })
            .collect()
    }

    /// The first resource the plan cannot hold as it will run (`role@host:
    /// resource`): it reads a registered result known only at apply.
    pub fn conditional(&self) -> Option<String> {
        let units = self.hosts.iter().flat_map(|(h, saved)| saved.units.iter().map(move |(r, u)| (h, r, u)));
        units.into_iter().find_map(|(h, role, u)| {
            let r = u.resources.iter().find(|r| r.status == Status::Conditional)?;
            Some(format!("{role}@{h}: {}", r.resource))
        })
    }

    /// How many changes the plan makes.
    pub fn changes(&self) -> usize {
        self.hosts.values().flat_map(|h| h.units.values()).map(UnitPlan::changes).sum()
    }

    /// Every reason this plan is stale for a run of `units` (host, role),
    /// given what each host of the run looks like now.
    pub fn stale<'a>(
        &self,
        hosts: &[String],
        observed: impl Fn(&str) -> Option<Observed<'a>>,
        units: &[(String, String)],
    ) -> Vec<Stale> {
        let mut stale = Vec::new();
        for h in hosts {
            let Some(saved) = self.hosts.get(h) else {
                stale.push(Stale::HostNotSaved(h.clone()));
                continue;
            };
            match observed(h) {
                Some(Observed::Error(e)) => stale.push(Stale::Unreachable { host: h.clone(), error: e.to_string() }),
                Some(Observed::Digest(d)) if d != saved.digest => stale.push(Stale::Changed(h.clone())),
                _ => {}
            }
        }
        for h in self.hosts.keys().filter(|h| !hosts.contains(h)) {
            stale.push(Stale::HostNotInRun(h.clone()));
        }
        for (host, role) in units {
            if self.unit(host, role).is_none() {
                stale.push(Stale::UnitNotSaved { role: role.clone(), host: host.clone() });
            }
        }
        stale
    }
}

/// A unit's plan without its scripts.
fn public_unit(u: &UnitPlan) -> UnitPlan {
    let mut u = u.clone();
    let handlers = u.handlers.iter_mut().flat_map(|h| h.steps.iter_mut());
    u.resources.iter_mut().flat_map(|r| r.steps.iter_mut()).chain(handlers).for_each(|s| s.script.clear());
    u
}

/// A unit's plan as `plan` reports it: failed if a resource cannot be
/// planned, changed if anything would change, ok otherwise.
fn unit_report(role: &str, u: &UnitPlan) -> UnitReport {
    let status = if u.resources.iter().any(|r| r.status == Status::Failed) {
        Status::Failed
    } else if u.changes() > 0 {
        Status::Changed
    } else {
        Status::Ok
    };
    UnitReport {
        role: role.to_string(),
        status,
        message: None,
        resources: u.resources.iter().map(ResourcePlan::public).collect(),
        handlers: u.run_handlers().map(|h| h.shown(role)).collect(),
        seconds: 0.0,
        span: None,
    }
}

impl fmt::Display for SavedPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (schema {}) of {} on {}", self.kind, self.schema, self.site.display(), self.inventory.display())
    }
}

/// Why a saved plan cannot be written, or cannot be trusted when read back.
/// Every message names the file; those that refuse a plan say that nothing
/// was applied.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{}: not a saved rigger plan: {source}", .path.display())]
    NotJson { path: PathBuf, source: serde_json::Error },
    #[error("{}: not a saved rigger plan (kind {kind:?})", .path.display())]
    NotAPlan { path: PathBuf, kind: String },
    #[error("{}: the plan has no seal (made by an older rigger?); nothing was applied. Run `rigger plan --out` again.", .0.display())]
    Unsealed(PathBuf),
    #[error("{}: the plan was altered after it was made, or sealed by another user or machine (its seal does not match); nothing was applied", .0.display())]
    Altered(PathBuf),
    #[error("{}: the plan's seal cannot be checked: {source}; nothing was applied", .path.display())]
    Unverifiable { path: PathBuf, source: KeyError },
    #[error("cannot seal {}: {source}", .path.display())]
    Unsealable { path: PathBuf, source: KeyError },
    #[error("{}: a saved plan of schema {schema}; this rigger reads schema {SCHEMA}. Run `rigger plan --out` again.", .path.display())]
    Schema { path: PathBuf, schema: u64 },
    #[error("{}: sealed, but not a plan this rigger reads: {source}", .path.display())]
    Shape { path: PathBuf, source: serde_json::Error },
}

impl From<SavedPlanError> for crate::error::Error {
    fn from(e: SavedPlanError) -> Self {
        crate::error::Error::Load(Box::new(e))
    }
}

/// Why the per-user plan key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no folder for the plan key: set RIGGER_STATE_DIR, XDG_STATE_HOME or HOME")]
    NoFolder,
    #[error("there is no plan key at {} (a plan is checked with the key of the user who made it, on the same machine)", .0.display())]
    Missing(PathBuf),
    #[error("{} is open to other users (mode {mode:04o}); make it private (chmod 600 the key, chmod 700 its folder)", .path.display())]
    Exposed { path: PathBuf, mode: u32 },
    #[error("{}: not a plan key (64 hex digits)", .0.display())]
    Malformed(PathBuf),
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// The per-user secret that seals saved plans. Never printed.
pub struct PlanKey {
    bytes: [u8; 32],
}

impl fmt::Debug for PlanKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlanKey(…)")
    }
}

impl PlanKey {
    /// The key's folder: `$RIGGER_STATE_DIR` (root, tests, shared machines),
    /// else `$XDG_STATE_HOME/rigger`, else `~/.local/state/rigger`. Per user,
    /// because the key is what makes a plan trustworthy to the one who made it.
    pub fn dir(env: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, KeyError> {
        let set = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(d) = set("RIGGER_STATE_DIR") {
            return Ok(d);
        }
        // The XDG spec says a relative XDG_STATE_HOME is invalid and to be ignored.
        if let Some(d) = set("XDG_STATE_HOME").filter(|d| d.is_absolute()) {
            return Ok(d.join("rigger"));
        }
        set("HOME").map(|h| h.join(".local/state/rigger")).ok_or(KeyError::NoFolder)
    }

    /// The key in `dir`, made (and its folder, 0700) on first use.
    pub fn open_or_create(dir: &Path) -> Result<Self, KeyError> {
        match Self::open(dir) {
            Err(KeyError::Missing(_)) => Self::create(dir),
            other => other,
        }
    }

    /// The key in `dir`; refused when missing or when others could read or replace it.
    pub fn open(dir: &Path) -> Result<Self, KeyError> {
        let path = dir.join(KEY_FILE);
        let io = |source| KeyError::Io { path: path.clone(), source };
        let meta = match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(KeyError::Missing(path)),
            m => m.map_err(io)?,
        };
        private(&path, meta.permissions().mode(), 0o077)?;
        let dir_meta = std::fs::metadata(dir).map_err(|source| KeyError::Io { path: dir.into(), source })?;
        // A folder others can write to lets them swap the key for their own.
        private(dir, dir_meta.permissions().mode(), 0o022)?;
        let text = std::fs::read_to_string(&path).map_err(io)?;
        let bytes = unhex(text.trim()).ok_or_else(|| KeyError::Malformed(path.clone()))?;
        Ok(PlanKey { bytes })
    }

    /// A new random key, written 0600 and linked into place only if no key
    /// is there yet: two first runs at once agree on one key.
    fn create(dir: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io { path: dir.into(), source };
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io)?;
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).map_err(io)?;
        let mut tmp = private_temp(dir).map_err(io)?;
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        tmp.write_all(format!("{text}\n").as_bytes()).and_then(|()| tmp.as_file().sync_all()).map_err(io)?;
        match tmp.persist_noclobber(dir.join(KEY_FILE)) {
            Ok(_) => Ok(PlanKey { bytes }),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Self::open(dir),
            Err(e) => Err(io(e.error)),
        }
    }

    fn mac(&self, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes a key of any length; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.bytes).expect("HMAC accepts any key length");
        mac.update(body);
        mac
    }

    /// The seal of `body`, as the file stores it.
    fn seal(&self, body: &[u8]) -> String {
        let tag = self.mac(body).finalize().into_bytes();
        format!("{SEAL_PREFIX}{}", tag.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }

    /// Whether `seal` is this key's seal of `body` (compared in constant time).
    fn verifies(&self, body: &[u8], seal: &str) -> bool {
        let tag = seal.strip_prefix(SEAL_PREFIX).and_then(unhex::<32>);
        tag.is_some_and(|t| self.mac(body).verify_slice(&t).is_ok())
    }
}

/// Refuses `path` when its `mode` has any of the `open` bits.
fn private(path: &Path, mode: u32, open: u32) -> Result<(), KeyError> {
    if mode & open != 0 {
        return Err(KeyError::Exposed { path: path.into(), mode: mode & 0o7777 });
    }
    Ok(())
}

/// `N` bytes from exactly `2N` hex digits.
fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A temp file in `dir`, created 0600: never a moment when others can read it.
fn private_temp(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(".rigger-")
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
}

/// The bytes the seal covers: the document without its seal, serialized
/// compactly in its own key order. Whitespace is not covered; every key and
/// value is, so any edit (or added field) breaks the seal.
fn canonical(body: &serde_json::Map<String, serde_json::Value>) -> Vec<u8> {
    // Serializing a JSON map with string keys cannot fail.
    serde_json::to_vec(body).unwrap_or_default()
}

/// The plan as the file holds it: pretty JSON with its seal last.
fn sealed_text(plan: &SavedPlan, key: &PlanKey) -> String {
    let mut doc = match serde_json::to_value(plan) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let seal = key.seal(&canonical(&doc));
    doc.insert(SEAL_FIELD.into(), seal.into());
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// The plan in `text` (read from `path`), if its seal is `key`'s. The seal is
/// checked before any field is used; `kind` is only looked at to tell "not a
/// plan" from "altered". `key` is asked for only when there is a seal to check.
fn unseal(
    path: &Path,
    text: &str,
    key: impl FnOnce() -> Result<PlanKey, KeyError>,
) -> Result<SavedPlan, SavedPlanError> {
    let path = path.to_path_buf();
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|source| SavedPlanError::NotJson { path: path.clone(), source })?;
    let serde_json::Value::Object(mut doc) = doc else {
        return Err(SavedPlanError::NotAPlan { path, kind: String::new() });
    };
    let kind = doc.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
    if kind != KIND {
        return Err(SavedPlanError::NotAPlan { kind: kind.to_string(), path });
    }
    let seal = match doc.shift_remove(SEAL_FIELD) {
        Some(serde_json::Value::String(s)) => s,
        Some(_) => return Err(SavedPlanError::Altered(path)),
        None => return Err(SavedPlanError::Unsealed(path)),
    };
    let key = key().map_err(|source| SavedPlanError::Unverifiable { path: path.clone(), source })?;
    if !key.verifies(&canonical(&doc), &seal) {
        return Err(SavedPlanError::Altered(path));
    }
    let schema = doc.get("schema").and_then(|s| s.as_u64()).unwrap_or_default();
    if schema != u64::from(SCHEMA) {
        return Err(SavedPlanError::Schema { path, schema });
    }
    serde_json::from_value(serde_json::Value::Object(doc)).map_err(|source| SavedPlanError::Shape { path, source })
}

/// Writes `plan` to `path`, sealed with `key`: 0600 from the first byte, and
/// atomically (a temp file beside it, renamed over it), so no reader ever
/// sees a half-written or world-readable plan.
pub fn write(path: &Path, plan: &SavedPlan, key: &PlanKey) -> Result<(), SavedPlanError> {
    let err = |source| SavedPlanError::Write { path: path.to_path_buf(), source };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = private_temp(dir).map_err(err)?;
    tmp.write_all(sealed_text(plan, key).as_bytes()).and_then(|()| tmp.as_file().sync_all()).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// The plan saved at `path`, once its seal is found to be `key`'s.
pub fn read(path: &Path, key: impl FnOnce() -> Result<PlanKey, KeyError>) -> Result<SavedPlan, SavedPlanError> {
    let text = std::fs::read_to_string(path).map_err(|source| SavedPlanError::Read { path: path.into(), source })?;
    unseal(path, &text, key)
}

/// `plan --out`: seals with this user's key (made on first use) and writes.
pub fn write_for_user(path: &Path, plan: &SavedPlan) -> Result<(), SavedPlanError> {
    let unsealable = |source| SavedPlanError::Unsealable { path: path.to_path_buf(), source };
    let dir = PlanKey::dir(|v| std::env::var_os(v)).map_err(unsealable)?;
    write(path, plan, &PlanKey::open_or_create(&dir).map_err(unsealable)?)
}

/// `apply PLAN`, `show PLAN`: reads and checks the seal with this user's key.
pub fn read_for_user(path: &Path) -> Result<SavedPlan, SavedPlanError> {
    read(path, || PlanKey::open(&PlanKey::dir(|v| std::env::var_os(v))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> SavedPlan {
        let mut hosts = IndexMap::new();
        let mut step = Step::new("create", "printf 'c2VjcmV0' | base64 -d > /etc/app.conf\n");
        step.diff = Some("+password = hunter2-pass\n".into());
        let resource = ResourcePlan {
            resource: "file /etc/app.conf".into(),
            status: Status::Changed,
            steps: vec![step],
            notify: vec![],
            message: None,
            register: None,
        };
        let unit = UnitPlan { resources: vec![resource], handlers: vec![] };
        let units = IndexMap::from([("web".to_string(), unit)]);
        hosts.insert("h1".to_string(), SavedHost { digest: "d1".into(), units });
        hosts.insert("h2".to_string(), SavedHost { digest: "d2".into(), units: IndexMap::new() });
        SavedPlan::new(&Settings::default(), hosts)
    }

    #[test]
    fn fresh_when_every_host_looks_the_same() {
        let hosts = ["h1".to_string(), "h2".to_string()];
        let seen = |h: &str| Some(Observed::Digest(if h == "h1" { "d1" } else { "d2" }));
        assert_eq!(plan().stale(&hosts, seen, &[("h1".into(), "web".into())]), []);
    }

    #[test]
    fn every_reason_is_named() {
        let hosts = ["h1".to_string(), "h3".to_string()];
        let seen = |h: &str| match h {
            "h1" => Some(Observed::Digest("moved")),
            _ => Some(Observed::Error("unreachable")),
        };
        let units = [("h1".to_string(), "web".to_string()), ("h1".to_string(), "db".to_string())];
        let got: Vec<String> = plan().stale(&hosts, seen, &units).iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "h1: the observed state changed since the plan was made",
                "h3 is in this run but not in the saved plan",
                "h2 is in the saved plan but not in this run",
                "db@h1 is not in the saved plan",
            ]
        );
    }

    fn key(byte: u8) -> PlanKey {
        PlanKey { bytes: [byte; 32] }
    }

    /// The sealed text of `plan()` with one edit made to its JSON.
    fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut doc: serde_json::Value = serde_json::from_str(&sealed_text(&plan(), &key(1))).unwrap();
        edit(&mut doc);
        serde_json::to_string_pretty(&doc).unwrap()
    }

    fn unseal_with(text: &str, byte: u8) -> Result<SavedPlan, SavedPlanError> {
        unseal(Path::new("saved.json"), text, || Ok(key(byte)))
    }

    #[test]
    fn a_sealed_plan_reads_back_as_it_was_even_reformatted() {
        let text = sealed_text(&plan(), &key(1));
        assert!(text.contains("\"seal\": \"hmac-sha256:"), "{text}");
        let back = unseal_with(&text, 1).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), serde_json::to_value(plan()).unwrap());
        // Whitespace is not the plan: a compacted copy is still the same plan.
        let compact = serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&text).unwrap()).unwrap();
        assert!(unseal_with(&compact, 1).is_ok());
    }

    #[test]
    fn any_single_edit_is_refused() {
        type Edit = fn(&mut serde_json::Value);
        let edits: [(&str, Edit); 10] = [
            ("script", |d| {
                let s = &mut d["hosts"]["h1"]["units"]["web"]["resources"][0]["steps"][0]["script"];
                *s = format!("{}touch /tmp/pwned\n", s.as_str().unwrap()).into();
            }),
            ("digest", |d| d["hosts"]["h1"]["digest"] = "d2".into()),
            ("host", |d| {
                let hosts = d["hosts"].as_object_mut().unwrap();
                let h1 = hosts.shift_remove("h1").unwrap();
                hosts.insert("evil".into(), h1);
            }),
            ("site", |d| d["site"] = "/tmp/other/site.yaml".into()),
            ("inventory", |d| d["inventory"] = "/tmp/other/inventory".into()),
            ("extra vars", |d| d["extra_vars"] = serde_json::json!({ "v": "x" })),
            ("schema", |d| d["schema"] = 3.into()),
            ("limit", |d| d["limit"] = "h1".into()),
            ("an added field", |d| d["note"] = "harmless?".into()),
            ("the seal itself", |d| d["seal"] = format!("{SEAL_PREFIX}{}", "0".repeat(64)).into()),
        ];
        for (what, edit) in edits {
            let got = unseal_with(&edited(edit), 1);
            assert!(matches!(got, Err(SavedPlanError::Altered(_))), "{what}: {got:?}");
        }
        let msg = unseal_with(&edited(|d| d["site"] = "x".into()), 1).unwrap_err().to_string();
        assert!(msg.starts_with("saved.json: the plan was altered") && msg.contains("seal does not match"), "{msg}");
    }

    #[test]
    fn another_key_or_no_seal_is_refused() {
        let text = sealed_text(&plan(), &key(1));
        assert!(matches!(unseal_with(&text, 2), Err(SavedPlanError::Altered(_))));
        let unsealed = edited(|d| {
            d.as_object_mut().unwrap().shift_remove(SEAL_FIELD);
        });
        assert!(matches!(unseal_with(&unsealed, 1), Err(SavedPlanError::Unsealed(_))));
        let other = r#"{"kind": "terraform-plan"}"#;
        assert!(matches!(unseal_with(other, 1), Err(SavedPlanError::NotAPlan { .. })));
    }

    #[test]
    fn written_private_and_the_key_made_once_private() {
        let d = tempfile::tempdir().unwrap();
        let state = d.path().join("state/rigger");
        let k = PlanKey::open_or_create(&state).unwrap();
        assert_eq!(PlanKey::open_or_create(&state).unwrap().bytes, k.bytes, "made once, then reused");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&state), mode(&state.join(KEY_FILE))), (0o700, 0o600));
        let saved = d.path().join("saved.json");
        std::fs::write(&saved, "old, world-readable").unwrap();
        write(&saved, &plan(), &k).unwrap();
        assert_eq!(mode(&saved), 0o600, "replaced by a file made private from the start");
        assert!(read(&saved, || PlanKey::open(&state)).is_ok());
        std::fs::set_permissions(state.join(KEY_FILE), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(PlanKey::open(&state), Err(KeyError::Exposed { mode: 0o644, .. })));
        let missing = read(&saved, || PlanKey::open(&d.path().join("nowhere"))).unwrap_err();
        assert!(matches!(missing, SavedPlanError::Unverifiable { source: KeyError::Missing(_), .. }), "{missing}");
    }

    #[test]
    fn the_key_folder_is_per_user_and_overridable() {
        fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
            move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
        }
        let all = [("RIGGER_STATE_DIR", "/srv/st"), ("XDG_STATE_HOME", "/x"), ("HOME", "/home/u")];
        assert_eq!(PlanKey::dir(env(&all)).unwrap(), Path::new("/srv/st"));
        assert_eq!(PlanKey::dir(env(&all[1..])).unwrap(), Path::new("/x/rigger"));
        let relative_xdg = [("XDG_STATE_HOME", "rel"), ("HOME", "/home/u")];
        assert_eq!(PlanKey::dir(env(&relative_xdg)).unwrap(), Path::new("/home/u/.local/state/rigger"));
        assert!(matches!(PlanKey::dir(env(&[])), Err(KeyError::NoFolder)));
    }

    #[test]
    fn what_is_shown_has_no_script_and_no_secret() {
        let mut p = plan();
        p.extra_vars.insert("db_password".into(), "hunter2-pass".into());
        let secrets = Secrets::default();
        secrets.add("hunter2-pass");
        p.hide_secrets(&secrets);
        let shown = serde_json::to_string(&p.public()).unwrap();
        assert!(!shown.contains("script") && !shown.contains("hunter2-pass"), "{shown}");
        assert!(shown.contains("+password = «secret»") && shown.contains("db_password"), "{shown}");
        assert!(p.hosts["h1"].units["web"].resources[0].steps[0].script.contains("base64 -d"), "scripts are kept");
        assert_eq!((p.changes(), p.reports()[0].counts.changed), (1, 1));
    }
}
