//! Templates for config files, in two dialects chosen by the file's name:
//! `.j2` renders as Ansible renders Jinja2 (see `jinja`), anything else with
//! Tera; an expression outside a template file is evaluated in the dialect
//! of the file it is written in (`Dialect`, chosen by its caller).
//! Autoescape off; undefined variables are errors naming template, line and
//! variable. Role templates are registered under their path
//! (`roles/web/templates/index.html.tera`) so errors point at the real file;
//! shared partials in `templates/` are found by bare name.

mod ansible;
mod ansible_data;
mod jinja;
mod pydump;
mod pyyaml;
mod render_error;
mod strict;

use crate::error::{Error, Result};
use render_error::position;
pub use render_error::{FieldReport, RenderError};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
pub use strict::suggest;
use strict::{Ref, Scan};
use tera::{Context, Kwargs, State, Tera};

/// The template language an expression or file is written in: a role's
/// `dialect:` key (`tera`, the default, or `jinja`) reads as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    #[default]
    Tera,
    /// Jinja2 as Ansible configures it.
    Jinja,
}

impl Dialect {
    /// The dialect of a template file, by its name: `.j2` is Jinja.
    pub fn of_file(name: &str) -> Dialect {
        if name.ends_with(".j2") {
            Dialect::Jinja
        } else {
            Dialect::Tera
        }
    }
}

pub struct Renderer {
    tera: Tera,
    /// Every `.j2` template, and the engine for Jinja fields.
    jinja: jinja::Jinja,
    /// Each template's text and the names it reads, scanned once at load
    /// (see `strict`): Tera lets an undefined name through as false or empty.
    scans: HashMap<String, (String, Scan)>,
    /// What `set_global` added, for looking names up before a render.
    globals: Context,
    /// Some template names `facts` (see `mentions`).
    pub templates_use_facts: bool,
    /// Some template calls `generated(…)`: the project has secrets even
    /// before the first value is made.
    pub templates_use_generated: bool,
}

/// Whether `text` has `word` as a whole identifier (so `artifacts` is not `facts`).
/// Used to gather facts only for projects that can read them: a false
/// positive costs a few ms per host, never a wrong result.
pub fn mentions(text: &str, word: &str) -> bool {
    crate::error::find_word(text, word, |c| c.is_ascii_alphanumeric() || c == '_').is_some()
}

/// Tera's report starts with its own `error: `; ours already says so.
fn tidy(e: tera::Error) -> String {
    let s = e.to_string();
    cut_long_lines(s.strip_prefix("error: ").unwrap_or(&s))
}

/// Tera's report quotes the template line at fault whole, however long:
/// cut it around the carets as `error::excerpt` does for ours, and cut any
/// other overlong line (a message quoting a value) in the middle.
fn cut_long_lines(report: &str) -> String {
    let lines: Vec<&str> = report.split('\n').collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        if let Some([shown, carets]) = lines.get(i + 1).and_then(|next| cut_quoted(lines[i], next)) {
            out.extend([shown, carets]);
            i += 2;
            continue;
        }
        out.push(crate::error::clip(lines[i]).into_owned());
        i += 1;
    }
    out.join("\n")
}

/// `N | text` and the caret line under it (`  |    ^^^`), cut to the part at fault;
/// `None` when the two lines are not that or need no cut.
fn cut_quoted(quoted: &str, under: &str) -> Option<[String; 2]> {
    let (number, text) = quoted.split_once(" | ")?;
    let (gutter, marks) = under.split_once(" | ")?;
    let indent = marks.len() - marks.trim_start_matches(' ').len();
    let carets = marks[indent..].len();
    let fits = text.chars().count() <= crate::error::SHOWN_WIDTH;
    if fits || number.trim().parse::<usize>().is_err() || !gutter.trim().is_empty() || carets == 0 {
        return None;
    }
    if marks[indent..].chars().any(|c| c != '^') {
        return None;
    }
    let (shown, at) = crate::error::excerpt(text, indent + 1);
    let carets = carets.clamp(1, (shown.chars().count() + 1).saturating_sub(at).max(1));
    Some([format!("{number} | {shown}"), format!("{gutter} | {}{}", " ".repeat(at - 1), "^".repeat(carets))])
}

/// `{{ path | quote }}`: one POSIX sh word, whatever the value holds, for
/// `cmd`, `unless`, `validate` and health checks.
fn sh_quote(v: tera::Value, _: Kwargs, _: &State) -> String {
    match v.as_str() {
        Some(s) => crate::shell::quote(s),
        None => crate::shell::quote(&v.to_string()),
    }
}

fn to_json(v: tera::Value, _: Kwargs, _: &State) -> String {
    serde_json::to_string(&v).unwrap_or_default()
}

impl Renderer {
    /// Loads shared partials under `root/templates` and every role's templates.
    /// `store` backs `generated(…)`, in memory only (see `generated::Store`);
    /// functions must exist before templates are parsed.
    pub fn new<'a>(
        root: &Path,
        role_dirs: impl IntoIterator<Item = &'a Path>,
        store: Option<std::sync::Arc<crate::generated::Store>>,
    ) -> Result<Self> {
        let mut tera = Tera::new();
        tera.autoescape_on(Vec::<&str>::new());
        tera.set_fallback_prefixes(["templates/"]).map_err(|e| Error::Template(e.to_string()))?;
        tera.register_filter("json", to_json);
        tera.register_filter("quote", sh_quote);
        let generate: Option<jinja::Generate> = store.clone().map(|store| {
            Arc::new(move |name: &str, kind: &str| store.get(name, kind).map_err(|e| e.to_string())) as jinja::Generate
        });
        if let Some(store) = store {
            tera.register_function("generated", move |kwargs: Kwargs, state: &State| -> tera::TeraResult<String> {
                let name = kwargs.must_get::<&str>("name")?;
                let kind = kwargs.get::<&str>("kind")?.unwrap_or("password");
                let value = store.get(name, kind).map_err(|e| tera::Error::message(e.to_string()))?;
                // In the sealed render (see `prepare::HostCtx`) a generated value is a secret like any other.
                match state.get::<bool>(crate::secret::SEALED_FLAG)? {
                    Some(true) => Ok(crate::secret::placeholder(&value)),
                    _ => Ok(value),
                }
            });
        }
        let mut files: Vec<(String, String)> = Vec::new();
        collect(&root.join("templates"), root, &mut files)?;
        for dir in role_dirs {
            collect(&dir.join("templates"), root, &mut files)?;
        }
        let templates_use_facts =
            files.iter().any(|(_, text)| mentions(text, "facts") || mentions(text, "ansible_facts"));
        let templates_use_generated = files.iter().any(|(_, text)| mentions(text, "generated"));
        let (j2, files): (Vec<_>, Vec<_>) =
            files.into_iter().partition(|(name, _)| Dialect::of_file(name) == Dialect::Jinja);
        let jinja = jinja::Jinja::new(&j2, generate).map_err(|e| Error::Template(e.to_string()))?;
        let scans = files.iter().map(|(name, text)| (name.clone(), (text.clone(), strict::scan(text)))).collect();
        tera.add_raw_templates(files).map_err(|e| Error::Template(tidy(e)))?;
        let globals = Context::new();
        Ok(Renderer { tera, jinja, scans, globals, templates_use_facts, templates_use_generated })
    }

    /// A variable every template sees (`groups`, `hosts`), under each of
    /// `keys` (`hosts` is also `hostvars`). Converted once per engine and
    /// shared (their values are reference counted): `hosts` is the largest.
    pub fn set_global(&mut self, keys: &[&str], v: &Value) {
        let tv = tera::Value::from_serializable(v);
        for key in keys {
            self.tera.global_context().insert_value(key.to_string(), tv.clone());
            self.globals.insert_value(key.to_string(), tv.clone());
        }
        self.jinja.set_global(keys, v);
    }

    /// The name a role template is registered under.
    pub fn name_of(root: &Path, path: &Path) -> String {
        path.strip_prefix(root).unwrap_or(path).to_string_lossy().into_owned()
    }

    /// Renders a template file in its dialect (see `Dialect::of_file`).
    pub fn render_file(&self, name: &str, ctx: &Context) -> Result<String, RenderError> {
        if Dialect::of_file(name) == Dialect::Jinja {
            return self.jinja.render_file(name, ctx).map_err(|e| self.near_name(e, ctx));
        }
        self.check_file(name, ctx)?;
        self.tera.render(name, ctx).map_err(|e| RenderError::Template(tidy(e)))
    }

    /// Renders a string field; plain strings pass through untouched.
    /// Errors name the field (`label`) and show its text.
    pub fn render_str(&self, s: &str, ctx: &Context, label: &str) -> Result<String, RenderError> {
        if !s.contains("{{") && !s.contains("{%") {
            return Ok(s.to_string());
        }
        let out = self.tera.render_str(s, ctx, false);
        self.check_parsed(&out, || strict::scan(s), s, ctx, label)?;
        out.map_err(|e| field_error(e, label, s, 0))
    }

    /// Evaluates a `when:` expression. Unlike Tera's `if`, an undefined
    /// variable is an error (`x is defined` still works): a misspelled
    /// condition must not silently skip a resource.
    pub fn eval_bool(&self, expr: &str, ctx: &Context) -> Result<bool, RenderError> {
        let out = self.tera.render_str(&format!("{{{{ {expr} }}}}"), ctx, false);
        self.check_parsed(&out, || strict::scan_expression(expr), expr, ctx, "when")?;
        out.map_err(|e| field_error(e, "when", expr, 3))?;
        let out = self
            .tera
            .render_str(&format!("{{% if {expr} %}}true{{% else %}}false{{% endif %}}"), ctx, false)
            .map_err(|e| field_error(e, "when", expr, 6))?;
        Ok(out == "true")
    }

    /// `render_str` in the given dialect.
    pub fn render_str_in(&self, dialect: Dialect, s: &str, ctx: &Context, label: &str) -> Result<String, RenderError> {
        match dialect {
            Dialect::Tera => self.render_str(s, ctx, label),
            Dialect::Jinja if !s.contains("{{") && !s.contains("{%") => Ok(s.to_string()),
            Dialect::Jinja => self.jinja.render_str(s, ctx, label).map_err(|e| self.near_name(e, ctx)),
        }
    }

    /// `eval_bool` in the given dialect.
    pub fn eval_bool_in(&self, dialect: Dialect, expr: &str, ctx: &Context) -> Result<bool, RenderError> {
        match dialect {
            Dialect::Tera => self.eval_bool(expr, ctx),
            Dialect::Jinja => self.jinja.eval_bool(expr, ctx, "when").map_err(|e| self.near_name(e, ctx)),
        }
    }

    /// `render_native` in the given dialect: a whole `{{ expression }}` keeps
    /// its value's type in Jinja too (as Ansible's native types do).
    pub fn render_native_in(
        &self,
        dialect: Dialect,
        s: &str,
        ctx: &Context,
        label: &str,
    ) -> Result<Value, RenderError> {
        match dialect {
            Dialect::Tera => self.render_native(s, ctx, label),
            Dialect::Jinja if !s.contains("{{") && !s.contains("{%") => Ok(Value::String(s.to_string())),
            Dialect::Jinja => {
                self.jinja.render_native(s, whole_expression(s), ctx, label).map_err(|e| self.near_name(e, ctx))
            }
        }
    }

    /// A Jinja report of an undefined variable, with the likely intended name.
    fn near_name(&self, e: RenderError, ctx: &Context) -> RenderError {
        let add = |message: &str| -> Option<String> {
            let name = message.strip_prefix("Variable `")?.split_once('`')?.0;
            let names = self.variable_names(ctx);
            let near = strict::suggest(name, names.iter().map(String::as_str))?;
            Some(message.replacen(" is not defined.", &format!(" is not defined (did you mean `{near}`?)."), 1))
        };
        match e {
            RenderError::Template(s) => RenderError::Template(add(&s).unwrap_or(s)),
            RenderError::Field(mut f) => {
                f.message = add(&f.message).unwrap_or(f.message);
                RenderError::Field(f)
            }
        }
    }

    /// Renders a field keeping the type of its value when the field's whole
    /// text is one `{{ expression }}` (a list var given to a list field is
    /// that list, a bool a bool); any other text renders to a string.
    pub fn render_native(&self, s: &str, ctx: &Context, label: &str) -> Result<Value, RenderError> {
        let text = self.render_str(s, ctx, label)?;
        let Some(expr) = whole_expression(s) else { return Ok(Value::String(text)) };
        // Tera prints a value as text; its JSON keeps the type.
        let json = self.tera.render_str(&format!("{{{{ ({expr}) | json }}}}"), ctx, false);
        Ok(json.ok().and_then(|j| serde_json::from_str(&j).ok()).unwrap_or(Value::String(text)))
    }

    /// Renders every string inside a JSON value (a resource spec); `path` names it in errors.
    pub fn render_value(&self, v: &mut Value, ctx: &Context, path: &str) -> Result<(), RenderError> {
        match v {
            Value::String(s) => {
                let rendered = self.render_str(s, ctx, path)?;
                *s = rendered;
            }
            Value::Array(a) => {
                for (i, x) in a.iter_mut().enumerate() {
                    self.render_value(x, ctx, &format!("{path}[{i}]"))?;
                }
            }
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    self.render_value(x, ctx, &p)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Undefined names, checked before Tera renders (see `strict`).
impl Renderer {
    /// A template file and every template it includes or extends: their
    /// locals are shared, since an included template sees its includer's.
    fn check_file(&self, name: &str, ctx: &Context) -> Result<(), RenderError> {
        let mut names = vec![name.to_string()];
        let mut i = 0;
        while i < names.len() {
            if let Some((_, scan)) = self.scans.get(&names[i]) {
                for inc in &scan.includes {
                    let found =
                        [inc.clone(), format!("templates/{inc}")].into_iter().find(|n| self.scans.contains_key(n));
                    if let Some(n) = found.filter(|n| !names.contains(n)) {
                        names.push(n);
                    }
                }
            }
            i += 1;
        }
        let scans: Vec<_> = names.iter().filter_map(|n| Some((n, self.scans.get(n)?))).collect();
        let locals: HashSet<&str> = scans.iter().flat_map(|(_, (_, s))| s.locals.iter().map(String::as_str)).collect();
        for (name, (text, scan)) in &scans {
            if let Some(report) = self.first_undefined(scan, &locals, text, ctx, name) {
                return Err(RenderError::Template(report.to_string()));
            }
        }
        Ok(())
    }

    /// Checks a field once Tera has parsed it: a syntax error is the first
    /// thing to fix, and its report is better than a scan of broken text.
    fn check_parsed(
        &self,
        out: &tera::TeraResult<String>,
        scan: impl FnOnce() -> Scan,
        text: &str,
        ctx: &Context,
        label: &str,
    ) -> Result<(), RenderError> {
        match out {
            Err(e) if matches!(e.kind(), tera::ErrorKind::SyntaxError(_)) => Ok(()),
            _ => self.check_text(&scan(), text, ctx, label),
        }
    }

    /// A field's text (or a `when:` expression), its own locals only.
    fn check_text(&self, scan: &Scan, text: &str, ctx: &Context, label: &str) -> Result<(), RenderError> {
        let locals = scan.locals.iter().map(String::as_str).collect();
        match self.first_undefined(scan, &locals, text, ctx, label) {
            Some(report) => Err(RenderError::Field(report)),
            None => Ok(()),
        }
    }

    fn first_undefined(
        &self,
        scan: &Scan,
        locals: &HashSet<&str>,
        text: &str,
        ctx: &Context,
        label: &str,
    ) -> Option<FieldReport> {
        for r in scan.refs.iter().filter(|r| !locals.contains(r.segs[0].0.as_str())) {
            if let Err(k) = self.lookup(r, r.checked, ctx) {
                let (_, start, end) = r.segs[k];
                let (line, col) = position(text, start);
                return Some(FieldReport {
                    message: self.undefined_message(r, k, ctx),
                    label: label.into(),
                    text: text.lines().nth(line - 1).unwrap_or("").into(),
                    line,
                    col,
                    carets: text[start..end].chars().count().max(1),
                });
            }
        }
        None
    }

    /// The value of `r`'s first `n` segments, or the index of the first missing one.
    fn lookup<'c>(&'c self, r: &'c Ref, n: usize, ctx: &'c Context) -> std::result::Result<&'c tera::Value, usize> {
        let root = &r.segs[0].0;
        let mut cur = ctx.get(root).or_else(|| self.globals.get(root)).ok_or(0usize)?;
        for (k, (seg, ..)) in r.segs.iter().enumerate().take(n).skip(1) {
            cur = cur.get_from_path(seg).ok_or(k)?;
        }
        Ok(cur)
    }

    /// Says what is missing, the likely intended name, and how to allow a missing one.
    fn undefined_message(&self, r: &Ref, k: usize, ctx: &Context) -> String {
        let shown = r.shown(k);
        let (what, names, kind) = if k == 0 {
            (format!("Variable `{shown}`"), self.variable_names(ctx), "variables")
        } else {
            let parent = self.lookup(r, k, ctx).ok().and_then(|v| v.as_map());
            let fields = parent.map(|m| m.keys().map(|k| k.to_string()).collect()).unwrap_or_default();
            (format!("Field `{}` of `{}`", r.segs[k].0, r.shown(k - 1)), fields, "fields")
        };
        let allow = format!("If it may be missing, write `{shown} is defined` or `{shown} | default(…)`.");
        match strict::suggest(&r.segs[k].0, names.iter().map(String::as_str)) {
            Some(near) => format!("{what} is not defined (did you mean `{near}`?). {allow}"),
            None if names.is_empty() => format!("{what} is not defined. {allow}"),
            None => format!("{what} is not defined. {allow} Available {kind}: {}", names.join(", ")),
        }
    }

    /// Every name the context and globals hold, sorted. Tera's `Context` does
    /// not list its keys, but a template can (only runs on the error path).
    fn variable_names(&self, ctx: &Context) -> Vec<String> {
        let list = "{% for k, v in __tera_context %}{{ k }}\n{% endfor %}";
        let out = self.tera.render_str(list, ctx, false).unwrap_or_default();
        // rigger's own markers (the sealed render's flag) are no user's variable.
        let mut names: Vec<String> = out.lines().filter(|n| !n.starts_with("__rigger")).map(String::from).collect();
        names.sort();
        names
    }
}

/// The expression of a text that is one `{{ expression }}` and nothing else.
fn whole_expression(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    let one = !["{{", "}}", "{%", "%}", "{#"].iter().any(|d| inner.contains(d));
    Some(inner.trim()).filter(|e| one && !e.is_empty())
}

/// A render error of the user's own text `src` (rendered inside a wrapper
/// `offset` characters long), pointed at in that text and named `label`.
fn field_error(e: tera::Error, label: &str, src: &str, offset: usize) -> RenderError {
    let report = match e.kind() {
        tera::ErrorKind::SyntaxError(r) | tera::ErrorKind::RenderingError(r) => r,
        _ => return RenderError::Template(tidy(e)),
    };
    let span = report.span();
    let line = span.start_line.max(1);
    let text = src.lines().nth(line - 1).unwrap_or("");
    let mut col = (span.start_col + 1).saturating_sub(offset).max(1);
    let mut carets = if span.end_col > span.start_col { span.end_col - span.start_col } else { 1 };
    let mut message = report.message().trim_end().to_string();
    // Past the user's text means our wrapper's closing delimiter: the expression just ended.
    if col > text.chars().count() {
        col = text.chars().count() + 1;
        carets = 1;
        message =
            message.replace("Found `}}`", "Found end of expression").replace("Found `%}`", "Found end of expression");
    }
    RenderError::Field(FieldReport { message, label: label.into(), text: text.into(), line, col, carets })
}

fn collect(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) -> Result<()> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Ok(()) };
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if is_dropping(&p) {
            continue;
        }
        if p.is_dir() {
            collect(&p, root, out)?;
        } else {
            let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
            out.push((Renderer::name_of(root, &p), text));
        }
    }
    Ok(())
}

/// What editors and file managers leave beside real files (`.DS_Store`,
/// `.x.swp`, `x~`, any dotfile): never a template, and often not text.
fn is_dropping(p: &Path) -> bool {
    let name = p.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    name.starts_with('.') || name.ends_with('~') || name.ends_with(".swp") || name.ends_with(".swo")
}

/// A template context from vars plus the extras every template sees.
pub fn context(vars: &serde_json::Map<String, Value>) -> Context {
    let mut ctx = Context::new();
    for (k, v) in vars {
        ctx.insert(k.clone(), v);
    }
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_expression_keeps_its_type() {
        let (_d, r, ctx) = strict_renderer();
        let native = |s: &str| r.render_native(s, &ctx, "f").unwrap();
        assert_eq!(native("{{ xs }}"), serde_json::json!([1, 2]));
        assert_eq!(native("{{ flag }}"), serde_json::json!(false));
        assert_eq!(native("{{- m.a -}}"), serde_json::json!({"b": 1}));
        assert_eq!(native("{{ xs | length }}"), serde_json::json!(2));
        assert_eq!(native("{{ x }}"), serde_json::json!("v"));
        assert_eq!(native("{{ xs[0] }}-{{ x }}"), serde_json::json!("1-v"));
        assert_eq!(native("{{ x }} "), serde_json::json!("v "));
        let e = r.render_native("{{ nope }}", &ctx, "f").unwrap_err().to_string();
        assert!(e.contains("Variable `nope` is not defined") && e.contains(" --> f:1:4"), "{e}");
    }

    #[test]
    fn mentions_matches_whole_identifiers_only() {
        for yes in ["{{ facts.fqdn }}", "hosts[h].facts", "facts", "x=facts;", "{% if facts %}"] {
            assert!(mentions(yes, "facts"), "{yes}");
        }
        for no in ["artifacts", "facts_dir", "my_facts", "fact", ""] {
            assert!(!mentions(no, "facts"), "{no}");
        }
    }

    #[test]
    fn the_quote_filter_makes_one_shell_word() {
        let d = tempfile::tempdir().unwrap();
        let r = Renderer::new(d.path(), [], None).unwrap();
        let mut vars = serde_json::Map::new();
        vars.insert("dir".into(), "/srv/a b/$(touch x)'".into());
        vars.insert("n".into(), 3.into());
        let words = r.render_str("{{ dir | quote }} {{ n | quote }}", &context(&vars), "cmd").unwrap();
        let out = std::process::Command::new("sh").arg("-c").arg(format!("printf '%s\\n' {words}")).output().unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "/srv/a b/$(touch x)'\n3\n");
    }

    #[test]
    fn editor_and_os_droppings_are_not_templates() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("templates/.hidden")).unwrap();
        std::fs::write(d.path().join("templates/a.tera"), "ok {{ 1 }}").unwrap();
        for junk in ["templates/.DS_Store", "templates/.a.tera.swp", "templates/a.tera~", "templates/.hidden/x.tera"] {
            std::fs::write(d.path().join(junk), [0xff, 0xfe, b'{', b'%']).unwrap();
        }
        let r = Renderer::new(d.path(), [], None).unwrap();
        assert_eq!(r.render_file("templates/a.tera", &Context::new()).unwrap(), "ok 1");
    }

    #[test]
    fn undefined_variable_names_template_line_and_variable() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("templates")).unwrap();
        std::fs::write(d.path().join("templates/a.tera"), "ok\nport {{ prot }}\n").unwrap();
        let r = Renderer::new(d.path(), [], None).unwrap();
        let mut vars = serde_json::Map::new();
        vars.insert("port".into(), 80.into());
        let e = r.render_file("templates/a.tera", &context(&vars)).unwrap_err().to_string();
        assert!(e.contains("Variable `prot` is not defined"), "{e}");
        assert!(e.contains("templates/a.tera:2:9"), "{e}");
    }

    #[test]
    fn no_html_escaping_and_when_expressions() {
        let d = tempfile::tempdir().unwrap();
        let r = Renderer::new(d.path(), [], None).unwrap();
        let mut vars = serde_json::Map::new();
        vars.insert("acl".into(), "path_beg /a && <b>".into());
        vars.insert("n".into(), 3.into());
        let ctx = context(&vars);
        assert_eq!(r.render_str("{{ acl }}", &ctx, "x").unwrap(), "path_beg /a && <b>");
        assert!(r.eval_bool("n > 2", &ctx).unwrap());
        assert!(!r.eval_bool("n == 2", &ctx).unwrap());
        assert!(!r.eval_bool("missing is defined", &ctx).unwrap());
        let e = r.eval_bool("nn", &ctx).unwrap_err();
        let RenderError::Field(f) = &e else { panic!("{e}") };
        assert_eq!((f.line, f.col, f.carets, f.label.as_str()), (1, 1, 2, "when"));
        let e = e.to_string();
        assert!(e.contains("Variable `nn` is not defined") && e.contains(" --> when:1:1\n  |\n1 | nn\n  | ^^"), "{e}");
        let e = r.eval_bool("nn > 2", &ctx).unwrap_err().to_string();
        assert!(e.contains("Variable `nn` is not defined") && e.contains(" --> when:1:1"), "{e}");
    }

    fn strict_renderer() -> (tempfile::TempDir, Renderer, Context) {
        let d = tempfile::tempdir().unwrap();
        let r = Renderer::new(d.path(), [], None).unwrap();
        let vars = serde_json::json!({"x": "v", "xs": [1, 2], "m": {"a": {"b": 1}}, "flag": false, "empty": ""});
        (d, r, context(vars.as_object().unwrap()))
    }

    #[test]
    fn guarded_and_local_names_still_render() {
        let (_d, r, ctx) = strict_renderer();
        for (text, want) in [
            ("{% if nope is defined %}a{% else %}b{% endif %}", "b"),
            ("{% if nope is not defined %}b{% endif %}", "b"),
            ("{{ nope | default(value=\"y\") }}", "y"),
            ("{% if nope is defined and nope %}a{% endif %}", ""),
            ("{% if m.a.zz is defined %}{{ m.a.zz }}{% endif %}", ""),
            ("{% if nope is defined %}{{ nope.deep }}{% endif %}", ""),
            ("{% set y = x ~ \"!\" %}{{ y }}", "v!"),
            ("{% for i in xs %}{{ loop.index }}{{ i }}{% endfor %}", "1122"),
            ("{% for k, v in m %}{{ k }}{{ v.b }}{% endfor %}", "a1"),
            ("{{ [i * 2 for i in xs] | join(sep=\",\") }}", "2,4"),
            ("{{ {\"k\": x} | length }} {{ m[\"a\"].b }} {{ xs[0] }}", "1 1 1"),
            ("{{ \"in\" ~ x }}{# {{ nope }} #}{% raw %}{{ nope }}{% endraw %}", "inv{{ nope }}"),
            ("{% if flag or empty == \"\" %}ok{% endif %}", "ok"),
            ("{{ m?.zz?.deep | default(value=1) }}", "1"),
        ] {
            assert_eq!(r.render_str(text, &ctx, "f").unwrap(), want, "{text}");
        }
        assert!(r.eval_bool("nope is not defined or nope", &ctx).unwrap());
    }

    #[test]
    fn an_undefined_name_fails_wherever_it_is_read() {
        let (_d, r, ctx) = strict_renderer();
        for (text, name) in [
            ("{{ x ~ nope }}", "nope"),
            ("{% if nope %}a{% endif %}", "nope"),
            ("{% if nope == \"x\" %}a{% endif %}", "nope"),
            ("{% if \"x\" in nope %}a{% endif %}", "nope"),
            ("{% for i in nope %}{{ i }}{% endfor %}", "nope"),
            ("{{ x | replace(from=\"v\", to=nope) }}", "nope"),
            ("{% if m.a.zz %}a{% endif %}", "Field `zz` of `m.a`"),
            ("{{ xs[nope] }}", "nope"),
            ("{% set y = nope %}{{ y }}", "nope"),
            ("{% if nope is defined %}{% endif %}{{ nope2 }}", "nope2"),
        ] {
            let e = r.render_str(text, &ctx, "f").unwrap_err().to_string();
            assert!(e.contains(name) && e.contains("is not defined") && e.contains(" --> f:1:"), "{text}: {e}");
        }
        let e = r.eval_bool("flag or nope == 1", &ctx).unwrap_err().to_string();
        assert!(e.contains("Variable `nope` is not defined") && e.contains("when:1:9"), "{e}");
    }

    #[test]
    fn included_templates_see_their_includers_locals() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("templates")).unwrap();
        std::fs::write(d.path().join("templates/part.tera"), "{{ who }}{% if typo %}!{% endif %}").unwrap();
        std::fs::write(d.path().join("templates/a.tera"), "{% set who = 1 %}{% include \"part.tera\" %}").unwrap();
        let r = Renderer::new(d.path(), [], None).unwrap();
        let e = r.render_file("templates/a.tera", &Context::new()).unwrap_err().to_string();
        assert!(e.contains("Variable `typo` is not defined") && e.contains("templates/part.tera:1:16"), "{e}");
    }

    #[test]
    fn a_long_template_line_is_shown_around_the_fault() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("templates")).unwrap();
        let text = format!("x\n{}{{{{ nope }}}}{}\n", "a".repeat(100_000), "b".repeat(100_000));
        std::fs::write(d.path().join("templates/a.tera"), text).unwrap();
        let r = Renderer::new(d.path(), [], None).unwrap();
        let e = r.render_file("templates/a.tera", &Context::new()).unwrap_err().to_string();
        assert!(e.len() < 1000 && e.contains("templates/a.tera:2:100004"), "{e}");
        let lines: Vec<&str> = e.lines().collect();
        let (shown, carets) = (lines[lines.len() - 2], lines[lines.len() - 1]);
        let at = carets.chars().position(|c| c == '^').unwrap();
        assert_eq!(shown.chars().skip(at).take(4).collect::<String>(), "nope", "{e}");
    }

    #[test]
    fn a_long_field_is_shown_around_the_fault() {
        let d = tempfile::tempdir().unwrap();
        let r = Renderer::new(d.path(), [], None).unwrap();
        let text = format!("{}{{{{ nope }}}}{}", "a".repeat(5000), "b".repeat(5000));
        let e = r.render_str(&text, &Context::new(), "content").unwrap_err().to_string();
        assert!(e.len() < 1000 && e.contains(" --> content:1:"), "{e}");
        let lines: Vec<&str> = e.lines().collect();
        let (shown, carets) = (lines[lines.len() - 2], lines[lines.len() - 1]);
        let at = carets.chars().position(|c| c == '^').unwrap();
        let under: String = shown.chars().skip(at).take(4).collect();
        assert_eq!(under, "nope", "{e}");
        assert!(shown.contains('…'), "{e}");
    }
}
