//! Kernel parameters: the live value (`sysctl -w`) and, by default, a file in
//! /etc/sysctl.d so the value survives a reboot.

use super::file::File;
use super::Step;
use crate::probe::{normalize_ws, HostState, Query};
use crate::resource::spec::PresentAbsent;
use crate::shell::{check_value, quote};

#[derive(Debug, Clone, PartialEq)]
pub struct Sysctl {
    pub name: String,
    pub value: String,
    pub persist: bool,
    pub notify: Vec<String>,
}

impl Sysctl {
    fn file(&self) -> File {
        File {
            kind: "file",
            path: format!("/etc/sysctl.d/60-rigger-{}.conf", self.name),
            content: Some(format!("{} = {}\n", self.name, self.value).into_bytes()),
            mode: Some(0o644),
            owner: None,
            group: None,
            state: PresentAbsent::Present,
            validate: None,
            secret: false,
            notify: vec![],
        }
    }

    pub fn queries(&self) -> Vec<Query> {
        let mut q = vec![Query::Sysctl(self.name.clone())];
        if self.persist {
            q.extend(self.file().queries());
        }
        q
    }

    pub fn plan(&self, state: &HostState) -> Result<Vec<Step>, String> {
        check_value("sysctl value", &self.value, true)?;
        if self.name.is_empty() || !self.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
            return Err(format!("bad sysctl name {:?}", self.name));
        }
        let mut steps = Vec::new();
        match state.sysctl(&self.name)? {
            None => return Err(format!("no such kernel parameter {}", self.name)),
            Some(cur) if cur != normalize_ws(&self.value) => steps.push(Step::new(
                format!("{cur} → {}", self.value),
                format!("sysctl -q -w {}\n", quote(&format!("{}={}", self.name, self.value))),
            )),
            Some(_) => {}
        }
        if self.persist {
            steps.extend(self.file().plan(state)?);
        }
        Ok(steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::PathState;

    #[test]
    fn live_and_persisted() {
        let s = Sysctl { name: "net.ipv4.ip_nonlocal_bind".into(), value: "1".into(), persist: true, notify: vec![] };
        let mut st = HostState::default();
        st.sysctl.insert(s.name.clone(), Some("0".into()));
        st.paths.insert(
            "/etc/sysctl.d/60-rigger-net.ipv4.ip_nonlocal_bind.conf".into(),
            PathState { kind: "absent".into(), ..Default::default() },
        );
        let steps = s.plan(&st).unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].script, "sysctl -q -w net.ipv4.ip_nonlocal_bind=1\n");
        assert_eq!(steps[1].action, "create");
    }
}
