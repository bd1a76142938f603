//! `.j2` templates, rendered with Jinja2's semantics as Ansible configures
//! them (minijinja): `trim_blocks`, no `lstrip_blocks`, trailing newlines as
//! Ansible keeps them (Jinja drops the last one, Ansible adds back as many as
//! the render lost: see `keep_newlines`), undefined names are errors (`is defined` and `default` let them
//! through), Ansible's filters and tests (see `ansible`), and output printed
//! as Python prints it. A template may start with Ansible's `#jinja2:` line
//! to change the whitespace settings for itself.

use super::{ansible, FieldReport, RenderError};
use minijinja::value::{Object, Serde, Value};
use minijinja::{AutoEscape, Environment, ErrorKind, State, UndefinedBehavior};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Whitespace settings a template renders with; Ansible's are the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Whitespace {
    trim_blocks: bool,
    lstrip_blocks: bool,
    keep_trailing_newline: bool,
}

const ANSIBLE: Whitespace = Whitespace { trim_blocks: true, lstrip_blocks: false, keep_trailing_newline: false };

/// The Jinja engine: one environment per whitespace setting in use (Ansible's,
/// plus one for each `#jinja2:` override), each holding every `.j2` template.
pub struct Jinja {
    envs: Vec<(Whitespace, Environment<'static>)>,
    /// Template name → (index into `envs`, lines its `#jinja2:` header took,
    /// the line breaks its text ends with).
    templates: HashMap<String, (usize, usize, usize)>,
}

/// The context a render sees: tera's, converted a variable at a time on
/// first use (a host's context holds every host's vars; most renders read a few).
#[derive(Debug)]
struct Vars {
    ctx: tera::Context,
    seen: Mutex<HashMap<String, Value>>,
}

impl Object for Vars {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = seen.get(key) {
            return Some(v.clone());
        }
        let v = Value::from(Serde(self.ctx.get(key)?));
        seen.insert(key.to_string(), v.clone());
        Some(v)
    }
}

/// A tera context as the root of a Jinja render.
pub fn vars(ctx: &tera::Context) -> Value {
    Value::from_object(Vars { ctx: ctx.clone(), seen: Mutex::default() })
}

/// The generator behind `generated(name=…, kind=…)`.
pub type Generate = Arc<dyn Fn(&str, &str) -> Result<String, String> + Send + Sync>;

fn environment(ws: Whitespace, names: Arc<HashSet<String>>, generate: Option<Generate>) -> Environment<'static> {
    let mut env = Environment::new();
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(ws.trim_blocks)
        .lstrip_blocks(ws.lstrip_blocks)
        .keep_trailing_newline(ws.keep_trailing_newline)
        .build()
        .expect("the default delimiters are valid");
    env.set_syntax(syntax);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.set_formatter(ansible::format);
    env.set_path_join_callback(move |name, parent| resolve(&names, name, parent).into());
    ansible::register(&mut env);
    if let Some(generate) = generate {
        env.add_function("generated", move |state: &State, kwargs: minijinja::value::Kwargs| {
            let name: String = kwargs.get("name")?;
            let kind: Option<String> = kwargs.get("kind")?;
            kwargs.assert_all_used()?;
            let value = generate(&name, kind.as_deref().unwrap_or("password"))
                .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, e))?;
            // In the sealed render (see `plan::HostCtx`) a generated value is a secret like any other.
            let sealed = state.lookup(crate::secret::SEALED_FLAG).is_some_and(|v| v.is_true());
            Ok(if sealed { crate::secret::placeholder(&value) } else { value })
        });
    }
    env
}

/// Where `{% include name %}` in `parent` points, as Ansible searches: the
/// including role's templates/ first, then the project's templates/.
fn resolve(names: &HashSet<String>, name: &str, parent: &str) -> String {
    if let Some(at) = parent.rfind("templates/") {
        let here = format!("{}{name}", &parent[..at + "templates/".len()]);
        if names.contains(&here) {
            return here;
        }
    }
    let shared = format!("templates/{name}");
    if names.contains(&shared) {
        return shared;
    }
    name.to_string()
}

/// Ansible's `#jinja2: trim_blocks: False, lstrip_blocks: True` first line:
/// the settings it gives and the text after it.
fn header(text: &str) -> (Whitespace, &str, usize) {
    let Some(rest) = text.strip_prefix("#jinja2:") else { return (ANSIBLE, text, 0) };
    let (line, body) = rest.split_once('\n').unwrap_or((rest, ""));
    let mut ws = ANSIBLE;
    for pair in line.split(',') {
        let Some((k, v)) = pair.split_once(':') else { continue };
        let on = matches!(v.trim(), "True" | "true" | "yes");
        match k.trim() {
            "trim_blocks" => ws.trim_blocks = on,
            "lstrip_blocks" => ws.lstrip_blocks = on,
            "keep_trailing_newline" => ws.keep_trailing_newline = on,
            _ => {}
        }
    }
    (ws, body, 1)
}

impl Jinja {
    /// Parses every `(name, text)`; a syntax error names the file and line.
    pub fn new(files: &[(String, String)], generate: Option<Generate>) -> Result<Self, RenderError> {
        let names: Arc<HashSet<String>> = Arc::new(files.iter().map(|(n, _)| n.clone()).collect());
        let mut wanted = vec![ANSIBLE];
        let mut templates = HashMap::new();
        let mut bodies = Vec::with_capacity(files.len());
        for (name, text) in files {
            let (ws, body, skipped) = header(text);
            let at = wanted.iter().position(|w| *w == ws).unwrap_or_else(|| {
                wanted.push(ws);
                wanted.len() - 1
            });
            templates.insert(name.clone(), (at, skipped, trailing_newlines(text)));
            bodies.push((name.clone(), body.to_string()));
        }
        let mut envs = Vec::with_capacity(wanted.len());
        for ws in wanted {
            let mut env = environment(ws, names.clone(), generate.clone());
            for (name, body) in &bodies {
                env.add_template_owned(name.clone(), body.clone()).map_err(|e| template_error(&e, &templates))?;
            }
            envs.push((ws, env));
        }
        Ok(Jinja { envs, templates })
    }

    /// A variable every template sees (`groups`, `hosts`).
    pub fn set_global(&mut self, key: &str, v: &serde_json::Value) {
        for (_, env) in &mut self.envs {
            env.add_global(key.to_string(), Value::from(Serde(v)));
        }
    }

    pub fn render_file(&self, name: &str, ctx: &tera::Context) -> Result<String, RenderError> {
        let (at, _, newlines) = self.templates.get(name).copied().unwrap_or_default();
        let env = &self.envs[at].1;
        let tmpl = env.get_template(name).map_err(|e| template_error(&e, &self.templates))?;
        let out = tmpl.render(vars(ctx)).map_err(|e| template_error(&e, &self.templates))?;
        Ok(keep_newlines(out, newlines))
    }

    /// Renders a field's text; errors are shown against that text, named `label`.
    pub fn render_str(&self, s: &str, ctx: &tera::Context, label: &str) -> Result<String, RenderError> {
        let env = &self.envs[0].1;
        let out =
            env.render_named_str(label, s, vars(ctx)).map_err(|e| RenderError::Field(field_report(&e, s, label, 0)))?;
        Ok(keep_newlines(out, trailing_newlines(s)))
    }

    /// A `when:` expression, true or false as Jinja's `if` sees it; undefined is an error.
    pub fn eval_bool(&self, expr: &str, ctx: &tera::Context, label: &str) -> Result<bool, RenderError> {
        let env = &self.envs[0].1;
        let compiled =
            env.compile_expression(expr).map_err(|e| RenderError::Field(field_report(&e, expr, label, 0)))?;
        let v = compiled.eval(vars(ctx)).map_err(|e| RenderError::Field(field_report(&e, expr, label, 0)))?;
        if v.is_undefined() {
            return Err(RenderError::Field(FieldReport {
                message: format!("`{}` is not defined", expr.trim()),
                label: label.into(),
                text: expr.lines().next().unwrap_or("").into(),
                line: 1,
                col: 1,
                carets: expr.len().max(1),
            }));
        }
        Ok(v.is_true())
    }
}

fn trailing_newlines(s: &str) -> usize {
    s.len() - s.trim_end_matches('\n').len()
}

/// Ansible's rule for the end of a render: Jinja drops the text's last line
/// break, and Ansible adds back as many as the output has fewer than the
/// text (so a value ending in a line break, printed last, keeps one).
fn keep_newlines(mut out: String, wanted: usize) -> String {
    let have = trailing_newlines(&out);
    if wanted > have {
        out.push_str(&"\n".repeat(wanted - have));
    }
    out
}

/// minijinja's error as ours: what is wrong, then `--> file:line:col` and the line with carets.
fn template_error(e: &minijinja::Error, templates: &HashMap<String, (usize, usize, usize)>) -> RenderError {
    let name = e.name().unwrap_or("template").to_string();
    let skipped = templates.get(&name).map_or(0, |t| t.1);
    let source = e.template_source().unwrap_or("");
    let mut report = field_report(e, source, &name, skipped);
    report.message = format!("{} (in {name})", report.message);
    RenderError::Template(report.to_string())
}

/// The report for an error in `source`, its line numbers moved down by `skipped`.
fn field_report(e: &minijinja::Error, source: &str, label: &str, skipped: usize) -> FieldReport {
    let (line, col, carets) = match e.range().filter(|r| r.end <= source.len() && source.is_char_boundary(r.start)) {
        Some(r) => {
            let (line, col) = super::position(source, r.start);
            let width = source[r.start..r.end.max(r.start)].lines().next().map_or(1, |s| s.chars().count().max(1));
            (line, col, width)
        }
        None => (e.line().unwrap_or(1), 1, 1),
    };
    FieldReport {
        message: message(e),
        label: label.into(),
        text: source.lines().nth(line - 1).unwrap_or("").into(),
        line: line + skipped,
        col,
        carets,
    }
}

/// What is wrong, in our words where minijinja's are terse.
fn message(e: &minijinja::Error) -> String {
    let detail = e.detail().unwrap_or("");
    if e.kind() == ErrorKind::UndefinedError {
        if let Some(name) = detail.strip_prefix('`').and_then(|d| d.strip_suffix("` is undefined")) {
            let what = if name.contains(['.', '[']) { "Field" } else { "Variable" };
            return format!(
                "{what} `{name}` is not defined. If it may be missing, write `{name} is defined` or `{name} | default(…)`."
            );
        }
    }
    match detail {
        "" => e.kind().to_string(),
        d => format!("{}: {d}", e.kind()),
    }
}
