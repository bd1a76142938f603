//! Lazy rendering of vars, as Ansible does: a `{{ }}` or `{% %}` inside a
//! var's value (strings nested in lists and maps too) is rendered per host,
//! with that host's final merged vars as context, so it may read any other
//! var of the host (whatever its precedence level), `facts`, `groups`,
//! `hosts`/`hostvars` and `inventory_hostname`.
//!
//! Each host's templated vars are resolved to a fixed point: a depth-first
//! walk renders a var after the templated vars it names, each once, and a
//! var met again while its own render is under way is a cycle, reported
//! with its path (`a → b → a`). Only the vars the host's run reads are
//! rendered (see `usage`); the others stay as written. A var whose whole
//! value is one expression (`"{{ ports }}"`) takes the type of what it
//! evaluates to. Vars that read `facts` wait for the probe, and vars that
//! read other hosts wait for their vars (see `Round`). Each var renders in
//! the dialect of the file that defined it (`Layers::dialects`), whoever
//! reads it: a Tera role may read a var written in Jinja2, and the reverse.

use crate::project::source::Vars;
use crate::template::{Dialect, RenderError, Renderer};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

/// Whether a value holds a template anywhere.
pub fn templated(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{") || s.contains("{%"),
        Value::Array(a) => a.iter().any(templated),
        Value::Object(m) => m.values().any(templated),
        _ => false,
    }
}

/// A value as one text, to look for the names it reads.
pub fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => serde_json::to_string(v).unwrap_or_default(),
    }
}

/// The names `text` may read as variables: identifiers not right after a `.`
/// (`app.port` reads `app`, not `port`). A superset: words in string
/// literals count too, which at worst orders a render before another.
pub fn reads(text: &str) -> HashSet<&str> {
    let mut out = HashSet::new();
    let mut after_dot = false;
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        if c.is_ascii_alphanumeric() || c == '_' {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            let word = &text[s..i];
            if !after_dot && !word.starts_with(|c: char| c.is_ascii_digit()) {
                out.insert(word);
            }
            after_dot = false;
        }
        if !c.is_whitespace() {
            after_dot = c == '.';
        }
    }
    out
}

/// Why a var of a host cannot be rendered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VarError {
    #[error("cycle: {}", .0.join(" → "))]
    Cycle(Vec<String>),
    #[error("{0}")]
    Render(RenderError),
    /// It reads another var that cannot be rendered.
    #[error("it reads `{var}`: {source}")]
    Reads { var: String, source: Box<VarError> },
}

/// What one pass over one host may read besides the host's own vars.
#[derive(Clone, Copy)]
pub struct Round<'a> {
    pub renderer: &'a Renderer,
    /// The host's facts; `None` before the probe: vars that read `facts` wait.
    pub facts: Option<&'a Value>,
    /// Whether `hosts`/`hostvars` hold the other hosts' rendered vars yet:
    /// until then, vars that read them wait.
    pub hosts_ready: bool,
    /// `hosts`/`hostvars` for this pass, when the renderer's globals are not them (the sealed pass).
    pub hosts: Option<&'a Value>,
    /// The sealed pass (see `secret::SEALED_FLAG`).
    pub sealed: bool,
    /// What the hosts of one pass share (a group var is the same text on each).
    pub cache: &'a RefCell<Cache>,
}

/// Renders and scans shared by the hosts of one pass: a var whose text and
/// whose inputs are the same on two hosts renders once. Keyed by the var,
/// its text and the values of the names it reads; globals are the same for
/// the whole pass, and what reads facts is not cached.
#[derive(Debug, Default)]
pub struct Cache {
    reads: HashMap<String, Vec<String>>,
    renders: HashMap<String, Result<Value, RenderError>>,
}

impl Cache {
    /// The names `text` reads, scanned once per pass.
    fn reads(&mut self, text: &str) -> Vec<String> {
        if let Some(r) = self.reads.get(text) {
            return r.clone();
        }
        let mut r: Vec<String> = reads(text).into_iter().map(String::from).collect();
        r.sort();
        self.reads.insert(text.to_string(), r.clone());
        r
    }
}

/// A host's vars after a pass.
#[derive(Debug, Default)]
pub struct Resolved {
    /// The vars, rendered where read; a var that failed or waits is left out.
    pub vars: Vars,
    pub failed: Vec<(String, VarError)>,
    /// Read `facts`, not known yet.
    pub later: Vec<String>,
    /// Some var waits for other hosts' vars (`hosts_ready`).
    pub waits_for_hosts: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Busy,
    Done,
    Failed(VarError),
    /// Waits for facts (`true`) or other hosts (`false`).
    Waits(bool),
}

/// The dialect of each templated var (`Layers::dialects`); one not named is Tera.
pub type Dialects = HashMap<String, Dialect>;

/// Renders the templated vars of `raw` that `used` says are read, each in its dialect.
pub fn resolve(raw: &Vars, dialects: &Dialects, round: Round, used: impl Fn(&str) -> bool) -> Resolved {
    let mut texts: HashMap<&str, (String, Vec<String>)> = HashMap::new();
    for (k, v) in raw.iter().filter(|(_, v)| templated(v)) {
        let text = text_of(v);
        let reads = round.cache.borrow_mut().reads(&text);
        texts.insert(k.as_str(), (text, reads));
    }
    if texts.is_empty() {
        return Resolved { vars: raw.clone(), ..Resolved::default() };
    }
    // Only what the templated vars read: a host has many vars, its templates few names.
    let read: HashSet<&str> = texts.values().flat_map(|(_, r)| r.iter().map(String::as_str)).collect();
    let mut ctx = globals(round);
    for (k, v) in raw.iter().filter(|(k, _)| read.contains(k.as_str()) && !texts.contains_key(k.as_str())) {
        ctx.insert(k.clone(), v);
    }
    let mut walk =
        Walk { raw, dialects, texts: &texts, round, ctx, state: HashMap::new(), stack: Vec::new(), out: raw.clone() };
    for name in raw.keys().filter(|k| texts.contains_key(k.as_str())) {
        if used(name) {
            walk.visit(name);
        }
    }
    let mut r = Resolved::default();
    for name in raw.keys() {
        match walk.state.remove(name.as_str()) {
            Some(State::Failed(e)) => r.failed.push((name.clone(), e)),
            Some(State::Waits(facts)) => {
                r.waits_for_hosts |= !facts;
                if facts {
                    r.later.push(name.clone());
                }
            }
            _ => continue,
        }
        walk.out.shift_remove(name);
    }
    r.vars = walk.out;
    r
}

/// A context with what every var of the pass may read besides the host's vars.
fn globals(round: Round) -> tera::Context {
    let mut ctx = tera::Context::new();
    if let Some(f) = round.facts {
        ctx.insert("facts", f);
        ctx.insert("ansible_facts", &crate::project::ansible_facts::view(f));
    }
    if let Some(h) = round.hosts {
        ctx.insert("hosts", h);
        ctx.insert("hostvars", h);
    }
    ctx.insert(crate::secret::SEALED_FLAG, &round.sealed);
    ctx
}

struct Walk<'a> {
    raw: &'a Vars,
    dialects: &'a Dialects,
    /// Each templated var's text and the names it reads.
    texts: &'a HashMap<&'a str, (String, Vec<String>)>,
    round: Round<'a>,
    ctx: tera::Context,
    state: HashMap<&'a str, State>,
    stack: Vec<&'a str>,
    out: Vars,
}

impl<'a> Walk<'a> {
    fn visit(&mut self, name: &'a str) {
        if self.state.contains_key(name) {
            return;
        }
        self.state.insert(name, State::Busy);
        self.stack.push(name);
        let state = self.render(name);
        self.stack.pop();
        self.state.insert(name, state);
    }

    fn render(&mut self, name: &'a str) -> State {
        let texts = self.texts;
        let (text, reads) = &texts[name];
        let has = |n: &str| reads.iter().any(|r| r == n);
        let facts = has("facts") || has("ansible_facts");
        if self.round.facts.is_none() && facts {
            return State::Waits(true);
        }
        if !self.round.hosts_ready && (has("hosts") || has("hostvars")) {
            return State::Waits(false);
        }
        // In the order of the host's vars, so a cycle is found from the same end every time.
        let deps: Vec<&'a str> =
            self.raw.keys().map(String::as_str).filter(|d| texts.contains_key(d) && has(d)).collect();
        for d in deps {
            if self.state.get(d) == Some(&State::Busy) {
                let from = self.stack.iter().position(|s| *s == d).unwrap_or(0);
                let path = self.stack[from..].iter().chain([&d]).map(|s| s.to_string()).collect();
                return State::Failed(VarError::Cycle(path));
            }
            self.visit(d);
            match self.state.get(d) {
                Some(State::Failed(VarError::Cycle(p))) => return State::Failed(VarError::Cycle(p.clone())),
                Some(State::Failed(e)) => {
                    return State::Failed(VarError::Reads { var: d.to_string(), source: Box::new(e.clone()) })
                }
                Some(State::Waits(f)) => return State::Waits(*f),
                _ => {}
            }
        }
        let key = (!facts).then(|| self.key(name, text, reads));
        let cached = key.as_ref().and_then(|k| self.round.cache.borrow().renders.get(k).cloned());
        let rendered = match cached {
            Some(r) => r,
            None => {
                let dialect = self.dialect(name);
                let r = render_value(self.round.renderer, dialect, &self.raw[name], &self.ctx, name);
                if let Some(k) = key {
                    self.round.cache.borrow_mut().renders.insert(k, r.clone());
                }
                r
            }
        };
        match rendered {
            Ok(v) => {
                self.ctx.insert(name.to_string(), &v);
                self.out.insert(name.to_string(), v);
                State::Done
            }
            Err(_) => State::Failed(VarError::Render(self.explain(name))),
        }
    }

    fn dialect(&self, name: &str) -> Dialect {
        self.dialects.get(name).copied().unwrap_or_default()
    }

    /// The var, its dialect, its text and the value of every name it reads on this host.
    fn key(&self, name: &str, text: &str, reads: &[String]) -> String {
        let mut key = format!("{name}\0{:?}\0{text}", self.dialect(name));
        for r in reads {
            if let Some(v) = self.out.get(r) {
                key.push_str(&format!("\0{r}={v}"));
            }
        }
        key
    }

    /// The error of a var rendered against every var of the host (not only
    /// those it reads), so the message can suggest the name meant.
    fn explain(&self, name: &str) -> RenderError {
        let mut ctx = globals(self.round);
        for (k, v) in self
            .out
            .iter()
            .filter(|(k, _)| !self.texts.contains_key(k.as_str()) || self.state.get(k.as_str()) == Some(&State::Done))
        {
            ctx.insert(k.clone(), v);
        }
        match render_value(self.round.renderer, self.dialect(name), &self.raw[name], &ctx, name) {
            Err(e) => e,
            Ok(_) => RenderError::Template(format!("var `{name}` renders only with every var in view")),
        }
    }
}

/// Renders every string inside a var's value in `dialect`; `label` names it
/// in errors. A whole-value expression keeps the type of its result.
fn render_value(
    r: &Renderer,
    dialect: Dialect,
    v: &Value,
    ctx: &tera::Context,
    label: &str,
) -> Result<Value, RenderError> {
    Ok(match v {
        Value::String(s) => r.render_native_in(dialect, s, ctx, label)?,
        Value::Array(a) => {
            let items = a.iter().enumerate().map(|(i, x)| render_value(r, dialect, x, ctx, &format!("{label}[{i}]")));
            Value::Array(items.collect::<Result<_, _>>()?)
        }
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, x) in m {
                out.insert(k.clone(), render_value(r, dialect, x, ctx, &format!("{label}.{k}"))?);
            }
            Value::Object(out)
        }
        v => v.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(vars: Value, facts: Option<&Value>, used: &[&str]) -> Resolved {
        let d = tempfile::tempdir().unwrap();
        let renderer = Renderer::new(d.path(), [], None).unwrap();
        let cache = RefCell::new(Cache::default());
        let round = Round { renderer: &renderer, facts, hosts_ready: true, hosts: None, sealed: false, cache: &cache };
        let raw = vars.as_object().unwrap().clone();
        resolve(&raw, &Dialects::new(), round, |v| used.is_empty() || used.contains(&v))
    }

    #[test]
    fn a_chain_renders_in_the_order_it_reads() {
        let r = run(
            json!({"a": "{{ b }}-x", "b": "{{ c }}.{{ inventory_hostname }}", "c": 1, "inventory_hostname": "h1"}),
            None,
            &[],
        );
        assert!(r.failed.is_empty(), "{:?}", r.failed);
        assert_eq!(r.vars["a"], "1.h1-x");
        assert_eq!(r.vars["b"], "1.h1");
    }

    #[test]
    fn a_whole_expression_keeps_its_type() {
        let vars = json!({
            "base": [80, 443], "ports": "{{ base }}", "n": "{{ 2 + 3 }}", "on": "{{ n > 4 }}",
            "text": "{{ n }} ports", "nested": {"list": ["{{ n }}", "p{{ n }}"]}, "name": "{{ 'yes' }}"
        });
        let r = run(vars, None, &[]);
        assert_eq!(r.vars["ports"], json!([80, 443]));
        assert_eq!(r.vars["n"], json!(5));
        assert_eq!(r.vars["on"], json!(true));
        assert_eq!(r.vars["text"], json!("5 ports"));
        assert_eq!(r.vars["nested"], json!({"list": [5, "p5"]}));
        assert_eq!(r.vars["name"], json!("yes"), "a string stays a string");
    }

    #[test]
    fn a_cycle_is_an_error_with_its_path() {
        let r = run(json!({"a": "{{ b }}", "b": "{{ c }}", "c": "{{ a }}", "d": "{{ d }}"}), None, &[]);
        let errors: HashMap<&str, String> = r.failed.iter().map(|(k, e)| (k.as_str(), e.to_string())).collect();
        assert_eq!(errors["a"], "cycle: a → b → c → a");
        assert_eq!(errors["d"], "cycle: d → d");
        assert!(!r.vars.contains_key("a") && !r.vars.contains_key("d"));
    }

    #[test]
    fn a_field_of_a_var_is_not_a_read_of_a_var_of_that_name() {
        let r = run(json!({"app": {"port": 80}, "port": "{{ app.port }}"}), None, &[]);
        assert!(r.failed.is_empty(), "{:?}", r.failed);
        assert_eq!(r.vars["port"], json!(80));
    }

    #[test]
    fn an_undefined_name_fails_only_a_var_that_is_read() {
        let r = run(
            json!({"unused": "{{ nope }}", "used": "x{{ typo }}", "ok": "{{ 1 }}", "typ": 1}),
            None,
            &["used", "ok"],
        );
        assert_eq!(r.vars["unused"], "{{ nope }}", "never rendered: left as written");
        assert_eq!(r.failed.len(), 1);
        let (var, e) = &r.failed[0];
        let e = e.to_string();
        assert_eq!(var, "used");
        assert!(
            e.contains("Variable `typo` is not defined (did you mean `typ`?)") && e.contains(" --> used:1:5"),
            "{e}"
        );
    }

    #[test]
    fn a_var_reading_a_broken_var_says_so() {
        let r = run(json!({"a": "{{ b }}", "b": "{{ nope }}"}), None, &[]);
        let a = r.failed.iter().find(|(k, _)| k == "a").unwrap().1.to_string();
        assert!(a.starts_with("it reads `b`: Variable `nope` is not defined"), "{a}");
    }

    #[test]
    fn vars_that_read_facts_wait_for_the_probe() {
        let vars = json!({"name": "{{ facts.hostname }}-x", "other": "{{ name }}!", "plain": "{{ 1 + 1 }}"});
        let before = run(vars.clone(), None, &[]);
        assert_eq!(before.later, ["name", "other"]);
        assert!(before.failed.is_empty() && !before.vars.contains_key("name") && !before.vars.contains_key("other"));
        assert_eq!(before.vars["plain"], json!(2));
        let facts = json!({"hostname": "h1"});
        let after = run(vars, Some(&facts), &[]);
        assert!(after.later.is_empty() && after.failed.is_empty());
        assert_eq!(after.vars["other"], "h1-x!");
    }

    #[test]
    fn vars_that_read_other_hosts_wait_for_their_vars() {
        let d = tempfile::tempdir().unwrap();
        let renderer = Renderer::new(d.path(), [], None).unwrap();
        let cache = RefCell::new(Cache::default());
        let raw = json!({"peer": "{{ hostvars['h2'].ip }}", "ip": "10.0.0.1"}).as_object().unwrap().clone();
        let round =
            Round { renderer: &renderer, facts: None, hosts_ready: false, hosts: None, sealed: false, cache: &cache };
        let first = resolve(&raw, &Dialects::new(), round, |_| true);
        assert!(first.waits_for_hosts && !first.vars.contains_key("peer"));
        let hosts = json!({"h2": {"ip": "10.0.0.2"}});
        let round = Round { hosts_ready: true, hosts: Some(&hosts), ..round };
        assert_eq!(resolve(&raw, &Dialects::new(), round, |_| true).vars["peer"], "10.0.0.2");
    }

    #[test]
    fn each_var_renders_in_the_dialect_of_its_file() {
        let vars = json!({
            "j": "{{ t | default('none') }}-{{ m.items() | list | length }}", "on": "{{ 'yes' | bool }}",
            "t": "{{ n | default(value=1) + 1 }}", "n": 1, "m": {"a": 1}
        });
        let d = tempfile::tempdir().unwrap();
        let renderer = Renderer::new(d.path(), [], None).unwrap();
        let cache = RefCell::new(Cache::default());
        let round =
            Round { renderer: &renderer, facts: None, hosts_ready: true, hosts: None, sealed: false, cache: &cache };
        let raw = vars.as_object().unwrap().clone();
        let dialects = [("j", Dialect::Jinja), ("on", Dialect::Jinja), ("t", Dialect::Tera)];
        let dialects: Dialects = dialects.into_iter().map(|(k, d)| (k.to_string(), d)).collect();
        let r = resolve(&raw, &dialects, round, |_| true);
        assert!(r.failed.is_empty(), "{:?}", r.failed);
        assert_eq!((&r.vars["j"], &r.vars["on"], &r.vars["t"]), (&json!("2-1"), &json!(true), &json!(2)));
        // The same texts in the other dialect do not parse there: the dialect is the file's, not a guess.
        let swapped = Dialects::new();
        let cache = RefCell::new(Cache::default());
        let r = resolve(&raw, &swapped, Round { cache: &cache, ..round }, |_| true);
        let failed: Vec<&str> = r.failed.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(failed, ["j", "on"]);
    }

    #[test]
    fn reads_skips_fields_and_numbers() {
        let mut r: Vec<&str> = reads("{{ a.b ~ c[0] ~ d . e | f(x=1) }} 2x").into_iter().collect();
        r.sort();
        assert_eq!(r, ["a", "c", "d", "f", "x"]);
    }
}
