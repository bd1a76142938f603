//! The `group` kind: a local group (groupadd/groupmod/groupdel).

use super::kind::{Doc, Field, Resolve, Resource, ResourceError, Spec, Step};
use super::spec::PresentAbsent;
use super::user::check_name;
use crate::session::probe::{answer, Ask, HostState, Probe, Query};
use crate::shell::quote;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    pub name: String,
    #[serde(default)]
    pub gid: Option<u32>,
    #[serde(default)]
    pub system: bool,
    #[serde(default)]
    pub state: PresentAbsent,
}

impl Spec for GroupSpec {
    const KIND: &'static str = "group";
    const DOC: Doc = Doc {
        summary: "A local group.",
        fields: &[
            Field { name: "name", ty: "string", default: "", help: "" },
            Field { name: "gid", ty: "integer", default: "chosen by groupadd", help: "" },
            Field { name: "system", ty: "bool", default: "false", help: "" },
            Field { name: "state", ty: "present | absent", default: "present", help: "" },
        ],
        example: "group: { name: docker, system: true }",
    };

    fn resolve(self, _: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
        Ok(Arc::new(Group { name: self.name, gid: self.gid, system: self.system, state: self.state }))
    }
}

/// A group's gid; the answer is `Option<u32>` (none: no such group).
pub static GETENT_GROUP: Probe = Probe {
    name: "group",
    ask: Ask::Each(|n| format!("getent group -- {} || echo absent", quote(n))),
    parse: |_, lines| {
        let gid: Option<u32> =
            lines.first().filter(|l| **l != "absent").and_then(|l| l.split(':').nth(2)).and_then(|g| g.parse().ok());
        Ok(answer(gid))
    },
};

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    pub gid: Option<u32>,
    pub system: bool,
    pub state: PresentAbsent,
}

impl Resource for Group {
    fn label(&self) -> String {
        format!("group {}", self.name)
    }

    fn queries(&self) -> Vec<Query> {
        vec![Query::new(&GETENT_GROUP, &self.name)]
    }

    fn plan(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        check_name("group name", &self.name)?;
        let n = quote(&self.name);
        let cur = *state.get::<Option<u32>>(&Query::new(&GETENT_GROUP, &self.name))?;
        match (self.state, cur) {
            (PresentAbsent::Absent, Some(_)) => Ok(vec![Step::new("remove", format!("groupdel -- {n}\n"))]),
            (PresentAbsent::Absent, None) => Ok(vec![]),
            (PresentAbsent::Present, None) => {
                let gid = self.gid.map(|g| format!("-g {g} ")).unwrap_or_default();
                let sys = if self.system { "-r " } else { "" };
                Ok(vec![Step::new("create", format!("groupadd {gid}{sys}-- {n}\n"))])
            }
            (PresentAbsent::Present, Some(g)) => match self.gid.filter(|w| *w != g) {
                Some(w) => Ok(vec![Step::new(format!("gid {g} → {w}"), format!("groupmod -g {w} -- {n}\n"))]),
                None => Ok(vec![]),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_then_gid_changed() {
        let g = Group { name: "app".into(), gid: Some(990), system: true, state: PresentAbsent::Present };
        let mut st = HostState::default();
        st.insert(Query::new(&GETENT_GROUP, "app"), None::<u32>);
        assert_eq!(g.plan(&st).unwrap()[0].script, "groupadd -g 990 -r -- app\n");
        st.insert(Query::new(&GETENT_GROUP, "app"), Some(1001u32));
        assert_eq!(g.plan(&st).unwrap()[0].script, "groupmod -g 990 -- app\n");
        st.insert(Query::new(&GETENT_GROUP, "app"), Some(990u32));
        assert!(g.plan(&st).unwrap().is_empty());
    }
}
