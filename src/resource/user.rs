//! The `user` kind: a local account (useradd/usermod/userdel). Supplementary
//! groups are only ever added, never removed, as Ansible's `append: yes`.

use super::kind::{Doc, Field, Resolve, Resource, ResourceError, Spec, Step};
use super::spec::PresentAbsent;
use crate::session::probe::{answer, Ask, HostState, Probe, Query};
use crate::shell::{check_optional, check_value, quote};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub name: String,
    #[serde(default)]
    pub uid: Option<u32>,
    /// Primary group.
    #[serde(default)]
    pub group: Option<String>,
    /// Supplementary groups; added, never removed.
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub shell: Option<String>,
    #[serde(default)]
    pub home: Option<String>,
    #[serde(default)]
    pub system: bool,
    #[serde(default)]
    pub state: PresentAbsent,
}

impl Spec for UserSpec {
    const KIND: &'static str = "user";
    const DOC: Doc = Doc {
        summary: "A local user. Supplementary `groups` are added, never removed (Ansible's `append: yes`).",
        fields: &[
            Field { name: "name", ty: "string", default: "", help: "" },
            Field { name: "uid", ty: "integer", default: "chosen by useradd", help: "" },
            Field { name: "group", ty: "group", default: "useradd's", help: "primary group" },
            Field { name: "groups", ty: "list", default: "[]", help: "supplementary groups, appended" },
            Field { name: "shell", ty: "path", default: "useradd's", help: "" },
            Field { name: "home", ty: "path", default: "useradd's", help: "" },
            Field { name: "system", ty: "bool", default: "false", help: "a system account (no home made)" },
            Field { name: "state", ty: "present | absent", default: "present", help: "" },
        ],
        example: "user: { name: deploy, groups: [docker], shell: /bin/bash }",
    };

    fn resolve(self, _: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
        Ok(Arc::new(User {
            name: self.name,
            uid: self.uid,
            group: self.group,
            groups: self.groups,
            shell: self.shell,
            home: self.home,
            system: self.system,
            state: self.state,
        }))
    }
}

/// What `getent passwd` and `id -Gn` say of a user.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct UserState {
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
    pub groups: Vec<String>,
}

/// A user's passwd entry and groups; the answer is `Option<UserState>`.
pub static PASSWD: Probe = Probe {
    name: "user",
    ask: Ask::Each(|n| {
        let n = quote(n);
        format!("getent passwd -- {n} || echo absent; id -Gn -- {n} 2>/dev/null")
    }),
    parse: |_, lines| {
        let user = match lines.first() {
            Some(l) if *l != "absent" => {
                let f: Vec<&str> = l.split(':').collect();
                Some(UserState {
                    uid: f.get(2).and_then(|s| s.parse().ok()).unwrap_or(0),
                    gid: f.get(3).and_then(|s| s.parse().ok()).unwrap_or(0),
                    home: f.get(5).unwrap_or(&"").to_string(),
                    shell: f.get(6).unwrap_or(&"").to_string(),
                    groups: lines
                        .get(1)
                        .map(|g| g.split_whitespace().map(str::to_string).collect())
                        .unwrap_or_default(),
                })
            }
            _ => None,
        };
        Ok(answer(user))
    },
};

/// A user or group name goes into useradd/groupadd arguments and /etc/group lists.
pub fn check_name(what: &'static str, n: &str) -> Result<(), ResourceError> {
    check_value(what, n, true)?;
    if n.is_empty() || n.starts_with('-') || n.contains([':', ',', ' ', '/']) {
        return Err(ResourceError::bad(what, n));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub name: String,
    pub uid: Option<u32>,
    pub group: Option<String>,
    pub groups: Vec<String>,
    pub shell: Option<String>,
    pub home: Option<String>,
    pub system: bool,
    pub state: PresentAbsent,
}

impl Resource for User {
    fn label(&self) -> String {
        format!("user {}", self.name)
    }

    /// Any folder: a user's home folder, or whatever its shell setup makes.
    fn may_make(&self, _dir: &str) -> bool {
        true
    }

    fn queries(&self) -> Vec<Query> {
        vec![Query::new(&PASSWD, &self.name)]
    }

    fn plan(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        check_name("user name", &self.name)?;
        for g in self.groups.iter().chain(&self.group) {
            check_name("group name", g)?;
        }
        check_optional("shell", &self.shell, false)?;
        check_optional("home", &self.home, false)?;
        let n = quote(&self.name);
        let cur = state.get::<Option<UserState>>(&Query::new(&PASSWD, &self.name))?.as_ref();
        if self.state == PresentAbsent::Absent {
            return Ok(cur.map(|_| Step::new("remove", format!("userdel -- {n}\n"))).into_iter().collect());
        }
        let Some(cur) = cur else {
            let mut args = Vec::new();
            if let Some(u) = self.uid {
                args.push(format!("-u {u}"));
            }
            if let Some(g) = &self.group {
                args.push(format!("-g {}", quote(g)));
            }
            if !self.groups.is_empty() {
                args.push(format!("-G {}", quote(&self.groups.join(","))));
            }
            if let Some(s) = &self.shell {
                args.push(format!("-s {}", quote(s)));
            }
            if let Some(h) = &self.home {
                args.push(format!("-d {}", quote(h)));
            }
            args.push(if self.system { "-r".into() } else { "-m".into() });
            return Ok(vec![Step::new("create", format!("useradd {} -- {n}\n", args.join(" ")))]);
        };
        let mut actions = Vec::new();
        let mut args = Vec::new();
        if let Some(u) = self.uid.filter(|u| *u != cur.uid) {
            actions.push(format!("uid {} → {u}", cur.uid));
            args.push(format!("-u {u}"));
        }
        if let Some(s) = self.shell.as_ref().filter(|s| **s != cur.shell) {
            actions.push(format!("shell {} → {s}", cur.shell));
            args.push(format!("-s {}", quote(s)));
        }
        if let Some(h) = self.home.as_ref().filter(|h| **h != cur.home) {
            actions.push(format!("home {} → {h}", cur.home));
            args.push(format!("-d {}", quote(h)));
        }
        let missing: Vec<&String> = self.groups.iter().filter(|g| !cur.groups.contains(g)).collect();
        if !missing.is_empty() {
            let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            actions.push(format!("add to {}", list.join(", ")));
            args.push(format!("-a -G {}", quote(&list.join(","))));
        }
        if actions.is_empty() {
            return Ok(vec![]);
        }
        Ok(vec![Step::new(actions.join(", "), format!("usermod {} -- {n}\n", args.join(" ")))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn user_created_then_groups_appended() {
        let u = User {
            name: "app".into(),
            uid: None,
            group: None,
            groups: vec!["docker".into()],
            shell: Some("/bin/bash".into()),
            home: None,
            system: false,
            state: PresentAbsent::Present,
        };
        let mut st = HostState::default();
        st.insert(Query::new(&PASSWD, "app"), None::<UserState>);
        assert_eq!(u.plan(&st).unwrap()[0].script, "useradd -G docker -s /bin/bash -m -- app\n");
        st.insert(
            Query::new(&PASSWD, "app"),
            Some(UserState {
                uid: 1001,
                gid: 1001,
                home: "/home/app".into(),
                shell: "/bin/bash".into(),
                groups: vec!["app".into()],
            }),
        );
        let steps = u.plan(&st).unwrap();
        assert_eq!(steps[0].action, "add to docker");
        assert_eq!(steps[0].script, "usermod -a -G docker -- app\n");
        let mut have = st.get::<Option<UserState>>(&Query::new(&PASSWD, "app")).unwrap().clone().unwrap();
        have.groups.push("docker".into());
        st.insert(Query::new(&PASSWD, "app"), Some(have));
        assert!(u.plan(&st).unwrap().is_empty());
    }

    #[test]
    fn hostile_names_are_refused() {
        let mut u = User {
            name: "-x".into(),
            uid: None,
            group: None,
            groups: vec![],
            shell: None,
            home: None,
            system: false,
            state: PresentAbsent::Present,
        };
        assert!(u.plan(&HostState::default()).is_err());
        u.name = "a:b".into();
        assert!(u.plan(&HostState::default()).is_err());
    }
}
