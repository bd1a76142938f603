//! Debian packages through apt: present, absent, latest; many at once.

use super::Step;
use crate::probe::{HostState, Query};
use crate::resource::spec::PackageState;
use crate::shell::{check_value, quote};

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
    pub fn queries(&self) -> Vec<Query> {
        let mut q: Vec<Query> = self.names.iter().map(|n| Query::Package(n.clone())).collect();
        if self.state == PackageState::Latest {
            q.extend(self.names.iter().map(|n| Query::Candidate(n.clone())));
        }
        q
    }

    pub fn plan(&self, state: &HostState) -> Result<Vec<Step>, String> {
        for n in &self.names {
            check_value("package name", n, true)?;
            if n.starts_with('-') || n.is_empty() {
                return Err(format!("bad package name {n:?}"));
            }
        }
        let mut todo = Vec::new();
        for n in &self.names {
            let installed = state.package(n)?;
            let wanted = match self.state {
                PackageState::Present => installed.is_none(),
                PackageState::Absent => installed.is_some(),
                PackageState::Latest => installed.is_none() || installed != state.candidate(n)?,
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
            st.packages.insert(n.to_string(), None);
        }
        for (n, v) in installed {
            st.packages.insert(n.to_string(), Some(v.to_string()));
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
        st.candidates.insert("haproxy".into(), Some("2.6.2".into()));
        assert_eq!(pkg(&["haproxy"], PackageState::Latest).plan(&st).unwrap().len(), 1);
        st.candidates.insert("haproxy".into(), Some("2.6.1".into()));
        assert!(pkg(&["haproxy"], PackageState::Latest).plan(&st).unwrap().is_empty());
    }

    #[test]
    fn option_like_names_are_refused() {
        let st = state(&[], &["-o=evil"]);
        assert!(pkg(&["-o=evil"], PackageState::Present).plan(&st).is_err());
    }
}
