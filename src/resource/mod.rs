//! Resources: the things a role declares. Each kind is a pure planner:
//! it names the facts it needs (`queries`) and turns (spec, facts) into the
//! shell steps that would converge the host (`plan`). No steps = in sync.

pub mod account;
pub mod apt_repository;
pub mod command;
pub mod docker;
pub mod file;
pub mod package;
pub mod service;
pub mod spec;
pub mod sysctl;

use crate::probe::{HostState, Query};
pub use spec::{Decl, Spec};

/// One shell action that converges part of a resource.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Step {
    /// What it does, for humans: `create`, `install haproxy`, `mode 0600 → 0644`.
    pub action: String,
    /// A unified diff for file content changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// POSIX sh run on the host, every value quoted. Kept in saved plans
    /// (`plan --out`), left out of reports.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub script: String,
}

impl Step {
    pub fn new(action: impl Into<String>, script: impl Into<String>) -> Self {
        Step { action: action.into(), diff: None, script: script.into() }
    }
}

/// A resource with every template and file resolved: ready to plan.
#[derive(Debug, Clone)]
pub enum Resource {
    Package(package::Package),
    File(file::File),
    Directory(file::Directory),
    Line(file::Line),
    Service(service::Service),
    Command(command::Command),
    User(account::User),
    Group(account::Group),
    Sysctl(sysctl::Sysctl),
    AptRepository(apt_repository::AptRepository),
    Container(docker::Container),
}

impl Resource {
    /// `template /etc/haproxy/haproxy.cfg`, `package haproxy`: how reports name it.
    pub fn label(&self) -> String {
        match self {
            Resource::Package(p) => format!("package {}", p.names.join(", ")),
            Resource::File(f) => format!("{} {}", f.kind, f.path),
            Resource::Directory(d) => format!("directory {}", d.path),
            Resource::Line(l) => format!("line {}", l.path),
            Resource::Service(s) => format!("service {}", s.name),
            Resource::Command(c) => format!("command {}", c.label()),
            Resource::User(u) => format!("user {}", u.name),
            Resource::Group(g) => format!("group {}", g.name),
            Resource::Sysctl(s) => format!("sysctl {}", s.name),
            Resource::AptRepository(r) => format!("apt_repository {}", r.name),
            Resource::Container(c) => format!("docker_container {}", c.name),
        }
    }

    /// The facts this resource needs from the host, asked in the batched probe.
    pub fn queries(&self) -> Vec<Query> {
        match self {
            Resource::Package(p) => p.queries(),
            Resource::File(f) => f.queries(),
            Resource::Directory(d) => d.queries(),
            Resource::Line(l) => l.queries(),
            Resource::Service(s) => s.queries(),
            Resource::Command(c) => c.queries(),
            Resource::User(u) => u.queries(),
            Resource::Group(g) => g.queries(),
            Resource::Sysctl(s) => s.queries(),
            Resource::AptRepository(r) => r.queries(),
            Resource::Container(c) => c.queries(),
        }
    }

    /// The steps that converge this resource from `state`; empty when in sync.
    pub fn plan(&self, state: &HostState) -> Result<Vec<Step>, String> {
        match self {
            Resource::Package(p) => p.plan(state),
            Resource::File(f) => f.plan(state),
            Resource::Directory(d) => d.plan(state),
            Resource::Line(l) => l.plan(state),
            Resource::Service(s) => s.plan(state),
            Resource::Command(c) => c.plan(state),
            Resource::User(u) => u.plan(state),
            Resource::Group(g) => g.plan(state),
            Resource::Sysctl(s) => s.plan(state),
            Resource::AptRepository(r) => r.plan(state),
            Resource::Container(c) => c.plan(state),
        }
    }

    /// The steps a handler runs when notified: the resource's action, forced.
    pub fn handler_steps(&self, state: &HostState) -> Result<Vec<Step>, String> {
        match self {
            Resource::Service(s) => Ok(s.forced()),
            Resource::Command(c) => Ok(c.forced()),
            other => other.plan(state),
        }
    }

    pub fn notify(&self) -> &[String] {
        match self {
            Resource::File(f) => &f.notify,
            Resource::Line(l) => &l.notify,
            Resource::Command(c) => &c.notify,
            Resource::Package(p) => &p.notify,
            Resource::Directory(d) => &d.notify,
            Resource::Service(s) => &s.notify,
            Resource::Sysctl(s) => &s.notify,
            Resource::AptRepository(r) => &r.notify,
            Resource::Container(c) => &c.notify,
            Resource::User(_) | Resource::Group(_) => &[],
        }
    }
}
