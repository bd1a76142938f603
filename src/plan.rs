//! Pure planning: a unit's resources, rendered for one host, are turned into
//! `Resource`s (`prepare`), and planned against the probed state
//! (`plan_unit`). Nothing here touches a host, so it is tested from data.

use crate::project::role::Role;
use crate::resource::{path, AnySpec, Decl, Resolve, Resource, ResourceError, Step};
use crate::session::probe::{HostState, Query};
use crate::template::Renderer;
use indexmap::IndexMap;
use serde::Serialize;
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

/// Renders and resolves one declared resource for a host.
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
    if !tags.is_empty() && !tags.iter().any(|t| decl.tags.contains(t) || *t == role.name) {
        let label = name.clone().unwrap_or_else(|| spec.kind().into());
        return Ok(Prepared { label, resource: None, skipped: Some("not in --tags".into()) });
    }
    if let Some(w) = decl.when.as_ref().filter(|_| full) {
        if !r.eval_bool(w, cx.real).map_err(ResourceError::Render)? {
            // A skipped resource is not resolved: its fields may only make sense when it runs.
            let label = name
                .clone()
                .or_else(|| resolve_in(root, role, spec, r, cx, false).ok().map(|res| res.label()))
                .unwrap_or_else(|| spec.kind().into());
            return Ok(Prepared { label, resource: None, skipped: Some(format!("when: {w}")) });
        }
    }
    let res = resolve_in(root, role, spec, r, cx, full)?;
    Ok(Prepared { label: name.unwrap_or_else(|| res.label()), resource: Some(res), skipped: None })
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
    resolve_in(root, role, spec, r, HostCtx::plain(ctx), content)
}

/// `resolve`, rendered a second time with the stand-ins when there are
/// secrets: a resource that resolves differently is wrapped so that it shows
/// only what does not depend on them (`resource::sealed`).
pub fn resolve_in(
    root: &Path,
    role: &Role,
    spec: &AnySpec,
    r: &Renderer,
    cx: HostCtx,
    content: bool,
) -> Result<Arc<dyn Resource>, ResourceError> {
    let real = resolve_with(root, role, spec, r, cx.real, content);
    let Some(sealed) = cx.sealed.filter(|_| !cx.errors_only || real.is_err()) else { return real };
    let shadow = resolve_with(root, role, spec, r, sealed, content);
    match (real, shadow) {
        (Ok(res), Ok(shadow)) => Ok(crate::resource::sealed::wrap(res, shadow)),
        // The stand-ins cannot take the real value's path (a secret used as
        // a number, say): everything about it is taken as depending on it.
        (Ok(res), Err(_)) => Ok(crate::resource::sealed::wrap(res, Arc::new(Opaque(spec.kind())))),
        (Err(e), shadow) => Err(crate::resource::sealed::seal_error(e, shadow.err().as_ref())),
    }
}

fn resolve_with(
    root: &Path,
    role: &Role,
    spec: &AnySpec,
    r: &Renderer,
    ctx: &Context,
    content: bool,
) -> Result<Arc<dyn Resource>, ResourceError> {
    let mut v = spec.to_json();
    r.render_value(&mut v, ctx, spec.kind()).map_err(ResourceError::Render)?;
    let cx = Resolve { root, role_dir: &role.dir, renderer: r, ctx, content };
    spec.resolve_json(v, &cx)
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
