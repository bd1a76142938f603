//! The `apt_repository` kind: a third-party apt repository: its signing key
//! in /etc/apt/keyrings and a `deb [signed-by=…]` source entry, then
//! `apt-get update` when either changed.

use super::file::File;
use super::kind::{Doc, Field, Resolve, Resource, ResourceError, RoleFile, RoleFolder, Spec, Step};
use super::spec::{yes, OneOrMany, PresentAbsent};
use crate::session::probe::{HostState, Query};
use crate::shell::check_value;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AptRepositorySpec {
    /// Names the files: /etc/apt/keyrings/NAME.asc and /etc/apt/sources.list.d/NAME.list.
    pub name: String,
    pub uri: String,
    pub suite: String,
    #[serde(default = "main_component")]
    pub components: Vec<String>,
    /// The ASCII-armored signing key, inline...
    #[serde(default)]
    pub key: Option<String>,
    /// ...or a file in the role's `files/` directory.
    #[serde(default)]
    pub key_src: Option<String>,
    #[serde(default)]
    pub arch: Option<String>,
    #[serde(default)]
    pub state: PresentAbsent,
    /// Run `apt-get update` when the repository changes.
    #[serde(default = "yes")]
    pub update_cache: bool,
    #[serde(default)]
    pub notify: OneOrMany,
}

fn main_component() -> Vec<String> {
    vec!["main".into()]
}

#[derive(Debug, thiserror::Error)]
#[error("repository name {0:?} must not contain `/`")]
struct SlashInName(String);

impl Spec for AptRepositorySpec {
    const KIND: &'static str = "apt_repository";
    const DOC: Doc = Doc {
        summary: "A third-party apt repository: its signing key (/etc/apt/keyrings/NAME.asc) and source entry \
                  (/etc/apt/sources.list.d/NAME.list); apt-get update when either changed.",
        fields: &[
            Field { name: "name", ty: "string", default: "", help: "names the key and list files" },
            Field { name: "uri", ty: "URL", default: "", help: "" },
            Field { name: "suite", ty: "string", default: "", help: "e.g. stable, bookworm" },
            Field { name: "components", ty: "list", default: "[main]", help: "" },
            Field { name: "key", ty: "ASCII-armored key", default: "none", help: "inline" },
            Field { name: "key_src", ty: "file name", default: "none", help: "a key in the role's files/" },
            Field { name: "arch", ty: "string", default: "all", help: "" },
            Field { name: "state", ty: "present | absent", default: "present", help: "" },
            Field { name: "update_cache", ty: "bool", default: "true", help: "apt-get update when it changed" },
            Field { name: "notify", ty: "handler or list", default: "none", help: "" },
        ],
        example: "apt_repository: { name: elastic-8.x, uri: \"https://artifacts.elastic.co/packages/8.x/apt\", suite: stable, key_src: elastic.asc }",
    };

    fn notify(&self) -> &[String] {
        &self.notify.0
    }

    fn role_files(&self) -> Vec<RoleFile<'_>> {
        self.key_src.iter().map(|s| RoleFile { folder: RoleFolder::Files, name: s }).collect()
    }

    fn resolve(self, cx: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
        let key = match (&self.key, &self.key_src) {
            (Some(k), _) => Some(k.clone().into_bytes()),
            (None, Some(src)) => Some(cx.read(RoleFolder::Files, src)?),
            (None, None) => None,
        };
        Ok(Arc::new(AptRepository {
            name: self.name,
            uri: self.uri,
            suite: self.suite,
            components: self.components,
            key,
            arch: self.arch,
            state: self.state,
            update_cache: self.update_cache,
            notify: self.notify.0,
        }))
    }
}

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
        let mut out = Vec::new();
        if let Some(k) = &self.key {
            out.push(File::plain(self.key_path(), k.clone(), self.state));
        }
        out.push(File::plain(self.list_path(), self.entry().into_bytes(), self.state));
        out
    }
}

impl Resource for AptRepository {
    fn label(&self) -> String {
        format!("apt_repository {}", self.name)
    }

    fn queries(&self) -> Vec<Query> {
        self.files().iter().flat_map(File::queries).collect()
    }

    fn plan(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        // One line each, not empty, and none of the characters that would
        // split the field or end the `[...]` options of the entry.
        let field = |what: &'static str, v: &str, bad: fn(char) -> bool| {
            check_value(what, v, true)?;
            if v.is_empty() || v.contains(bad) {
                return Err(ResourceError::bad(what, v));
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
            return Err(ResourceError::kind(SlashInName(self.name.clone())));
        }
        let mut steps = Vec::new();
        if self.key.is_some() && self.state == PresentAbsent::Present {
            steps.push(Step::new("keyrings directory", "install -d -m 0755 /etc/apt/keyrings\n"));
        }
        let mut changed = false;
        for f in self.files() {
            let s = f.steps(state)?;
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

    fn notify(&self) -> &[String] {
        &self.notify
    }

    fn rendered(&self) -> Vec<(String, Vec<u8>)> {
        self.files().iter().flat_map(File::rendered).collect()
    }

    fn rendered_in_clear(&self) -> Vec<(String, Vec<u8>)> {
        self.files().iter().flat_map(File::rendered_in_clear).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::path::PathState;

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
            st.insert(q, PathState::default());
        }
        let actions: Vec<String> = r.plan(&st).unwrap().into_iter().map(|s| s.action).collect();
        assert_eq!(actions, ["keyrings directory", "create", "create", "apt-get update"]);
    }
}
