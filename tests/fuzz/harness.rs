//! The fuzz harness, shared by the cargo-fuzz targets (tests/fuzz/fuzz_targets/)
//! and by the regression test (tests/fuzz_regressions.rs), so a saved crash
//! input replays through exactly the code that found it.
//!
//! Each entry point writes the input where rigger expects the file and loads
//! it through the public API (there is no in-memory entry point: `Source`
//! reads from a path). The property is: never panic. Errors are fine, and
//! their Display (the caret-annotated message) is rendered too, since that
//! code slices the input by line and column.
#![allow(dead_code)]

use std::cell::RefCell;
use std::path::{Path, PathBuf};

thread_local! {
    /// A scratch directory per thread (the regression test runs in threads).
    static SCRATCH: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

/// `$RIGGER_FUZZ_TMP` (run.sh sets and removes it), else the system temp dir.
fn scratch() -> PathBuf {
    SCRATCH.with(|s| {
        s.borrow_mut()
            .get_or_insert_with(|| {
                let base = std::env::var_os("RIGGER_FUZZ_TMP").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                let d = base.join(format!("rigger-fuzz-{}-{nanos:x}", std::process::id()));
                std::fs::create_dir_all(&d).expect("scratch dir");
                d
            })
            .clone()
    })
}

fn write(path: &Path, data: &[u8]) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).expect("mkdir");
    }
    std::fs::write(path, data).expect("write fuzz input");
}

/// Removes the scratch dir of this thread (the regression test calls it).
pub fn cleanup() {
    SCRATCH.with(|s| {
        if let Some(d) = s.borrow_mut().take() {
            let _ = std::fs::remove_dir_all(d);
        }
    });
}

// ---------------------------------------------------------------------------
// inventory
// ---------------------------------------------------------------------------

/// `hosts.yaml`: the YAML loader.
pub fn inventory_yaml(data: &[u8]) {
    inventory(data, "yaml", "hosts.yaml");
}

/// `hosts.ini` (INI by extension) and `hosts` (no extension: sniffed as INI or YAML).
pub fn inventory_ini(data: &[u8]) {
    inventory(data, "ini", "hosts.ini");
    inventory(data, "noext", "hosts");
}

fn inventory(data: &[u8], sub: &str, name: &str) {
    // No group_vars/ or host_vars/ beside it: host and group names are read
    // as paths below those, and the fuzzer must not wander the file system.
    let path = scratch().join(sub).join(name);
    write(&path, data);
    match rigger::project::inventory::Inventory::load(&path) {
        Err(e) => drop(e.to_string()),
        Ok(inv) => {
            // What every command does next with a loaded inventory.
            let _ = inv.to_ansible_json();
            for h in inv.hosts.keys().take(64) {
                let _ = inv.host_vars(h);
                let _ = inv.select(h);
            }
            for g in inv.groups.keys().take(64) {
                let _ = inv.group_hosts(g);
                let _ = inv.select(&format!("{g}:!{g}"));
            }
            let _ = inv.select("all");
            let _ = inv.select("*:&all,!ungrouped");
        }
    }
}

// ---------------------------------------------------------------------------
// site
// ---------------------------------------------------------------------------

pub fn site(data: &[u8]) {
    let path = scratch().join("site").join("site.yaml");
    write(&path, data);
    match rigger::project::site::Site::load(&path) {
        Err(e) => drop(e.to_string()),
        Ok(site) => {
            for (i, b) in site.bindings.iter().enumerate() {
                let _ = site.locate(i, &b.hosts).to_string();
                for r in &b.roles {
                    let _ = site.locate(i, r);
                }
                if let Some(s) = b.serial {
                    for n in [0, 1, 7, 1000] {
                        let _ = s.batch_size(n);
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// role
// ---------------------------------------------------------------------------

/// `roles/r/role.yaml`, beside a template and a file it may name (`t.tera`,
/// `f`). A role that loads is then taken as far as rigger takes it offline
/// and on plan: every resource and handler rendered with the role's
/// defaults, its probe queries answered by a canned host, planned, and its
/// probe and apply scripts generated.
pub fn role(data: &[u8]) {
    let root = scratch().join("project");
    let roles_dir = root.join("roles");
    let dir = roles_dir.join("r");
    // Fresh templates/ and files/ each run (no state leaks between inputs),
    // holding `t.tera`, `f`, and every name the input gives as a `src:`, so
    // real roles get past the existence check into rendering and planning.
    for sub in ["templates", "files"] {
        let _ = std::fs::remove_dir_all(dir.join(sub));
    }
    write(&dir.join("templates/t.tera"), b"# {{ greeting | default(value=\"hi\") }}\n");
    write(&dir.join("files/f"), b"plain file\n");
    for name in src_names(data) {
        // Best effort: `a` and `a/b` cannot both be made; then the load just says "not found".
        for (sub, body) in [
            ("templates", &b"# rendered for {{ greeting | default(value=\"you\") }}\n"[..]),
            ("files", &b"a file\n"[..]),
        ] {
            let p = dir.join(sub).join(&name);
            let _ = p.parent().map(std::fs::create_dir_all);
            let _ = std::fs::write(&p, body);
        }
    }
    write(&dir.join("role.yaml"), data);
    let role = match rigger::project::role::Role::load(&roles_dir, "r") {
        Err(e) => return drop(e.to_string()),
        Ok(role) => role,
    };
    let mut all = rigger::project::role::Roles::new(&roles_dir);
    if let Err(e) =
        all.load("r", &|| rigger::error::Location::new(Path::new("site.yaml"), "- hosts: all\n  roles: [r]\n", 2, 11))
    {
        drop(e.to_string());
    }
    plan_role(&root, &role);
}

/// Names after `src:` / `key_src:` in the input that are safe to create
/// under the role (relative, no `..`, short, no NUL), at most 8.
fn src_names(data: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    for (i, _) in text.match_indices("src:") {
        let rest = &text[i + 4..];
        let end = rest.find(['\n', ',', '}']).unwrap_or(rest.len());
        let name = rest[..end].trim().trim_matches(['"', '\'']).trim();
        let ok = !name.is_empty()
            && name.len() < 100
            && !name.starts_with('/')
            && !name.contains('\0')
            && !name.contains("{{")
            && name.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
        if ok && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
        if out.len() == 8 {
            break;
        }
    }
    out
}

fn plan_role(root: &Path, role: &rigger::project::role::Role) {
    use rigger::{plan, prepare};
    let renderer = match rigger::template::Renderer::new(root, [role.dir.as_path()], None) {
        Ok(r) => r,
        Err(e) => return drop(e.to_string()),
    };
    let ctx = rigger::template::context(&role.defaults);
    let mut prepared = Vec::new();
    for (decl, spec) in &role.resources {
        let _ = prepare::prepare(root, role, decl, spec, &renderer, &ctx, &Default::default(), false);
        match prepare::prepare(
            root,
            role,
            decl,
            spec,
            &renderer,
            &ctx,
            &rigger::project::tags::Tags { only: vec!["r".to_string()], skip: vec![] },
            true,
        ) {
            Ok(p) => prepared.push(p),
            Err(e) => drop(e),
        }
    }
    let mut handlers = indexmap::IndexMap::new();
    for (name, (decl, spec)) in &role.handlers {
        if let Some(w) = &decl.when {
            let _ = renderer.eval_bool(w, &ctx);
        }
        if let Ok(res) = prepare::resolve(root, role, spec, &renderer, &ctx, true) {
            handlers.insert(name.clone(), plan::Handler { role: role.name.clone(), resource: res });
        }
    }
    let queries = plan::queries(&role.name, &prepared, &handlers);
    let marker = "@@rigger-fuzz@@";
    let _ = rigger::session::probe::script(&queries, true, marker);
    let state = canned_host(&queries);
    let unit = plan::plan_unit(&prepared, &handlers, &state, &plan::Sharing::default());
    let _ = rigger::session::apply::script(&role.name, &unit, marker);
    for r in &unit.resources {
        let _ = r.public();
    }
}

/// A host that answers every query: paths absent, a file or a directory
/// (by the path's length), nothing installed, services stopped.
fn canned_host(
    queries: &std::collections::BTreeSet<rigger::session::probe::Query>,
) -> rigger::session::probe::HostState {
    use rigger::resource::command::{self, Succeeds};
    use rigger::resource::docker_container::{self, ContainerInfo};
    use rigger::resource::package::{self, Version};
    use rigger::resource::path::{self, PathKind, PathState};
    use rigger::resource::service::{self, UnitState};
    use rigger::resource::user::{self, UserState};
    use rigger::resource::{group, sysctl};
    use std::ptr::eq;
    let mut st = rigger::session::probe::HostState::default();
    for q in queries {
        let (probe, n) = (q.probe, q.arg.as_str());
        if eq(probe, &path::PATH) {
            let ps = match n.len() % 3 {
                0 => PathState { kind: PathKind::Absent, ..Default::default() },
                1 => PathState {
                    kind: PathKind::File,
                    mode: 0o644,
                    owner: "root".into(),
                    group: "root".into(),
                    size: 3,
                    content: Some(b"a=1\n".to_vec()),
                    sha256: None,
                },
                _ => PathState {
                    kind: PathKind::Directory,
                    mode: 0o755,
                    owner: "root".into(),
                    group: "root".into(),
                    ..Default::default()
                },
            };
            st.insert(q.clone(), ps);
        } else if eq(probe, &package::INSTALLED) {
            st.insert(q.clone(), Version(if n.len() % 2 == 0 { None } else { Some("1.0".into()) }));
        } else if eq(probe, &package::CANDIDATE) {
            st.insert(q.clone(), Version(Some("2.0".into())));
        } else if eq(probe, &service::UNIT) {
            st.insert(
                q.clone(),
                UnitState { load: "loaded".into(), active: "inactive".into(), enabled: "disabled".into() },
            );
        } else if eq(probe, &command::SUCCEEDS) {
            st.insert(q.clone(), Succeeds(n.len() % 2 == 0));
        } else if eq(probe, &user::PASSWD) {
            st.insert(q.clone(), None::<UserState>);
        } else if eq(probe, &group::GETENT_GROUP) {
            st.insert(q.clone(), None::<u32>);
        } else if eq(probe, &sysctl::LIVE) {
            st.insert(q.clone(), Some("0".to_string()));
        } else if eq(probe, &docker_container::INSPECT) {
            st.insert(q.clone(), None::<ContainerInfo>);
        } else {
            // A probe this host does not know: the planner says "not probed", which the
            // fuzzer sees as an error, not a crash; add the new probe above.
        }
    }
    st
}
