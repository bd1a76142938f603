//! Ansible's INI inventory format: `[group]` host lines with `key=value`
//! vars, `[group:vars]` and `[group:children]` sections.

use super::links::Link;
use super::model::Inventory;
use super::pattern::expand_host_range;
use crate::error::{Error, Location, Result};
use crate::project::names::{self, Kind};
use crate::project::source::{Source, Vars};
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
        for (i, raw) in src.text.lines().enumerate() {
            let text = raw.trim();
            if text.is_empty() || text.starts_with('#') || text.starts_with(';') {
                continue;
            }
            let line = Line { src, number: i + 1, raw, text, col: raw.len() - raw.trim_start().len() + 1 };
            if let Some(header) = text.strip_prefix('[') {
                (group, section) = ini_header(&line, header)?;
                self.group_mut(&group);
                continue;
            }
            match section {
                Section::Hosts => self.ini_hosts(&line, &group)?,
                Section::Vars => {
                    let Some((k, v)) = text.split_once('=') else {
                        return Err(Error::at(line.at(line.col), "expected `key=value` in a :vars section"));
                    };
                    let v = v.trim();
                    let value = unquote(v).map(|s| Value::String(s.to_string())).unwrap_or_else(|| ini_value(v));
                    self.group_mut(&group).vars.insert(k.trim().to_string(), value);
                }
                Section::Children => links.push((self.ini_child(&line, &group)?, line.number, line.col)),
            }
        }
        // Once for the whole file: checking at every child line would cost a chain's length squared.
        let added: Vec<Link> = links.iter().map(|(l, _, _)| l.clone()).collect();
        if let Some((i, message)) = self.first_loop(&added) {
            let (_, number, col) = links[i];
            return Err(Error::at(Location::new(&src.path, &src.text, number, col), message));
        }
        Ok(())
    }

    /// `host [key=value …]`, the host possibly a range.
    fn ini_hosts(&mut self, line: &Line, group: &str) -> Result<()> {
        let words = split_ini_words(line.text).map_err(|(m, at)| Error::at(line.at(line.col + at), m))?;
        if words.is_empty() || words[0].is_empty() {
            return Err(Error::at(line.at(line.col), "expected a host name, found an empty quoted string"));
        }
        let mut vars = Vars::new();
        for word in &words[1..] {
            let Some((k, v)) = word.split_once('=') else {
                let at = line.raw.find(word.as_str()).unwrap_or(0) + 1;
                let message = format!("expected `key=value` after the host name, found `{word}`");
                return Err(Error::at(line.at(at), message));
            };
            vars.insert(k.to_string(), ini_value(v));
        }
        for host in expand_host_range(&words[0]).map_err(|m| Error::at(line.at(line.col), m.to_string()))? {
            names::check(Kind::Host, &host).map_err(|e| Error::at(line.at(line.col), e.to_string()))?;
            self.add_host(&host, group, Some(&vars));
        }
        Ok(())
    }

    /// A group named in `[group:children]`; loops are checked once the file is read.
    fn ini_child(&mut self, line: &Line, group: &str) -> Result<Link> {
        names::check(Kind::Group, line.text).map_err(|e| Error::at(line.at(line.col), e.to_string()))?;
        Ok(self.add_child(group, line.text))
    }
}

/// `[name]`, `[name:vars]` or `[name:children]`: the group and the section kind.
fn ini_header(line: &Line, header: &str) -> Result<(String, Section)> {
    let Some(header) = header.strip_suffix(']') else {
        return Err(Error::at(line.at(1), "section header is missing its closing `]`"));
    };
    let (name, kind) = header.split_once(':').unwrap_or((header, ""));
    if name.trim().is_empty() {
        return Err(Error::at(line.at(1), format!("section header `[{header}]` names no group")));
    }
    names::check(Kind::Group, name).map_err(|e| Error::at(line.at(line.col + 1), e.to_string()))?;
    let section = match kind {
        "" => Section::Hosts,
        "vars" => Section::Vars,
        "children" => Section::Children,
        other => {
            let message = format!("unknown section kind `:{other}` (expected `:vars` or `:children`)");
            return Err(Error::at(line.at(name.len() + 3), message));
        }
    };
    Ok((name.to_string(), section))
}

/// Splits a host line into words; an error carries the column (0-based, in chars) at fault.
fn split_ini_words(line: &str) -> Result<Vec<String>, (String, usize)> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<(char, usize)> = None;
    let mut quoted_empty = false;
    for (i, c) in line.chars().enumerate() {
        match (quote, c) {
            (Some((q, _)), c) if c == q => {
                quote = None;
                quoted_empty = cur.is_empty();
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => quote = Some((c, i)),
            (None, '#') if cur.is_empty() => break,
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() || quoted_empty {
                    words.push(std::mem::take(&mut cur));
                }
                quoted_empty = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if let Some((q, at)) = quote {
        return Err((format!("unterminated quote: the `{q}` here is never closed"), at));
    }
    if !cur.is_empty() || quoted_empty {
        words.push(cur);
    }
    Ok(words)
}

fn unquote(v: &str) -> Option<&str> {
    let b = v.as_bytes();
    (b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0]).then(|| &v[1..v.len() - 1])
}

/// INI values are strings, but numbers and booleans are typed as Ansible does.
fn ini_value(v: &str) -> Value {
    if let Ok(n) = v.parse::<i64>() {
        if !(v.len() > 1 && v.starts_with('0')) {
            return Value::from(n);
        }
    }
    match v {
        "True" | "true" => Value::Bool(true),
        "False" | "false" => Value::Bool(false),
        _ => Value::String(v.to_string()),
    }
}
