//! The `package` kind: Debian packages through apt (present, absent,
//! latest), many in one apt call; or local `.deb` files pushed and installed.

use super::kind::{Doc, Field, Resolve, Resource, ResourceError, Spec, Step};
use super::spec::{string_or_struct, OneOrMany};
use crate::session::probe::{answer, Ask, HostState, Probe, ProbeError, Query};
use crate::shell::{check_value, quote};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageState {
    #[default]
    Present,
    Absent,
    Latest,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PackageSpec {
    pub name: Option<OneOrMany>,
    pub names: Option<OneOrMany>,
    pub state: PackageState,
    pub update_cache: bool,
    /// `.deb` files on the control machine, pushed and installed (air-gapped sites).
    pub deb: Option<String>,
    pub notify: OneOrMany,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackageMap {
    #[serde(default)]
    name: Option<OneOrMany>,
    #[serde(default)]
    names: Option<OneOrMany>,
    #[serde(default)]
    state: PackageState,
    #[serde(default)]
    update_cache: bool,
    #[serde(default)]
    deb: Option<String>,
    #[serde(default)]
    notify: OneOrMany,
}

impl From<PackageMap> for PackageSpec {
    fn from(m: PackageMap) -> Self {
        PackageSpec {
            name: m.name,
            names: m.names,
            state: m.state,
            update_cache: m.update_cache,
            deb: m.deb,
            notify: m.notify,
        }
    }
}
string_or_struct!(PackageSpec, PackageMap, name);

#[derive(Debug, thiserror::Error)]
enum PackageError {
    #[error("package needs `name` or `names`")]
    NoName,
    #[error("bad deb pattern {pattern:?}: {source}")]
    BadPattern { pattern: String, source: glob::PatternError },
    #[error("no .deb file matches {0:?}")]
    NoDeb(String),
    #[error("`deb` packages cannot be `latest`")]
    DebLatest,
}

impl Spec for PackageSpec {
    const KIND: &'static str = "package";
    const DOC: Doc = Doc {
        summary: "Debian packages through apt, many in one apt call (a name, or a mapping). `deb:` installs \
                  local .deb files instead (pushed from the control machine).",
        fields: &[
            Field { name: "name", ty: "name or list", default: "", help: "`name` or `names` is required" },
            Field { name: "names", ty: "name or list", default: "", help: "" },
            Field { name: "state", ty: "present | absent | latest", default: "present", help: "" },
            Field { name: "update_cache", ty: "bool", default: "false", help: "apt-get update before installing" },
            Field {
                name: "deb",
                ty: "glob",
                default: "none",
                help: ".deb files on the control machine, relative to the project",
            },
            Field { name: "notify", ty: "handler or list", default: "none", help: "" },
        ],
        example: "package: { names: [haproxy, socat], state: present }",
    };

    fn notify(&self) -> &[String] {
        &self.notify.0
    }

    fn resolve(self, cx: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
        let mut names: Vec<String> = self.name.map(|n| n.0).unwrap_or_default();
        names.extend(self.names.map(|n| n.0).unwrap_or_default());
        if names.is_empty() {
            return Err(ResourceError::kind(PackageError::NoName));
        }
        let mut debs = Vec::new();
        if let Some(pattern) = &self.deb {
            let full = if Path::new(pattern).is_absolute() {
                pattern.clone()
            } else {
                cx.root.join(pattern).to_string_lossy().into_owned()
            };
            let paths = glob::glob(&full)
                .map_err(|source| ResourceError::kind(PackageError::BadPattern { pattern: pattern.clone(), source }))?;
            for path in paths.flatten() {
                let bytes = std::fs::read(&path)
                    .map_err(|source| ResourceError::Read { path: path.clone(), source: Arc::new(source) })?;
                debs.push((path.file_name().unwrap_or_default().to_string_lossy().into_owned(), bytes));
            }
            if debs.is_empty() {
                return Err(ResourceError::kind(PackageError::NoDeb(pattern.clone())));
            }
            if self.state == PackageState::Latest {
                return Err(ResourceError::kind(PackageError::DebLatest));
            }
        }
        Ok(Arc::new(Package { names, state: self.state, update_cache: self.update_cache, debs, notify: self.notify.0 }))
    }
}

/// Every asked package's status and version, in one dpkg-query.
pub static INSTALLED: Probe = Probe {
    name: "package",
    ask: Ask::All(|names| {
        let names: Vec<String> = names.iter().map(|n| quote(n)).collect();
        format!(
            "dpkg-query -W -f='${{Package}}|${{db:Status-Abbrev}}|${{Version}}\\n' -- {} 2>/dev/null",
            names.join(" ")
        )
    }),
    parse: |name, lines| {
        let version = lines.iter().find_map(|l| {
            let parts: Vec<&str> = l.split('|').collect();
            (parts.len() == 3 && parts[0] == name && parts[1].starts_with("ii")).then(|| parts[2].to_string())
        });
        Ok(answer(Version(version)))
    },
};

/// The version apt would install.
pub static CANDIDATE: Probe = Probe {
    name: "package candidate",
    ask: Ask::Each(|n| format!("apt-cache policy -- {} 2>/dev/null | awk '/Candidate:/{{print $2}}'", quote(n))),
    parse: |_, lines| {
        let c = lines.first().map(|s| s.trim()).filter(|s| !s.is_empty() && *s != "(none)");
        Ok(answer(Version(c.map(str::to_string))))
    },
};

/// A package version, or none (not installed; no candidate).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Version(pub Option<String>);

fn installed<'a>(state: &'a HostState, n: &str) -> Result<Option<&'a str>, ProbeError> {
    Ok(state.get::<Version>(&Query::new(&INSTALLED, n))?.0.as_deref())
}

fn candidate<'a>(state: &'a HostState, n: &str) -> Result<Option<&'a str>, ProbeError> {
    Ok(state.get::<Version>(&Query::new(&CANDIDATE, n))?.0.as_deref())
}

#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    pub names: Vec<String>,
    pub state: PackageState,
    pub update_cache: bool,
    /// Local `.deb` files (name, bytes) pushed and installed instead of fetched.
    pub debs: Vec<(String, Vec<u8>)>,
    pub notify: Vec<String>,
}

const APT: &str = "DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold";

impl Package {
    fn deb_script(&self) -> String {
        let mut s = String::from("d=$(mktemp -d)\ntrap 'rm -rf -- \"$d\"' EXIT\n");
        for (i, (name, bytes)) in self.debs.iter().enumerate() {
            s.push_str(&format!("f=\"$d/{i}.deb\" # {}\n", name.replace('\n', " ")));
            s.push_str(&crate::shell::write_bytes("f", bytes));
        }
        s.push_str(&format!("{APT} install -- \"$d\"/*.deb\n"));
        s
    }
}

impl Resource for Package {
    fn label(&self) -> String {
        format!("package {}", self.names.join(", "))
    }

    fn queries(&self) -> Vec<Query> {
        let mut q: Vec<Query> = self.names.iter().map(|n| Query::new(&INSTALLED, n)).collect();
        if self.state == PackageState::Latest {
            q.extend(self.names.iter().map(|n| Query::new(&CANDIDATE, n)));
        }
        q
    }

    fn plan(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        for n in &self.names {
            check_value("package name", n, true)?;
            if n.starts_with('-') || n.is_empty() {
                return Err(ResourceError::bad("package name", n));
            }
        }
        let mut todo = Vec::new();
        for n in &self.names {
            let installed = installed(state, n)?;
            let wanted = match self.state {
                PackageState::Present => installed.is_none(),
                PackageState::Absent => installed.is_some(),
                PackageState::Latest => installed.is_none() || installed != candidate(state, n)?,
            };
            if wanted {
                todo.push(n.clone());
            }
        }
        if todo.is_empty() {
            return Ok(vec![]);
        }
        let list = todo.iter().map(|n| quote(n)).collect::<Vec<_>>().join(" ");
        if self.state == PackageState::Absent {
            return Ok(vec![Step::new(format!("remove {}", todo.join(", ")), format!("{APT} remove -- {list}\n"))]);
        }
        if !self.debs.is_empty() {
            return Ok(vec![Step::new(
                format!("install {} from local .deb files", todo.join(", ")),
                self.deb_script(),
            )]);
        }
        let update = if self.update_cache { "1" } else { "0" };
        // An empty or stale package list is the common first-run failure: refresh and retry once.
        let script = format!(
            "if [ {update} = 1 ] || ! ls /var/lib/apt/lists/ 2>/dev/null | grep -q '_Packages$'; then {APT} update; fi\n\
             {APT} install -- {list} || {{ {APT} update && {APT} install -- {list}; }}\n"
        );
        Ok(vec![Step::new(format!("install {}", todo.join(", ")), script)])
    }

    fn notify(&self) -> &[String] {
        &self.notify
    }

    /// Any folder: a package's scripts may make any folder (its files land in them).
    fn may_make(&self, _dir: &str) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(names: &[&str], state: PackageState) -> Package {
        Package {
            names: names.iter().map(|s| s.to_string()).collect(),
            state,
            update_cache: false,
            debs: vec![],
            notify: vec![],
        }
    }

    fn state(installed: &[(&str, &str)], asked: &[&str]) -> HostState {
        let mut st = HostState::default();
        for n in asked {
            st.insert(Query::new(&INSTALLED, *n), Version(None));
        }
        for (n, v) in installed {
            st.insert(Query::new(&INSTALLED, *n), Version(Some(v.to_string())));
        }
        st
    }

    #[test]
    fn installs_only_missing_packages() {
        let st = state(&[("curl", "7.88")], &["haproxy", "curl"]);
        let steps = pkg(&["haproxy", "curl"], PackageState::Present).plan(&st).unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].action, "install haproxy");
        assert!(steps[0].script.contains("install -- haproxy"));
        assert!(pkg(&["curl"], PackageState::Present).plan(&st).unwrap().is_empty());
    }

    #[test]
    fn absent_removes_installed_ones() {
        let st = state(&[("telnet", "1")], &["telnet", "rsh"]);
        let steps = pkg(&["telnet", "rsh"], PackageState::Absent).plan(&st).unwrap();
        assert_eq!(steps[0].action, "remove telnet");
    }

    #[test]
    fn latest_compares_with_candidate() {
        let mut st = state(&[("haproxy", "2.6.1")], &[]);
        st.insert(Query::new(&CANDIDATE, "haproxy"), Version(Some("2.6.2".into())));
        assert_eq!(pkg(&["haproxy"], PackageState::Latest).plan(&st).unwrap().len(), 1);
        st.insert(Query::new(&CANDIDATE, "haproxy"), Version(Some("2.6.1".into())));
        assert!(pkg(&["haproxy"], PackageState::Latest).plan(&st).unwrap().is_empty());
    }

    #[test]
    fn option_like_names_are_refused() {
        let st = state(&[], &["-o=evil"]);
        assert!(pkg(&["-o=evil"], PackageState::Present).plan(&st).is_err());
    }

    #[test]
    fn one_dpkg_query_answers_every_package() {
        let out = "haproxy|ii |2.6.12-1\ncurl|rc |7.88\n";
        let lines: Vec<&str> = out.lines().collect();
        let v = |n| (INSTALLED.parse)(n, &lines).unwrap().downcast_ref::<Version>().unwrap().clone();
        assert_eq!(v("haproxy"), Version(Some("2.6.12-1".into())));
        assert_eq!(v("curl"), Version(None), "removed but configured is not installed");
        assert_eq!(v("nginx"), Version(None));
    }
}
