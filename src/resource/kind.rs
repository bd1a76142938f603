//! What every resource kind implements and shares: the `Spec` trait (its
//! YAML shape and how it resolves for a host), the `Resource` trait (its
//! probe queries, planner and handler behaviour), `Step`, the reference
//! text (`Doc`) and the typed `ResourceError`.

use crate::session::probe::{HostState, ProbeError, Query};
use crate::shell::ValueError;
use crate::template::{RenderError, Renderer};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// It depends on a secret (`resource::sealed`): what it prints on the
    /// host may hold the secret in any form, so a failure shows none of it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sealed: bool,
}

impl Step {
    pub fn new(action: impl Into<String>, script: impl Into<String>) -> Self {
        Step { action: action.into(), diff: None, script: script.into(), sealed: false }
    }
}

/// The reference text of a kind (`rigger doc KIND`, the README's table).
#[derive(Debug)]
pub struct Doc {
    pub summary: &'static str,
    /// Every key the spec takes, in the order the parser lists them.
    pub fields: &'static [Field],
    /// A `resources:` entry that uses it.
    pub example: &'static str,
}

#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub ty: &'static str,
    /// `""` when the field is required.
    pub default: &'static str,
    pub help: &'static str,
}

/// One resource kind's YAML shape. Strings in it may be templates: the spec is
/// rendered for each host (as JSON), read back, then resolved.
pub trait Spec: Serialize + DeserializeOwned + Clone + fmt::Debug + PartialEq + Send + Sync + 'static {
    /// The key in `resources:`.
    const KIND: &'static str;
    const DOC: Doc;
    /// Handlers this resource notifies when it changes.
    fn notify(&self) -> &[String] {
        &[]
    }
    /// Files it takes from the role folder, checked when the role loads.
    fn role_files(&self) -> Vec<RoleFile<'_>> {
        vec![]
    }
    /// The resource for one host, with every file read and every value
    /// that can be checked without the host checked.
    fn resolve(self, cx: &Resolve) -> Result<Arc<dyn Resource>, ResourceError>;
}

/// A file a spec names inside its role's `templates/` or `files/`.
#[derive(Debug, PartialEq)]
pub struct RoleFile<'a> {
    pub folder: RoleFolder,
    pub name: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RoleFolder {
    Templates,
    Files,
}

impl RoleFolder {
    pub fn dir(self) -> &'static str {
        match self {
            RoleFolder::Templates => "templates",
            RoleFolder::Files => "files",
        }
    }
}

/// What resolving a spec for one host may use.
pub struct Resolve<'a> {
    /// The project folder (`deb:` globs are relative to it).
    pub root: &'a Path,
    /// The role's folder (its `files/` and `templates/`).
    pub role_dir: &'a Path,
    pub renderer: &'a Renderer,
    pub ctx: &'a tera::Context,
    /// Render template content too (false before facts are known: resolving
    /// then only needs to say what to probe).
    pub content: bool,
}

impl Resolve<'_> {
    pub fn role_file(&self, folder: RoleFolder, name: &str) -> PathBuf {
        self.role_dir.join(folder.dir()).join(name)
    }

    /// The bytes of a file in the role folder.
    pub fn read(&self, folder: RoleFolder, name: &str) -> Result<Vec<u8>, ResourceError> {
        let path = self.role_file(folder, name);
        std::fs::read(&path).map_err(|source| ResourceError::Read { path, source: Arc::new(source) })
    }
}

/// A resource resolved for one host: ready to plan.
pub trait Resource: fmt::Debug + Send + Sync {
    /// `template /etc/haproxy/haproxy.cfg`, `package haproxy`: how reports name it.
    fn label(&self) -> String;
    /// The facts this resource needs from the host, asked in the batched probe.
    fn queries(&self) -> Vec<Query>;
    /// The steps that converge this resource from `state`; empty when in sync.
    fn plan(&self, state: &HostState) -> Result<Vec<Step>, ResourceError>;
    /// What it does as a notified handler: by default, converge as `plan` does.
    fn handler_steps(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        self.plan(state)
    }
    /// Whether a handler of this kind reads the host's state (a restart does not).
    fn handler_reads_state(&self) -> bool {
        true
    }
    fn notify(&self) -> &[String] {
        &[]
    }
    /// A step that makes the host take in what resources of this sort
    /// changed (systemd's `daemon-reload`), which each of them plans as its
    /// last step when it changes: the planner keeps it once per group of
    /// them that change one after another (`plan::settle`).
    fn settle(&self) -> Option<Step> {
        None
    }
    /// The folder it writes a file into, which must be there when it runs:
    /// `plan` fails it when the folder is missing and nothing planned before
    /// it on the host may make it (`folders::check`).
    fn writes_into(&self) -> Option<&str> {
        None
    }
    /// Whether converging it may make the folder `dir`: a `directory` makes
    /// its path and the folders above it; a package, a command or a user may
    /// make any (what they make is not known before they run).
    fn may_make(&self, _dir: &str) -> bool {
        false
    }
    /// The files it would write, with their content, for `check --out`
    /// (secret ones excepted; a file that depends on a secret, masked).
    fn rendered(&self) -> Vec<(String, Vec<u8>)> {
        vec![]
    }
    /// `rendered` with secrets as they are, for `check --out --show-secrets`.
    fn rendered_in_clear(&self) -> Vec<(String, Vec<u8>)> {
        self.rendered()
    }
}

/// Why a resource cannot be resolved or planned. Shown at the display
/// boundary (reports, errors); never parsed back.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResourceError {
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// A value a shell command or a file path cannot take.
    #[error("bad {what} {value:?}{}", why.map(|w| format!(": {w}")).unwrap_or_default())]
    Bad { what: &'static str, value: String, why: Option<&'static str> },
    #[error("path {0:?} must be absolute")]
    RelativePath(String),
    #[error("path {0:?} must not end with `/`")]
    TrailingSlash(String),
    #[error("mode {0:?} is not an octal mode like \"0644\"")]
    Mode(String),
    /// What is on the host is not what the resource can manage.
    #[error("{path} {found}")]
    Found { path: String, found: Found },
    /// A template (a field or a template file) failed to render.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A rendered field is not of its type: `field` is its path in the
    /// entry (`service.enabled`, `user.groups[1]`), for pointing at it.
    #[error("{}{source}", if field.is_empty() { "after rendering: ".to_string() } else { format!("`{field}` after rendering: ") })]
    AfterRender { field: String, source: Arc<serde_json::Error> },
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: PathBuf, source: Arc<std::io::Error> },
    /// A value that depends on a secret is wrong; the message would show it.
    #[error("a value that depends on a secret is not valid here (the details would show it, so they are sealed)")]
    Sealed,
    /// A rule of one kind, stated by that kind's own error type.
    #[error(transparent)]
    Kind(Arc<dyn std::error::Error + Send + Sync>),
}

impl ResourceError {
    pub fn bad(what: &'static str, value: &str) -> Self {
        ResourceError::Bad { what, value: value.to_string(), why: None }
    }

    pub fn bad_because(what: &'static str, value: &str, why: &'static str) -> Self {
        ResourceError::Bad { what, value: value.to_string(), why: Some(why) }
    }

    pub fn kind(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ResourceError::Kind(Arc::new(e))
    }
}

/// What was found on the host where a resource wanted something else.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Found {
    #[error("is a directory, expected a file")]
    DirectoryNotFile,
    #[error("exists and is not a directory ({0})")]
    NotDirectory(PathKind),
    #[error("does not exist (set `create: true`)")]
    Missing,
    #[error("is not UTF-8 text")]
    NotText,
}

/// What is at a path on the host: the file kinds' shared vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PathKind {
    #[default]
    Absent,
    File,
    Directory,
    Link,
    Other,
}

impl fmt::Display for PathKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathKind::Absent => "absent",
            PathKind::File => "file",
            PathKind::Directory => "directory",
            PathKind::Link => "link",
            PathKind::Other => "other",
        })
    }
}
