//! A third-party apt repository: its signing key in /etc/apt/keyrings and a
//! `deb [signed-by=…]` source entry, then `apt-get update` when either changed.

use super::file::File;
use super::Step;
use crate::probe::{HostState, Query};
use crate::resource::spec::PresentAbsent;
use crate::shell::check_value;

#[derive(Debug, Clone, PartialEq)]
pub struct AptRepository {
    pub name: String,
    pub uri: String,
    pub suite: String,
    pub components: Vec<String>,
    pub key: Option<Vec<u8>>,
    pub arch: Option<String>,
    pub state: PresentAbsent,
    pub update_cache: bool,
    pub notify: Vec<String>,
}

impl AptRepository {
    pub fn key_path(&self) -> String {
        format!("/etc/apt/keyrings/{}.asc", self.name)
    }

    pub fn list_path(&self) -> String {
        format!("/etc/apt/sources.list.d/{}.list", self.name)
    }

    /// The one-line source entry.
    pub fn entry(&self) -> String {
        let mut opts = Vec::new();
        if let Some(a) = &self.arch {
            opts.push(format!("arch={a}"));
        }
        if self.key.is_some() {
            opts.push(format!("signed-by={}", self.key_path()));
        }
        let opts = if opts.is_empty() { String::new() } else { format!("[{}] ", opts.join(" ")) };
        format!("deb {opts}{} {} {}\n", self.uri, self.suite, self.components.join(" "))
    }

    /// The key and source files this repository is made of.
    pub fn files(&self) -> Vec<File> {
        let file = |path: String, content: Vec<u8>| File {
            kind: "file",
            path,
            content: Some(content),
            mode: Some(0o644),
            owner: None,
            group: None,
            state: self.state,
            validate: None,
            secret: false,
            notify: vec![],
        };
        let mut out = Vec::new();
        if let Some(k) = &self.key {
            out.push(file(self.key_path(), k.clone()));
        }
        out.push(file(self.list_path(), self.entry().into_bytes()));
        out
    }

    pub fn queries(&self) -> Vec<Query> {
        self.files().iter().flat_map(File::queries).collect()
    }

    pub fn plan(&self, state: &HostState) -> Result<Vec<Step>, String> {
        // One line each, not empty, and none of the characters that would
        // split the field or end the `[...]` options of the entry.
        let field = |what: &str, v: &str, bad: fn(char) -> bool| {
            check_value(what, v, true)?;
            if v.is_empty() || v.contains(bad) {
                return Err(format!("bad {what} {v:?}"));
            }
            Ok(())
        };
        for (what, v) in [("repository name", &self.name), ("uri", &self.uri), ("suite", &self.suite)] {
            field(what, v, char::is_whitespace)?;
        }
        for v in &self.components {
            field("component", v, |c| c == ']')?;
        }
        if let Some(a) = &self.arch {
            field("arch", a, |c| c.is_whitespace() || c == ']')?;
        }
        if self.name.contains('/') {
            return Err(format!("repository name {:?} must not contain `/`", self.name));
        }
        let mut steps = Vec::new();
        if self.key.is_some() && self.state == PresentAbsent::Present {
            steps.push(Step::new("keyrings directory", "install -d -m 0755 /etc/apt/keyrings\n"));
        }
        let mut changed = false;
        for f in self.files() {
            let s = f.plan(state)?;
            changed |= !s.is_empty();
            steps.extend(s);
        }
        if !changed {
            return Ok(vec![]);
        }
        if self.update_cache && self.state == PresentAbsent::Present {
            steps.push(Step::new(
                "apt-get update",
                "DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=120 update\n",
            ));
        }
        Ok(steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::PathState;

    #[test]
    fn key_and_source_then_update() {
        let r = AptRepository {
            name: "elastic-8.x".into(),
            uri: "https://artifacts.elastic.co/packages/8.x/apt".into(),
            suite: "stable".into(),
            components: vec!["main".into()],
            key: Some(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n".to_vec()),
            arch: None,
            state: PresentAbsent::Present,
            update_cache: true,
            notify: vec![],
        };
        assert_eq!(r.entry(), "deb [signed-by=/etc/apt/keyrings/elastic-8.x.asc] https://artifacts.elastic.co/packages/8.x/apt stable main\n");
        let mut st = HostState::default();
        for q in r.queries() {
            if let Query::Path(p) = q {
                st.paths.insert(p, PathState { kind: "absent".into(), ..Default::default() });
            }
        }
        let actions: Vec<String> = r.plan(&st).unwrap().into_iter().map(|s| s.action).collect();
        assert_eq!(actions, ["keyrings directory", "create", "create", "apt-get update"]);
    }
}
