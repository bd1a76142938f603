//! The `docker_container` kind: a Docker container declared by name. The
//! normalized spec's digest is kept in a container label, so "in sync" is
//! one comparison: an unchanged spec leaves the container running; any
//! change recreates it.

use super::kind::{Doc, Field, Resolve, Resource, ResourceError, Spec, Step};
use super::path::sha256_hex;
use super::spec::OneOrMany;
use crate::session::probe::{answer, Ask, HostState, Probe, Query};
use crate::shell::{check_value, quote};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    #[default]
    Started,
    Stopped,
    Absent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerContainerSpec {
    pub name: String,
    pub image: String,
    /// `HOST:CONTAINER[/proto]`, as `docker run -p`.
    #[serde(default)]
    pub ports: Vec<String>,
    /// `SRC:DEST[:opts]`, as `docker run -v`.
    #[serde(default)]
    pub volumes: Vec<String>,
    #[serde(default)]
    pub env: indexmap::IndexMap<String, String>,
    /// no, always, on-failure, unless-stopped.
    #[serde(default = "unless_stopped")]
    pub restart: String,
    #[serde(default)]
    pub command: Option<OneOrMany>,
    #[serde(default)]
    pub state: ContainerState,
    #[serde(default)]
    pub notify: OneOrMany,
}

fn unless_stopped() -> String {
    "unless-stopped".into()
}

#[derive(Debug, thiserror::Error)]
#[error("restart {0:?} is not one of no, always, on-failure, unless-stopped")]
struct BadRestart(String);

impl Spec for DockerContainerSpec {
    const KIND: &'static str = "docker_container";
    const DOC: Doc = Doc {
        summary:
            "A Docker container by name: recreated when its spec changes (a digest label), left running otherwise.",
        fields: &[
            Field { name: "name", ty: "string", default: "", help: "" },
            Field { name: "image", ty: "string", default: "", help: "" },
            Field { name: "ports", ty: "list", default: "[]", help: "HOST:CONTAINER[/proto], as docker run -p" },
            Field { name: "volumes", ty: "list", default: "[]", help: "SRC:DEST[:opts], as docker run -v" },
            Field { name: "env", ty: "map", default: "{}", help: "" },
            Field {
                name: "restart",
                ty: "no | always | on-failure[:N] | unless-stopped",
                default: "unless-stopped",
                help: "",
            },
            Field { name: "command", ty: "string or list", default: "the image's", help: "" },
            Field { name: "state", ty: "started | stopped | absent", default: "started", help: "" },
            Field { name: "notify", ty: "handler or list", default: "none", help: "" },
        ],
        example: "docker_container: { name: web, image: \"lab/web:1\", ports: [\"8080:80\"] }",
    };

    fn notify(&self) -> &[String] {
        &self.notify.0
    }

    fn resolve(self, _: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
        let valid = ["no", "always", "on-failure", "unless-stopped"];
        if !valid.contains(&self.restart.as_str()) && !self.restart.starts_with("on-failure:") {
            return Err(ResourceError::kind(BadRestart(self.restart)));
        }
        let mut env: Vec<(String, String)> = self.env.into_iter().collect();
        env.sort();
        Ok(Arc::new(Container {
            name: self.name,
            image: self.image,
            ports: self.ports,
            volumes: self.volumes,
            env,
            restart: self.restart,
            command: self.command.map(|c| c.0).unwrap_or_default(),
            state: self.state,
            notify: self.notify.0,
        }))
    }
}

pub const LABEL: &str = "rigger.spec";

/// What Docker says of a container: its rigger spec label and whether it runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ContainerInfo {
    /// The `rigger.spec` label (empty for a container rigger did not make).
    pub spec: String,
    pub running: bool,
}

/// The answer is `Option<ContainerInfo>` (none: no such container).
pub static INSPECT: Probe = Probe {
    name: "container",
    ask: Ask::Each(|n| {
        format!(
            "docker inspect -f '{{{{index .Config.Labels \"{LABEL}\"}}}}|{{{{.State.Running}}}}' -- {} 2>/dev/null || echo absent",
            quote(n)
        )
    }),
    parse: |_, lines| {
        let info = lines.first().filter(|l| **l != "absent").and_then(|l| l.rsplit_once('|')).map(|(spec, running)| {
            ContainerInfo {
                spec: if spec == "<no value>" { String::new() } else { spec.to_string() },
                running: running == "true",
            }
        });
        Ok(answer(info))
    },
};

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

impl Container {
    /// sha256 of everything that defines the container.
    pub fn digest(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        sha256_hex(json.as_bytes())
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
}

impl Resource for Container {
    fn label(&self) -> String {
        format!("docker_container {}", self.name)
    }

    /// Any folder: a container's bind mounts may be made by docker.
    fn may_make(&self, _dir: &str) -> bool {
        true
    }

    fn queries(&self) -> Vec<Query> {
        vec![Query::new(&INSPECT, &self.name)]
    }

    fn plan(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        check_value("container name", &self.name, true)?;
        if self.name.is_empty()
            || !self.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            || self.name.starts_with(['-', '.', '_'])
        {
            return Err(ResourceError::bad("container name", &self.name));
        }
        for (what, v) in [("image", &self.image), ("restart", &self.restart)] {
            check_value(what, v, true)?;
            if v.is_empty() || v.starts_with('-') {
                return Err(ResourceError::bad(what, v));
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
                return Err(ResourceError::bad_because(
                    "env name",
                    k,
                    "letters, digits and `_`, not starting with a digit",
                ));
            }
        }
        for c in &self.command {
            check_value("command", c, false)?;
        }
        let cur = state.get::<Option<ContainerInfo>>(&Query::new(&INSPECT, &self.name))?.as_ref();
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

    fn notify(&self) -> &[String] {
        &self.notify
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        s.insert(Query::new(&INSPECT, "api"), info);
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

    #[test]
    fn the_probe_asks_docker_for_the_label_and_state() {
        let Ask::Each(ask) = &INSPECT.ask else { panic!() };
        assert_eq!(ask("api"), "docker inspect -f '{{index .Config.Labels \"rigger.spec\"}}|{{.State.Running}}' -- api 2>/dev/null || echo absent");
        let parse = |lines: &[&str]| {
            (INSPECT.parse)("api", lines).unwrap().downcast_ref::<Option<ContainerInfo>>().unwrap().clone()
        };
        assert_eq!(parse(&["abc123|true"]), Some(ContainerInfo { spec: "abc123".into(), running: true }));
        assert_eq!(parse(&["absent"]), None);
    }
}
