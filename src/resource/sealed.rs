//! A resource whose rendering depends on a secret, as the sealed render
//! found it (see `prepare::resolve_in`): it converges exactly like the real
//! one, but what it shows — label, step actions, diffs, errors — is what
//! the render with stand-ins for the secrets shows, or `(sensitive)` where
//! the two differ. Works for every kind and every template, since it only
//! compares results.

use super::kind::{Resource, ResourceError, Step};
use super::path::{sealed_diff, sha256_hex};
use crate::session::probe::{HostState, Query};
use std::sync::Arc;

/// What a label, an action or a field shows when it depends on a secret.
pub const SENSITIVE: &str = "(sensitive)";

#[derive(Debug)]
pub struct Sealed {
    /// Resolved from the real values: what runs.
    inner: Arc<dyn Resource>,
    /// Resolved from the stand-ins: what may be shown.
    shadow: Arc<dyn Resource>,
}

/// `inner`, sealed when the render with stand-ins (`shadow`) resolved to
/// anything else; as it is otherwise (nothing in it comes from a secret).
pub fn wrap(inner: Arc<dyn Resource>, shadow: Arc<dyn Resource>) -> Arc<dyn Resource> {
    if format!("{inner:?}") == format!("{shadow:?}") {
        inner
    } else {
        Arc::new(Sealed { inner, shadow })
    }
}

/// The error to show for a field whose real and stand-in renders failed
/// differently (or only one failed): the message could quote the secret.
pub fn seal_error(real: ResourceError, shadow: Option<&ResourceError>) -> ResourceError {
    match shadow {
        Some(s) if s.to_string() == real.to_string() => real,
        _ => ResourceError::Sealed,
    }
}

/// `kind (sensitive)` from a label `kind thing`.
pub fn sensitive_label(label: &str) -> String {
    format!("{} {SENSITIVE}", label.split(' ').next().unwrap_or(label))
}

impl Sealed {
    /// The real steps, each showing only what the stand-in steps show too.
    fn seal_steps(
        &self,
        real: Result<Vec<Step>, ResourceError>,
        shadow: Result<Vec<Step>, ResourceError>,
    ) -> Result<Vec<Step>, ResourceError> {
        let steps = match (real, &shadow) {
            (Ok(steps), _) => steps,
            (Err(e), Err(s)) => return Err(seal_error(e, Some(s))),
            (Err(e), Ok(_)) => return Err(seal_error(e, None)),
        };
        let shadow = shadow.unwrap_or_default();
        Ok(steps.into_iter().map(|s| self.seal_step(s, &shadow)).collect())
    }

    fn seal_step(&self, mut step: Step, shadow: &[Step]) -> Step {
        step.sealed = true;
        if !shadow.iter().any(|s| s.action == step.action) {
            step.action = SENSITIVE.into();
        }
        if let Some(d) = step.diff.take() {
            let same = shadow.iter().any(|s| s.diff.as_deref() == Some(d.as_str()));
            step.diff = Some(if same { d } else { self.seal_diff(&d) });
        }
        step
    }

    /// A diff as `(sensitive: N lines changed, sha256 …)`: the digest is the
    /// new content's when the resource writes one file, else the diff's.
    fn seal_diff(&self, diff: &str) -> String {
        let path = diff.lines().find_map(|l| l.strip_prefix("+++ ")).unwrap_or("");
        // A path made from a secret is not shown either.
        let path = if self.inner.label() == self.shadow.label() { path } else { SENSITIVE };
        let changed = diff
            .lines()
            .filter(|l| (l.starts_with('+') && !l.starts_with("+++")) || (l.starts_with('-') && !l.starts_with("---")))
            .count();
        if diff.contains("(sensitive: ") {
            return diff.to_string();
        }
        match self.inner.rendered().as_slice() {
            [(_, content)] => sealed_diff(path, changed, content),
            _ => {
                let digest = sha256_hex(diff.as_bytes());
                format!("--- {path}\n+++ {path}\n(sensitive: {changed} lines changed, sha256 {digest} of the diff)\n")
            }
        }
    }
}

impl Resource for Sealed {
    fn label(&self) -> String {
        let (real, shown) = (self.inner.label(), self.shadow.label());
        if real == shown {
            real
        } else {
            sensitive_label(&shown)
        }
    }

    fn queries(&self) -> Vec<Query> {
        self.inner.queries()
    }

    fn plan(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        self.seal_steps(self.inner.plan(state), self.shadow.plan(state))
    }

    fn handler_steps(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        self.seal_steps(self.inner.handler_steps(state), self.shadow.handler_steps(state))
    }

    fn handler_reads_state(&self) -> bool {
        self.inner.handler_reads_state()
    }

    fn notify(&self) -> &[String] {
        self.inner.notify()
    }

    fn writes_into(&self) -> Option<&str> {
        self.inner.writes_into()
    }

    fn may_make(&self, dir: &str) -> bool {
        self.inner.may_make(dir)
    }

    /// `check --out` writes files to a folder the user asked for, not to a
    /// terminal or a report: as before, only `secret: true` keeps one out.
    /// Masked: what the render with stand-ins wrote.
    fn rendered(&self) -> Vec<(String, Vec<u8>)> {
        self.shadow.rendered()
    }

    fn rendered_in_clear(&self) -> Vec<(String, Vec<u8>)> {
        self.inner.rendered_in_clear()
    }
}
