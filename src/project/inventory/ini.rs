//! Ansible's INI inventory format: `[group]` host lines with `key=value`
//! vars, `[group:vars]` and `[group:children]` sections.

use super::links::Link;
use super::model::Inventory;
use super::pattern::{expand_host_range, split_port};
use super::python_literal::literal;
use super::shell_words;
use crate::error::{Error, Location, Result};
use crate::project::names::{self, Kind};
use crate::project::source::{Source, Vars};
use indexmap::IndexMap;
use serde_json::Value;

/// Which kind of section the lines below a header belong to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Section {
    Hosts,
    Vars,
    Children,
}

/// One line of the file, with its text and where it stands, for errors.
struct Line<'a> {
    src: &'a Source,
    number: usize,
    raw: &'a str,
    /// `raw` without its indentation and trailing blanks.
    text: &'a str,
    /// 1-based column where `text` starts.
    col: usize,
}

impl Line<'_> {
    fn at(&self, col: usize) -> Location {
        Location::new(&self.src.path, &self.src.text, self.number, col)
    }
}

impl Inventory {
    pub(super) fn load_ini(&mut self, src: &Source) -> Result<()> {
        let mut group = "ungrouped".to_string();
        let mut section = Section::Hosts;
        // Each child line's link and (line, column), for the loop check at the end.
        let mut links: Vec<(Link, usize, usize)> = Vec::new();
        let mut pending = Pending::default();
        for (i, raw) in src.text.lines().enumerate() {
            let text = raw.trim();
            if text.is_empty() || text.starts_with('#') || text.starts_with(';') {
                continue;
            }
            let line = Line { src, number: i + 1, raw, text, col: raw.len() - raw.trim_start().len() + 1 };
            if let Some((name, kind)) = ini_header(&line)? {
                (group, section) = (name, kind);
                let known = self.groups.contains_key(&group);
                self.group_mut(&group);
                for (link, at) in pending.declared(&group, section, known, line.number, line.col) {
                    links.push((self.add_child(&link.parent, &link.child), at.0, at.1));
                }
                continue;
            }
            match section {
                Section::Hosts => self.ini_hosts(&line, &group)?,
                Section::Vars => {
                    let Some((k, v)) = text.split_once('=') else {
                        return Err(Error::at(line.at(line.col), "expected `key=value` in a :vars section"));
                    };
                    // Unlike a host line's, a :vars value keeps its quotes for literal_eval: `"42"` is a string.
                    let v = v.trim();
                    let value = literal(v).unwrap_or_else(|| Value::String(v.to_string()));
                    self.group_mut(&group).vars.insert(k.trim().to_string(), value);
                }
                Section::Children => {
                    let child = ini_child_name(&line)?;
                    if self.groups.contains_key(child) {
                        links.push((self.add_child(&group, child), line.number, line.col));
                    } else {
                        pending.child(child, &group, line.number, line.col);
                    }
                }
            }
        }
        if let Some((number, col, message)) = pending.first_unresolved() {
            return Err(Error::at(Location::new(&src.path, &src.text, number, col), message));
        }
        // Once for the whole file: checking at every child line would cost a chain's length squared.
        let added: Vec<Link> = links.iter().map(|(l, _, _)| l.clone()).collect();
        if let Some((i, message)) = self.first_loop(&added) {
            let (_, number, col) = links[i];
            return Err(Error::at(Location::new(&src.path, &src.text, number, col), message));
        }
        Ok(())
    }

    /// `host[:port] [key=value …]`, the host possibly a range.
    fn ini_hosts(&mut self, line: &Line, group: &str) -> Result<()> {
        let words = shell_words::split(line.text).map_err(|(m, at)| Error::at(line.at(line.col + at), m))?;
        let Some(pattern) = words.first() else { return Ok(()) };
        if pattern.is_empty() {
            return Err(Error::at(line.at(line.col), "expected a host name, found an empty quoted string"));
        }
        if pattern == "---" {
            return Err(Error::at(line.at(line.col), "`---` is no host: this looks like a YAML file"));
        }
        let (pattern, port) = split_port(pattern);
        if pattern.ends_with(':') && port.is_none() {
            let message = format!("host `{pattern}` ends in `:`, which is kept for a port number (`{pattern}22`)");
            return Err(Error::at(line.at(line.col), message));
        }
        let mut vars = Vars::new();
        if let Some(port) = port {
            vars.insert("ansible_port".into(), Value::from(port));
        }
        for word in &words[1..] {
            let Some((k, v)) = word.split_once('=') else {
                let at = line.raw.find(word.as_str()).unwrap_or(0) + 1;
                let message = format!("expected `key=value` after the host name, found `{word}`");
                return Err(Error::at(line.at(at), message));
            };
            // The quotes are gone already (shell_words): `x="42"` is the int 42, as in Ansible.
            vars.insert(k.to_string(), literal(v).unwrap_or_else(|| Value::String(v.to_string())));
        }
        for host in expand_host_range(pattern).map_err(|m| Error::at(line.at(line.col), m.to_string()))? {
            names::check(Kind::Host, &host).map_err(|e| Error::at(line.at(line.col), e.to_string()))?;
            self.add_host(&host, group, Some(&vars));
        }
        Ok(())
    }
}

/// Groups named before their own section, as Ansible's INI plugin tracks
/// them: a `[p:children]` line may name a group whose section comes later
/// in the file, but one that never comes is an error; so is a `[g:vars]`
/// section for a group the file never defines.
#[derive(Default)]
struct Pending(IndexMap<String, Declared>);

struct Declared {
    /// Where it was first named, for the error.
    at: (usize, usize),
    /// As a child (of these parents, with the line of each), or by a :vars section.
    parents: Option<Vec<(String, (usize, usize))>>,
}

impl Pending {
    /// A child line naming `child`, not defined yet.
    fn child(&mut self, child: &str, parent: &str, number: usize, col: usize) {
        let entry = self.0.entry(child.to_string()).or_insert(Declared { at: (number, col), parents: Some(vec![]) });
        if let Some(parents) = &mut entry.parents {
            parents.push((parent.to_string(), (number, col)));
        }
    }

    /// A section header for `group`: the links it makes now that it is
    /// defined (its pending parents, and theirs in turn), each with the line that asked for it.
    fn declared(
        &mut self,
        group: &str,
        section: Section,
        known: bool,
        number: usize,
        col: usize,
    ) -> Vec<(Link, (usize, usize))> {
        if section == Section::Vars {
            if !known && !self.0.contains_key(group) {
                self.0.insert(group.to_string(), Declared { at: (number, col), parents: None });
            }
            return vec![];
        }
        let mut links = Vec::new();
        let mut stack = vec![group.to_string()];
        while let Some(g) = stack.pop() {
            let Some(declared) = self.0.shift_remove(&g) else { continue };
            for (parent, at) in declared.parents.unwrap_or_default() {
                if self.0.get(&parent).is_some_and(|d| d.parents.is_some()) {
                    stack.push(parent.clone());
                }
                links.push((Link { parent, child: g.clone() }, at));
            }
        }
        links
    }

    /// The first name never defined, with the message to show where it was named.
    fn first_unresolved(&self) -> Option<(usize, usize, String)> {
        let (name, d) = self.0.iter().min_by_key(|(_, d)| d.at)?;
        let message = match &d.parents {
            None => format!("section [{name}:vars] is for group `{name}`, which this file never defines (give it a [{name}] section)"),
            Some(parents) => {
                let parent = parents.last().map_or("?", |(p, _)| p.as_str());
                format!("section [{parent}:children] names group `{name}`, which this file never defines (give it a [{name}] section)")
            }
        };
        Some((d.at.0, d.at.1, message))
    }
}

/// `[name]`, `[name:vars]` or `[name:children]`, possibly followed by a `#`
/// comment: the group and the section kind. `None` for a host line.
fn ini_header(line: &Line) -> Result<Option<(String, Section)>> {
    let re =
        HEADER.get_or_init(|| regex::Regex::new(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$").expect("a valid regex"));
    let Some(m) = re.captures(line.text) else {
        if line.text.starts_with("[]") || line.text.starts_with("[:") {
            let header = line.text.split(']').next().unwrap_or("[");
            return Err(Error::at(line.at(line.col), format!("section header `{header}]` names no group")));
        }
        if line.text.starts_with('[') && line.text.ends_with(']') {
            let message = "a section header is `[group]`, `[group:vars]` or `[group:children]`, with no blank inside the brackets";
            return Err(Error::at(line.at(line.col), message));
        }
        if line.text.starts_with('[') && !line.text.contains(']') {
            return Err(Error::at(line.at(line.col), "section header is missing its closing `]`"));
        }
        // `[2001:db8::1]:2222` is a host; `[web] x` a header with something other than a comment after it.
        let bracketed_host = line.text.split_whitespace().next().is_some_and(|w| split_port(w).1.is_some());
        if line.text.starts_with('[') && !bracketed_host {
            let message = "only a `#` comment may follow a section header on its line";
            return Err(Error::at(line.at(line.col), message));
        }
        return Ok(None);
    };
    let name = &m[1];
    names::check(Kind::Group, name).map_err(|e| Error::at(line.at(line.col + 1), e.to_string()))?;
    let section = match m.get(2).map_or("", |k| k.as_str()) {
        "" | "hosts" => Section::Hosts,
        "vars" => Section::Vars,
        "children" => Section::Children,
        other => {
            let message = format!("unknown section kind `:{other}` (expected `:vars` or `:children`)");
            return Err(Error::at(line.at(line.col + name.len() + 2), message));
        }
    };
    Ok(Some((name.to_string(), section)))
}

static HEADER: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();

/// A line of a `:children` section: one group name, possibly followed by a `#` comment.
fn ini_child_name<'a>(line: &Line<'a>) -> Result<&'a str> {
    let name = line.text.split('#').next().unwrap_or("").trim_end();
    if name.is_empty() || name.contains(|c: char| c == ':' || c == ']' || c.is_whitespace()) {
        return Err(Error::at(line.at(line.col), format!("expected a group name, found `{}`", line.text)));
    }
    names::check(Kind::Group, name).map_err(|e| Error::at(line.at(line.col), e.to_string()))?;
    Ok(name)
}
