//! Undefined names are errors, wherever they are evaluated.
//!
//! Tera 2 pushes a silent "undefined" for a lone unknown name (`typo`) and
//! for a missing last field (`facts.nope`); `if`, `==`, `in`, `~` and loops
//! then read it as false or empty. Only `{{ typo }}` output fails. A typo in
//! `{{ app_dir ~ backup_sufix }}` therefore rendered `/srv/app`, and a
//! `directory: …, state: absent` deleted the live directory. Tera has no
//! strict mode and its parser is private, so this module scans the text of
//! a template or field itself, before it is rendered, and lists every name
//! and dotted path it reads; `check` then looks each one up in the context.
//!
//! What counts as defined on purpose:
//! - names bound in the same template (`set`, `set_global`, `for`, list
//!   comprehension variables), treated as local everywhere in it, and
//!   `loop`: a scan has no scopes, and a false alarm would block a good role;
//! - filter and test names (after `|` and `is`), function names (`f(`),
//!   keyword argument names (`f(name=…)`), map literal keys;
//! - a path followed by `is defined`, `is not defined`, `is undefined` or a
//!   `| default(…)` in its filter chain: the path may be missing, its parent
//!   may not. Such a guard anywhere in a template covers the same path in the
//!   whole template (`{% if x is defined %}{{ x.y }}{% endif %}`);
//! - after `?.` or `?[` (optional chaining), nothing is checked.
//!
//! What is not checked: a path past a dynamic index (`hosts[h].port` checks
//! `hosts` only); the body of a `{% component %}` (implicit parameters come
//! from the caller) and component calls (`{{ <Card … /> }}`).

use std::collections::HashSet;

/// A name or dotted path the text reads, and how much of it must exist.
#[derive(Debug, Clone, PartialEq)]
pub struct Ref {
    /// Each segment with its byte range in the scanned text.
    pub segs: Vec<(String, usize, usize)>,
    /// How many leading segments must be defined (the rest may be missing).
    pub checked: usize,
}

impl Ref {
    /// The path up to and including segment `k`, as written (`facts.nope`).
    pub fn shown(&self, k: usize) -> String {
        self.segs[..=k].iter().map(|s| s.0.as_str()).collect::<Vec<_>>().join(".")
    }
}

/// What a scan of one template or field found.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Paths read, in text order, guards applied, locals not yet removed
    /// (an included template also sees its includer's locals).
    pub refs: Vec<Ref>,
    /// Names the text binds itself.
    pub locals: HashSet<String>,
    /// Templates named by `include` or `extends`.
    pub includes: Vec<String>,
}

/// Names that are never variables.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "for",
    "true",
    "True",
    "false",
    "False",
    "none",
    "None",
    "null",
    "loop",
    "self",
    "__tera_context",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok<'a> {
    Ident(&'a str),
    Str(&'a str),
    Num,
    Punct(&'a str),
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    tok: Tok<'a>,
    start: usize,
    end: usize,
}

/// Scans a whole template (or a templated field): text, `{{ }}`, `{% %}`, `{# #}`.
pub fn scan(src: &str) -> Scan {
    let mut s = Scanner::default();
    let mut pos = 0;
    while let Some(off) = src[pos..].find('{') {
        let at = pos + off;
        let rest = &src[at..];
        if rest.starts_with("{#") {
            pos = src[at..].find("#}").map_or(src.len(), |e| at + e + 2);
        } else if rest.starts_with("{{") || rest.starts_with("{%") {
            let tag = rest.starts_with("{%");
            let (toks, end) = lex(src, at + 2, tag);
            pos = end;
            if tag && matches!(toks.first().map(|t| t.tok), Some(Tok::Ident("raw"))) {
                pos = skip_raw(src, pos);
            } else if tag {
                s.tag(&toks);
            } else if s.component_depth == 0 {
                s.expr(&toks);
            }
        } else {
            pos = at + 1;
        }
    }
    s.finish()
}

/// Scans a bare expression (a `when:` condition).
pub fn scan_expression(src: &str) -> Scan {
    let mut s = Scanner::default();
    let (toks, _) = lex(src, 0, false);
    s.expr(&toks);
    s.finish()
}

/// Past the `{% endraw %}` that closes a raw block starting at `pos`.
fn skip_raw(src: &str, mut pos: usize) -> usize {
    while let Some(off) = src[pos..].find("{%") {
        let (toks, end) = lex(src, pos + off + 2, true);
        if matches!(toks.first().map(|t| t.tok), Some(Tok::Ident("endraw"))) {
            return end;
        }
        pos = end;
    }
    src.len()
}

/// Tokens from `start` up to the closing `}}` / `%}` (or the end of `src`),
/// and the byte after that closer. Braces of map literals nest.
fn lex(src: &str, start: usize, tag: bool) -> (Vec<Token<'_>>, usize) {
    let b = src.as_bytes();
    let close = if tag { b'%' } else { b'}' };
    let mut i = start;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    let (mut toks, mut depth) = (Vec::new(), 0usize);
    while i < b.len() {
        let c = b[i];
        let closes = |j: usize| b.get(j) == Some(&close) && b.get(j + 1) == Some(&b'}');
        if depth == 0 && (closes(i) || (c == b'-' && closes(i + 1))) {
            return (toks, i + if c == b'-' { 3 } else { 2 });
        }
        let from = i;
        let tok = if c.is_ascii_whitespace() {
            i += 1;
            continue;
        } else if c == b'"' || c == b'\'' || c == b'`' {
            i += 1;
            while i < b.len() && b[i] != c {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
            Tok::Str(&src[from + 1..i.saturating_sub(1).max(from + 1)])
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            Tok::Ident(&src[from..i])
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                i += 1;
            }
            Tok::Num
        } else {
            let p = ["...", "?.", "?[", "==", "!=", "<=", ">=", "//", "**"]
                .into_iter()
                .find(|p| src[i..].starts_with(p))
                .unwrap_or_else(|| src[i..].chars().next().map_or("", |ch| &src[i..i + ch.len_utf8()]));
            i += p.len().max(1);
            match p {
                "{" => depth += 1,
                "}" => depth = depth.saturating_sub(1),
                _ => {}
            }
            Tok::Punct(p)
        };
        toks.push(Token { tok, start: from, end: i });
    }
    (toks, b.len())
}

#[derive(Default)]
struct Scanner {
    refs: Vec<Ref>,
    locals: HashSet<String>,
    includes: Vec<String>,
    /// Paths guarded somewhere (`x.y is defined`), joined with dots.
    guards: HashSet<String>,
    component_depth: usize,
}

impl Scanner {
    fn tag(&mut self, toks: &[Token]) {
        let Some(Tok::Ident(kw)) = toks.first().map(|t| t.tok) else { return };
        match kw {
            "component" => self.component_depth += 1,
            "endcomponent" => self.component_depth = self.component_depth.saturating_sub(1),
            _ if self.component_depth > 0 => {}
            "set" | "set_global" => {
                if let Some(Tok::Ident(name)) = toks.get(1).map(|t| t.tok) {
                    self.locals.insert(name.to_string());
                }
                self.expr(toks.get(3..).unwrap_or_default());
            }
            "for" => {
                let at_in = toks.iter().position(|t| t.tok == Tok::Ident("in")).unwrap_or(toks.len());
                self.bind(&toks[1..at_in]);
                self.expr(toks.get(at_in + 1..).unwrap_or_default());
            }
            "if" | "elif" => self.expr(&toks[1..]),
            // `{% filter upper(…) %}`: a filter name, then its arguments.
            "filter" => self.expr(toks.get(2..).unwrap_or_default()),
            "include" | "extends" => self.includes.extend(toks.iter().filter_map(|t| match t.tok {
                Tok::Str(s) => Some(s.to_string()),
                _ => None,
            })),
            _ => {}
        }
    }

    /// Loop variables (`k, v`) become locals.
    fn bind(&mut self, toks: &[Token]) {
        for t in toks {
            if let Tok::Ident(name) = t.tok {
                self.locals.insert(name.to_string());
            }
        }
    }

    fn expr(&mut self, toks: &[Token]) {
        // `{{ <Card … /> }}`: a component call; its attributes are not variables.
        if matches!(toks.first().map(|t| t.tok), Some(Tok::Punct("<"))) {
            return;
        }
        let mut open: Vec<&str> = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let tok = |k: usize| toks.get(k).map(|t| t.tok);
            match toks[i].tok {
                Tok::Punct(p @ ("(" | "[" | "?[" | "{")) => open.push(p),
                Tok::Punct(")" | "]" | "}") => {
                    open.pop();
                }
                Tok::Ident("for") => {
                    // `[x for x in xs]`: the names up to `in` are bound.
                    let at_in = (i..toks.len()).find(|&k| tok(k) == Some(Tok::Ident("in"))).unwrap_or(toks.len());
                    self.bind(&toks[i + 1..at_in]);
                }
                Tok::Ident(name) if !self.is_variable(name, i, toks, open.last().copied()) => {}
                Tok::Ident(_) => {
                    i = self.path(toks, i);
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }

    /// Whether the identifier at `i` reads a variable rather than naming a
    /// filter, test, function, keyword argument or map key.
    fn is_variable(&self, name: &str, i: usize, toks: &[Token], inner: Option<&str>) -> bool {
        let tok = |k: usize| toks.get(k).map(|t| t.tok);
        let prev = i.checked_sub(1).and_then(tok);
        let after_is_not = prev == Some(Tok::Ident("not")) && i >= 2 && tok(i - 2) == Some(Tok::Ident("is"));
        !(KEYWORDS.contains(&name)
            || matches!(prev, Some(Tok::Punct("|" | "." | "?.") | Tok::Ident("is")))
            || after_is_not
            || matches!(tok(i + 1), Some(Tok::Punct("(" | "=")))
            || (tok(i + 1) == Some(Tok::Punct(":")) && inner == Some("{")))
    }

    /// Records the path starting at `i`; returns the index just past it.
    fn path(&mut self, toks: &[Token], i: usize) -> usize {
        let tok = |k: usize| toks.get(k).map(|t| t.tok);
        let seg = |t: &Token, s: &str| (s.to_string(), t.start, t.end);
        let Tok::Ident(root) = toks[i].tok else { return i + 1 };
        let mut segs = vec![seg(&toks[i], root)];
        let mut checked = None;
        let mut j = i + 1;
        loop {
            match (tok(j), tok(j + 1), tok(j + 2)) {
                (Some(Tok::Punct(".")), Some(Tok::Ident(a)), _) => segs.push(seg(&toks[j + 1], a)),
                (Some(Tok::Punct("?.")), Some(Tok::Ident(a)), _) => {
                    checked.get_or_insert(segs.len() - 1);
                    segs.push(seg(&toks[j + 1], a));
                }
                (Some(Tok::Punct("[")), Some(Tok::Str(a)), Some(Tok::Punct("]"))) if !a.contains('.') => {
                    segs.push(seg(&toks[j + 1], a));
                    j += 3;
                    continue;
                }
                (Some(Tok::Punct("?[")), ..) => {
                    checked.get_or_insert(segs.len() - 1);
                    break;
                }
                _ => break,
            }
            j += 2;
        }
        let shown = segs.iter().map(|s| s.0.as_str()).collect::<Vec<_>>().join(".");
        let mut checked = checked.unwrap_or(segs.len());
        if guarded(toks, j) {
            self.guards.insert(shown);
            checked = checked.min(segs.len() - 1);
        }
        self.refs.push(Ref { segs, checked });
        j
    }

    fn finish(self) -> Scan {
        let guards = self.guards;
        let refs = self
            .refs
            .into_iter()
            .map(|mut r| {
                // A guard on `x` or `x.y` elsewhere lets this `x.y.z` be missing from there on.
                let mut prefix = String::new();
                for (k, (s, ..)) in r.segs.iter().enumerate() {
                    prefix = if k == 0 { s.clone() } else { format!("{prefix}.{s}") };
                    if guards.contains(&prefix) {
                        r.checked = r.checked.min(k);
                        break;
                    }
                }
                r
            })
            .filter(|r| r.checked > 0)
            .collect();
        Scan { refs, locals: self.locals, includes: self.includes }
    }
}

/// Whether the path ending before `j` is tested for definedness or given a default.
fn guarded(toks: &[Token], mut j: usize) -> bool {
    let tok = |k: usize| toks.get(k).map(|t| t.tok);
    let definedness = |k: usize| matches!(tok(k), Some(Tok::Ident("defined" | "undefined")));
    if tok(j) == Some(Tok::Ident("is")) {
        return definedness(j + 1) || (tok(j + 1) == Some(Tok::Ident("not")) && definedness(j + 2));
    }
    // `x | trim | default("")`: a default anywhere in the filter chain.
    while tok(j) == Some(Tok::Punct("|")) {
        let Some(Tok::Ident(f)) = tok(j + 1) else { return false };
        if f == "default" {
            return true;
        }
        j += 2;
        if tok(j) == Some(Tok::Punct("(")) {
            let mut depth = 0;
            while let Some(t) = tok(j) {
                depth += match t {
                    Tok::Punct("(" | "[" | "{") => 1,
                    Tok::Punct(")" | "]" | "}") => -1,
                    _ => 0,
                };
                j += 1;
                if depth == 0 {
                    break;
                }
            }
        }
    }
    false
}

/// The closest of `names` to `typo`, if close enough to be a slip (edit distance ≤ 2).
pub fn suggest<'a>(typo: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = if typo.chars().count() <= 3 { 1 } else { 2 };
    names
        .into_iter()
        .filter(|n| *n != typo)
        .map(|n| (strsim::levenshtein(typo, n), n))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, n)| n)
}
