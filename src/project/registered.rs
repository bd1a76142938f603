//! The results of a unit's `register:` commands known so far: what the
//! later resources of the unit read as `NAME.changed`, `NAME.rc` and
//! `NAME.stdout`. A result is known when its command will not run (`plan`
//! sees `creates:` or `unless:` hold) or has run (apply, before the rest of
//! the unit is planned again); until then a resource that reads it is
//! conditional. `check` and the first probe read stand-ins instead.

use crate::plan::{Status, UnitPlan};
use crate::prepare::Prepared;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Why a `register:` name cannot be used for a host: the context has it already.
#[derive(Debug, thiserror::Error)]
#[error("register `{0}`: this host already has a var of that name; a registered result may not shadow it")]
pub struct Shadows(pub String);

/// A resource that reads a result registered by a command after it.
#[derive(Debug, thiserror::Error)]
#[error("{source}\nhelp: `{name}` is registered by a later command ({at}): only the resources after it can read it")]
pub struct ReadTooEarly {
    pub name: String,
    pub at: String,
    pub source: crate::resource::ResourceError,
}

/// What one registering command did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// It ran (it is only run when needed, so running is changing).
    pub changed: bool,
    pub rc: i32,
    /// Trailing newlines removed.
    pub stdout: String,
    /// The command depends on a secret: so may its stdout, shown only as a stand-in.
    pub sealed: bool,
}

impl Outcome {
    /// A command that did not run: `creates:`/`unless:` held, `when:` was false, or not in `--tags`.
    pub fn not_run() -> Self {
        Outcome { changed: false, rc: 0, stdout: String::new(), sealed: false }
    }

    /// `NAME` as templates see it.
    pub fn value(&self) -> Value {
        json!({ "changed": self.changed, "rc": self.rc, "stdout": self.stdout })
    }

    /// `NAME` in the sealed render: a stdout that may hold a secret is a stand-in of its length.
    pub fn shown(&self) -> Value {
        let stdout = if self.sealed { crate::secret::placeholder(&self.stdout) } else { self.stdout.clone() };
        json!({ "changed": self.changed, "rc": self.rc, "stdout": stdout })
    }
}

/// The registered results a unit is prepared with.
#[derive(Debug, Clone, Default)]
pub struct Registered {
    /// Every name reads as a command that did not run, and nothing is
    /// conditional: `check`, and what the first probe asks.
    pub stand_ins: bool,
    /// Results known so far, by name.
    pub known: BTreeMap<String, Outcome>,
}

impl Registered {
    /// Stand-ins for every result (see `stand_ins`).
    pub fn stand_ins() -> Self {
        Registered { stand_ins: true, known: BTreeMap::new() }
    }

    /// No result known yet: `plan`'s first pass.
    pub fn none() -> Self {
        Registered::default()
    }

    /// The result of `name`, if known (a stand-in when the unit takes stand-ins).
    pub fn get(&self, name: &str) -> Option<Outcome> {
        self.known.get(name).cloned().or_else(|| self.stand_ins.then(Outcome::not_run))
    }
}

/// The names registered by commands that will not run (in sync or
/// skipped) while a resource waits for their result: it is known now.
pub fn not_running(prepared: &[Prepared], plan: &UnitPlan) -> Vec<String> {
    let waited: BTreeSet<&str> = prepared.iter().filter_map(|p| p.waits.as_deref()).collect();
    let idle = plan.resources.iter().filter(|r| matches!(r.status, Status::Ok | Status::Skipped));
    idle.filter_map(|r| r.register.clone()).filter(|n| waited.contains(n.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_stdout_is_a_stand_in_in_the_sealed_render() {
        let o = Outcome { changed: true, rc: 0, stdout: "s3cret".into(), sealed: true };
        assert_eq!(o.value()["stdout"], "s3cret");
        assert_ne!(o.shown()["stdout"], "s3cret");
        assert_eq!(o.shown()["changed"], true);
        let plain = Outcome { sealed: false, ..o };
        assert_eq!(plain.shown(), plain.value());
        assert_eq!(Registered::stand_ins().get("x"), Some(Outcome::not_run()));
        assert_eq!(Registered::none().get("x"), None);
    }
}
