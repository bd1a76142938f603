//! The `systemd_unit` kind: a unit file, or a drop-in `UNIT.d/NAME.conf`
//! that changes a packaged unit (`LimitNOFILE=` for a service), written from
//! `content` or from section maps (`service: { LimitNOFILE: 65536 }`). systemd
//! reads unit files again only on `daemon-reload`: a changed unit plans one,
//! and the planner keeps one per group of units that change together
//! (`Resource::settle`), before anything that follows may restart them.

use super::file::File;
use super::kind::{Doc, Field, Resolve, Resource, ResourceError, Spec, Step};
use super::path;
use super::service::unit_name;
use super::spec::{OneOrMany, PresentAbsent};
use crate::session::probe::{answer, Ask, HostState, Probe, Query};
use crate::shell::quote;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// One `[Section]` of a unit: key → value; a list repeats the key (`ExecStart: ["", "/usr/bin/x"]`
/// first resets the packaged command, as a drop-in must).
pub type Section = IndexMap<String, Value>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemdUnitSpec {
    /// The unit: `redis-server` means redis-server.service.
    pub name: String,
    /// A drop-in of that unit, `UNIT.d/DROPIN.conf`, rather than the unit file itself.
    #[serde(default)]
    pub dropin: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub unit: Option<Section>,
    #[serde(default)]
    pub service: Option<Section>,
    #[serde(default)]
    pub install: Option<Section>,
    #[serde(default)]
    pub state: PresentAbsent,
    /// Where unit files live (`/run/systemd/system` for runtime ones).
    #[serde(default = "etc_dir")]
    pub dir: String,
    #[serde(default)]
    pub notify: OneOrMany,
}

fn etc_dir() -> String {
    "/etc/systemd/system".into()
}

#[derive(Debug, thiserror::Error)]
enum UnitError {
    #[error("systemd_unit takes `content` or section maps (`unit`, `service`, `install`), not both")]
    ContentAndSections,
    #[error("systemd_unit needs `content` or a section map (`unit`, `service`, `install`)")]
    NoContent,
    #[error("{0}: a setting's value is a string, number or bool, or a list of them")]
    BadValue(String),
    #[error("setting name {0:?} is not a systemd key (letters, digits, `_`)")]
    BadKey(String),
    #[error("unit name {0:?} has characters systemd does not allow in a unit name")]
    BadName(String),
    #[error("drop-in name {0:?} must be a plain file name (letters, digits, `-`, `_`, `.`)")]
    BadDropin(String),
}

impl Spec for SystemdUnitSpec {
    const KIND: &'static str = "systemd_unit";
    const DOC: Doc = Doc {
        summary: "A systemd unit file, or a drop-in UNIT.d/DROPIN.conf that overrides a packaged unit. \
                  A change plans `systemctl daemon-reload`, once for units that change together, before the \
                  resources after them run; a unit systemd says needs a reload (`NeedDaemonReload`) gets one too.",
        fields: &[
            Field { name: "name", ty: "unit", default: "", help: "`redis-server` means redis-server.service" },
            Field { name: "dropin", ty: "name", default: "none", help: "write DIR/UNIT.d/NAME.conf instead of the unit" },
            Field { name: "content", ty: "string", default: "none", help: "the file as written" },
            Field {
                name: "unit",
                ty: "map",
                default: "none",
                help: "the [Unit] section: KEY: value; a list repeats the key",
            },
            Field {
                name: "service",
                ty: "map",
                default: "none",
                help: "the [Service] section (`LimitNOFILE: 65536`; `ExecStart: [\"\", CMD]` resets then sets)",
            },
            Field { name: "install", ty: "map", default: "none", help: "the [Install] section" },
            Field { name: "state", ty: "present | absent", default: "present", help: "" },
            Field { name: "dir", ty: "absolute path", default: "/etc/systemd/system", help: "" },
            Field { name: "notify", ty: "handler or list", default: "none", help: "e.g. restart the service" },
        ],
        example: "systemd_unit: { name: redis-server, dropin: limits, service: { LimitNOFILE: 10032 }, notify: restart redis }",
    };

    fn notify(&self) -> &[String] {
        &self.notify.0
    }

    fn resolve(self, _: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
        Ok(Arc::new(self.build()?))
    }
}

impl SystemdUnitSpec {
    /// The resource: names checked, the file's path and content made.
    pub fn build(self) -> Result<SystemdUnit, ResourceError> {
        let unit = unit_name(&self.name);
        if unit.is_empty() || !unit.bytes().all(|b| b.is_ascii_alphanumeric() || b":-_.@\\".contains(&b)) {
            return Err(ResourceError::kind(UnitError::BadName(self.name)));
        }
        path::check_path(&self.dir)?;
        let dir = self.dir.trim_end_matches('/').to_string();
        let file = match &self.dropin {
            None => format!("{dir}/{unit}"),
            Some(d) => {
                let d = d.strip_suffix(".conf").unwrap_or(d);
                if d.is_empty() || !d.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
                    return Err(ResourceError::kind(UnitError::BadDropin(d.to_string())));
                }
                format!("{dir}/{unit}.d/{d}.conf")
            }
        };
        let sections = [("Unit", &self.unit), ("Service", &self.service), ("Install", &self.install)];
        let has_sections = sections.iter().any(|(_, s)| s.is_some());
        let content = match (&self.content, has_sections, self.state) {
            (Some(_), true, _) => return Err(ResourceError::kind(UnitError::ContentAndSections)),
            (Some(c), false, _) => c.clone(),
            (None, true, _) => render(&sections)?,
            (None, false, PresentAbsent::Absent) => String::new(),
            (None, false, PresentAbsent::Present) => return Err(ResourceError::kind(UnitError::NoContent)),
        };
        let mut f = File::plain(file, content.into_bytes(), self.state);
        f.kind = "systemd_unit";
        f.notify = self.notify.0.clone();
        Ok(SystemdUnit { unit, dropin: self.dropin.is_some(), file: f })
    }
}

/// The sections as a unit file: `[Name]`, then `Key=value` lines in the map's order.
pub fn render(sections: &[(&str, &Option<Section>)]) -> Result<String, ResourceError> {
    let mut out = String::from("# Managed by rigger.\n");
    for (name, section) in sections {
        let Some(section) = section else { continue };
        out.push_str(&format!("\n[{name}]\n"));
        for (key, value) in section {
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(ResourceError::kind(UnitError::BadKey(key.clone())));
            }
            let values = match value {
                Value::Array(items) => items.iter().collect(),
                one => vec![one],
            };
            for v in values {
                let text = match v {
                    Value::String(s) if !s.contains(['\n', '\r']) => s.clone(),
                    Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => return Err(ResourceError::kind(UnitError::BadValue(key.clone()))),
                };
                out.push_str(&format!("{key}={text}\n"));
            }
        }
    }
    Ok(out)
}

/// Whether systemd holds an older copy of the unit than its files on disk
/// (`NeedDaemonReload`): a reload an earlier run owed but did not do.
pub static NEEDS_RELOAD: Probe = Probe {
    name: "systemd_unit",
    ask: Ask::Each(|u| format!("systemctl show -p NeedDaemonReload --value -- {} 2>/dev/null || true", quote(u))),
    parse: |_, lines| Ok(answer(lines.first().is_some_and(|l| l.trim() == "yes"))),
};

/// The step every changed unit plans; the planner keeps the last of a group.
pub fn daemon_reload() -> Step {
    Step::new("daemon-reload", "systemctl daemon-reload\n")
}

#[derive(Debug, Clone, PartialEq)]
pub struct SystemdUnit {
    /// `redis-server.service`.
    pub unit: String,
    pub dropin: bool,
    pub file: File,
}

impl SystemdUnit {
    /// The drop-in folder `UNIT.d`, made when missing.
    fn folder(&self) -> Option<&str> {
        self.dropin.then(|| path::split_path(&self.file.path).0)
    }
}

impl Resource for SystemdUnit {
    fn label(&self) -> String {
        match self.folder() {
            // `redis-server.service.d/limits.conf`: the unit and the drop-in.
            Some(dir) => format!("systemd_unit {}", &self.file.path[path::split_path(dir).0.len() + 1..]),
            None => format!("systemd_unit {}", self.unit),
        }
    }

    fn queries(&self) -> Vec<Query> {
        let mut q = path::queries_with_folder(&self.file.path);
        q.push(Query::new(&NEEDS_RELOAD, &self.unit));
        q
    }

    fn plan(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        let mut steps = Vec::new();
        if let Some(dir) = self.folder().filter(|_| self.file.state == PresentAbsent::Present) {
            if !path::state(state, dir)?.exists() {
                steps.push(Step::new(format!("mkdir {dir}"), format!("mkdir -p -- {}\n", quote(dir))));
            }
        }
        steps.extend(self.file.steps(state)?);
        let owed = *state.get::<bool>(&Query::new(&NEEDS_RELOAD, &self.unit))?;
        if !steps.is_empty() || owed {
            steps.push(daemon_reload());
        }
        Ok(steps)
    }

    fn settle(&self) -> Option<Step> {
        Some(daemon_reload())
    }

    fn notify(&self) -> &[String] {
        &self.file.notify
    }

    fn rendered(&self) -> Vec<(String, Vec<u8>)> {
        self.file.rendered()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::path::PathState;

    fn spec(yaml: &str) -> SystemdUnitSpec {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn resolve(s: SystemdUnitSpec) -> Result<SystemdUnit, ResourceError> {
        s.build()
    }

    fn state(path: &str, content: Option<&[u8]>, folder: bool, owed: bool) -> HostState {
        let mut st = HostState::default();
        st.insert(path::query(path), content.map(|c| PathState::file(c, 0o644)).unwrap_or_default());
        let dir = path::split_path(path).0;
        st.insert(
            path::query(dir),
            if folder {
                PathState { kind: path::PathKind::Directory, ..PathState::default() }
            } else {
                PathState::default()
            },
        );
        st.insert(Query::new(&NEEDS_RELOAD, "redis-server.service"), owed);
        st
    }

    const DROPIN: &str = "name: redis-server\ndropin: limits\nservice: { LimitNOFILE: 10032, ExecStart: ['', /usr/bin/redis-server /etc/redis/redis.conf] }";
    const DROPIN_PATH: &str = "/etc/systemd/system/redis-server.service.d/limits.conf";
    const DROPIN_TEXT: &str = "# Managed by rigger.\n\n[Service]\nLimitNOFILE=10032\nExecStart=\nExecStart=/usr/bin/redis-server /etc/redis/redis.conf\n";

    #[test]
    fn a_dropin_is_written_into_its_folder_then_systemd_reloads() {
        let r = resolve(spec(DROPIN)).unwrap();
        assert_eq!(r.label(), "systemd_unit redis-server.service.d/limits.conf");
        let steps = r.plan(&state(DROPIN_PATH, None, false, false)).unwrap();
        let actions: Vec<&str> = steps.iter().map(|s| s.action.as_str()).collect();
        assert_eq!(actions, ["mkdir /etc/systemd/system/redis-server.service.d", "create", "daemon-reload"]);
        assert!(steps[1].diff.as_deref().unwrap().contains("+LimitNOFILE=10032"));
    }

    #[test]
    fn in_sync_is_no_step_unless_systemd_still_holds_an_old_copy() {
        let r = resolve(spec(DROPIN)).unwrap();
        assert!(r.plan(&state(DROPIN_PATH, Some(DROPIN_TEXT.as_bytes()), true, false)).unwrap().is_empty());
        let steps = r.plan(&state(DROPIN_PATH, Some(DROPIN_TEXT.as_bytes()), true, true)).unwrap();
        assert_eq!(steps, [daemon_reload()]);
    }

    #[test]
    fn a_whole_unit_from_content() {
        let r = resolve(spec("name: thp-off\ncontent: \"[Unit]\\n\"")).unwrap();
        assert_eq!(r.label(), "systemd_unit thp-off.service");
        let mut st = state("/etc/systemd/system/thp-off.service", None, true, false);
        st.insert(Query::new(&NEEDS_RELOAD, "thp-off.service"), false);
        let steps = r.plan(&st).unwrap();
        assert_eq!(steps.iter().map(|s| s.action.as_str()).collect::<Vec<_>>(), ["create", "daemon-reload"]);
    }

    #[test]
    fn bad_shapes_are_refused() {
        let e = |y: &str| resolve(spec(y)).unwrap_err().to_string();
        assert!(e("name: x\ncontent: a\nservice: { A: 1 }").contains("not both"));
        assert!(e("name: x").contains("needs `content`"));
        assert!(e("name: x\nservice: { 'Limit NOFILE': 1 }").contains("not a systemd key"));
        assert!(e("name: x\nservice: { A: { b: 1 } }").contains("A: a setting's value"));
        assert!(e("name: x\nservice: { A: \"1\\nB=2\" }").contains("A: a setting's value"));
        assert!(e("name: \"x y\"\ncontent: a").contains("unit name"));
        assert!(e("name: x\ndropin: ../x\ncontent: a").contains("drop-in name"));
        assert!(e("name: x\ndir: etc\ncontent: a").contains("absolute"));
    }
}
