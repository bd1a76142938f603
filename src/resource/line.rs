//! The `line` kind: one line in a file, replacing the last line that matches
//! `regexp` (else appended), or removed everywhere with `state: absent`.

use super::file::File;
use super::kind::{Doc, Field, Found, Resolve, Resource, ResourceError, Spec, Step};
use super::path::{self, check_path};
use super::spec::{yes, ModeSpec, OneOrMany, PresentAbsent};
use crate::session::probe::{HostState, Query};
use crate::shell::check_value;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineSpec {
    pub path: String,
    pub line: String,
    /// Replace the last line matching this regex (else append).
    #[serde(default)]
    pub regexp: Option<String>,
    #[serde(default)]
    pub state: PresentAbsent,
    /// Create the file when it does not exist.
    #[serde(default = "yes")]
    pub create: bool,
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    #[serde(default)]
    pub notify: OneOrMany,
}

#[derive(Debug, thiserror::Error)]
#[error("bad regexp: {0}")]
struct BadRegexp(regex::Error);

impl Spec for LineSpec {
    const KIND: &'static str = "line";
    const DOC: Doc = Doc {
        summary: "One line in a file (Ansible's lineinfile): replaces the last line matching `regexp`, else appends; \
                  `absent` removes every matching line.",
        fields: &[
            Field { name: "path", ty: "absolute path", default: "", help: "" },
            Field { name: "line", ty: "string", default: "", help: "the whole line" },
            Field { name: "regexp", ty: "regex", default: "the line itself", help: "which line to replace or remove" },
            Field { name: "state", ty: "present | absent", default: "present", help: "" },
            Field { name: "create", ty: "bool", default: "true", help: "create the file when it does not exist" },
            Field { name: "mode", ty: "quoted octal", default: "kept", help: "" },
            Field { name: "notify", ty: "handler or list", default: "none", help: "" },
        ],
        example: "line: { path: /etc/ssh/sshd_config, regexp: \"^#?MaxSessions\", line: \"MaxSessions 100\" }",
    };

    fn notify(&self) -> &[String] {
        &self.notify.0
    }

    fn resolve(self, _: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
        let regexp =
            self.regexp.as_deref().map(regex::Regex::new).transpose().map_err(|e| ResourceError::kind(BadRegexp(e)))?;
        check_path(&self.path)?;
        Ok(Arc::new(Line {
            path: self.path,
            line: self.line,
            regexp,
            state: self.state,
            create: self.create,
            mode: path::mode(&self.mode)?,
            notify: self.notify.0,
        }))
    }
}

#[derive(Debug, Clone)]
pub struct Line {
    pub path: String,
    pub line: String,
    pub regexp: Option<regex::Regex>,
    pub state: PresentAbsent,
    pub create: bool,
    pub mode: Option<u32>,
    pub notify: Vec<String>,
}

impl Line {
    /// The file's content after ensuring the line, or `None` when unchanged.
    pub fn edit(&self, current: &str) -> Option<String> {
        let mut lines: Vec<&str> = current.lines().collect();
        let matches = |l: &str| match &self.regexp {
            Some(re) => re.is_match(l),
            None => l == self.line,
        };
        match self.state {
            PresentAbsent::Present => {
                if let Some(i) = lines.iter().rposition(|l| matches(l)) {
                    if lines[i] == self.line {
                        return None;
                    }
                    lines[i] = &self.line;
                } else if lines.contains(&self.line.as_str()) {
                    return None;
                } else {
                    lines.push(&self.line);
                }
            }
            PresentAbsent::Absent => {
                let before = lines.len();
                lines.retain(|l| !matches(l));
                if lines.len() == before {
                    return None;
                }
            }
        }
        let mut out = lines.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        Some(out)
    }
}

/// The current text of a file that an edit keeps the rest of: `None` when
/// it does not exist and need not (absent, or not to be created).
pub fn editable(state: &HostState, at: &str, create: bool, absent: bool) -> Result<Option<String>, ResourceError> {
    let cur = path::state(state, at)?;
    if !cur.exists() && (!create || absent) {
        return if absent {
            Ok(None)
        } else {
            Err(ResourceError::Found { path: at.to_string(), found: Found::Missing })
        };
    }
    let text = String::from_utf8(cur.content.clone().unwrap_or_default())
        .map_err(|_| ResourceError::Found { path: at.to_string(), found: Found::NotText })?;
    Ok(Some(text))
}

impl Resource for Line {
    fn label(&self) -> String {
        format!("line {}", self.path)
    }

    fn queries(&self) -> Vec<Query> {
        vec![path::query(&self.path)]
    }

    fn plan(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        check_value("line", &self.line, true)?;
        let Some(text) = editable(state, &self.path, self.create, self.state == PresentAbsent::Absent)? else {
            return Ok(vec![]);
        };
        let Some(new) = self.edit(&text) else { return Ok(vec![]) };
        let file = File {
            kind: "line",
            mode: self.mode,
            ..File::plain(self.path.clone(), new.into_bytes(), PresentAbsent::Present)
        };
        file.steps(state)
    }

    fn notify(&self) -> &[String] {
        &self.notify
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_by_regexp_or_appends() {
        let l = Line {
            path: "/etc/x".into(),
            line: "MaxSessions 100".into(),
            regexp: Some(regex::Regex::new("^#?MaxSessions").unwrap()),
            state: PresentAbsent::Present,
            create: true,
            mode: None,
            notify: vec![],
        };
        assert_eq!(l.edit("a\n#MaxSessions 10\nb\n").unwrap(), "a\nMaxSessions 100\nb\n");
        assert_eq!(l.edit("a\n").unwrap(), "a\nMaxSessions 100\n");
        assert_eq!(l.edit("MaxSessions 100\n"), None);
        let gone = Line { state: PresentAbsent::Absent, ..l };
        assert_eq!(gone.edit("a\nMaxSessions 5\n").unwrap(), "a\n");
    }

    #[test]
    fn a_missing_file_without_create_is_named() {
        let mut st = HostState::default();
        st.insert(path::query("/etc/x"), path::PathState::default());
        let l = Line {
            path: "/etc/x".into(),
            line: "a".into(),
            regexp: None,
            state: PresentAbsent::Present,
            create: false,
            mode: None,
            notify: vec![],
        };
        assert_eq!(l.plan(&st).unwrap_err().to_string(), "/etc/x does not exist (set `create: true`)");
    }
}
