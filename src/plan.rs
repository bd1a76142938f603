//! Pure planning: a unit's resources, rendered for one host, are turned into
//! `Resource`s (`prepare`), and planned against the probed state
//! (`plan_unit`). Nothing here touches a host, so it is tested from data.

use crate::probe::{HostState, Query};
use crate::resource::spec::{PackageState, Spec};
use crate::resource::{account, apt_repository, command, file, package, service, sysctl, Decl, Resource, Step};
use crate::role::Role;
use crate::template::Renderer;
use indexmap::IndexMap;
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::Path;
use tera::Context;

/// Where pending handlers are recorded on a host, so a failure cannot lose them.
pub const PENDING_DIR: &str = "/var/lib/rigger/pending";

pub fn pending_path(role: &str) -> String {
    format!("{PENDING_DIR}/{role}")
}

/// A resource ready to plan, or the reason it is skipped.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub label: String,
    pub resource: Option<Resource>,
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

/// Renders and resolves one declared resource for a host.
/// With `full` false (before facts are known), `when` is not evaluated and
/// template content is not rendered: enough to know what to probe.
pub fn prepare(
    root: &Path,
    role: &Role,
    decl: &Decl,
    spec: &Spec,
    r: &Renderer,
    ctx: &Context,
    tags: &[String],
    full: bool,
) -> Result<Prepared, String> {
    let name = decl.name.as_ref().map(|n| r.render_str(n, ctx, "name")).transpose()?;
    let label_of = |res: &Resource| name.clone().unwrap_or_else(|| res.label());
    if !tags.is_empty() && !tags.iter().any(|t| decl.tags.contains(t) || *t == role.name) {
        return Ok(Prepared {
            label: name.clone().unwrap_or_else(|| kind(spec).into()),
            resource: None,
            skipped: Some("not in --tags".into()),
        });
    }
    if let Some(w) = decl.when.as_ref().filter(|_| full) {
        if !r.eval_bool(w, ctx)? {
            // A skipped resource is not resolved: its fields may only make sense when it runs.
            let label = name
                .clone()
                .or_else(|| resolve(root, role, spec, r, ctx, false).ok().map(|res| res.label()))
                .unwrap_or_else(|| kind(spec).into());
            return Ok(Prepared { label, resource: None, skipped: Some(format!("when: {w}")) });
        }
    }
    let res = resolve(root, role, spec, r, ctx, full)?;
    Ok(Prepared { label: label_of(&res), resource: Some(res), skipped: None })
}

fn kind(spec: &Spec) -> &'static str {
    match spec {
        Spec::Package(_) => "package",
        Spec::File(_) => "file",
        Spec::Directory(_) => "directory",
        Spec::Template(_) => "template",
        Spec::Service(_) => "service",
        Spec::Command(_) => "command",
        Spec::Line(_) => "line",
        Spec::User(_) => "user",
        Spec::Group(_) => "group",
        Spec::Sysctl(_) => "sysctl",
        Spec::AptRepository(_) => "apt_repository",
        Spec::DockerContainer(_) => "docker_container",
    }
}

fn mode(m: &Option<crate::resource::spec::ModeSpec>) -> Result<Option<u32>, String> {
    m.as_ref().map(file::parse_mode).transpose()
}

fn read_role_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Renders every string of `spec` for this host, then builds the resource.
pub fn resolve(
    root: &Path,
    role: &Role,
    spec: &Spec,
    r: &Renderer,
    ctx: &Context,
    content: bool,
) -> Result<Resource, String> {
    let res = build(root, role, spec, r, ctx, content)?;
    // What can be checked without a host is checked here, so `rigger check` catches it.
    match &res {
        Resource::File(f) => file::check_path(&f.path)?,
        Resource::Directory(d) => file::check_path(&d.path)?,
        Resource::Line(l) => file::check_path(&l.path)?,
        Resource::Command(c) => c.creates.as_deref().map(file::check_path).transpose().map(|_| ())?,
        _ => {}
    }
    Ok(res)
}

fn build(
    root: &Path,
    role: &Role,
    spec: &Spec,
    r: &Renderer,
    ctx: &Context,
    content: bool,
) -> Result<Resource, String> {
    let mut v = serde_json::to_value(spec).map_err(|e| e.to_string())?;
    r.render_value(&mut v, ctx, "")?;
    let spec: Spec = serde_json::from_value(v).map_err(|e| format!("after rendering: {e}"))?;
    Ok(match spec {
        Spec::Package(p) => {
            let mut names: Vec<String> = p.name.map(|n| n.0).unwrap_or_default();
            names.extend(p.names.map(|n| n.0).unwrap_or_default());
            if names.is_empty() {
                return Err("package needs `name` or `names`".into());
            }
            let mut debs = Vec::new();
            if let Some(pattern) = &p.deb {
                let full = if Path::new(pattern).is_absolute() {
                    pattern.clone()
                } else {
                    root.join(pattern).to_string_lossy().into_owned()
                };
                let paths = glob::glob(&full).map_err(|e| format!("bad deb pattern {pattern:?}: {e}"))?;
                for path in paths.flatten() {
                    let bytes = read_role_file(&path)?;
                    debs.push((path.file_name().unwrap_or_default().to_string_lossy().into_owned(), bytes));
                }
                if debs.is_empty() {
                    return Err(format!("no .deb file matches {pattern:?}"));
                }
                if p.state == PackageState::Latest {
                    return Err("`deb` packages cannot be `latest`".into());
                }
            }
            Resource::Package(package::Package {
                names,
                state: p.state,
                update_cache: p.update_cache,
                debs,
                notify: p.notify.0,
            })
        }
        Spec::File(f) => {
            let content = match (&f.content, &f.src) {
                (Some(_), Some(_)) => return Err("file takes `content` or `src`, not both".into()),
                (Some(c), None) => Some(c.clone().into_bytes()),
                (None, Some(s)) => Some(read_role_file(&role.file_path(s))?),
                (None, None) => None,
            };
            Resource::File(file::File {
                kind: "file",
                path: f.path,
                content,
                mode: mode(&f.mode)?,
                owner: f.owner,
                group: f.group,
                state: f.state,
                validate: f.validate,
                secret: f.secret,
                notify: f.notify.0,
            })
        }
        Spec::Template(t) => {
            let name = Renderer::name_of(root, &role.template_path(&t.src));
            let content = if content { Some(r.render_file(&name, ctx)?.into_bytes()) } else { None };
            Resource::File(file::File {
                kind: "template",
                path: t.dest,
                content,
                mode: mode(&t.mode)?,
                owner: t.owner,
                group: t.group,
                state: Default::default(),
                validate: t.validate,
                secret: t.secret,
                notify: t.notify.0,
            })
        }
        Spec::Directory(d) => Resource::Directory(file::Directory {
            path: d.path,
            mode: mode(&d.mode)?,
            owner: d.owner,
            group: d.group,
            state: d.state,
            notify: d.notify.0,
        }),
        Spec::Line(l) => {
            let regexp =
                l.regexp.as_deref().map(regex::Regex::new).transpose().map_err(|e| format!("bad regexp: {e}"))?;
            Resource::Line(file::Line {
                path: l.path,
                line: l.line,
                regexp,
                state: l.state,
                create: l.create,
                mode: mode(&l.mode)?,
                notify: l.notify.0,
            })
        }
        Spec::Service(s) => {
            Resource::Service(service::Service { name: s.name, state: s.state, enabled: s.enabled, notify: s.notify.0 })
        }
        Spec::Command(c) => Resource::Command(command::Command {
            cmd: c.cmd,
            creates: c.creates,
            unless: c.unless,
            chdir: c.chdir,
            notify: c.notify.0,
        }),
        Spec::User(u) => Resource::User(account::User {
            name: u.name,
            uid: u.uid,
            group: u.group,
            groups: u.groups,
            shell: u.shell,
            home: u.home,
            system: u.system,
            state: u.state,
        }),
        Spec::Group(g) => {
            Resource::Group(account::Group { name: g.name, gid: g.gid, system: g.system, state: g.state })
        }
        Spec::Sysctl(s) => {
            let value = match &s.value {
                serde_json::Value::String(v) => v.clone(),
                other => other.to_string(),
            };
            Resource::Sysctl(sysctl::Sysctl { name: s.name, value, persist: s.persist, notify: s.notify.0 })
        }
        Spec::AptRepository(a) => {
            let key = match (&a.key, &a.key_src) {
                (Some(k), _) => Some(k.clone().into_bytes()),
                (None, Some(src)) => Some(read_role_file(&role.file_path(src))?),
                (None, None) => None,
            };
            Resource::AptRepository(apt_repository::AptRepository {
                name: a.name,
                uri: a.uri,
                suite: a.suite,
                components: a.components,
                key,
                arch: a.arch,
                state: a.state,
                update_cache: a.update_cache,
                notify: a.notify.0,
            })
        }
        Spec::DockerContainer(d) => {
            let valid = ["no", "always", "on-failure", "unless-stopped"];
            if !valid.contains(&d.restart.as_str()) && !d.restart.starts_with("on-failure:") {
                return Err(format!("restart {:?} is not one of {}", d.restart, valid.join(", ")));
            }
            let mut env: Vec<(String, String)> = d.env.into_iter().collect();
            env.sort();
            Resource::Container(crate::resource::docker::Container {
                name: d.name,
                image: d.image,
                ports: d.ports,
                volumes: d.volumes,
                env,
                restart: d.restart,
                command: d.command.map(|c| c.0).unwrap_or_default(),
                state: d.state,
                notify: d.notify.0,
            })
        }
    })
}

/// Everything the probe must ask to plan this unit.
pub fn queries(role: &str, prepared: &[Prepared], handlers: &IndexMap<String, Resource>) -> BTreeSet<Query> {
    let mut q: BTreeSet<Query> =
        prepared.iter().filter_map(|p| p.resource.as_ref()).flat_map(Resource::queries).collect();
    for h in handlers.values() {
        if !matches!(h, Resource::Service(_) | Resource::Command(_)) {
            q.extend(h.queries());
        }
    }
    q.insert(Query::Path(pending_path(role)));
    q
}

/// Plans a unit against the probed state: which resources change, which handlers run.
pub fn plan_unit(
    role: &str,
    prepared: &[Prepared],
    handlers: &IndexMap<String, Resource>,
    state: &HostState,
) -> UnitPlan {
    let mut plan = UnitPlan::default();
    let mut notified: Vec<String> = Vec::new();
    // Handlers left pending by an earlier, interrupted run are owed first.
    if let Ok(p) = state.path(&pending_path(role)) {
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
                message: Some(e),
            }),
        }
    }
    for (name, h) in handlers {
        if notified.contains(name) {
            let steps = h.handler_steps(state).unwrap_or_else(|e| {
                vec![Step::new(format!("fail: {e}"), format!("echo {} >&2; exit 1\n", crate::shell::quote(&e)))]
            });
            plan.handlers.push(HandlerPlan { handler: name.clone(), steps });
        }
    }
    plan
}

/// The apply script for a unit: every step in order, stopping at the first
/// failure, then the handlers. The whole body is a function, so a script cut
/// short in transit runs nothing at all.
pub fn apply_script(role: &str, plan: &UnitPlan, marker: &str) -> String {
    let mut s = String::from("main() {\nexport LC_ALL=C\n");
    let step = |s: &mut String, id: &str, script: &str| {
        s.push_str(&format!(
            "echo '{marker} step {id}'\nout=$( ( set -e\n{script}) 2>&1 </dev/null ); rc=$?\nif [ $rc -ne 0 ]; then printf '%s\\n' \"$out\"; echo \"{marker} rc {id} $rc\"; return 0; fi\necho '{marker} rc {id} 0'\n"
        ));
    };
    if !plan.handlers.is_empty() {
        let names: Vec<String> = plan.handlers.iter().map(|h| crate::shell::quote(&h.handler)).collect();
        let record = format!(
            "mkdir -p {PENDING_DIR}\nprintf '%s\\n' {} > {}\n",
            names.join(" "),
            crate::shell::quote(&pending_path(role))
        );
        step(&mut s, "pending", &record);
    }
    for (i, r) in plan.resources.iter().enumerate() {
        for (j, st) in r.steps.iter().enumerate() {
            step(&mut s, &format!("r{i}.{j}"), &st.script);
        }
    }
    for (i, h) in plan.handlers.iter().enumerate() {
        for (j, st) in h.steps.iter().enumerate() {
            step(&mut s, &format!("h{i}.{j}"), &st.script);
        }
    }
    if !plan.handlers.is_empty() {
        step(&mut s, "done", &format!("rm -f -- {}\n", crate::shell::quote(&pending_path(role))));
    }
    s.push_str(&format!("echo '{marker} end'\n}}\nmain\n"));
    s
}

/// What happened when the apply script ran.
#[derive(Debug, Default)]
pub struct ApplyResult {
    /// (step id, exit code, output) of the step that failed.
    pub failed: Option<(String, i32, String)>,
    pub completed: bool,
}

pub fn parse_apply(output: &str, marker: &str) -> ApplyResult {
    let mut res = ApplyResult::default();
    let mut buf: Vec<&str> = Vec::new();
    let prefix = format!("{marker} ");
    for line in output.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            buf.push(line);
            continue;
        };
        let parts: Vec<&str> = rest.split(' ').collect();
        match parts.as_slice() {
            ["step", _] => buf.clear(),
            ["rc", id, code] if *code != "0" => {
                res.failed = Some((id.to_string(), code.parse().unwrap_or(1), buf.join("\n")));
            }
            ["end"] => res.completed = true,
            _ => {}
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::PathState;
    use crate::resource::spec::PresentAbsent;

    fn file_res(path: &str, content: &str, notify: &[&str]) -> Resource {
        Resource::File(file::File {
            kind: "file",
            path: path.into(),
            content: Some(content.into()),
            mode: None,
            owner: None,
            group: None,
            state: PresentAbsent::Present,
            validate: None,
            secret: false,
            notify: notify.iter().map(|s| s.to_string()).collect(),
        })
    }

    fn prepared(r: Resource) -> Prepared {
        Prepared { label: r.label(), resource: Some(r), skipped: None }
    }

    fn handlers() -> IndexMap<String, Resource> {
        let mut h = IndexMap::new();
        h.insert(
            "restart app".to_string(),
            Resource::Command(command::Command {
                cmd: "echo restarted >> \"$LOG\"".into(),
                creates: None,
                unless: None,
                chdir: None,
                notify: vec![],
            }),
        );
        h
    }

    #[test]
    fn handler_runs_only_when_a_notifier_changed() {
        let mut st = HostState::default();
        st.paths
            .insert("/a".into(), PathState { kind: "file".into(), content: Some(b"x".to_vec()), ..Default::default() });
        st.paths.insert(pending_path("app"), PathState { kind: "absent".into(), ..Default::default() });
        let p = vec![prepared(file_res("/a", "x", &["restart app"]))];
        assert!(plan_unit("app", &p, &handlers(), &st).handlers.is_empty());
        let p = vec![prepared(file_res("/a", "y", &["restart app"]))];
        let plan = plan_unit("app", &p, &handlers(), &st);
        assert_eq!(plan.handlers.len(), 1);
        assert_eq!(plan.changes(), 2);
    }

    #[test]
    fn pending_handlers_from_an_interrupted_run_are_owed() {
        let mut st = HostState::default();
        st.paths.insert(
            pending_path("app"),
            PathState { kind: "file".into(), content: Some(b"restart app\n".to_vec()), ..Default::default() },
        );
        let plan = plan_unit("app", &[], &handlers(), &st);
        assert_eq!(plan.handlers[0].handler, "restart app");
    }

    /// The generated apply script, run by a real sh: steps in order, handler at
    /// the end, pending record removed, and a failing step stops the rest.
    #[test]
    fn apply_script_runs_in_sh() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("conf file");
        let log = dir.path().join("log");
        let mut st = HostState::default();
        st.paths.insert(f.to_str().unwrap().into(), PathState { kind: "absent".into(), ..Default::default() });
        st.paths.insert(pending_path("app"), PathState { kind: "absent".into(), ..Default::default() });
        let p = vec![prepared(file_res(f.to_str().unwrap(), "hello $(x)\n", &["restart app"]))];
        let mut plan = plan_unit("app", &p, &handlers(), &st);
        // Run the pending record under the temp dir rather than /var/lib.
        let script =
            apply_script("app", &plan, "@@M@@").replace(PENDING_DIR, dir.path().join("pending").to_str().unwrap());
        let run = |script: &str| {
            let out = std::process::Command::new("sh").arg("-c").arg(script).env("LOG", &log).output().unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        let res = parse_apply(&run(&script), "@@M@@");
        assert!(res.completed && res.failed.is_none(), "{res:?}");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "hello $(x)\n");
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "restarted\n");
        assert!(!dir.path().join("pending/app").exists());

        plan.resources[0].steps.insert(0, Step::new("boom", "echo nope >&2\nfalse\n"));
        let res = parse_apply(
            &run(
                &apply_script("app", &plan, "@@M@@").replace(PENDING_DIR, dir.path().join("pending").to_str().unwrap())
            ),
            "@@M@@",
        );
        let (id, code, out) = res.failed.unwrap();
        assert_eq!((id.as_str(), code, out.as_str()), ("r0.0", 1, "nope"));
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "restarted\n", "handler did not run after a failure");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("pending/app")).unwrap(),
            "restart app\n",
            "pending handler recorded"
        );
    }
}
