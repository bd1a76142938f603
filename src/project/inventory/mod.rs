//! The inventory: hosts, groups and their variables, loaded from Ansible's
//! YAML or INI formats with `group_vars/` and `host_vars/` beside them, so a
//! team can point rigger at the inventory it already has. This file loads;
//! `model.rs` is what is loaded.

mod ini;
mod links;
mod model;
mod pattern;
mod python_literal;
mod shell_words;
pub mod vagrant;
mod yaml;

use crate::error::{Error, Location, Result};
use crate::project::source::{merge_into, read_vars, Source, Vars};
use crate::secret::Secrets;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

pub use model::{Group, Host, Inventory};
pub use pattern::{expand_host_range, PatternError};

impl Inventory {
    /// Loads `path`: an inventory file (YAML or INI) or a directory of them.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with(path, &Secrets::default())
    }

    /// `load`, opening encrypted vars files with `secrets`' vault key and
    /// adding every value they hold to `secrets`.
    pub fn load_with(path: &Path, secrets: &Secrets) -> Result<Self> {
        if let Some(dir) = crate::project::vagrant::spec(path) {
            return Self::load_vagrant(dir, secrets);
        }
        let mut inv = Inventory::empty(path);
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let base_dir = if meta.is_dir() {
            let files = inventory_files(path)?;
            if files.is_empty() {
                return Err(Error::usage(format!(
                    "no inventory file in {} (every file there is read, as Ansible reads them, but hidden ones and \
                     {}; group_vars/ and host_vars/ hold vars, not inventories)",
                    path.display(),
                    IGNORED_EXTENSIONS.map(|e| format!("*{e}")).join(", ")
                )));
            }
            nested_only(path, &files)?;
            for f in files {
                inv.load_file(&f, secrets)?;
            }
            path.to_path_buf()
        } else {
            inv.load_file(path, secrets)?;
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        inv.load_vars_dirs(&base_dir, secrets)?;
        inv.finish();
        Ok(inv)
    }

    /// `-i vagrant:DIR`: the Vagrant machines, overlaid on the inventory
    /// beside the Vagrantfile when there is one (its own errors reported as they are).
    fn load_vagrant(dir: &Path, secrets: &Secrets) -> Result<Self> {
        Self::with_vagrant_machines(dir, vagrant::from_dir(dir)?, secrets)
    }

    /// The inventory in `dir` with `machines` overlaid, or just the machines
    /// when `dir` holds no inventory file.
    pub(crate) fn with_vagrant_machines(dir: &Path, machines: Inventory, secrets: &Secrets) -> Result<Self> {
        if !has_inventory_file(dir) {
            return Ok(machines);
        }
        let mut inv = Self::load_with(dir, secrets)?;
        vagrant::overlay(&mut inv, &machines)?;
        Ok(inv)
    }

    /// Reads one file as Ansible's plugins would, by content: a file named
    /// `.yaml`, `.yml`, `.json` or with no extension is YAML if it reads as a
    /// YAML inventory, INI otherwise; any other name is INI.
    fn load_file(&mut self, path: &Path, secrets: &Secrets) -> Result<()> {
        let src = Source::read(path)?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext == "toml" {
            return Err(Error::usage(format!(
                "{}: rigger reads YAML and INI inventories, not TOML; write it as YAML",
                path.display()
            )));
        }
        if !matches!(ext, "" | "yaml" | "yml" | "json") {
            return self.load_ini(&src);
        }
        if src.text.contains("!vault") && !looks_like_ini(&src.text) {
            return self.load_vaulted_yaml(&src, secrets);
        }
        let yaml_err = match yaml::parse(&src) {
            Ok(doc) => return self.load_yaml(&src, doc),
            Err(e) => e,
        };
        match self.load_ini(&src) {
            Ok(()) => Ok(()),
            // Neither took it: the error of the format the file was meant to be.
            Err(ini_err) if ext.is_empty() && looks_like_ini(&src.text) => Err(ini_err),
            Err(_) => Err(yaml_err),
        }
    }

    /// A YAML inventory with inline `!vault` values: the YAML is read with a
    /// token in their place, then each token is swapped for the opened value.
    fn load_vaulted_yaml(&mut self, src: &Source, secrets: &Secrets) -> Result<()> {
        let path = &src.path;
        let masked = crate::project::inline_vault::mask(&src.text);
        let mut opened = HashMap::new();
        for (n, (line, cipher)) in masked.values.iter().enumerate() {
            let plain = secrets
                .open_ansible(cipher)
                .map_err(|e| Error::at(Location::new(path, &src.text, *line, 1), e.to_string()))?;
            secrets.add(&plain);
            opened.insert(crate::project::inline_vault::token(n), plain);
        }
        let masked = Source { path: src.path.clone(), text: masked.text };
        self.load_yaml(&masked, yaml::parse(&masked)?)?;
        let unmask = |vars: &mut Vars| unmask(vars, &opened);
        self.hosts.values_mut().for_each(|h| unmask(&mut h.vars));
        self.groups.values_mut().for_each(|g| unmask(&mut g.vars));
        Ok(())
    }

    fn load_vars_dirs(&mut self, base: &Path, secrets: &Secrets) -> Result<()> {
        let (group_dir, host_dir) = (base.join("group_vars"), base.join("host_vars"));
        let (in_groups, in_hosts) = (VarsDir::list(&group_dir), VarsDir::list(&host_dir));
        let groups: Vec<String> = self.groups.keys().filter(|g| in_groups.has(g)).cloned().collect();
        for g in groups {
            let vars = read_vars_entry(&group_dir, &g, secrets)?;
            merge_into(&mut self.group_mut(&g).vars, &vars);
        }
        let hosts: Vec<String> = self.hosts.keys().filter(|h| in_hosts.has(h)).cloned().collect();
        for h in hosts {
            let vars = read_vars_entry(&host_dir, &h, secrets)?;
            merge_into(&mut self.hosts[&h].vars, &vars);
        }
        Ok(())
    }
}

/// The names in `group_vars/` or `host_vars/`, listed once: asking the disk
/// about seven candidate files for every group and host is most of the time
/// a large inventory takes to load, and nearly all of them are absent.
struct VarsDir(HashSet<String>);

impl VarsDir {
    fn list(dir: &Path) -> Self {
        let names = std::fs::read_dir(dir)
            .map(|rd| rd.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
            .unwrap_or_default();
        VarsDir(names)
    }

    /// Whether `read_vars_entry` could find anything for `name` here.
    fn has(&self, name: &str) -> bool {
        VARS_EXTENSIONS.iter().any(|ext| self.0.contains(&format!("{name}{ext}")))
    }
}

/// What Ansible skips in an inventory directory (`INVENTORY_IGNORE_EXTS`),
/// and key files: read as INI, a vault key's line would become a host name
/// printed in every listing. rigger also skips a `Vagrantfile` (Ruby, read by `-i vagrant:DIR`).
const IGNORED_EXTENSIONS: [&str; 16] = [
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry", ".key", ".pem",
    ".pub", ".age",
];

fn is_inventory_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !name.starts_with('.') && name != "Vagrantfile" && !IGNORED_EXTENSIONS.iter().any(|e| name.ends_with(e))
}

/// The files of an inventory directory, as Ansible reads them: sorted by
/// name, a subdirectory's files where its name sorts, every file but hidden
/// and ignored ones, and never what is under `group_vars/` or `host_vars/`
/// (nor rigger's own `generated/`).
fn inventory_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let sorted = |d: &Path| -> Result<std::vec::IntoIter<PathBuf>> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(d)
            .map_err(|e| Error::io(d, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                // `generated/` beside an inventory holds rigger's generated values (secrets among
                // them): never hosts, also when the inventory is a folder inside the one read.
                let rigger_state = name == "generated" && p.is_dir();
                !matches!(name, "group_vars" | "host_vars" | "vars_plugins") && !rigger_state && is_inventory_file(p)
            })
            .collect();
        entries.sort();
        Ok(entries.into_iter())
    };
    let mut out = Vec::new();
    let mut stack = vec![sorted(dir)?];
    while let Some(top) = stack.last_mut() {
        match top.next() {
            None => {
                stack.pop();
            }
            Some(p) if p.is_dir() => {
                // A symlink back up would have no end.
                if stack.len() >= MAX_DIR_DEPTH {
                    return Err(Error::usage(format!(
                        "{}: inventory directories nested more than {MAX_DIR_DEPTH} deep (a symlink loop?)",
                        p.display()
                    )));
                }
                stack.push(sorted(&p)?);
            }
            Some(p) if p.is_file() => out.push(p),
            Some(_) => {}
        }
    }
    Ok(out)
}

const MAX_DIR_DEPTH: usize = 32;

/// A folder of inventories (`inventory/lab`, `inventory/prod`), none of its
/// own: reading them all as one would drop each one's group_vars and
/// host_vars (they are read beside the folder given, as Ansible does), so
/// the user picks one.
fn nested_only(dir: &Path, files: &[PathBuf]) -> Result<()> {
    if files.iter().any(|f| f.parent() == Some(dir)) {
        return Ok(());
    }
    let mut inner: Vec<String> = files
        .iter()
        .filter_map(|f| f.strip_prefix(dir).ok()?.components().next())
        .map(|c| dir.join(c).display().to_string())
        .collect();
    inner.dedup();
    let with_vars =
        inner.iter().any(|d| Path::new(d).join("group_vars").is_dir() || Path::new(d).join("host_vars").is_dir());
    if !with_vars {
        return Ok(());
    }
    Err(Error::usage(format!(
        "{} holds no inventory of its own but the inventories {}: choose one with `-i {}`",
        dir.display(),
        inner.join(", "),
        inner[0]
    )))
}

fn looks_like_ini(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.starts_with('[') || (!l.contains(':') && !l.starts_with('-') && !l.starts_with("---")))
}

/// What may follow a name in `group_vars/` and `host_vars/` (`""`: a file or directory `NAME`).
const VARS_EXTENSIONS: [&str; 6] = ["", ".yaml", ".yml", ".json", ".yaml.age", ".yml.age"];

/// `group_vars/NAME.yaml` (or .yml, .json, no extension) or a directory `group_vars/NAME/`.
fn read_vars_entry(dir: &Path, name: &str, secrets: &Secrets) -> Result<Vars> {
    // A name is a file name here: never a path that leaves group_vars/ or host_vars/.
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(Error::usage(format!(
            "`{name}` cannot name a host or group (it would be read as a path under {})",
            dir.display()
        )));
    }
    let mut vars = Vars::new();
    for ext in VARS_EXTENSIONS {
        let p = dir.join(format!("{name}{ext}"));
        if p.is_file() {
            merge_into(&mut vars, &read_vars(&p, secrets)?);
        }
    }
    let d = dir.join(name);
    if d.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .map_err(|e| Error::io(&d, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .collect();
        files.sort();
        for f in files {
            merge_into(&mut vars, &read_vars(&f, secrets)?);
        }
    }
    Ok(vars)
}

/// Every token of `opened` in `vars` (at any depth) replaced by its value.
fn unmask(vars: &mut Vars, opened: &HashMap<String, String>) {
    fn walk(v: &mut serde_json::Value, opened: &HashMap<String, String>) {
        match v {
            serde_json::Value::String(s) => {
                if let Some(plain) = opened.get(s.as_str()) {
                    *s = plain.clone();
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| walk(x, opened)),
            serde_json::Value::Object(m) => m.values_mut().for_each(|x| walk(x, opened)),
            _ => {}
        }
    }
    vars.values_mut().for_each(|v| walk(v, opened));
}

/// Whether `dir` holds an inventory file (beside a Vagrantfile, say).
fn has_inventory_file(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.filter_map(|e| e.ok().map(|e| e.path())).any(|p| p.is_file() && is_inventory_file(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// A real-world layout: nested children, group_vars as files and as a directory, host_vars.
    fn sample(dir: &Path) {
        write(
            dir,
            "hosts.yaml",
            "all:\n  vars:\n    tier: none\n    ntp: pool\n  children:\n    prod:\n      vars: { tier: prod }\n      children:\n        lb:\n          hosts:\n            lb1: { ansible_host: 10.0.0.1 }\n            lb2:\n        web:\n          hosts:\n            web[01:02]:\n              ansible_port: 2222\n    monitoring:\n      hosts:\n        mon1:\n",
        );
        write(dir, "group_vars/all.yaml", "ntp: time.example\n");
        write(dir, "group_vars/lb/main.yaml", "maxconn: 100\ntier: edge\n");
        write(dir, "group_vars/lb/zz-extra.yml", "maxconn: 200\n");
        write(dir, "host_vars/lb2.yaml", "maxconn: 300\n");
    }

    #[test]
    fn yaml_inventory_with_nested_children_and_vars_dirs() {
        let d = tempfile::tempdir().unwrap();
        sample(d.path());
        let inv = Inventory::load(d.path()).unwrap();
        assert_eq!(inv.hosts.keys().collect::<Vec<_>>(), ["lb1", "lb2", "web01", "web02", "mon1"]);
        assert_eq!(inv.group_hosts("prod"), ["lb1", "lb2", "web01", "web02"]);
        assert_eq!(inv.host_groups("lb1"), ["all", "prod", "lb"]);
        let lb1 = inv.host_vars("lb1");
        assert_eq!(lb1["ntp"], "time.example");
        assert_eq!(lb1["tier"], "edge", "child group beats parent");
        assert_eq!(lb1["maxconn"], 200, "later file in group_vars/lb/ wins");
        assert_eq!(inv.host_vars("lb2")["maxconn"], 300, "host_vars beat group_vars");
        assert_eq!(inv.host_vars("web02")["ansible_port"], 2222);
        assert_eq!(inv.host_vars("web02")["tier"], "prod");
        assert_eq!(inv.host_vars("mon1")["tier"], "none");
    }

    #[test]
    fn ini_inventory_loads_unchanged() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "hosts",
            "# comment\nbastion ansible_host=192.0.2.9\n\n[lb]\nlb1 ansible_host=10.0.0.1 ansible_port=2201\nlb2 ansible_host=10.0.0.2 note=\"two words\"\n\n[web]\nweb[1:3]\n\n[prod:children]\nlb\nweb\n\n[prod:vars]\nenv=production\nquoted=\"42\"\n",
        );
        let inv = Inventory::load(&d.path().join("hosts")).unwrap();
        assert_eq!(inv.group_hosts("prod"), ["lb1", "lb2", "web1", "web2", "web3"]);
        assert_eq!(inv.group_hosts("ungrouped"), ["bastion"]);
        let v = inv.host_vars("lb1");
        assert_eq!(v["ansible_port"], 2201);
        assert_eq!(v["env"], "production");
        assert_eq!(v["quoted"], "42");
        assert_eq!(inv.host_vars("lb2")["note"], "two words");
    }

    /// Ansible reads every file of an inventory directory; rigger's own state and key files are never hosts.
    #[test]
    fn a_directory_is_read_whole_but_for_generated_values_and_keys() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "inventory", "[web]\nweb1\n");
        write(d.path(), "sub/hosts.example", "[db]\ndb1\n");
        write(d.path(), "generated/fsid", "a-generated-secret\n");
        write(d.path(), "vault.key", "AGE-SECRET-KEY-1XYZ\n");
        write(d.path(), "group_vars/web", "tls: on\n");
        let inv = Inventory::load(d.path()).unwrap();
        assert_eq!(inv.hosts.keys().collect::<Vec<_>>(), ["web1", "db1"]);
        assert_eq!(inv.host_vars("web1")["tls"], true, "YAML 1.1: `on` is true");
    }

    #[test]
    fn unknown_key_names_file_line_col() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "hosts.yaml", "all:\n  children:\n    lb:\n      hots:\n        h1:\n");
        let err = Inventory::load(d.path()).unwrap_err().to_string();
        assert!(err.contains("unknown field `hots`"), "{err}");
        assert!(err.contains("hosts.yaml:4:7"), "{err}");
    }

    #[test]
    fn patterns_union_exclude_intersect_glob() {
        let d = tempfile::tempdir().unwrap();
        sample(d.path());
        let inv = Inventory::load(d.path()).unwrap();
        assert_eq!(inv.select("lb,mon1").unwrap(), ["lb1", "lb2", "mon1"]);
        assert_eq!(inv.select("prod:!web").unwrap(), ["lb1", "lb2"]);
        assert_eq!(inv.select("prod:&web*").unwrap(), ["web01", "web02"]);
        assert_eq!(inv.select("lb?").unwrap(), ["lb1", "lb2"]);
        assert!(inv.select("nosuch").unwrap_err().to_string().contains("neither a host nor a group"));
    }

    #[test]
    fn ansible_list_json_shape() {
        let d = tempfile::tempdir().unwrap();
        sample(d.path());
        let inv = Inventory::load(d.path()).unwrap();
        let j = inv.to_ansible_json();
        assert_eq!(j["lb"]["hosts"], serde_json::json!(["lb1", "lb2"]));
        assert_eq!(j["prod"]["children"], serde_json::json!(["lb", "web"]));
        assert_eq!(j["_meta"]["hostvars"]["lb1"]["maxconn"], 200);
        assert!(j["all"]["children"].as_array().unwrap().contains(&serde_json::json!("prod")));
    }
}
