//! Docker containers, declared by name. The normalized spec's digest is kept
//! in a container label, so "in sync" is one comparison: an unchanged spec
//! leaves the container running; any change recreates it.

use super::Step;
use crate::probe::{HostState, Query};
use crate::shell::{check_value, quote};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    #[default]
    Started,
    Stopped,
    Absent,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Container {
    pub name: String,
    pub image: String,
    pub ports: Vec<String>,
    pub volumes: Vec<String>,
    /// Sorted, so the digest does not depend on YAML order.
    pub env: Vec<(String, String)>,
    pub restart: String,
    pub command: Vec<String>,
    #[serde(skip)]
    pub state: ContainerState,
    #[serde(skip)]
    pub notify: Vec<String>,
}

pub const LABEL: &str = "rigger.spec";

impl Container {
    /// sha256 of everything that defines the container.
    pub fn digest(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        crate::resource::file::sha256_hex(json.as_bytes())
    }

    pub fn queries(&self) -> Vec<Query> {
        vec![Query::Container(self.name.clone())]
    }

    fn run_script(&self) -> String {
        let mut args = vec![
            "docker run -d".to_string(),
            format!("--name {}", quote(&self.name)),
            format!("--label {}", quote(&format!("{LABEL}={}", self.digest()))),
        ];
        args.push(format!("--restart {}", quote(&self.restart)));
        for p in &self.ports {
            args.push(format!("-p {}", quote(p)));
        }
        for v in &self.volumes {
            args.push(format!("-v {}", quote(v)));
        }
        for (k, v) in &self.env {
            args.push(format!("-e {}", quote(&format!("{k}={v}"))));
        }
        args.push("--".into());
        args.push(quote(&self.image));
        args.extend(self.command.iter().map(|c| quote(c)));
        format!("{} >/dev/null\n", args.join(" "))
    }

    pub fn plan(&self, state: &HostState) -> Result<Vec<Step>, String> {
        check_value("container name", &self.name, true)?;
        if self.name.is_empty()
            || !self.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            || self.name.starts_with(['-', '.', '_'])
        {
            return Err(format!("bad container name {:?}", self.name));
        }
        for (what, v) in [("image", &self.image), ("restart", &self.restart)] {
            check_value(what, v, true)?;
            if v.is_empty() || v.starts_with('-') {
                return Err(format!("bad {what} {v:?}"));
            }
        }
        for v in self.ports.iter().chain(&self.volumes) {
            check_value("port or volume", v, true)?;
        }
        for (k, v) in &self.env {
            check_value("env value", v, false)?;
            let valid = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!("bad env name {k:?}: letters, digits and `_`, not starting with a digit"));
            }
        }
        for c in &self.command {
            check_value("command", c, false)?;
        }
        let cur = state.container(&self.name)?;
        let n = quote(&self.name);
        match (self.state, cur) {
            (ContainerState::Absent, None) => Ok(vec![]),
            (ContainerState::Absent, Some(_)) => {
                Ok(vec![Step::new("remove", format!("docker rm -f -- {n} >/dev/null\n"))])
            }
            (_, None) => Ok(vec![Step::new(format!("create from {}", self.image), self.run_script())]
                .into_iter()
                .chain(
                    (self.state == ContainerState::Stopped)
                        .then(|| Step::new("stop", format!("docker stop -- {n} >/dev/null\n"))),
                )
                .collect()),
            (want, Some(c)) if c.spec != self.digest() => {
                let mut steps = vec![Step::new(
                    format!("recreate (spec changed, image {})", self.image),
                    format!("docker rm -f -- {n} >/dev/null\n{}", self.run_script()),
                )];
                if want == ContainerState::Stopped {
                    steps.push(Step::new("stop", format!("docker stop -- {n} >/dev/null\n")));
                }
                Ok(steps)
            }
            (ContainerState::Started, Some(c)) if !c.running => {
                Ok(vec![Step::new("start", format!("docker start -- {n} >/dev/null\n"))])
            }
            (ContainerState::Stopped, Some(c)) if c.running => {
                Ok(vec![Step::new("stop", format!("docker stop -- {n} >/dev/null\n"))])
            }
            _ => Ok(vec![]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::ContainerInfo;

    fn c() -> Container {
        Container {
            name: "api".into(),
            image: "lab/web:1".into(),
            ports: vec!["8080:80".into()],
            volumes: vec!["/srv/data:/data".into()],
            env: vec![("MODE".into(), "a b $(x)".into())],
            restart: "unless-stopped".into(),
            command: vec![],
            state: ContainerState::Started,
            notify: vec![],
        }
    }

    fn st(info: Option<ContainerInfo>) -> HostState {
        let mut s = HostState::default();
        s.containers.insert("api".into(), info);
        s
    }

    #[test]
    fn absent_container_is_created_with_quoted_args_and_label() {
        let steps = c().plan(&st(None)).unwrap();
        assert_eq!(steps[0].action, "create from lab/web:1");
        let s = &steps[0].script;
        assert!(s.starts_with("docker run -d --name api --label rigger.spec="), "{s}");
        assert!(s.contains("-p 8080:80 -v /srv/data:/data -e 'MODE=a b $(x)' -- lab/web:1"), "{s}");
    }

    #[test]
    fn unchanged_spec_running_is_in_sync_and_a_change_recreates() {
        let digest = c().digest();
        assert!(c().plan(&st(Some(ContainerInfo { spec: digest.clone(), running: true }))).unwrap().is_empty());
        assert_eq!(
            c().plan(&st(Some(ContainerInfo { spec: digest.clone(), running: false }))).unwrap()[0].action,
            "start"
        );
        let mut changed = c();
        changed.ports = vec!["9090:80".into()];
        let steps = changed.plan(&st(Some(ContainerInfo { spec: digest, running: true }))).unwrap();
        assert!(steps[0].action.starts_with("recreate") && steps[0].script.starts_with("docker rm -f -- api"));
    }

    #[test]
    fn env_order_does_not_change_the_digest() {
        let mut a = c();
        a.env = vec![("A".into(), "1".into()), ("B".into(), "2".into())];
        let b = a.clone();
        assert_eq!(a.digest(), b.digest());
    }
}
