//! Pure planning: a unit's resources, rendered for one host, are turned into
//! `Resource`s (`prepare`), and planned against the probed state
//! (`plan_unit`). Nothing here touches a host, so it is tested from data.

use crate::project::role::Role;
use crate::resource::{path, AnySpec, Decl, Resolve, Resource, ResourceError, Step};
use crate::session::probe::{HostState, Query};
use crate::template::{RenderError, Renderer};
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use tera::Context;

/// The host's state folder, written once: the two paths below are built from it.
macro_rules! state_dir {
    () => {
        "/var/lib/rigger"
    };
}

/// Where rigger keeps what it must remember on a host: pending handlers and
/// the run lock (`session::lock`). Root's folder; a per-user one is issue 19.
pub const STATE_DIR: &str = state_dir!();

/// Where pending handlers are recorded on a host, so a failure cannot lose them.
pub const PENDING_DIR: &str = concat!(state_dir!(), "/pending");

pub fn pending_path(role: &str) -> String {
    format!("{PENDING_DIR}/{role}")
}

/// A resource ready to plan, or the reason it is skipped.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub label: String,
    pub resource: Option<Arc<dyn Resource>>,
    pub skipped: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Changed,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ResourcePlan {
    pub resource: String,
    pub status: Status,
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ResourcePlan {
    /// The same plan without its shell scripts: what reports show.
    pub fn public(&self) -> Self {
        let mut r = self.clone();
        for s in &mut r.steps {
            s.script.clear();
        }
        r
    }
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct HandlerPlan {
    pub handler: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct UnitPlan {
    pub resources: Vec<ResourcePlan>,
    pub handlers: Vec<HandlerPlan>,
}

impl UnitPlan {
    pub fn changes(&self) -> usize {
        self.resources.iter().filter(|r| r.status == Status::Changed).count() + self.handlers.len()
    }
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
    tags: &[String],
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
    tags: &[String],
    full: bool,
) -> Result<Prepared, ResourceError> {
    let name = decl.name.as_ref().map(|n| render_name(n, spec, r, cx)).transpose()?;
    if tagged_out(role, decl, tags) {
        let label = name.clone().unwrap_or_else(|| spec.kind().into());
        return Ok(Prepared { label, resource: None, skipped: Some("not in --tags".into()) });
    }
    let body = decl.body(spec);
    if let Some(w) = decl.when.as_ref().filter(|_| full) {
        if !r.eval_bool(w, cx.real).map_err(ResourceError::Render)? {
            return Ok(skipped(root, role, decl, spec, r, cx, &format!("when: {w}")));
        }
    }
    let res = resolve_in(root, role, spec, &body, r, cx, full)?;
    Ok(Prepared { label: name.unwrap_or_else(|| res.label()), resource: Some(res), skipped: None })
}

/// Whether `--tags` leaves this resource out.
pub fn tagged_out(role: &Role, decl: &Decl, tags: &[String]) -> bool {
    !tags.is_empty() && !tags.iter().any(|t| decl.tags.contains(t) || *t == role.name)
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
        .and_then(|n| render_name(n, spec, r, cx).ok())
        .or_else(|| resolve_in(root, role, spec, &decl.body(spec), r, cx, false).ok().map(|res| res.label()))
        .unwrap_or_else(|| spec.kind().into());
    Prepared { label, resource: None, skipped: Some(why.to_string()) }
}

/// A resource's `name:`, or `kind (sensitive)` when it depends on a secret.
fn render_name(n: &str, spec: &AnySpec, r: &Renderer, cx: HostCtx) -> Result<String, ResourceError> {
    let real = r.render_str(n, cx.real, "name").map_err(ResourceError::Render);
    let Some(sealed) = cx.sealed.filter(|_| !cx.errors_only || real.is_err()) else { return real };
    let shown = r.render_str(n, sealed, "name").map_err(ResourceError::Render);
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
    let read = |ctx: &Context, _sealed: bool| render_spec(spec, body, r, ctx);
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

/// The spec as written, rendered in `ctx` and read back type-checked: a
/// field that is one `{{ expression }}` takes the value's own type.
pub fn render_spec(spec: &AnySpec, body: &Value, r: &Renderer, ctx: &Context) -> Result<AnySpec, ResourceError> {
    let mut v = body.clone();
    render_native(r, &mut v, ctx, spec.kind()).map_err(ResourceError::Render)?;
    spec.read_rendered(v)
}

/// Renders every string inside `v` (`Renderer::render_native`); `path` names it in errors.
pub fn render_native(r: &Renderer, v: &mut Value, ctx: &Context, path: &str) -> Result<(), RenderError> {
    match v {
        Value::String(s) => *v = r.render_native(s, ctx, path)?,
        Value::Array(a) => {
            for (i, x) in a.iter_mut().enumerate() {
                render_native(r, x, ctx, &format!("{path}[{i}]"))?;
            }
        }
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                render_native(r, x, ctx, &format!("{path}.{k}"))?;
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
    let Some(first) = cxs.first().filter(|_| merged(spec, body, r, &reals).is_ok_and(|m| m.is_some())) else {
        return Ok(None);
    };
    let sealed: Option<Vec<&Context>> = cxs.iter().map(|c| c.sealed).collect();
    let read = |_: &Context, is_sealed: bool| {
        let set = if is_sealed { sealed.as_ref().unwrap_or(&reals) } else { &reals };
        // The stand-ins may differ where the real values agree: all is then sealed.
        merged(spec, body, r, set)?.ok_or(ResourceError::Sealed)
    };
    resolve_read(root, role, spec.kind(), r, *first, content, read).map(Some)
}

/// The spec rendered in each context, merged into one that gives all their
/// names; `None` when they differ in anything but the names.
fn merged(spec: &AnySpec, body: &Value, r: &Renderer, ctxs: &[&Context]) -> Result<Option<AnySpec>, ResourceError> {
    let mut one: Option<Value> = None;
    let mut names: Vec<Value> = Vec::new();
    for ctx in ctxs {
        let mut v = render_spec(spec, body, r, ctx)?.to_json();
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

/// A unit's handlers, resolved for its host, by name.
pub type Handlers = IndexMap<String, Arc<dyn Resource>>;

/// Everything the probe must ask to plan this unit.
pub fn queries(role: &str, prepared: &[Prepared], handlers: &Handlers) -> BTreeSet<Query> {
    let mut q: BTreeSet<Query> =
        prepared.iter().filter_map(|p| p.resource.as_ref()).flat_map(|r| r.queries()).collect();
    for h in handlers.values().filter(|h| h.handler_reads_state()) {
        q.extend(h.queries());
    }
    q.insert(path::query(&pending_path(role)));
    q
}

/// Plans a unit against the probed state: which resources change, which handlers run.
pub fn plan_unit(role: &str, prepared: &[Prepared], handlers: &Handlers, state: &HostState) -> UnitPlan {
    let mut plan = UnitPlan::default();
    let mut notified: Vec<String> = Vec::new();
    // Handlers left pending by an earlier, interrupted run are owed first.
    if let Ok(p) = path::state(state, &pending_path(role)) {
        if let Some(c) = &p.content {
            notified
                .extend(String::from_utf8_lossy(c).lines().filter(|l| handlers.contains_key(*l)).map(str::to_string));
        }
    }
    for p in prepared {
        let Some(res) = &p.resource else {
            plan.resources.push(ResourcePlan {
                resource: p.label.clone(),
                status: Status::Skipped,
                steps: vec![],
                notify: vec![],
                message: p.skipped.clone(),
            });
            continue;
        };
        match res.plan(state) {
            Ok(steps) if steps.is_empty() => plan.resources.push(ResourcePlan {
                resource: p.label.clone(),
                status: Status::Ok,
                steps,
                notify: vec![],
                message: None,
            }),
            Ok(steps) => {
                notified.extend(res.notify().iter().cloned());
                plan.resources.push(ResourcePlan {
                    resource: p.label.clone(),
                    status: Status::Changed,
                    steps,
                    notify: res.notify().to_vec(),
                    message: None,
                })
            }
            Err(e) => plan.resources.push(ResourcePlan {
                resource: p.label.clone(),
                status: Status::Failed,
                steps: vec![],
                notify: vec![],
                message: Some(e.to_string()),
            }),
        }
    }
    for (name, h) in handlers {
        if notified.contains(name) {
            let steps = h.handler_steps(state).unwrap_or_else(|e| {
                let e = e.to_string();
                vec![Step::new(format!("fail: {e}"), format!("echo {} >&2; exit 1\n", crate::shell::quote(&e)))]
            });
            plan.handlers.push(HandlerPlan { handler: name.clone(), steps });
        }
    }
    plan
}

/// Fails, in the plan, a write into a folder that is not on the host and
/// that nothing planned before it on the host may make (`Resource::may_make`):
/// without this it would plan as `create` and fail at apply. `earlier` holds
/// the host's changed resources from units planned before this one; this
/// unit's changed resources are added to it.
pub fn check_folders(
    prepared: &[Prepared],
    plan: &mut UnitPlan,
    state: &HostState,
    earlier: &mut Vec<Arc<dyn Resource>>,
) {
    for (p, rp) in prepared.iter().zip(plan.resources.iter_mut()) {
        let Some(res) = &p.resource else { continue };
        if rp.status != Status::Changed {
            continue;
        }
        if let Some(dir) = res.writes_into() {
            let missing = match path::state(state, dir) {
                Ok(st) if st.kind == path::PathKind::Directory => None,
                Ok(st) if st.exists() => Some("is not a directory"),
                Ok(_) => Some("does not exist"),
                // Not probed (a saved plan, a test): nothing to say.
                Err(_) => None,
            };
            if let Some(why) = missing.filter(|_| !earlier.iter().any(|e| e.may_make(dir))) {
                rp.status = Status::Failed;
                rp.steps.clear();
                rp.notify.clear();
                rp.message = Some(format!("parent {dir} {why}, and nothing planned before it makes it"));
                continue;
            }
        }
        earlier.push(res.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::command::Command;
    use crate::resource::file::File;
    use crate::resource::path::PathState;
    use crate::resource::spec::PresentAbsent;

    fn file_res(path: &str, content: &str, notify: &[&str]) -> Arc<dyn Resource> {
        let mut f = File::plain(path.into(), content.into(), PresentAbsent::Present);
        f.mode = None;
        f.notify = notify.iter().map(|s| s.to_string()).collect();
        Arc::new(f)
    }

    fn prepared(r: Arc<dyn Resource>) -> Prepared {
        Prepared { label: r.label(), resource: Some(r), skipped: None }
    }

    fn handlers() -> Handlers {
        let mut h = Handlers::new();
        let cmd = Command {
            cmd: "echo restarted >> \"$LOG\"".into(),
            creates: None,
            unless: None,
            chdir: None,
            notify: vec![],
        };
        h.insert("restart app".to_string(), Arc::new(cmd));
        h
    }

    #[test]
    fn handler_runs_only_when_a_notifier_changed() {
        let mut st = HostState::default();
        st.insert(path::query("/a"), PathState { content: Some(b"x".to_vec()), ..PathState::file(b"x", 0) });
        st.insert(path::query(&pending_path("app")), PathState::default());
        let p = vec![prepared(file_res("/a", "x", &["restart app"]))];
        assert!(plan_unit("app", &p, &handlers(), &st).handlers.is_empty());
        let p = vec![prepared(file_res("/a", "y", &["restart app"]))];
        let plan = plan_unit("app", &p, &handlers(), &st);
        assert_eq!(plan.handlers.len(), 1);
        assert_eq!(plan.changes(), 2);
    }

    #[test]
    fn handlers_that_need_no_state_are_not_probed() {
        let q = queries("app", &[], &handlers());
        assert_eq!(q.into_iter().collect::<Vec<_>>(), [path::query(&pending_path("app"))]);
    }

    #[test]
    fn pending_handlers_from_an_interrupted_run_are_owed() {
        let mut st = HostState::default();
        st.insert(path::query(&pending_path("app")), PathState::file(b"restart app\n", 0o644));
        let plan = plan_unit("app", &[], &handlers(), &st);
        assert_eq!(plan.handlers[0].handler, "restart app");
    }
}
