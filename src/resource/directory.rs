//! The `directory` kind: a directory with its mode, owner and group, or its
//! absence (removed with everything in it).

use super::kind::{Doc, Field, Found, Resolve, Resource, ResourceError, Spec, Step};
use super::path::{self, check_path, Meta, PathKind};
use super::spec::{ModeSpec, OneOrMany, PresentAbsent};
use crate::session::probe::{HostState, Query};
use crate::shell::quote;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectorySpec {
    pub path: String,
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub state: PresentAbsent,
    #[serde(default)]
    pub notify: OneOrMany,
}

impl Spec for DirectorySpec {
    const KIND: &'static str = "directory";
    const DOC: Doc = Doc {
        summary: "A directory (made with its parents) with its mode, owner and group; `absent` removes it and everything in it.",
        fields: &[
            Field { name: "path", ty: "absolute path", default: "", help: "" },
            Field { name: "mode", ty: "quoted octal", default: "kept", help: "" },
            Field { name: "owner", ty: "user", default: "kept", help: "" },
            Field { name: "group", ty: "group", default: "kept", help: "" },
            Field { name: "state", ty: "present | absent", default: "present", help: "" },
            Field { name: "notify", ty: "handler or list", default: "none", help: "" },
        ],
        example: "directory: { path: /srv/app, mode: \"0750\", owner: www-data }",
    };

    fn notify(&self) -> &[String] {
        &self.notify.0
    }

    fn resolve(self, _: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
        check_path(&self.path)?;
        let meta = Meta { mode: path::mode(&self.mode)?, owner: self.owner, group: self.group };
        Ok(Arc::new(Directory { path: self.path, meta, state: self.state, notify: self.notify.0 }))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Directory {
    pub path: String,
    pub meta: Meta,
    pub state: PresentAbsent,
    pub notify: Vec<String>,
}

impl Resource for Directory {
    fn label(&self) -> String {
        format!("directory {}", self.path)
    }

    fn queries(&self) -> Vec<Query> {
        vec![path::query(&self.path)]
    }

    /// `mkdir -p` makes the path and every folder above it.
    fn may_make(&self, dir: &str) -> bool {
        self.state == PresentAbsent::Present
            && (self.path == dir || self.path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/')))
    }

    fn plan(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        check_path(&self.path)?;
        self.meta.check()?;
        let cur = path::state(state, &self.path)?;
        let p = quote(&self.path);
        if self.state == PresentAbsent::Absent {
            return Ok(if cur.exists() { vec![Step::new("remove", format!("rm -rf -- {p}\n"))] } else { vec![] });
        }
        if cur.exists() && cur.kind != PathKind::Directory {
            return Err(ResourceError::Found { path: self.path.clone(), found: Found::NotDirectory(cur.kind) });
        }
        if !cur.exists() {
            return Ok(vec![Step::new("create", format!("mkdir -p -- {p}\n{}", self.meta.script(&self.path)))]);
        }
        Ok(self.meta.step(&self.path, cur).into_iter().collect())
    }

    fn notify(&self) -> &[String] {
        &self.notify
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::path::PathState;

    #[test]
    fn makes_its_path_and_the_folders_above_it_only() {
        let d = |path: &str, state| Directory { path: path.into(), meta: Meta::default(), state, notify: vec![] };
        let made = d("/srv/app/data", PresentAbsent::Present);
        assert!(made.may_make("/srv/app/data") && made.may_make("/srv/app") && made.may_make("/srv"));
        assert!(!made.may_make("/srv/ap") && !made.may_make("/srv/app/data/x"));
        assert!(!d("/srv/app", PresentAbsent::Absent).may_make("/srv/app"));
    }

    #[test]
    fn created_with_metadata_then_in_sync() {
        let mut st = HostState::default();
        st.insert(path::query("/srv/my dir"), PathState::default());
        let d = Directory {
            path: "/srv/my dir".into(),
            meta: Meta { mode: Some(0o750), owner: Some("www-data".into()), group: None },
            state: PresentAbsent::Present,
            notify: vec![],
        };
        let steps = d.plan(&st).unwrap();
        assert_eq!(
            steps[0].script,
            "mkdir -p -- '/srv/my dir'\nchmod 0750 -- '/srv/my dir'\nchown www-data -- '/srv/my dir'\n"
        );
        let have = PathState { kind: PathKind::Directory, mode: 0o750, owner: "www-data".into(), ..Default::default() };
        st.insert(path::query("/srv/my dir"), have);
        assert!(d.plan(&st).unwrap().is_empty());
    }

    #[test]
    fn a_file_in_the_way_is_named() {
        let mut st = HostState::default();
        st.insert(path::query("/srv/x"), PathState::file(b"", 0o644));
        let d =
            Directory { path: "/srv/x".into(), meta: Meta::default(), state: PresentAbsent::Present, notify: vec![] };
        assert_eq!(d.plan(&st).unwrap_err().to_string(), "/srv/x exists and is not a directory (file)");
    }
}
