//! Preparing a declared resource for one host: its `name`, `--tags` and
//! `when:` decided, its fields rendered (twice where secrets are, see
//! `HostCtx`) and resolved into a `Resource` ready to plan (`plan`).

use crate::project::role::Role;
use crate::project::tags::Tags;
use crate::resource::{AnySpec, Decl, Resolve, Resource, ResourceError, Step};
use crate::session::probe::HostState;
use crate::template::{Dialect, RenderError, Renderer};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use tera::Context;

/// A resource ready to plan, or why it is skipped, or the registered result it waits for.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub label: String,
    pub resource: Option<Arc<dyn Resource>>,
    pub skipped: Option<String>,
    /// Reads `NAME.…` of a command that will run: planned at apply, with the real result.
    pub waits: Option<String>,
    /// The name this command registers its result under.
    pub registers: Option<String>,
}

/// The contexts a resource renders in for one host: the real one, and,
/// when the project has secrets, the same with every secret replaced by a
/// stand-in (`Secrets::placeholders`). Whatever renders differently in the
/// two depends on a secret, whatever the template or filter, and is sealed.
#[derive(Clone, Copy)]
pub struct HostCtx<'a> {
    pub real: &'a Context,
    pub sealed: Option<&'a Context>,
    /// Only failures are rendered twice (their messages may quote a value):
    /// `check` shows no plan, so it stays one render per resource.
    pub errors_only: bool,
}

impl<'a> HostCtx<'a> {
    /// No secrets: one render.
    pub fn plain(real: &'a Context) -> Self {
        HostCtx { real, sealed: None, errors_only: false }
    }
}

/// Renders and resolves one declared resource for a host (one iteration of
/// its `loop:`, whose item is in `ctx`: `project::expand` walks the loops).
/// With `full` false (before facts are known), `when` is not evaluated and
/// template content is not rendered: enough to know what to probe.
#[allow(clippy::too_many_arguments)] // one per input of a pure function; a struct would only rename them
pub fn prepare(
    root: &Path,
    role: &Role,
    decl: &Decl,
    spec: &AnySpec,
    r: &Renderer,
    ctx: &Context,
    tags: &Tags,
    full: bool,
) -> Result<Prepared, ResourceError> {
    prepare_in(root, role, decl, spec, r, HostCtx::plain(ctx), tags, full)
}

/// `prepare`, sealing what depends on a secret (see `HostCtx`).
#[allow(clippy::too_many_arguments)] // as `prepare`
pub fn prepare_in(
    root: &Path,
    role: &Role,
    decl: &Decl,
    spec: &AnySpec,
    r: &Renderer,
    cx: HostCtx,
    tags: &Tags,
    full: bool,
) -> Result<Prepared, ResourceError> {
    let name = decl.name.as_ref().map(|n| render_name(n, spec, r, role.dialect, cx)).transpose()?;
    if let Some(why) = tagged_out(role, decl, tags) {
        let label = name.clone().unwrap_or_else(|| spec.kind().into());
        return Ok(Prepared { label, skipped: Some(why.into()), ..Prepared::default() });
    }
    let body = decl.body(spec);
    if let Some(w) = decl.when.as_ref().filter(|_| full) {
        if !r.eval_bool_in(role.dialect, w, cx.real).map_err(ResourceError::Render)? {
            return Ok(skipped(root, role, decl, spec, r, cx, &format!("when: {w}")));
        }
    }
    let res = crate::resource::privilege::wrap(resolve_in(root, role, spec, &body, r, cx, full)?, &decl.privilege);
    Ok(Prepared { label: name.unwrap_or_else(|| res.label()), resource: Some(res), ..Prepared::default() })
}

/// Why `--tags` or `--skip-tags` leaves this resource out, if they do.
pub fn tagged_out(role: &Role, decl: &Decl, tags: &Tags) -> Option<&'static str> {
    tags.leaves_out(&role.name, &decl.tags)
}

/// A resource skipped for `why`, labelled as well as it can be.
pub fn skipped(
    root: &Path,
    role: &Role,
    decl: &Decl,
    spec: &AnySpec,
    r: &Renderer,
    cx: HostCtx,
    why: &str,
) -> Prepared {
    // A skipped resource is not resolved: its fields may only make sense when it runs.
    let label = decl
        .name
        .as_ref()
        .and_then(|n| render_name(n, spec, r, role.dialect, cx).ok())
        .or_else(|| resolve_in(root, role, spec, &decl.body(spec), r, cx, false).ok().map(|res| res.label()))
        .unwrap_or_else(|| spec.kind().into());
    Prepared { label, skipped: Some(why.to_string()), ..Prepared::default() }
}

/// A resource's `name:`, or `kind (sensitive)` when it depends on a secret.
fn render_name(n: &str, spec: &AnySpec, r: &Renderer, d: Dialect, cx: HostCtx) -> Result<String, ResourceError> {
    let real = r.render_str_in(d, n, cx.real, "name").map_err(ResourceError::Render);
    let Some(sealed) = cx.sealed.filter(|_| !cx.errors_only || real.is_err()) else { return real };
    let shown = r.render_str_in(d, n, sealed, "name").map_err(ResourceError::Render);
    match (real, shown) {
        (Ok(a), Ok(b)) if a == b => Ok(a),
        (Ok(_), _) => Ok(crate::resource::sealed::sensitive_label(spec.kind())),
        (Err(e), shown) => Err(crate::resource::sealed::seal_error(e, shown.err().as_ref())),
    }
}

/// Renders every string of `spec` for this host, then resolves the resource.
pub fn resolve(
    root: &Path,
    role: &Role,
    spec: &AnySpec,
    r: &Renderer,
    ctx: &Context,
    content: bool,
) -> Result<Arc<dyn Resource>, ResourceError> {
    resolve_in(root, role, spec, &spec.to_json(), r, HostCtx::plain(ctx), content)
}

/// `resolve`, rendered a second time with the stand-ins when there are
/// secrets: a resource that resolves differently is wrapped so that it shows
/// only what does not depend on them (`resource::sealed`).
/// `body` is the spec as written (`Decl::body`), rendered for the host.
pub fn resolve_in(
    root: &Path,
    role: &Role,
    spec: &AnySpec,
    body: &Value,
    r: &Renderer,
    cx: HostCtx,
    content: bool,
) -> Result<Arc<dyn Resource>, ResourceError> {
    let read = |ctx: &Context, _sealed: bool| render_spec(spec, body, r, role.dialect, ctx);
    resolve_read(root, role, spec.kind(), r, cx, content, read)
}

/// `resolve_in` from a function that renders and reads the spec in a
/// context (told whether it is the sealed one).
#[allow(clippy::too_many_arguments)] // as `prepare`
fn resolve_read(
    root: &Path,
    role: &Role,
    kind: &'static str,
    r: &Renderer,
    cx: HostCtx,
    content: bool,
    read: impl Fn(&Context, bool) -> Result<AnySpec, ResourceError>,
) -> Result<Arc<dyn Resource>, ResourceError> {
    let resolve = |ctx: &Context, sealed: bool| {
        let cx = Resolve { root, role_dir: &role.dir, renderer: r, ctx, content };
        read(ctx, sealed)?.resolve(&cx)
    };
    let real = resolve(cx.real, false);
    let Some(sealed) = cx.sealed.filter(|_| !cx.errors_only || real.is_err()) else { return real };
    let shadow = resolve(sealed, true);
    match (real, shadow) {
        (Ok(res), Ok(shadow)) => Ok(crate::resource::sealed::wrap(res, shadow)),
        // The stand-ins cannot take the real value's path (a secret used as
        // a number, say): everything about it is taken as depending on it.
        (Ok(res), Err(_)) => Ok(crate::resource::sealed::wrap(res, Arc::new(Opaque(kind)))),
        (Err(e), shadow) => Err(crate::resource::sealed::seal_error(e, shadow.err().as_ref())),
    }
}

/// The spec as written, rendered in `ctx` in dialect `d`, read back type-checked:
/// a field that is one `{{ expression }}` takes the value's own type.
pub fn render_spec(
    spec: &AnySpec,
    body: &Value,
    r: &Renderer,
    d: Dialect,
    ctx: &Context,
) -> Result<AnySpec, ResourceError> {
    let mut v = body.clone();
    render_native(r, d, &mut v, ctx, spec.kind()).map_err(ResourceError::Render)?;
    spec.read_rendered(v)
}

/// Renders every string inside `v` in dialect `d` (`Renderer::render_native_in`); `path` names it in errors.
pub fn render_native(r: &Renderer, d: Dialect, v: &mut Value, ctx: &Context, path: &str) -> Result<(), RenderError> {
    match v {
        Value::String(s) => *v = r.render_native_in(d, s, ctx, path)?,
        Value::Array(a) => {
            for (i, x) in a.iter_mut().enumerate() {
                render_native(r, d, x, ctx, &format!("{path}[{i}]"))?;
            }
        }
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                render_native(r, d, x, ctx, &format!("{path}.{k}"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// One resource from the iterations of a loop (each a context), when they
/// differ only in the names they give: a `package` loop is one apt call.
/// `None` when the iterations differ in anything else.
pub fn resolve_merged(
    root: &Path,
    role: &Role,
    spec: &AnySpec,
    body: &Value,
    r: &Renderer,
    cxs: &[HostCtx],
    content: bool,
) -> Result<Option<Arc<dyn Resource>>, ResourceError> {
    let reals: Vec<&Context> = cxs.iter().map(|c| c.real).collect();
    let d = role.dialect;
    let Some(first) = cxs.first().filter(|_| merged(spec, body, r, d, &reals).is_ok_and(|m| m.is_some())) else {
        return Ok(None);
    };
    let sealed: Option<Vec<&Context>> = cxs.iter().map(|c| c.sealed).collect();
    let read = |_: &Context, is_sealed: bool| {
        let set = if is_sealed { sealed.as_ref().unwrap_or(&reals) } else { &reals };
        // The stand-ins may differ where the real values agree: all is then sealed.
        merged(spec, body, r, d, set)?.ok_or(ResourceError::Sealed)
    };
    resolve_read(root, role, spec.kind(), r, *first, content, read).map(Some)
}

/// The spec rendered in each context, merged into one that gives all their
/// names; `None` when they differ in anything but the names.
fn merged(
    spec: &AnySpec,
    body: &Value,
    r: &Renderer,
    d: Dialect,
    ctxs: &[&Context],
) -> Result<Option<AnySpec>, ResourceError> {
    let mut one: Option<Value> = None;
    let mut names: Vec<Value> = Vec::new();
    for ctx in ctxs {
        let mut v = render_spec(spec, body, r, d, ctx)?.to_json();
        let Some(m) = v.as_object_mut() else { return Ok(None) };
        for k in ["name", "names"] {
            if let Some(Value::Array(a)) = m.insert(k.into(), Value::Null) {
                names.extend(a);
            }
        }
        match &one {
            Some(o) if *o != v => return Ok(None),
            Some(_) => {}
            None => one = Some(v),
        }
    }
    let Some(mut v) = one else { return Ok(None) };
    v["names"] = Value::Array(names);
    spec.read_rendered(v).map(Some)
}

/// The stand-in of a resource the sealed render could not resolve: it
/// shows nothing but its kind, so all of the real one is sealed.
#[derive(Debug)]
struct Opaque(&'static str);

impl Resource for Opaque {
    fn label(&self) -> String {
        self.0.to_string()
    }
    fn queries(&self) -> Vec<crate::session::probe::Query> {
        vec![]
    }
    fn plan(&self, _: &HostState) -> Result<Vec<Step>, ResourceError> {
        Err(ResourceError::Sealed)
    }
}
