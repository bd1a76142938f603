//! The inventory: hosts, groups and their variables, loaded from Ansible's
//! YAML or INI formats with `group_vars/` and `host_vars/` beside them, so a
//! team can point rigger at the inventory it already has.

use crate::error::{Error, Location, Result};
use crate::project::source::{merge_into, read_vars, Source, Vars};
use indexmap::{IndexMap, IndexSet};
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct Host {
    pub name: String,
    /// Inline vars from the inventory file, then `host_vars/` on top.
    pub vars: Vars,
}

#[derive(Debug, Clone, Default)]
pub struct Group {
    pub name: String,
    /// Hosts listed directly in this group.
    pub hosts: Vec<String>,
    pub children: Vec<String>,
    /// Inline vars, then `group_vars/` on top.
    pub vars: Vars,
}

#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub hosts: IndexMap<String, Host>,
    pub groups: IndexMap<String, Group>,
    /// The file or directory it was loaded from, for messages.
    pub origin: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlGroup {
    #[serde(default)]
    hosts: Option<IndexMap<String, Option<Vars>>>,
    #[serde(default)]
    children: Option<IndexMap<String, Option<YamlGroup>>>,
    #[serde(default)]
    vars: Option<Vars>,
}

impl Inventory {
    /// Loads `path`: an inventory file (YAML or INI) or a directory of them.
    pub fn load(path: &Path) -> Result<Self> {
        if let Some(dir) = crate::project::vagrant::spec(path) {
            return Ok(crate::project::vagrant::load(dir)?);
        }
        let mut inv = Inventory { origin: path.to_path_buf(), ..Default::default() };
        inv.group_mut("all");
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let base_dir = if meta.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| Error::io(path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_inventory_file(p))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(Error::usage(format!(
                    "no inventory file in {} (looked for *.yaml, *.yml, *.ini, hosts)",
                    path.display()
                )));
            }
            for f in files {
                inv.load_file(&f)?;
            }
            path.to_path_buf()
        } else {
            inv.load_file(path)?;
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        inv.load_vars_dirs(&base_dir)?;
        inv.finish();
        Ok(inv)
    }

    fn load_file(&mut self, path: &Path) -> Result<()> {
        let src = Source::read(path)?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let looks_ini = ext == "ini" || (ext.is_empty() && looks_like_ini(&src.text));
        if looks_ini {
            self.load_ini(&src)
        } else {
            self.load_yaml(&src)
        }
    }

    fn load_yaml(&mut self, src: &Source) -> Result<()> {
        let top: Option<IndexMap<String, Option<YamlGroup>>> = src.parse()?;
        for (name, group) in top.unwrap_or_default() {
            self.add_yaml_group(src, &name, group)?;
        }
        Ok(())
    }

    fn add_yaml_group(&mut self, src: &Source, name: &str, group: Option<YamlGroup>) -> Result<()> {
        self.group_mut(name);
        let Some(group) = group else { return Ok(()) };
        if let Some(vars) = group.vars {
            merge_into(&mut self.group_mut(name).vars, &vars);
        }
        for (pattern, vars) in group.hosts.unwrap_or_default() {
            for host in expand_host_range(&pattern).map_err(|m| Error::at(src.locate(&pattern), m))? {
                self.add_host(&host, name, vars.as_ref());
            }
        }
        for (child, def) in group.children.unwrap_or_default() {
            if child == name {
                let first = crate::error::find_token(&src.text, &child).map(|(l, _)| l).unwrap_or(1);
                let loc = Location::of_token_after(&src.path, &src.text, &child, first + 1);
                return Err(Error::at(loc, format!("group `{name}` lists itself as a child")));
            }
            if let Some(path) = self.child_path(&child, name) {
                return Err(Error::at(
                    src.locate(&child),
                    format!("adding `{child}` as a child of `{name}` makes a loop: {}", path.join(" → ")),
                ));
            }
            let g = self.group_mut(name);
            if !g.children.contains(&child) {
                g.children.push(child.clone());
            }
            self.add_yaml_group(src, &child, def)?;
        }
        Ok(())
    }

    fn load_ini(&mut self, src: &Source) -> Result<()> {
        #[derive(PartialEq)]
        enum Section {
            Hosts,
            Vars,
            Children,
        }
        let mut group = "ungrouped".to_string();
        let mut section = Section::Hosts;
        for (i, raw) in src.text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let here = |col: usize| Location::new(&src.path, &src.text, line_no, col);
            if let Some(header) = line.strip_prefix('[') {
                let Some(header) = header.strip_suffix(']') else {
                    return Err(Error::at(here(1), "section header is missing its closing `]`"));
                };
                let (name, kind) = header.split_once(':').unwrap_or((header, ""));
                if name.trim().is_empty() {
                    return Err(Error::at(here(1), format!("section header `[{header}]` names no group")));
                }
                section = match kind {
                    "" => Section::Hosts,
                    "vars" => Section::Vars,
                    "children" => Section::Children,
                    other => {
                        return Err(Error::at(
                            here(name.len() + 3),
                            format!("unknown section kind `:{other}` (expected `:vars` or `:children`)"),
                        ))
                    }
                };
                group = name.to_string();
                self.group_mut(&group);
                continue;
            }
            let col = raw.len() - raw.trim_start().len() + 1;
            match section {
                Section::Hosts => {
                    let words = split_ini_words(line).map_err(|(m, at)| Error::at(here(col + at), m))?;
                    if words.is_empty() || words[0].is_empty() {
                        return Err(Error::at(here(col), "expected a host name, found an empty quoted string"));
                    }
                    let mut vars = Vars::new();
                    for word in &words[1..] {
                        let Some((k, v)) = word.split_once('=') else {
                            let at = raw.find(word.as_str()).unwrap_or(0) + 1;
                            return Err(Error::at(
                                here(at),
                                format!("expected `key=value` after the host name, found `{word}`"),
                            ));
                        };
                        vars.insert(k.to_string(), ini_value(v));
                    }
                    for host in expand_host_range(&words[0]).map_err(|m| Error::at(here(col), m))? {
                        self.add_host(&host, &group, Some(&vars));
                    }
                }
                Section::Vars => {
                    let Some((k, v)) = line.split_once('=') else {
                        return Err(Error::at(here(col), "expected `key=value` in a :vars section"));
                    };
                    let v = v.trim();
                    let value = unquote(v).map(|s| Value::String(s.to_string())).unwrap_or_else(|| ini_value(v));
                    self.group_mut(&group).vars.insert(k.trim().to_string(), value);
                }
                Section::Children => {
                    let child = line.to_string();
                    if let Some(path) = self.child_path(&child, &group) {
                        return Err(Error::at(
                            here(col),
                            format!("adding `{child}` as a child of `{group}` makes a loop: {}", path.join(" → ")),
                        ));
                    }
                    let g = self.group_mut(&group);
                    if !g.children.contains(&child) {
                        g.children.push(child.clone());
                    }
                    self.group_mut(&child);
                }
            }
        }
        Ok(())
    }

    fn load_vars_dirs(&mut self, base: &Path) -> Result<()> {
        let groups: Vec<String> = self.groups.keys().cloned().collect();
        for g in groups {
            let vars = read_vars_entry(&base.join("group_vars"), &g)?;
            merge_into(&mut self.group_mut(&g).vars, &vars);
        }
        let hosts: Vec<String> = self.hosts.keys().cloned().collect();
        for h in hosts {
            let vars = read_vars_entry(&base.join("host_vars"), &h)?;
            merge_into(&mut self.hosts[&h].vars, &vars);
        }
        Ok(())
    }

    /// Puts every host in `all`, and hosts in no other group in `ungrouped`.
    fn finish(&mut self) {
        let mut grouped: IndexSet<String> = IndexSet::new();
        for (name, g) in &self.groups {
            if name != "all" && name != "ungrouped" {
                grouped.extend(g.hosts.iter().cloned());
            }
        }
        let ungrouped: Vec<String> = self.hosts.keys().filter(|h| !grouped.contains(*h)).cloned().collect();
        let u = self.group_mut("ungrouped");
        for h in ungrouped {
            if !u.hosts.contains(&h) {
                u.hosts.push(h);
            }
        }
        let tops: Vec<String> = self
            .groups
            .keys()
            .filter(|n| *n != "all" && !self.groups.values().any(|g| g.children.contains(n)))
            .cloned()
            .collect();
        let all = self.group_mut("all");
        for t in tops {
            if !all.children.contains(&t) {
                all.children.push(t);
            }
        }
    }

    fn group_mut(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_string()).or_insert_with(|| Group { name: name.to_string(), ..Default::default() })
    }

    fn add_host(&mut self, host: &str, group: &str, vars: Option<&Vars>) {
        let h =
            self.hosts.entry(host.to_string()).or_insert_with(|| Host { name: host.to_string(), vars: Vars::new() });
        if let Some(vars) = vars {
            merge_into(&mut h.vars, vars);
        }
        let g = self.group_mut(group);
        if !g.hosts.iter().any(|h| h == host) {
            g.hosts.push(host.to_string());
        }
    }

    /// The chain of children from `from` down to `to` closed back on `from`, if `to` is
    /// already below `from` (so making `from` a child of `to` would loop).
    fn child_path(&self, from: &str, to: &str) -> Option<Vec<String>> {
        let mut stack = vec![vec![from.to_string()]];
        while let Some(path) = stack.pop() {
            let last = path.last().expect("non-empty");
            if last == to {
                let mut p = path.clone();
                p.push(from.to_string());
                return Some(p);
            }
            if path.len() > self.groups.len() + 1 {
                continue;
            }
            for c in self.groups.get(last).map(|g| g.children.clone()).unwrap_or_default() {
                if !path.contains(&c) || c == to {
                    let mut p = path.clone();
                    p.push(c);
                    stack.push(p);
                }
            }
        }
        None
    }

    /// Hosts of a group, its children's included, in inventory order.
    pub fn group_hosts(&self, group: &str) -> Vec<String> {
        let mut out = IndexSet::new();
        self.collect_hosts(group, &mut out, &mut Vec::new());
        let order: Vec<String> = self.hosts.keys().filter(|h| out.contains(*h)).cloned().collect();
        order
    }

    fn collect_hosts(&self, group: &str, out: &mut IndexSet<String>, seen: &mut Vec<String>) {
        if seen.iter().any(|s| s == group) {
            return;
        }
        seen.push(group.to_string());
        if group == "all" {
            out.extend(self.hosts.keys().cloned());
            return;
        }
        if let Some(g) = self.groups.get(group) {
            out.extend(g.hosts.iter().cloned());
            for c in &g.children {
                self.collect_hosts(c, out, seen);
            }
        }
    }

    /// Every group that contains `host`, directly or through a child, ordered
    /// as Ansible merges them: shallow groups first, then by name.
    pub fn host_groups(&self, host: &str) -> Vec<String> {
        if !self.hosts.contains_key(host) {
            return vec![];
        }
        // Walk up from the groups that list the host: linear in the inventory's
        // size, where asking every group for its hosts would be quadratic.
        let mut parents: std::collections::HashMap<&str, Vec<&str>> = std::collections::HashMap::new();
        for (name, g) in &self.groups {
            for c in &g.children {
                parents.entry(c.as_str()).or_default().push(name.as_str());
            }
        }
        let mut found: IndexSet<String> = IndexSet::new();
        let mut stack: Vec<&str> =
            self.groups.iter().filter(|(_, g)| g.hosts.iter().any(|h| h == host)).map(|(n, _)| n.as_str()).collect();
        stack.push("all");
        while let Some(g) = stack.pop() {
            if found.insert(g.to_string()) {
                stack.extend(parents.get(g).into_iter().flatten().copied());
            }
        }
        let depth = self.group_depths();
        let mut groups: Vec<String> = found.into_iter().filter(|g| self.groups.contains_key(g)).collect();
        groups.sort_by(|a, b| depth.get(a).cmp(&depth.get(b)).then_with(|| a.cmp(b)));
        groups
    }

    fn group_depths(&self) -> IndexMap<String, usize> {
        let mut depth: IndexMap<String, usize> = IndexMap::new();
        let mut stack = vec![("all".to_string(), 0usize)];
        while let Some((g, d)) = stack.pop() {
            let cur = depth.entry(g.clone()).or_insert(0);
            if *cur > d || (d > 0 && *cur == d) {
                continue;
            }
            *cur = d;
            if d > self.groups.len() {
                continue; // defensive: a cycle among children
            }
            if let Some(group) = self.groups.get(&g) {
                for c in &group.children {
                    stack.push((c.clone(), d + 1));
                }
            }
        }
        if let Some(u) = depth.get_mut("ungrouped") {
            *u = 1;
        }
        depth
    }

    /// A host's inventory vars: group vars (parents before children), then host vars.
    pub fn host_vars(&self, host: &str) -> Vars {
        let mut vars = Vars::new();
        for g in self.host_groups(host) {
            merge_into(&mut vars, &self.groups[&g].vars);
        }
        if let Some(h) = self.hosts.get(host) {
            merge_into(&mut vars, &h.vars);
        }
        vars
    }

    /// Resolves a pattern (`web`, `h1,h2`, `web:!h3`, `lb:&prod`, globs) to hosts in inventory order.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>, String> {
        let mut chosen: IndexSet<String> = IndexSet::new();
        let mut first = true;
        for term in pattern.split([',', ':']).map(str::trim).filter(|t| !t.is_empty()) {
            let (op, name) = match term.chars().next() {
                Some('!') => ('!', &term[1..]),
                Some('&') => ('&', &term[1..]),
                _ => ('+', term),
            };
            let hosts = self.match_term(name)?;
            match op {
                '!' => chosen.retain(|h| !hosts.contains(h)),
                '&' => chosen.retain(|h| hosts.contains(h)),
                _ => chosen.extend(hosts),
            }
            first = false;
        }
        if first {
            return Err(format!("empty host pattern `{pattern}`"));
        }
        Ok(self.hosts.keys().filter(|h| chosen.contains(*h)).cloned().collect())
    }

    fn match_term(&self, term: &str) -> Result<Vec<String>, String> {
        if term == "all" || term == "*" {
            return Ok(self.hosts.keys().cloned().collect());
        }
        if self.groups.contains_key(term) {
            return Ok(self.group_hosts(term));
        }
        if self.hosts.contains_key(term) {
            return Ok(vec![term.to_string()]);
        }
        if term.contains(['*', '?', '[']) {
            let pat = glob::Pattern::new(term).map_err(|e| format!("bad glob `{term}`: {e}"))?;
            let mut out: IndexSet<String> = IndexSet::new();
            for g in self.groups.keys().filter(|g| pat.matches(g)) {
                out.extend(self.group_hosts(g));
            }
            out.extend(self.hosts.keys().filter(|h| pat.matches(h)).cloned());
            if out.is_empty() {
                return Err(format!("pattern `{term}` matches no host or group"));
            }
            return Ok(out.into_iter().collect());
        }
        let known = self.groups.keys().filter(|g| *g != "ungrouped").cloned().collect::<Vec<_>>().join(", ");
        Err(format!("`{term}` is neither a host nor a group in the inventory (groups: {known})"))
    }

    /// JSON shaped like `ansible-inventory --list`.
    pub fn to_ansible_json(&self) -> Value {
        let mut out = serde_json::Map::new();
        let mut hostvars = serde_json::Map::new();
        for h in self.hosts.keys() {
            hostvars.insert(h.clone(), Value::Object(self.host_vars(h)));
        }
        out.insert("_meta".into(), serde_json::json!({ "hostvars": hostvars }));
        for (name, g) in &self.groups {
            let mut entry = serde_json::Map::new();
            if !g.children.is_empty() {
                entry.insert("children".into(), serde_json::json!(g.children));
            }
            if !g.hosts.is_empty() && name != "all" {
                entry.insert("hosts".into(), serde_json::json!(g.hosts));
            }
            if name == "ungrouped" && g.hosts.is_empty() {
                continue;
            }
            out.insert(name.clone(), Value::Object(entry));
        }
        Value::Object(out)
    }
}

fn is_inventory_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with('.') || name.ends_with('~') {
        return false;
    }
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "ini")) || name == "hosts"
}

fn looks_like_ini(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.starts_with('[') || (!l.contains(':') && !l.starts_with('-') && !l.starts_with("---")))
}

/// `group_vars/NAME.yaml` (or .yml, .json, no extension) or a directory `group_vars/NAME/`.
fn read_vars_entry(dir: &Path, name: &str) -> Result<Vars> {
    // A name is a file name here: never a path that leaves group_vars/ or host_vars/.
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(Error::usage(format!(
            "`{name}` cannot name a host or group (it would be read as a path under {})",
            dir.display()
        )));
    }
    let mut vars = Vars::new();
    for ext in ["", ".yaml", ".yml", ".json", ".yaml.age", ".yml.age"] {
        let p = dir.join(format!("{name}{ext}"));
        if p.is_file() {
            merge_into(&mut vars, &read_vars(&p)?);
        }
    }
    let d = dir.join(name);
    if d.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .map_err(|e| Error::io(&d, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .collect();
        files.sort();
        for f in files {
            merge_into(&mut vars, &read_vars(&f)?);
        }
    }
    Ok(vars)
}

/// The most hosts one range may expand to (a typo like `[0:99999999]` must not eat the machine).
const MAX_RANGE: u64 = 100_000;

/// Expands Ansible host ranges: `web[01:03]` → web01, web02, web03; `db-[a:c]`.
pub fn expand_host_range(pattern: &str) -> Result<Vec<String>, String> {
    let (Some(open), Some(close)) = (pattern.find('['), pattern.find(']')) else {
        return Ok(vec![pattern.to_string()]);
    };
    if close < open {
        return Err(format!("malformed host range in `{pattern}`"));
    }
    let (prefix, inner, suffix) = (&pattern[..open], &pattern[open + 1..close], &pattern[close + 1..]);
    let Some((start, end)) = inner.split_once(':') else {
        return Err(format!("host range `[{inner}]` needs `start:end`"));
    };
    let rest = expand_host_range(suffix)?;
    let mut out = Vec::new();
    if let (Ok(a), Ok(b)) = (start.parse::<u64>(), end.parse::<u64>()) {
        if a > b {
            return Err(format!("host range `[{inner}]` runs backwards"));
        }
        if b - a >= MAX_RANGE || (b - a + 1).saturating_mul(rest.len() as u64) > MAX_RANGE {
            return Err(format!("host range `[{inner}]` makes more than {MAX_RANGE} hosts"));
        }
        let width = if start.starts_with('0') { start.len() } else { 0 };
        for n in a..=b {
            for r in &rest {
                out.push(format!("{prefix}{n:0width$}{r}"));
            }
        }
    } else if start.len() == 1 && end.len() == 1 {
        let (a, b) = (start.as_bytes()[0], end.as_bytes()[0]);
        if a > b {
            return Err(format!("host range `[{inner}]` runs backwards"));
        }
        for c in a..=b {
            for r in &rest {
                out.push(format!("{prefix}{}{r}", c as char));
            }
        }
    } else {
        return Err(format!("host range `[{inner}]` must be numbers or single letters"));
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// A real-world layout: nested children, group_vars as files and as a directory, host_vars.
    fn sample(dir: &Path) {
        write(
            dir,
            "hosts.yaml",
            "all:\n  vars:\n    tier: none\n    ntp: pool\n  children:\n    prod:\n      vars: { tier: prod }\n      children:\n        lb:\n          hosts:\n            lb1: { ansible_host: 10.0.0.1 }\n            lb2:\n        web:\n          hosts:\n            web[01:02]:\n              ansible_port: 2222\n    monitoring:\n      hosts:\n        mon1:\n",
        );
        write(dir, "group_vars/all.yaml", "ntp: time.example\n");
        write(dir, "group_vars/lb/main.yaml", "maxconn: 100\ntier: edge\n");
        write(dir, "group_vars/lb/zz-extra.yml", "maxconn: 200\n");
        write(dir, "host_vars/lb2.yaml", "maxconn: 300\n");
    }

    #[test]
    fn yaml_inventory_with_nested_children_and_vars_dirs() {
        let d = tempfile::tempdir().unwrap();
        sample(d.path());
        let inv = Inventory::load(d.path()).unwrap();
        assert_eq!(inv.hosts.keys().collect::<Vec<_>>(), ["lb1", "lb2", "web01", "web02", "mon1"]);
        assert_eq!(inv.group_hosts("prod"), ["lb1", "lb2", "web01", "web02"]);
        assert_eq!(inv.host_groups("lb1"), ["all", "prod", "lb"]);
        let lb1 = inv.host_vars("lb1");
        assert_eq!(lb1["ntp"], "time.example");
        assert_eq!(lb1["tier"], "edge", "child group beats parent");
        assert_eq!(lb1["maxconn"], 200, "later file in group_vars/lb/ wins");
        assert_eq!(inv.host_vars("lb2")["maxconn"], 300, "host_vars beat group_vars");
        assert_eq!(inv.host_vars("web02")["ansible_port"], 2222);
        assert_eq!(inv.host_vars("web02")["tier"], "prod");
        assert_eq!(inv.host_vars("mon1")["tier"], "none");
    }

    #[test]
    fn ini_inventory_loads_unchanged() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "hosts",
            "# comment\nbastion ansible_host=192.0.2.9\n\n[lb]\nlb1 ansible_host=10.0.0.1 ansible_port=2201\nlb2 ansible_host=10.0.0.2 note=\"two words\"\n\n[web]\nweb[1:3]\n\n[prod:children]\nlb\nweb\n\n[prod:vars]\nenv=production\nquoted=\"42\"\n",
        );
        let inv = Inventory::load(&d.path().join("hosts")).unwrap();
        assert_eq!(inv.group_hosts("prod"), ["lb1", "lb2", "web1", "web2", "web3"]);
        assert_eq!(inv.group_hosts("ungrouped"), ["bastion"]);
        let v = inv.host_vars("lb1");
        assert_eq!(v["ansible_port"], 2201);
        assert_eq!(v["env"], "production");
        assert_eq!(v["quoted"], "42");
        assert_eq!(inv.host_vars("lb2")["note"], "two words");
    }

    #[test]
    fn unknown_key_names_file_line_col() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "hosts.yaml", "all:\n  children:\n    lb:\n      hots:\n        h1:\n");
        let err = Inventory::load(d.path()).unwrap_err().to_string();
        assert!(err.contains("unknown field `hots`"), "{err}");
        assert!(err.contains("hosts.yaml:4:7"), "{err}");
    }

    #[test]
    fn patterns_union_exclude_intersect_glob() {
        let d = tempfile::tempdir().unwrap();
        sample(d.path());
        let inv = Inventory::load(d.path()).unwrap();
        assert_eq!(inv.select("lb,mon1").unwrap(), ["lb1", "lb2", "mon1"]);
        assert_eq!(inv.select("prod:!web").unwrap(), ["lb1", "lb2"]);
        assert_eq!(inv.select("prod:&web*").unwrap(), ["web01", "web02"]);
        assert_eq!(inv.select("lb?").unwrap(), ["lb1", "lb2"]);
        assert!(inv.select("nosuch").unwrap_err().contains("neither a host nor a group"));
    }

    #[test]
    fn ansible_list_json_shape() {
        let d = tempfile::tempdir().unwrap();
        sample(d.path());
        let inv = Inventory::load(d.path()).unwrap();
        let j = inv.to_ansible_json();
        assert_eq!(j["lb"]["hosts"], serde_json::json!(["lb1", "lb2"]));
        assert_eq!(j["prod"]["children"], serde_json::json!(["lb", "web"]));
        assert_eq!(j["_meta"]["hostvars"]["lb1"]["maxconn"], 200);
        assert!(j["all"]["children"].as_array().unwrap().contains(&serde_json::json!("prod")));
    }
}
