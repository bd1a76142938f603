//! Handlers across roles: which handler a `notify:` names on a host. A
//! role's own handler comes first, then the one other role converged on the
//! same host that defines the name (two is an error, none is an error).
//! Checked at load for every host of the site: the answer depends on which
//! roles share the host. Also the roles that may notify each handler (its
//! group): it runs once per host, at the end of the last of them to converge.

use super::role::{Role, Roles};
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::plan::{Handler, HandlerKey, Handlers};
use crate::prepare;
use crate::resource::ResourceError;
use crate::template::Renderer;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

/// The rule, for `rigger doc` (the README says the same at more length).
pub const DOC: &str = "notify: NAME finds the handler NAME of the role itself, else of the one other role \
converged on the same host that defines it (two such roles: an error naming both; none: an error naming \
the roles searched). A handler runs once per host per run, at the end of the last unit on that host among \
its role and the roles that notify it, after every change that notified it. Until it ran it is journaled \
on the host (pending/ROLE of the role that defines it), so a failure in between leaves it owed to the \
next run.";

/// The handlers of one host, as its roles see them.
#[derive(Debug, Default, Clone)]
pub struct HostHandlers {
    /// (notifying role, notified name) → the role that defines the handler.
    targets: HashMap<(String, String), String>,
    /// Each handler notified on the host → the roles that define or notify it.
    groups: BTreeMap<HandlerKey, BTreeSet<String>>,
}

impl HostHandlers {
    /// Resolves every `notify:` of the roles of one host (`on_host`, all loaded in `roles`).
    pub fn resolve(roles: &Roles, on_host: &[&str], host: &str) -> Result<Self> {
        let mut hh = HostHandlers::default();
        for &name in on_host {
            let role = roles.get(name);
            for (i, (_, spec)) in role.resources.iter().enumerate() {
                for n in spec.notify() {
                    let owner = owner(roles, role, on_host, host, n, i)?;
                    let key = HandlerKey { role: owner.clone(), name: n.clone() };
                    hh.groups.entry(key).or_insert_with(|| [owner.clone()].into()).insert(name.to_string());
                    hh.targets.insert((name.to_string(), n.clone()), owner);
                }
            }
        }
        Ok(hh)
    }

    /// The role whose handler `name` is, as `role` notifies it.
    pub fn owner(&self, role: &str, name: &str) -> Option<&str> {
        self.targets.get(&(role.to_string(), name.to_string())).map(String::as_str)
    }

    /// Handlers whose group has a role in `remaining` (units still to run on
    /// the host): those run later, at the end of the last of them.
    pub fn later<'a>(&self, remaining: impl IntoIterator<Item = &'a str> + Clone) -> BTreeSet<HandlerKey> {
        let mut out = BTreeSet::new();
        for (key, group) in &self.groups {
            if remaining.clone().into_iter().any(|r| group.contains(r)) {
                out.insert(key.clone());
            }
        }
        out
    }

    /// A host where each (notifying role, name, owning role) holds: for tests elsewhere.
    #[cfg(test)]
    pub fn for_tests(notifies: &[(&str, &str, &str)]) -> Self {
        let mut hh = HostHandlers::default();
        for (role, name, owner) in notifies {
            let key = HandlerKey { role: owner.to_string(), name: name.to_string() };
            hh.groups.entry(key).or_insert_with(|| [owner.to_string()].into()).insert(role.to_string());
            hh.targets.insert((role.to_string(), name.to_string()), owner.to_string());
        }
        hh
    }

    /// Whether `role` owns or may notify `key`.
    pub fn in_group(&self, key: &HandlerKey, role: &str) -> bool {
        key.role == role || self.groups.get(key).is_some_and(|g| g.contains(role))
    }
}

/// The role that defines `handler` as `role`'s `index`-th resource notifies it on `host`.
fn owner(roles: &Roles, role: &Role, on_host: &[&str], host: &str, handler: &str, index: usize) -> Result<String> {
    if role.handlers.contains_key(handler) {
        return Ok(role.name.clone());
    }
    let others: Vec<&str> = on_host.iter().copied().filter(|r| *r != role.name).collect();
    let defining: Vec<&str> = others.iter().copied().filter(|r| roles.get(r).handlers.contains_key(handler)).collect();
    let at = || role.locate_token(index, handler);
    match defining.as_slice() {
        [one] => Ok(one.to_string()),
        [] if others.is_empty() => {
            let known: Vec<&str> = role.handlers.keys().map(String::as_str).collect();
            Err(Error::at_with_help(
                at(),
                format!("resource notifies handler `{handler}`, which role `{}` does not define", role.name),
                if known.is_empty() {
                    "this role has no `handlers:`".to_string()
                } else {
                    format!("handlers here: {}", known.join(", "))
                },
            ))
        }
        [] => {
            let searched: Vec<String> = std::iter::once(role.name.as_str())
                .chain(others.iter().copied())
                .map(|r| {
                    let hs: Vec<&str> = roles.get(r).handlers.keys().map(String::as_str).collect();
                    if hs.is_empty() {
                        format!("{r} (no handlers)")
                    } else {
                        format!("{r} ({})", hs.join(", "))
                    }
                })
                .collect();
            Err(Error::at_with_help(
                at(),
                format!("resource notifies handler `{handler}`, which no role on host {host} defines"),
                format!("roles searched: {}", searched.join("; ")),
            ))
        }
        [a, b, ..] => Err(Error::at_with_help(
            at(),
            format!("resource notifies handler `{handler}`, which roles `{a}` and `{b}` both define on host {host}"),
            format!("rename one of them, or define `{handler}` in role `{}` itself", role.name),
        )),
    }
}

/// The handlers of every host of `graph`, resolved once per distinct set of roles.
pub fn per_host(graph: &Graph, roles: &Roles) -> Result<HashMap<String, Arc<HostHandlers>>> {
    let mut on_host: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (h, r) in graph.units.keys() {
        on_host.entry(h.as_str()).or_default().push(r.as_str());
    }
    let mut seen: HashMap<Vec<&str>, Arc<HostHandlers>> = HashMap::new();
    let mut out = HashMap::new();
    for (host, mut rs) in on_host {
        rs.sort();
        let hh = match seen.get(&rs) {
            Some(hh) => hh.clone(),
            None => {
                let hh = Arc::new(HostHandlers::resolve(roles, &rs, host)?);
                seen.insert(rs, hh.clone());
                hh
            }
        };
        out.insert(host.to_string(), hh);
    }
    // A role on no host (an `after:` target bound nowhere) is still checked, on its own.
    let placed: BTreeSet<&str> = graph.units.keys().map(|(_, r)| r.as_str()).collect();
    for name in roles.roles.keys().filter(|r| !placed.contains(r.as_str())) {
        HostHandlers::resolve(roles, &[name.as_str()], "")?;
    }
    Ok(out)
}

/// Why a handler of a unit cannot be prepared: its role, its name, the error.
pub type HandlerError = Box<(String, String, ResourceError)>;

/// What preparing a unit's handlers reads from the project.
pub struct Inputs<'a> {
    pub root: &'a Path,
    pub roles: &'a Roles,
    pub renderer: &'a Renderer,
    /// The host's resolution (none for a host without units).
    pub resolved: Option<&'a HostHandlers>,
}

/// The handlers of `role_name`'s unit on a host, rendered for it: its own,
/// and those of other roles its resources notify there.
pub fn prepare(
    inp: &Inputs,
    role_name: &str,
    ctx: prepare::HostCtx,
    full: bool,
) -> std::result::Result<Handlers, HandlerError> {
    let r = inp.roles.get(role_name);
    let mut wanted: Vec<(&str, &str)> = r.handlers.keys().map(|n| (role_name, n.as_str())).collect();
    for (_, spec) in &r.resources {
        for n in spec.notify() {
            if let Some(owner) = inp.resolved.and_then(|hh| hh.owner(role_name, n)).filter(|o| *o != role_name) {
                if !wanted.contains(&(owner, n.as_str())) {
                    wanted.push((owner, n.as_str()));
                }
            }
        }
    }
    let mut handlers = Handlers::new();
    for (owner, name) in wanted {
        let o = inp.roles.get(owner);
        let error = |e| Box::new((owner.to_string(), name.to_string(), e));
        let (decl, spec) = &o.handlers[name];
        if let Some(w) = decl.when.as_ref().filter(|_| full) {
            match inp.renderer.eval_bool_in(o.dialect, w, ctx.real) {
                Ok(false) => continue,
                Ok(true) => {}
                Err(e) => return Err(error(ResourceError::Render(e))),
            }
        }
        match prepare::resolve_in(inp.root, o, spec, &decl.body(spec), inp.renderer, ctx, full) {
            Ok(res) => {
                let resource = crate::resource::privilege::wrap(res, &decl.privilege);
                handlers.insert(name.to_string(), Handler { role: owner.to_string(), resource });
            }
            Err(_) if !full => {}
            Err(e) => return Err(error(e)),
        }
    }
    Ok(handlers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::fixture::inventory;
    use crate::project::inventory::Inventory;
    use crate::project::site::Site;

    /// Loads a small project's roles and graph and resolves its hosts' handlers; an error as text.
    fn resolve(site: &str, roles: &[(&str, &str)]) -> std::result::Result<HashMap<String, Arc<HostHandlers>>, String> {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("inventory/hosts.yaml", &inventory(&[("lb", &["h1"]), ("web", &["h2"])]));
        write("site.yaml", site);
        for (name, text) in roles {
            write(&format!("roles/{name}/role.yaml"), text);
        }
        let load = || {
            let inv = Inventory::load(&root.join("inventory/hosts.yaml"))?;
            let site = Site::load(&root.join("site.yaml"))?;
            let mut all = Roles::new(&root.join("roles"));
            for (i, b) in site.bindings.iter().enumerate() {
                for r in &b.roles {
                    all.load(r, &|| site.locate(i, r))?;
                }
            }
            per_host(&Graph::build(&inv, &site, &all, None)?, &all)
        };
        load().map_err(|e| e.to_string())
    }

    const APP: &str = "resources:\n  - file: { path: /a, content: x, notify: reload lb }\n";
    const LB: &str = "resources: []\nhandlers:\n  reload lb: { command: { cmd: reload } }\n";
    const LB2: &str = "resources: []\nhandlers:\n  reload lb: { command: { cmd: reload again } }\n";

    #[test]
    fn the_roles_own_handler_comes_first() {
        let own = "resources:\n  - file: { path: /a, content: x, notify: reload lb }\nhandlers:\n  reload lb: { command: { cmd: mine } }\n";
        let hh = resolve("- hosts: lb\n  roles: [app, lb]\n", &[("app", own), ("lb", LB)]).unwrap();
        assert_eq!(hh["h1"].owner("app", "reload lb"), Some("app"));
    }

    #[test]
    fn a_handler_is_found_in_another_role_on_the_host() {
        let hh = resolve("- hosts: lb\n  roles: [app, lb]\n", &[("app", APP), ("lb", LB)]).unwrap();
        assert_eq!(hh["h1"].owner("app", "reload lb"), Some("lb"));
        let key = crate::plan::HandlerKey { role: "lb".into(), name: "reload lb".into() };
        assert!(hh["h1"].in_group(&key, "app") && hh["h1"].in_group(&key, "lb"));
        assert_eq!(hh["h1"].later(["lb"]), [key.clone()].into(), "waits for lb's unit");
        assert_eq!(hh["h1"].later(["other"]), Default::default());
    }

    #[test]
    fn a_name_two_other_roles_define_is_ambiguous() {
        let e =
            resolve("- hosts: lb\n  roles: [app, lb, lb2]\n", &[("app", APP), ("lb", LB), ("lb2", LB2)]).unwrap_err();
        assert!(e.contains("handler `reload lb`, which roles `lb` and `lb2` both define on host h1"), "{e}");
    }

    #[test]
    fn a_role_on_no_host_is_checked_on_its_own() {
        // `after: [app]` loads app, which no binding puts on a host.
        let lb = format!("after: [app]\n{LB}");
        let e = resolve("- hosts: lb\n  roles: [lb]\n", &[("app", APP), ("lb", &lb)]).unwrap_err();
        assert!(e.contains("handler `reload lb`, which role `app` does not define"), "{e}");
    }

    #[test]
    fn a_name_no_role_on_the_host_defines_is_missing() {
        // lb defines it, but on another host: not found where app runs.
        let site = "- hosts: web\n  roles: [app, other]\n- hosts: lb\n  roles: [lb]\n";
        let e = resolve(site, &[("app", APP), ("lb", LB), ("other", "resources: []\n")]).unwrap_err();
        assert!(e.contains("handler `reload lb`, which no role on host h2 defines"), "{e}");
        assert!(e.contains("roles searched: app (no handlers); other (no handlers)"), "{e}");
    }
}
