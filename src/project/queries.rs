//! A role's `query:` entries for one host: their commands, rendered with the
//! host's vars (never facts: the probe that runs them gathers the facts),
//! the questions they put to the probe, and `query.NAME` for the role's
//! fields and templates once the probe answered (stand-ins for `check`).

use super::role::Role;
use super::{Project, UnitError};
use crate::resource::query::{self, Answer};
use crate::resource::{AnySpec, ResourceError};
use crate::session::probe::{HostState, ProbeError, Query};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Why a query's command is refused: it would show a secret.
#[derive(Debug, thiserror::Error)]
#[error("query `{0}`: its cmd depends on a secret, so its output would be one and shown in clear; query without it")]
pub struct SecretQuery(String);

impl Project {
    /// The role's queries on `host`: (index in `resources:`, name, question), in order.
    pub fn query_probes(&self, host: &str, role_name: &str) -> Result<Vec<(usize, String, Query)>, UnitError> {
        let r = self.roles.get(role_name);
        let (real, sealed) = (self.context(host, None), self.sealed_context(host, None));
        let mut out = Vec::new();
        for (i, (_, spec)) in r.resources.iter().enumerate() {
            let AnySpec::Query(q) = spec else { continue };
            let fail = |e: ResourceError| UnitError::Resource {
                role: role_name.into(),
                at: Box::new(r.locate_token(i, "query")),
                source: Box::new(e),
            };
            let cmd = self.renderer.render_str_in(r.dialect, &q.cmd, &real, "query.cmd").map_err(|e| fail(e.into()))?;
            if let Some(sealed) = &sealed {
                let shown = self.renderer.render_str_in(r.dialect, &q.cmd, sealed, "query.cmd").ok();
                if shown.as_deref() != Some(cmd.as_str()) {
                    return Err(fail(ResourceError::kind(SecretQuery(q.name.clone()))));
                }
            }
            out.push((i, q.name.clone(), query::probe(&cmd)));
        }
        Ok(out)
    }

    /// Keeps what the first probe of `host` answered to the queries in `probed`.
    pub fn keep_query_answers(&mut self, host: &str, state: &HostState, probed: &BTreeSet<Query>) {
        let answers = self.query_answers.entry(host.to_string()).or_default();
        for q in probed.iter().filter(|q| q.probe.name == query::PROBE.name) {
            if let Ok(a) = state.get::<Answer>(q) {
                answers.insert(q.arg.clone(), a.value());
            }
        }
    }

    /// `query` for the role's unit on `host`: every query by name, as the
    /// probe answered. None when the role has no query (`query.x` stays
    /// undefined there). Before the probe (what to ask it; `check`),
    /// stand-ins: an empty stdout, rc 0, so a field that reads a query but
    /// whose path does not is asked about in the first probe already.
    pub(super) fn query_context(&self, host: &str, role: &Role) -> Result<Option<Value>, UnitError> {
        let answers = self.query_answers.get(host);
        if !role.resources.iter().any(|(_, s)| matches!(s, AnySpec::Query(_))) {
            return Ok(None);
        }
        let mut m = Map::new();
        for (i, name, q) in self.query_probes(host, &role.name)? {
            let v = match answers {
                None => Answer::stand_in(),
                Some(a) => a.get(&q.arg).cloned().ok_or_else(|| UnitError::Resource {
                    role: role.name.clone(),
                    at: Box::new(role.locate_token(i, "query")),
                    source: Box::new(ProbeError::NotProbed { what: "query", arg: q.arg.clone() }.into()),
                })?,
            };
            m.insert(name, v);
        }
        Ok(Some(Value::Object(m)))
    }
}
