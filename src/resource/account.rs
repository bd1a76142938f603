//! Local users and groups (useradd/usermod/groupadd). Supplementary groups
//! are only ever added, never removed, as Ansible's `append: yes`.

use super::Step;
use crate::probe::{HostState, Query};
use crate::resource::spec::PresentAbsent;
use crate::shell::{check_optional, check_value, quote};

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

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    pub gid: Option<u32>,
    pub system: bool,
    pub state: PresentAbsent,
}

fn check_name(what: &str, n: &str) -> Result<(), String> {
    check_value(what, n, true)?;
    if n.is_empty() || n.starts_with('-') || n.contains([':', ',', ' ', '/']) {
        return Err(format!("bad {what} {n:?}"));
    }
    Ok(())
}

impl User {
    pub fn queries(&self) -> Vec<Query> {
        vec![Query::User(self.name.clone())]
    }

    pub fn plan(&self, state: &HostState) -> Result<Vec<Step>, String> {
        check_name("user name", &self.name)?;
        for g in self.groups.iter().chain(&self.group) {
            check_name("group name", g)?;
        }
        check_optional("shell", &self.shell, false)?;
        check_optional("home", &self.home, false)?;
        let n = quote(&self.name);
        let cur = state.user(&self.name)?;
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

impl Group {
    pub fn queries(&self) -> Vec<Query> {
        vec![Query::Group(self.name.clone())]
    }

    pub fn plan(&self, state: &HostState) -> Result<Vec<Step>, String> {
        check_name("group name", &self.name)?;
        let n = quote(&self.name);
        let cur = state.group(&self.name)?;
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
    use crate::probe::UserState;

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
        st.users.insert("app".into(), None);
        assert_eq!(u.plan(&st).unwrap()[0].script, "useradd -G docker -s /bin/bash -m -- app\n");
        st.users.insert(
            "app".into(),
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
        st.users.get_mut("app").unwrap().as_mut().unwrap().groups.push("docker".into());
        assert!(u.plan(&st).unwrap().is_empty());
    }

    #[test]
    fn group_lifecycle() {
        let g = Group { name: "docker".into(), gid: Some(998), system: true, state: PresentAbsent::Present };
        let mut st = HostState::default();
        st.groups.insert("docker".into(), None);
        assert_eq!(g.plan(&st).unwrap()[0].script, "groupadd -g 998 -r -- docker\n");
        st.groups.insert("docker".into(), Some(998));
        assert!(g.plan(&st).unwrap().is_empty());
    }

    #[test]
    fn hostile_names_are_refused() {
        let g = Group { name: "-x".into(), gid: None, system: false, state: PresentAbsent::Present };
        assert!(g.plan(&HostState::default()).is_err());
    }
}
