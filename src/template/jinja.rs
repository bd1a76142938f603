//! `.j2` templates, rendered with Jinja2's semantics as Ansible configures
//! them (minijinja): `trim_blocks`, no `lstrip_blocks`, trailing newlines as
//! Ansible keeps them (Jinja drops the last one, Ansible adds back as many as
//! the render lost: see `keep_newlines`), undefined names are errors (`is defined` and `default` let them
//! through), Ansible's filters and tests (see `ansible`), and output printed
//! as Python prints it. A template may start with Ansible's `#jinja2:` line
//! to change the whitespace settings for itself.

use super::ansible;
use super::render_error::{position, FieldReport, RenderError};
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
    // minijinja keeps what names an error (the undefined variable, its span)
    // only in debug mode, which it turns on for debug builds alone: a release
    // build said "undefined value" and no name.
    env.set_debug(true);
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
            // In the sealed render (see `prepare::HostCtx`) a generated value is a secret like any other.
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
    pub fn set_global(&mut self, keys: &[&str], v: &serde_json::Value) {
        // Converted once: a minijinja Value is reference counted, so every
        // environment and name shares it.
        let value = Value::from(Serde(v));
        for (_, env) in &mut self.envs {
            for key in keys {
                env.add_global(key.to_string(), value.clone());
            }
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

    /// A field's value: its text, or the value of `expr` when the whole text
    /// is that one expression, so a list stays a list and a bool a bool. The
    /// text is rendered first: it is what reports an undefined name.
    pub fn render_native(
        &self,
        s: &str,
        expr: Option<&str>,
        ctx: &tera::Context,
        label: &str,
    ) -> Result<serde_json::Value, RenderError> {
        let text = self.render_str(s, ctx, label)?;
        let value = expr.and_then(|e| self.envs[0].1.compile_expression(e).ok()).and_then(|e| e.eval(vars(ctx)).ok());
        // A value JSON cannot hold (a map with non-text keys) is its text.
        let json = value.filter(|v| !v.is_undefined()).and_then(|v| serde_json::to_value(&v).ok());
        Ok(json.unwrap_or(serde_json::Value::String(text)))
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

/// minijinja's error as ours: what is wrong, then `--> file:line:col` and the
/// line with carets. An error inside an included template is shown there.
fn template_error(e: &minijinja::Error, templates: &HashMap<String, (usize, usize, usize)>) -> RenderError {
    let mut inner = e;
    while let Some(next) = std::error::Error::source(inner).and_then(|s| s.downcast_ref::<minijinja::Error>()) {
        inner = next;
    }
    let name = inner.name().unwrap_or("template").to_string();
    let skipped = templates.get(&name).map_or(0, |t| t.1);
    let source = inner.template_source().unwrap_or("");
    RenderError::Template(field_report(inner, source, &name, skipped).to_string())
}

/// The report for an error in `source`, its line numbers moved down by `skipped`.
fn field_report(e: &minijinja::Error, source: &str, label: &str, skipped: usize) -> FieldReport {
    let range = e.range().filter(|r| r.start <= r.end && r.end <= source.len() && source.is_char_boundary(r.start));
    let given = range.as_ref().and_then(|r| given_undefined(e, &source[..r.start]));
    let name = undefined_name(e).or(given.map(|(name, _)| name));
    let (line, col, carets) = match range {
        Some(r) => {
            let (mut start, mut end) = (r.start, r.end);
            // An undefined name: point at the name, not the whole expression.
            if let Some((name, at)) = given {
                (start, end) = (at, at + name.len());
            } else if let Some(name) = name {
                let root = name.split(['.', '[']).next().unwrap_or(name);
                if let Some(at) = word_at(&source[start..end], root) {
                    start += at;
                    end = start + name.len().min(source.len() - start);
                }
            }
            let (line, col) = position(source, start);
            let width = source.get(start..end).and_then(|s| s.lines().next()).map_or(1, |s| s.chars().count().max(1));
            (line, col, width)
        }
        None => (e.line().unwrap_or(1), 1, 1),
    };
    FieldReport {
        message: message(e, name),
        label: label.into(),
        text: source.lines().nth(line - 1).unwrap_or("").into(),
        line: line + skipped,
        col,
        carets,
    }
}

/// The byte offset of `word` in `text` as a whole identifier.
fn word_at(text: &str, word: &str) -> Option<usize> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).map(|(at, _)| at).find(|&at| {
        !text[..at].chars().next_back().is_some_and(is_word)
            && !text[at + word.len()..].chars().next().is_some_and(is_word)
    })
}

/// The name minijinja says is undefined (`nope`, `m.a.zz`).
fn undefined_name(e: &minijinja::Error) -> Option<&str> {
    let detail = e.detail()?;
    let name = detail.split_once('`')?.1.split_once("` is undefined")?.0;
    (e.kind() == ErrorKind::UndefinedError || detail.contains("is undefined")).then_some(name)
}

/// The name whose undefined value a filter was given (see
/// `ansible::defined`), and its offset: the path (`a.b[0]`) piped into the
/// filter whose name ends `before`; None when a path is not what is piped.
fn given_undefined<'t>(e: &minijinja::Error, before: &'t str) -> Option<(&'t str, usize)> {
    if !e.detail()?.starts_with(ansible::UNDEFINED_GIVEN) {
        return None;
    }
    let piped = before.trim_end().strip_suffix('|')?.trim_end();
    let path_char = |c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '\'' | '"');
    let start = piped.rfind(|c: char| !path_char(c)).map_or(0, |i| i + 1);
    let path = &piped[start..];
    path.starts_with(|c: char| c.is_alphabetic() || c == '_').then_some((path, start))
}

/// What is wrong, in our words where minijinja's are terse; `name`: the undefined one.
fn message(e: &minijinja::Error, name: Option<&str>) -> String {
    if let Some(name) = name {
        let what = if name.contains(['.', '[']) { "Field" } else { "Variable" };
        return format!(
            "{what} `{name}` is not defined. If it may be missing, write `{name} is defined` or `{name} | default(…)`."
        );
    }
    match e.detail() {
        None | Some("") => e.kind().to_string(),
        Some(d) => format!("{}: {d}", e.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{context, Dialect, RenderError, Renderer};
    use std::path::Path;

    fn vars() -> tera::Context {
        let v = serde_json::json!({"x": "v", "xs": [1, 2], "m": {"a": {"b": 1}}, "flag": false, "n": 3});
        context(v.as_object().unwrap())
    }

    /// A project with `files` (path → text) under a temp root.
    fn project(files: &[(&str, &str)]) -> (tempfile::TempDir, Renderer) {
        let d = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = d.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let web = d.path().join("roles/web");
        let r = Renderer::new(d.path(), [web.as_path()], None).unwrap();
        (d, r)
    }

    fn jinja(text: &str) -> Result<String, String> {
        let (_d, r) = project(&[("templates/t.j2", text)]);
        r.render_file("templates/t.j2", &vars()).map_err(|e| e.to_string())
    }

    #[test]
    fn whitespace_is_ansibles() {
        assert_eq!(jinja("{% if true %}\nyes\n{% endif %}\nend\n").unwrap(), "yes\nend\n", "trim_blocks");
        // No lstrip_blocks; the text's last line break, which trim_blocks ate, is given back.
        assert_eq!(jinja("  {% if true %}\nx\n  {% endif %}\n").unwrap(), "  x\n  \n");
        assert_eq!(jinja("a\n\n").unwrap(), "a\n\n", "trailing line breaks kept");
        assert_eq!(jinja("a").unwrap(), "a");
        let header = "#jinja2: trim_blocks: True, lstrip_blocks: True\n  {% if true %}\nx\n  {% endif %}\n";
        assert_eq!(jinja(header).unwrap(), "x\n", "the #jinja2: line sets lstrip_blocks and is not output");
    }

    #[test]
    fn strict_undefined_in_every_position() {
        for text in [
            "{{ nope }}",
            "{% if nope %}a{% endif %}",
            "{% if nope == 1 %}a{% endif %}",
            "{% if 'a' in nope %}a{% endif %}",
            "{% if nope in xs %}a{% endif %}",
            "{% for i in nope %}{% endfor %}",
            "{{ x | replace('v', nope) }}",
            "{{ x ~ nope }}",
            "{{ nope | upper }}",
            "{{ 1 if nope else 2 }}",
            "{{ not nope }}",
            "{{ [nope] }}",
            "{{ m.zz }}",
            "{{ m.a.zz.deep | default(1) }}",
        ] {
            let e = jinja(&format!("ok\n{text}\n")).unwrap_err();
            assert!(e.contains("is not defined") && e.contains("templates/t.j2:2:"), "{text}: {e}");
        }
        let e = jinja("{{ nope }}").unwrap_err();
        assert!(e.starts_with("Variable `nope` is not defined."), "{e}");
        assert!(e.contains(" --> templates/t.j2:1:4\n  |\n1 | {{ nope }}\n  |    ^^^^"), "{e}");
        let e = jinja("{{ m.a.zz }}").unwrap_err();
        assert!(e.starts_with("Field `m.a.zz` is not defined."), "{e}");
    }

    #[test]
    fn guarded_names_still_render() {
        for (text, want) in [
            ("{% if nope is defined %}a{% else %}b{% endif %}", "b"),
            ("{{ nope is defined }} {{ nope is undefined }}", "False True"),
            ("{{ nope | default('y') }}{{ nope | d('z') }}", "yz"),
            ("{{ m.zz | default(1) }}", "1"),
            ("{% if nope is defined and nope %}a{% endif %}", ""),
            ("{{ (m.a.b if m.a is defined) }}", "1"),
            ("{% for k, v in m.items() %}{{ loop.index }}{{ k }}{% endfor %}", "1a"),
        ] {
            assert_eq!(jinja(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn a_syntax_error_names_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("roles/web/templates")).unwrap();
        std::fs::write(d.path().join("roles/web/templates/a.j2"), "ok\n{% if %}\n").unwrap();
        let web = d.path().join("roles/web");
        let e = Renderer::new(d.path(), [web.as_path()], None).err().unwrap().to_string();
        assert!(e.contains("roles/web/templates/a.j2:2:"), "{e}");
        let (_d, r) = project(&[("roles/web/templates/b.j2", "#jinja2: lstrip_blocks: True\nok\n{{ nope }}\n")]);
        let e = r.render_file("roles/web/templates/b.j2", &vars()).unwrap_err().to_string();
        assert!(e.contains("roles/web/templates/b.j2:3:4"), "the header line counts: {e}");
    }

    #[test]
    fn includes_resolve_in_the_roles_templates_then_the_shared_ones() {
        let (_d, r) = project(&[
            ("roles/web/templates/site.j2", "{% include 'part.j2' %}+{% include 'shared.j2' %}\n"),
            ("roles/web/templates/part.j2", "role part {{ x }}"),
            ("templates/part.j2", "shared part"),
            ("templates/shared.j2", "shared {{ n }}"),
            ("roles/web/templates/bad.j2", "{% include 'broken.j2' %}"),
            ("roles/web/templates/broken.j2", "line\n{{ nope }}"),
        ]);
        assert_eq!(r.render_file("roles/web/templates/site.j2", &vars()).unwrap(), "role part v+shared 3\n");
        let e = r.render_file("roles/web/templates/bad.j2", &vars()).unwrap_err().to_string();
        assert!(e.contains("roles/web/templates/broken.j2:2:4"), "an error in an include points at it: {e}");
    }

    #[test]
    fn j2_and_tera_templates_live_side_by_side() {
        let (_d, r) = project(&[
            ("roles/web/templates/a.j2", "{{ xs | join(',') }} {{ flag }}"),
            ("roles/web/templates/b.tera", "{{ xs | join(sep=',') }} {{ flag }}"),
        ]);
        assert_eq!(r.render_file("roles/web/templates/a.j2", &vars()).unwrap(), "1,2 False");
        assert_eq!(r.render_file("roles/web/templates/b.tera", &vars()).unwrap(), "1,2 false");
        assert_eq!(Dialect::of_file("x.conf.j2"), Dialect::Jinja);
        assert_eq!(Dialect::of_file("x.conf.tera"), Dialect::Tera);
    }

    #[test]
    fn facts_and_generated_are_seen_in_j2_templates() {
        let (_d, r) = project(&[("roles/web/templates/a.j2", "{{ generated(name='db') }} {{ facts.fqdn }}")]);
        assert!(r.templates_use_facts && r.templates_use_generated);
    }

    #[test]
    fn fields_render_in_either_dialect() {
        let (_d, r) = project(&[]);
        let ctx = vars();
        assert_eq!(r.render_str_in(Dialect::Jinja, "{{ xs | join('-') }}", &ctx, "f").unwrap(), "1-2");
        assert_eq!(r.render_str_in(Dialect::Tera, "{{ xs | join(sep='-') }}", &ctx, "f").unwrap(), "1-2");
        assert_eq!(r.render_str_in(Dialect::Jinja, "plain {x}", &ctx, "f").unwrap(), "plain {x}");
        assert_eq!(r.render_str_in(Dialect::Jinja, "{{ x }}\n", &ctx, "f").unwrap(), "v\n");
        assert!(r.eval_bool_in(Dialect::Jinja, "n > 2 and x == 'v'", &ctx).unwrap());
        assert!(!r.eval_bool_in(Dialect::Jinja, "nope is defined", &ctx).unwrap());
        assert!(r.eval_bool_in(Dialect::Jinja, "'yes' | bool", &ctx).unwrap());
        assert!(r.eval_bool_in(Dialect::Tera, "n > 2", &ctx).unwrap());
        let e = r.eval_bool_in(Dialect::Jinja, "flag or nope == 1", &ctx).unwrap_err();
        let RenderError::Field(f) = &e else { panic!("{e}") };
        assert_eq!((f.label.as_str(), f.line, f.col, f.carets), ("when", 1, 9, 4), "{e}");
        assert!(e.to_string().contains("Variable `nope` is not defined"), "{e}");
        let e = r.render_str_in(Dialect::Jinja, "a {{ x | nofilter }}", &ctx, "content").unwrap_err().to_string();
        assert!(e.contains("unknown filter") && e.contains(" --> content:1:"), "{e}");
        let e = r.eval_bool_in(Dialect::Jinja, "n >", &ctx).unwrap_err().to_string();
        assert!(e.contains("syntax error") && e.contains(" --> when:1:"), "{e}");
    }

    #[test]
    fn a_whole_jinja_expression_keeps_its_type() {
        let (_d, r) = project(&[]);
        let native = |s: &str| r.render_native_in(Dialect::Jinja, s, &vars(), "f");
        assert_eq!(native("{{ xs }}").unwrap(), serde_json::json!([1, 2]));
        assert_eq!(native("{{ nope | default(['a']) }}").unwrap(), serde_json::json!(["a"]));
        assert_eq!(native("{{ 'yes' | bool }}").unwrap(), serde_json::json!(true));
        assert_eq!(native("{{ m.items() | list | length }}").unwrap(), serde_json::json!(1));
        assert_eq!(native("{{ xs }} and {{ flag }}").unwrap(), serde_json::json!("[1, 2] and False"));
        assert_eq!(native("plain").unwrap(), serde_json::json!("plain"));
        let e = native("{{ nope }}").unwrap_err().to_string();
        assert!(e.contains("Variable `nope` is not defined") && e.contains(" --> f:1:4"), "{e}");
    }

    #[test]
    fn an_undefined_value_given_to_an_ansible_filter_is_an_error() {
        let (_d, r) = project(&[]);
        let ctx = vars();
        for (expr, name, col) in [
            ("enabeld | bool", "Variable `enabeld`", 1),
            ("x == 'v' and (m.zz | int) > 1", "Field `m.zz`", 15),
            ("nope | to_json | length", "Variable `nope`", 1),
            ("flag or (nope | regex_replace('a', 'b'))", "Variable `nope`", 10),
        ] {
            let e = r.eval_bool_in(Dialect::Jinja, expr, &ctx).unwrap_err();
            let RenderError::Field(f) = &e else { panic!("{e}") };
            assert!(f.message.starts_with(&format!("{name} is not defined")), "{expr}: {e}");
            assert_eq!(f.col, col, "{expr}: {e}");
        }
        let e = r.render_str_in(Dialect::Jinja, "a {{ nope | quote }}", &ctx, "cmd").unwrap_err().to_string();
        assert!(e.contains("Variable `nope` is not defined") && e.contains(" --> cmd:1:6"), "{e}");
        assert!(!r.eval_bool_in(Dialect::Jinja, "nope | default('no') | bool", &ctx).unwrap());
    }

    #[test]
    fn generated_values_are_sealed_in_the_sealed_render() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("templates")).unwrap();
        std::fs::write(d.path().join("templates/a.j2"), "pw={{ generated(name='db', kind='hex') }}").unwrap();
        let secrets = crate::secret::Secrets::default();
        let store = std::sync::Arc::new(crate::generated::Store::load(d.path(), &secrets).unwrap());
        let r = Renderer::new(d.path(), [] as [&Path; 0], Some(store.clone())).unwrap();
        let value = store.get("db", "hex").unwrap();
        let mut ctx = vars();
        assert_eq!(r.render_file("templates/a.j2", &ctx).unwrap(), format!("pw={value}"));
        ctx.insert(crate::secret::SEALED_FLAG, &true);
        let sealed = r.render_file("templates/a.j2", &ctx).unwrap();
        assert_eq!(sealed, format!("pw={}", crate::secret::placeholder(&value)));
        assert!(!sealed.contains(&value));
        let field = r.render_str_in(Dialect::Jinja, "{{ generated(name='db', kind='hex') }}", &ctx, "f").unwrap();
        assert_eq!(field, crate::secret::placeholder(&value));
    }
}
