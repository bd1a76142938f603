//! The `blockinfile` kind: a block of lines between two marker lines in a
//! file, with Ansible's semantics: the marked block is replaced where it
//! stands; a new one goes after the last line matching `insertafter` (or at
//! the end), or before the last line matching `insertbefore` (`BOF`: the
//! start); an empty block or `state: absent` removes block and markers.

use super::file::File;
use super::kind::{Doc, Field, Resolve, Resource, ResourceError, Spec, Step};
use super::line::editable;
use super::path::{self, check_path};
use super::spec::{ModeSpec, OneOrMany, PresentAbsent};
use crate::session::probe::{HostState, Query};
use crate::shell::check_value;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockinfileSpec {
    pub path: String,
    #[serde(default)]
    pub block: String,
    /// `{mark}` becomes `marker_begin` / `marker_end`.
    #[serde(default = "default_marker")]
    pub marker: String,
    #[serde(default = "begin")]
    pub marker_begin: String,
    #[serde(default = "end")]
    pub marker_end: String,
    /// `EOF` or a regex.
    #[serde(default)]
    pub insertafter: Option<String>,
    /// `BOF` or a regex.
    #[serde(default)]
    pub insertbefore: Option<String>,
    #[serde(default)]
    pub state: PresentAbsent,
    #[serde(default)]
    pub create: bool,
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub validate: Option<String>,
    #[serde(default)]
    pub notify: OneOrMany,
}

/// Ansible's default, so blocks that Ansible wrote are found and kept.
fn default_marker() -> String {
    "# {mark} ANSIBLE MANAGED BLOCK".into()
}

fn begin() -> String {
    "BEGIN".into()
}

fn end() -> String {
    "END".into()
}

#[derive(Debug, thiserror::Error)]
enum BlockError {
    #[error("blockinfile takes `insertafter` or `insertbefore`, not both")]
    BothInserts,
    #[error("bad {what} regexp: {source}")]
    Regexp { what: &'static str, source: regex::Error },
    #[error("the begin and end markers are the same line {0:?}")]
    SameMarkers(String),
}

impl Spec for BlockinfileSpec {
    const KIND: &'static str = "blockinfile";
    const DOC: Doc = Doc {
        summary: "A block of lines between marker lines in a file (Ansible's blockinfile): replaced where it \
                  stands, else inserted after `insertafter` / before `insertbefore` (default: at the end); an \
                  empty block or `absent` removes it.",
        fields: &[
            Field { name: "path", ty: "absolute path", default: "", help: "" },
            Field { name: "block", ty: "string", default: "\"\"", help: "the lines between the markers" },
            Field {
                name: "marker",
                ty: "string",
                default: "\"# {mark} ANSIBLE MANAGED BLOCK\"",
                help: "{mark} becomes marker_begin / marker_end",
            },
            Field { name: "marker_begin", ty: "string", default: "BEGIN", help: "" },
            Field { name: "marker_end", ty: "string", default: "END", help: "" },
            Field {
                name: "insertafter",
                ty: "EOF or regex",
                default: "EOF",
                help: "a new block goes after the last matching line",
            },
            Field {
                name: "insertbefore",
                ty: "BOF or regex",
                default: "none",
                help: "a new block goes before the last matching line",
            },
            Field { name: "state", ty: "present | absent", default: "present", help: "" },
            Field { name: "create", ty: "bool", default: "false", help: "create the file when it does not exist" },
            Field { name: "mode", ty: "quoted octal", default: "kept", help: "" },
            Field { name: "owner", ty: "user", default: "kept", help: "" },
            Field { name: "group", ty: "group", default: "kept", help: "" },
            Field { name: "validate", ty: "command", default: "none", help: "run on the temp file (%s) first" },
            Field { name: "notify", ty: "handler or list", default: "none", help: "" },
        ],
        example: "blockinfile: { path: /etc/hosts, block: \"10.77.0.100 vip\\n\", marker: \"# {mark} rigger vip\" }",
    };

    fn notify(&self) -> &[String] {
        &self.notify.0
    }

    fn resolve(self, _: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
        Ok(Arc::new(self.build()?))
    }
}

impl BlockinfileSpec {
    fn build(self) -> Result<Blockinfile, ResourceError> {
        let regexp = |what, r: &Option<String>, keyword: &str| match r.as_deref() {
            None => Ok(None),
            Some(k) if k == keyword => Ok(Some(Anchor::Edge)),
            Some(r) => regex::Regex::new(r)
                .map(|re| Some(Anchor::Last(re)))
                .map_err(|source| ResourceError::kind(BlockError::Regexp { what, source })),
        };
        let at = match (
            regexp("insertafter", &self.insertafter, "EOF")?,
            regexp("insertbefore", &self.insertbefore, "BOF")?,
        ) {
            (Some(_), Some(_)) => return Err(ResourceError::kind(BlockError::BothInserts)),
            (Some(a), None) => Insert::After(a),
            (None, Some(b)) => Insert::Before(b),
            (None, None) => Insert::After(Anchor::Edge),
        };
        let begin = self.marker.replace("{mark}", &self.marker_begin);
        let end = self.marker.replace("{mark}", &self.marker_end);
        if begin == end {
            return Err(ResourceError::kind(BlockError::SameMarkers(begin)));
        }
        check_path(&self.path)?;
        Ok(Blockinfile {
            path: self.path,
            block: self.block,
            begin,
            end,
            at,
            state: self.state,
            create: self.create,
            mode: path::mode(&self.mode)?,
            owner: self.owner,
            group: self.group,
            validate: self.validate,
            notify: self.notify.0,
        })
    }
}

/// Where a new block goes.
#[derive(Debug, Clone)]
pub enum Insert {
    After(Anchor),
    Before(Anchor),
}

#[derive(Debug, Clone)]
pub enum Anchor {
    /// `EOF` after, `BOF` before.
    Edge,
    /// The last line matching, else the end of the file (as Ansible).
    Last(regex::Regex),
}

#[derive(Debug, Clone)]
pub struct Blockinfile {
    pub path: String,
    pub block: String,
    pub begin: String,
    pub end: String,
    pub at: Insert,
    pub state: PresentAbsent,
    pub create: bool,
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub validate: Option<String>,
    pub notify: Vec<String>,
}

impl Blockinfile {
    /// The file's content with the block in place, or `None` when unchanged.
    pub fn edit(&self, current: &str) -> Option<String> {
        let mut lines: Vec<&str> = current.lines().collect();
        let wanted: Vec<&str> = if self.state == PresentAbsent::Absent || self.block.is_empty() {
            vec![]
        } else {
            std::iter::once(self.begin.as_str()).chain(self.block.lines()).chain([self.end.as_str()]).collect()
        };
        let first = lines.iter().rposition(|l| *l == self.begin);
        let last = lines.iter().rposition(|l| *l == self.end);
        let at = match (first, last) {
            (Some(b), Some(e)) if b <= e => {
                lines.drain(b..=e);
                b
            }
            _ if wanted.is_empty() => return None,
            _ => self.insertion_point(&lines),
        };
        lines.splice(at..at, wanted);
        let mut out = lines.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        (out != current).then_some(out)
    }

    fn insertion_point(&self, lines: &[&str]) -> usize {
        let last = |re: &regex::Regex| lines.iter().rposition(|l| re.is_match(l));
        match &self.at {
            Insert::After(Anchor::Edge) => lines.len(),
            Insert::Before(Anchor::Edge) => 0,
            Insert::After(Anchor::Last(re)) => last(re).map_or(lines.len(), |i| i + 1),
            Insert::Before(Anchor::Last(re)) => last(re).unwrap_or(lines.len()),
        }
    }
}

impl Resource for Blockinfile {
    fn label(&self) -> String {
        format!("blockinfile {}", self.path)
    }

    fn queries(&self) -> Vec<Query> {
        vec![path::query(&self.path)]
    }

    fn plan(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        check_value("marker", &self.begin, true)?;
        check_value("marker", &self.end, true)?;
        let absent = self.state == PresentAbsent::Absent;
        let Some(text) = editable(state, &self.path, self.create, absent)? else { return Ok(vec![]) };
        let file = File {
            kind: "blockinfile",
            mode: self.mode,
            owner: self.owner.clone(),
            group: self.group.clone(),
            validate: self.validate.clone(),
            ..File::plain(self.path.clone(), self.edit(&text).unwrap_or(text).into_bytes(), PresentAbsent::Present)
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
    use crate::resource::path::PathState;

    fn spec(y: &str) -> Blockinfile {
        serde_yaml::from_str::<BlockinfileSpec>(y).unwrap().build().unwrap()
    }

    const B: &str = "# BEGIN ANSIBLE MANAGED BLOCK";
    const E: &str = "# END ANSIBLE MANAGED BLOCK";

    #[test]
    fn a_new_block_goes_at_the_end_then_is_in_sync() {
        let b = spec("{ path: /etc/x, block: \"a\\nb\\n\" }");
        let once = b.edit("one\ntwo\n").unwrap();
        assert_eq!(once, format!("one\ntwo\n{B}\na\nb\n{E}\n"));
        assert_eq!(b.edit(&once), None, "a second run changes nothing");
    }

    #[test]
    fn the_block_is_replaced_where_it_stands() {
        let b = spec("{ path: /etc/x, block: \"new\" }");
        assert_eq!(b.edit(&format!("top\n{B}\nold\n{E}\nbottom\n")).unwrap(), format!("top\n{B}\nnew\n{E}\nbottom\n"));
    }

    #[test]
    fn insertafter_and_insertbefore_use_the_last_match() {
        let after = spec("{ path: /etc/x, block: z, insertafter: \"^a\" }");
        assert_eq!(after.edit("a1\nb\na2\nc\n").unwrap(), format!("a1\nb\na2\n{B}\nz\n{E}\nc\n"));
        let before = spec("{ path: /etc/x, block: z, insertbefore: \"^a\" }");
        assert_eq!(before.edit("a1\nb\na2\nc\n").unwrap(), format!("a1\nb\n{B}\nz\n{E}\na2\nc\n"));
        let bof = spec("{ path: /etc/x, block: z, insertbefore: BOF }");
        assert_eq!(bof.edit("a\n").unwrap(), format!("{B}\nz\n{E}\na\n"));
        let nomatch = spec("{ path: /etc/x, block: z, insertafter: \"^nothing\" }");
        assert_eq!(nomatch.edit("a\n").unwrap(), format!("a\n{B}\nz\n{E}\n"), "no match: at the end, as Ansible");
    }

    #[test]
    fn absent_or_empty_removes_block_and_markers() {
        let gone = spec("{ path: /etc/x, block: z, state: absent }");
        assert_eq!(gone.edit(&format!("a\n{B}\nz\n{E}\nb\n")).unwrap(), "a\nb\n");
        assert_eq!(gone.edit("a\n"), None);
        let empty = spec("{ path: /etc/x, block: \"\" }");
        assert_eq!(empty.edit(&format!("{B}\nz\n{E}\n")).unwrap(), "");
    }

    #[test]
    fn custom_markers() {
        let b = spec("{ path: /etc/x, block: z, marker: \"## {mark} vip\", marker_begin: start, marker_end: stop }");
        assert_eq!(b.edit("").unwrap(), "## start vip\nz\n## stop vip\n");
    }

    #[test]
    fn plans_an_atomic_write_and_requires_create_for_a_missing_file() {
        let b = spec("{ path: /etc/x, block: z }");
        let mut st = HostState::default();
        st.insert(path::query("/etc/x"), PathState::file(b"a\n", 0o644));
        let steps = b.plan(&st).unwrap();
        assert_eq!(steps[0].action, "update");
        assert!(steps[0].diff.as_deref().unwrap().contains(&format!("+{B}")));
        st.insert(path::query("/etc/x"), PathState::file(format!("a\n{B}\nz\n{E}\n").as_bytes(), 0o644));
        assert!(b.plan(&st).unwrap().is_empty());
        st.insert(path::query("/etc/x"), PathState::default());
        assert_eq!(b.plan(&st).unwrap_err().to_string(), "/etc/x does not exist (set `create: true`)");
    }

    #[test]
    fn both_inserts_or_equal_markers_are_refused() {
        let build = |y: &str| serde_yaml::from_str::<BlockinfileSpec>(y).unwrap().build().unwrap_err().to_string();
        assert!(build("{ path: /x, insertafter: a, insertbefore: b }").contains("not both"));
        assert!(build("{ path: /x, marker: same }").contains("same line"));
    }
}
