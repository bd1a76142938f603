//! The layout rules of `src/`, checked on every test run so they stay true:
//! every file opens with a `//!` doc, no module imports itself round a
//! cycle, no function runs past 80 lines, and no file holds more than 500
//! lines of code (tests excepted) unless its doc says why.

use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/`, by module path (`project::inventory`).
fn modules() -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(&src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                parts.pop();
            }
            (parts.join("::"), f)
        })
        .collect()
}

/// The code before the file's tests, without comments and string literals.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    let strings = Regex::new(r###"r#*"(?s:.*?)"#*|"(?:\\.|[^"\\])*""###).unwrap();
    let comments = Regex::new(r"(?m)//.*$").unwrap();
    comments.replace_all(&strings.replace_all(text, "\"\""), "").into_owned()
}

/// The modules `name` refers to: `crate::a::b`, `super::x`, and its own children (`child::x`).
fn edges(name: &str, code: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let longest = |path: &str| {
        let parts: Vec<&str> = path.split("::").collect();
        (1..=parts.len()).rev().map(|n| parts[..n].join("::")).find(|m| known.contains(m))
    };
    let parent = name.rsplit_once("::").map_or("", |(p, _)| p);
    let mut out = BTreeSet::new();
    for c in Regex::new(r"\b(crate|super|self)::((?:\w+::)*\w+)").unwrap().captures_iter(code) {
        let base = match &c[1] {
            "crate" => String::new(),
            "super" => parent.to_string(),
            _ => name.to_string(),
        };
        let full = if base.is_empty() { c[2].to_string() } else { format!("{base}::{}", &c[2]) };
        out.extend(longest(&full));
    }
    // `use crate::x::{a, b::c}` names modules inside the braces too.
    for c in Regex::new(r"\b(crate|super)::((?:\w+::)*)\{([^}]*)\}").unwrap().captures_iter(code) {
        let base = if &c[1] == "crate" { String::new() } else { format!("{parent}::") };
        for item in c[3].split(',').map(str::trim).filter(|i| !i.is_empty()) {
            out.extend(longest(format!("{base}{}{item}", &c[2]).trim_start_matches("::")));
        }
    }
    for c in Regex::new(r"\b(\w+)::").unwrap().captures_iter(code) {
        let child = if name.is_empty() { c[1].to_string() } else { format!("{name}::{}", &c[1]) };
        if known.contains(&child) {
            out.insert(child);
        }
    }
    out.remove(name);
    out
}

/// Strongly connected groups of more than one module (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        for w in t.g[v].iter().map(String::as_str) {
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                t.low.entry(v).and_modify(|l| *l = (*l).min(lw));
            } else if t.stack.contains(&w) {
                let iw = t.index[w];
                t.low.entry(v).and_modify(|l| *l = (*l).min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let at = t.stack.iter().position(|x| *x == v).unwrap();
            let group: Vec<String> = t.stack.drain(at..).map(str::to_string).collect();
            if group.len() > 1 {
                t.found.push(group);
            }
        }
    }
    let mut t = T { g: graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: vec![], found: vec![] };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.found
}

#[test]
fn no_module_imports_itself_round_a_cycle() {
    let mods = modules();
    let known: BTreeSet<String> = mods.keys().cloned().collect();
    let graph: BTreeMap<String, BTreeSet<String>> = mods
        .iter()
        .map(|(name, f)| (name.clone(), edges(name, &code(&std::fs::read_to_string(f).unwrap()), &known)))
        .collect();
    assert!(graph["project::inventory"].contains("project::inventory::vagrant"), "the scan sees child modules");
    assert!(graph["engine"].contains("schedule"), "the scan sees crate:: paths");
    assert_eq!(cycles(&graph), Vec::<Vec<String>>::new(), "modules that import each other, round a cycle");
}

#[test]
fn files_open_with_a_doc_and_stay_small() {
    let long_fn = Regex::new(r"^(\s*)(pub(\([a-z]+\))? )?(async )?fn (\w+)").unwrap();
    let mut problems = Vec::new();
    for (name, f) in modules() {
        let text = std::fs::read_to_string(&f).unwrap();
        let shown = f.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap().display().to_string();
        if !text.starts_with("//!") {
            problems.push(format!("{shown}: no //! doc at the top"));
        }
        let body = text.split("#[cfg(test)]").next().unwrap_or("");
        let says_why = text.lines().take_while(|l| l.starts_with("//!")).any(|l| l.contains("500 lines"));
        if body.lines().count() > 500 && !says_why {
            problems.push(format!("{shown} ({name}): {} lines of code and no word on why", body.lines().count()));
        }
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            if let Some(c) = long_fn.captures(lines[i]).filter(|_| !lines[i].trim_end().ends_with(';')) {
                let close = format!("{}}}", &c[1]);
                let end = (i + 1..lines.len()).find(|j| lines[*j] == close).unwrap_or(i);
                if end - i > 80 {
                    problems.push(format!("{shown}:{}: fn {} runs {} lines", i + 1, &c[5], end - i));
                }
                i = end;
            }
            i += 1;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
