//! A scenario file, read and checked: hosts (names, groups, vars, image),
//! the default image, the driver, the site bindings, shared vars and verify checks.
//! Mistakes are errors with file:line:col, before any host exists.

use super::check::Check;
use super::driver::kind::DriverKind;
use crate::error::{Error, Location, Result};
use crate::lab::Image;
use crate::project::source::Source;
use indexmap::IndexMap;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    pub name: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub vars: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub image: Option<String>,
    /// Writable /proc/sys and /sys (sysctl, transparent huge pages), as a
    /// Docker host gets them; hosts of a Docker role get them anyway.
    #[serde(default)]
    pub writable_sys: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    hosts: Vec<HostSpec>,
    #[serde(default)]
    image: Option<String>,
    /// `nspawn` (default) or `vagrant`.
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    vars: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    site: Option<serde_yaml::Value>,
    #[serde(default)]
    verify: Vec<Check>,
}

/// One scenario, validated.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub role: String,
    pub name: String,
    pub path: PathBuf,
    pub hosts: Vec<HostSpec>,
    /// Each host's image, in `hosts` order.
    pub images: Vec<Image>,
    /// The driver the file names; `--driver` overrides it.
    pub driver: Option<DriverKind>,
    pub vars: serde_json::Map<String, serde_json::Value>,
    /// The site bindings as written (default: the role on every host).
    pub site: serde_yaml::Value,
    pub verify: Vec<Check>,
}

impl Scenario {
    /// `ROLE:NAME`, as the command line and reports name it.
    pub fn id(&self) -> String {
        format!("{}:{}", self.role, self.name)
    }

    /// Reads `path` (roles/ROLE/tests/NAME.yaml) for `role`.
    pub fn load(role: &str, path: &Path) -> Result<Self> {
        let src = Source::read(path)?;
        let file: File = src.parse()?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let image = |written: &Option<String>, default: Image| -> Result<Image> {
            match written {
                None => Ok(default),
                Some(w) => w.parse().map_err(|e: String| Error::at(src.locate(&format!("image: {w}")), e)),
            }
        };
        let default = image(&file.image, Image::default())?;
        let driver = match &file.driver {
            None => None,
            Some(w) => Some(w.parse().map_err(|e: String| Error::at(src.locate(&format!("driver: {w}")), e))?),
        };
        if file.hosts.is_empty() {
            return Err(Error::at(src.locate("hosts:"), "a scenario needs at least one host"));
        }
        let mut seen = IndexMap::new();
        let mut images = Vec::new();
        for h in &file.hosts {
            let ok = !h.name.is_empty()
                && h.name.len() <= 31
                && h.name.starts_with(|c: char| c.is_ascii_lowercase())
                && h.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                let msg = format!("bad host name `{}`: a-z, 0-9 and -, a letter first, at most 31", h.name);
                return Err(Error::at(src.locate(&h.name), msg));
            }
            if seen.insert(h.name.clone(), ()).is_some() {
                // The second one is the mistake: search after the first.
                let first = src.locate(&h.name).line;
                let at = Location::of_token_after(&src.path, &src.text, &h.name, first + 1);
                return Err(Error::at(at, format!("host `{}` is listed twice", h.name)));
            }
            images.push(image(&h.image, default)?);
        }
        if file.hosts.len() > 50 {
            return Err(Error::at(src.locate("hosts:"), "at most 50 hosts in a scenario"));
        }
        for c in &file.verify {
            if !seen.contains_key(c.host()) {
                let known: Vec<&str> = seen.keys().map(String::as_str).collect();
                let msg =
                    format!("check on unknown host `{}`: the scenario's hosts are {}", c.host(), known.join(", "));
                return Err(Error::at(src.locate(&format!("host: {}", c.host())), msg));
            }
        }
        let site = match file.site {
            Some(s) if !s.is_sequence() => {
                return Err(Error::at(src.locate("site:"), "`site` is a list of bindings, as in site.yaml"))
            }
            Some(s) => s,
            None => serde_yaml::from_str(&format!("[{{ hosts: all, roles: [{role}] }}]"))
                .map_err(|e| Error::yaml(path, &src.text, &e))?,
        };
        Ok(Scenario {
            role: role.to_string(),
            name,
            path: path.to_path_buf(),
            hosts: file.hosts,
            images,
            driver,
            vars: file.vars,
            site,
            verify: file.verify,
        })
    }
}

/// The scenarios named on the command line (`ROLE` or `ROLE:NAME`), or every
/// scenario of every role, in name order.
pub fn select(roles_dir: &Path, wanted: &[String]) -> Result<Vec<Scenario>> {
    let mut out = Vec::new();
    if wanted.is_empty() {
        for role in sorted_entries(roles_dir)? {
            let dir = roles_dir.join(&role).join("tests");
            if dir.is_dir() {
                for name in scenario_names(&dir)? {
                    out.push(Scenario::load(&role, &dir.join(format!("{name}.yaml")))?);
                }
            }
        }
        return Ok(out);
    }
    for w in wanted {
        let (role, name) = w.split_once(':').map_or((w.as_str(), None), |(r, n)| (r, Some(n)));
        let dir = roles_dir.join(role).join("tests");
        if !roles_dir.join(role).is_dir() {
            return Err(Error::usage(format!("no role `{role}` in {}", roles_dir.display())));
        }
        let names = match name {
            Some(n) => vec![n.to_string()],
            None => scenario_names(&dir)?,
        };
        if names.is_empty() {
            return Err(Error::usage(format!("role `{role}` has no scenario: write {}/default.yaml", dir.display())));
        }
        for n in names {
            let path = dir.join(format!("{n}.yaml"));
            if !path.is_file() {
                return Err(Error::usage(format!(
                    "no scenario `{n}` for role `{role}`: {} does not exist",
                    path.display()
                )));
            }
            out.push(Scenario::load(role, &path)?);
        }
    }
    Ok(out)
}

fn sorted_entries(dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// `NAME` of every `NAME.yaml` in a role's tests folder.
fn scenario_names(dir: &Path) -> Result<Vec<String>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    Ok(sorted_entries(dir)?.into_iter().filter_map(|f| f.strip_suffix(".yaml").map(str::to_string)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Scenario> {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("default.yaml");
        std::fs::write(&path, text).unwrap();
        Scenario::load("web", &path)
    }

    #[test]
    fn defaults_the_site_to_the_role_on_every_host_and_images_per_host() {
        let s = load("hosts:\n  - { name: a1 }\n  - { name: b1, image: debian12 }\nimage: debian13\n").unwrap();
        assert_eq!(s.id(), "web:default");
        assert_eq!(s.images, vec![Image::Debian13, Image::Debian12]);
        assert_eq!(s.driver, None);
        assert_eq!(serde_yaml::to_string(&s.site).unwrap(), "- hosts: all\n  roles:\n  - web\n");
    }

    #[test]
    fn the_driver_is_read_and_an_unknown_one_refused_where_written() {
        let s = load("hosts:\n  - { name: a1 }\ndriver: vagrant\n").unwrap();
        assert_eq!(s.driver, Some(DriverKind::Vagrant));
        let e = load("hosts:\n  - { name: a1 }\ndriver: docker\n").unwrap_err().to_string();
        assert!(e.contains("unknown driver `docker`") && e.contains("default.yaml:3:1"), "{e}");
    }

    #[test]
    fn a_site_must_be_a_list_of_bindings() {
        let e = load("hosts:\n  - { name: a1 }\nsite: { hosts: all }\n").unwrap_err().to_string();
        assert!(e.contains("`site` is a list of bindings") && e.contains("default.yaml:3:1"), "{e}");
    }

    #[test]
    fn bad_host_names_are_refused_where_written() {
        let e = load("hosts:\n  - { name: Web_1 }\n").unwrap_err().to_string();
        assert!(e.contains("bad host name `Web_1`") && e.contains("default.yaml:2:13"), "{e}");
    }

    /// The sample roles' scenarios are valid, every role a binding names
    /// exists, and every sample role runs in some scenario (bound, or
    /// required by a bound role).
    #[test]
    fn the_sample_scenarios_load_and_cover_every_sample_role() {
        let roles = Path::new(env!("CARGO_MANIFEST_DIR")).join("roles");
        let all = select(&roles, &[]).unwrap();
        let ids: Vec<String> = all.iter().map(Scenario::id).collect();
        let want =
            ["web", "haproxy", "keepalived", "docker", "ceph_mon", "elasticsearch", "prometheus", "pgbouncer", "redis"];
        for w in want {
            assert!(ids.contains(&format!("{w}:default")), "{ids:?}");
        }
        let mut covered = std::collections::BTreeSet::new();
        let mut todo: Vec<String> = Vec::new();
        for s in &all {
            for b in s.site.as_sequence().unwrap() {
                for r in b["roles"].as_sequence().unwrap() {
                    assert!(roles.join(r.as_str().unwrap()).join("role.yaml").is_file(), "{}: role {r:?}", s.id());
                    todo.push(r.as_str().unwrap().to_string());
                }
            }
        }
        while let Some(r) = todo.pop() {
            if covered.insert(r.clone()) {
                let doc: serde_yaml::Value =
                    serde_yaml::from_str(&std::fs::read_to_string(roles.join(&r).join("role.yaml")).unwrap()).unwrap();
                let requires = doc.get("requires").and_then(|q| q.as_sequence()).cloned().unwrap_or_default();
                todo.extend(requires.iter().filter_map(|q| q.as_str().map(str::to_string)));
            }
        }
        let every: std::collections::BTreeSet<String> = sorted_entries(&roles).unwrap().into_iter().collect();
        let missing: Vec<&String> = every.difference(&covered).collect();
        assert!(missing.is_empty(), "sample roles in no scenario: {missing:?}");
    }
}
