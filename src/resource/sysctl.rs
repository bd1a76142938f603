//! The `sysctl` kind: a kernel parameter's live value (`sysctl -w`) and, by
//! default, a file in /etc/sysctl.d so the value survives a reboot.

use super::file::File;
use super::kind::{Doc, Field, Resolve, Resource, ResourceError, Spec, Step};
use super::path;
use super::spec::{yes, OneOrMany, PresentAbsent};
use crate::session::probe::{answer, Ask, HostState, Probe, Query};
use crate::shell::{check_value, quote};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SysctlSpec {
    pub name: String,
    pub value: serde_json::Value,
    /// Also write it to /etc/sysctl.d so it survives a reboot.
    #[serde(default = "yes")]
    pub persist: bool,
    #[serde(default)]
    pub notify: OneOrMany,
}

#[derive(Debug, thiserror::Error)]
#[error("no such kernel parameter {0}")]
struct NoSuchParameter(String);

impl Spec for SysctlSpec {
    const KIND: &'static str = "sysctl";
    const DOC: Doc = Doc {
        summary: "A kernel parameter: its live value and, unless `persist: false`, \
                  /etc/sysctl.d/60-rigger-NAME.conf so it survives a reboot.",
        fields: &[
            Field { name: "name", ty: "parameter", default: "", help: "e.g. net.ipv4.ip_nonlocal_bind" },
            Field { name: "value", ty: "string or number", default: "", help: "" },
            Field { name: "persist", ty: "bool", default: "true", help: "" },
            Field { name: "notify", ty: "handler or list", default: "none", help: "" },
        ],
        example: "sysctl: { name: net.ipv4.ip_nonlocal_bind, value: 1 }",
    };

    fn notify(&self) -> &[String] {
        &self.notify.0
    }

    fn resolve(self, _: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
        let value = match &self.value {
            serde_json::Value::String(v) => v.clone(),
            other => other.to_string(),
        };
        Ok(Arc::new(Sysctl { name: self.name, value, persist: self.persist, notify: self.notify.0 }))
    }
}

/// The live value, whitespace-normalized; the answer is `Option<String>`
/// (none: no such parameter).
pub static LIVE: Probe = Probe {
    name: "sysctl",
    ask: Ask::Each(|n| format!("cat -- {} 2>/dev/null || echo absent", quote(&proc_path(n)))),
    parse: |_, lines| Ok(answer(lines.first().filter(|l| **l != "absent").map(|v| normalize_ws(v)))),
};

fn proc_path(name: &str) -> String {
    format!("/proc/sys/{}", name.replace('.', "/"))
}

/// `1\t2  3` → `1 2 3`: how the kernel prints multi-value parameters varies.
fn normalize_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sysctl {
    pub name: String,
    pub value: String,
    pub persist: bool,
    pub notify: Vec<String>,
}

impl Sysctl {
    fn file(&self) -> File {
        let path = format!("/etc/sysctl.d/60-rigger-{}.conf", self.name);
        File::plain(path, format!("{} = {}\n", self.name, self.value).into_bytes(), PresentAbsent::Present)
    }
}

impl Resource for Sysctl {
    fn label(&self) -> String {
        format!("sysctl {}", self.name)
    }

    fn queries(&self) -> Vec<Query> {
        let mut q = vec![Query::new(&LIVE, &self.name)];
        if self.persist {
            q.push(path::query(&self.file().path));
        }
        q
    }

    fn plan(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        check_value("sysctl value", &self.value, true)?;
        if self.name.is_empty() || !self.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
            return Err(ResourceError::bad("sysctl name", &self.name));
        }
        let mut steps = Vec::new();
        match state.get::<Option<String>>(&Query::new(&LIVE, &self.name))? {
            None => return Err(ResourceError::kind(NoSuchParameter(self.name.clone()))),
            Some(cur) if *cur != normalize_ws(&self.value) => steps.push(Step::new(
                format!("{cur} → {}", self.value),
                format!("sysctl -q -w {}\n", quote(&format!("{}={}", self.name, self.value))),
            )),
            Some(_) => {}
        }
        if self.persist {
            steps.extend(self.file().steps(state)?);
        }
        Ok(steps)
    }

    fn notify(&self) -> &[String] {
        &self.notify
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::path::PathState;

    #[test]
    fn live_and_persisted() {
        let s = Sysctl { name: "net.ipv4.ip_nonlocal_bind".into(), value: "1".into(), persist: true, notify: vec![] };
        let mut st = HostState::default();
        st.insert(Query::new(&LIVE, &s.name), Some("0".to_string()));
        st.insert(path::query("/etc/sysctl.d/60-rigger-net.ipv4.ip_nonlocal_bind.conf"), PathState::default());
        let steps = s.plan(&st).unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].script, "sysctl -q -w net.ipv4.ip_nonlocal_bind=1\n");
        assert_eq!(steps[1].action, "create");
    }

    #[test]
    fn multi_value_parameters_compare_by_words() {
        assert_eq!(
            (LIVE.parse)("x", &["4096\t87380   6291456"]).unwrap().downcast_ref::<Option<String>>().unwrap().as_deref(),
            Some("4096 87380 6291456")
        );
    }
}
