//! `rigger check`: every resource and template rendered for every host,
//! offline, in parallel over the cores; with `--out`, the rendered files.

use super::Project;
use crate::graph::Node;
use crate::session::target::Target;
use petgraph::graph::NodeIndex;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// What `check` found: errors, and the hosts some unit of which reads facts
/// that are not known offline (no cache, no `facts:` stub), so not rendered.
#[derive(Debug, Default)]
pub struct Checked {
    pub errors: Vec<String>,
    pub unchecked: Vec<String>,
}

impl Project {
    /// `rigger check`: render every resource and template for every host, offline.
    /// With `out`, every rendered file is written to `out/<host>/<path>` for review or snapshots.
    /// With `show_secrets`, files that depend on a secret (and `secret: true`
    /// ones) are written as they are; else masked (and secret ones not at all).
    /// `facts`: each host's offline facts (`fact_cache`); a unit that reads
    /// facts of a host without any is not rendered, and its host is named in
    /// the second list (not fully checked).
    pub fn check(&self, out: Option<&Path>, show_secrets: bool, facts: &HashMap<String, Value>) -> Checked {
        // Rendering is the work here (a template per unit, often over every host):
        // spread the units over the cores; errors come back in unit order.
        let units = self.units();
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(units.len().max(1));
        let chunk = units.len().div_ceil(threads).max(1);
        let results: Vec<(Vec<String>, Option<String>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = units
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter().map(|n| self.check_unit(*n, out, show_secrets, facts)).collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join().unwrap_or_else(|_| vec![(vec!["internal error: a check thread panicked".into()], None)])
                })
                .collect()
        });
        let mut checked = Checked::default();
        for (errors, unchecked) in results {
            checked.errors.extend(errors);
            checked.unchecked.extend(unchecked);
        }
        checked.errors.dedup();
        checked.unchecked.dedup();
        checked
    }

    fn check_unit(
        &self,
        n: NodeIndex,
        out: Option<&Path>,
        show_secrets: bool,
        facts: &HashMap<String, Value>,
    ) -> (Vec<String>, Option<String>) {
        let mut errors = Vec::new();
        let Node::Unit { host, role, .. } = &self.graph.g[n] else { return (errors, None) };
        let facts = facts.get(host);
        let mut unchecked = None;
        // Files written masked need the sealed render; otherwise only a failure does.
        let errors_only = out.is_none() || show_secrets;
        // A var that reads `facts` is known only after the probe: what it
        // fails is known later too, and a file that reads it is not written.
        let later = self.reads_later(host, role);
        match self.prepare_unit_with(host, role, facts, true, errors_only) {
            Err(e) if facts.is_none() && later.iter().any(|v| e.to_string().contains(&format!("`{v}`"))) => {
                unchecked = Some(host.clone())
            }
            // The role itself reads `facts` (a `when:`, a field, a template): known later as well.
            Err(e) if facts.is_none() && reads_facts_unprobed(&e.to_string()) => unchecked = Some(host.clone()),
            Err(e) => errors.push(format!("host {host}: {e}")),
            Ok(_) if facts.is_none() && !later.is_empty() => unchecked = Some(host.clone()),
            Ok((prepared, _)) => {
                let dir = out.unwrap_or(Path::new("."));
                let files = prepared.iter().filter_map(|p| p.resource.as_ref()).filter(|_| out.is_some());
                let shown = |r: &std::sync::Arc<dyn crate::resource::Resource>| {
                    if show_secrets {
                        r.rendered_in_clear()
                    } else {
                        r.rendered()
                    }
                };
                for (path, content) in files.flat_map(shown) {
                    let Some(dest) = inside(dir, host, &path) else {
                        errors.push(format!("host {host}: refusing to write {path} outside {}", dir.display()));
                        continue;
                    };
                    let written = dest
                        .parent()
                        .map(std::fs::create_dir_all)
                        .transpose()
                        .and_then(|_| std::fs::write(&dest, content));
                    if let Err(e) = written {
                        errors.push(format!("cannot write {}: {e}", dest.display()));
                    }
                }
            }
        }
        if let Err(e) = Target::from_vars(host, &self.vars[host]) {
            errors.push(format!("host {host}: {e}"));
        }
        (errors, unchecked)
    }
}

/// `dir/host/path`, or `None` when the host or the path would leave `dir`
/// (`..`, a host name with `/`): `--out` writes nowhere else.
fn inside(dir: &Path, host: &str, path: &str) -> Option<std::path::PathBuf> {
    use std::path::Component;
    let rel = Path::new(path.trim_start_matches('/'));
    let host_ok = !host.is_empty() && host != "." && host != ".." && !host.contains('/');
    let path_ok = rel.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    (host_ok && path_ok).then(|| dir.join(host).join(rel))
}

/// Whether a render error is only `facts` being undefined (`facts` or
/// `facts.os.id` quoted as not defined), as it is in `check`, which probes nothing.
fn reads_facts_unprobed(message: &str) -> bool {
    message.match_indices('`').any(|(i, _)| {
        let rest = &message[i + 1..];
        let Some(end) = rest.find('`') else { return false };
        let name = &rest[..end];
        let facts = |root: &str| name == root || name.starts_with(&format!("{root}."));
        (facts("facts") || facts("ansible_facts")) && rest[end..].starts_with("` is not defined")
    })
}

#[cfg(test)]
mod tests {
    use super::inside;
    use std::path::Path;

    #[test]
    fn out_files_stay_inside_the_folder() {
        let d = Path::new("/tmp/out");
        assert_eq!(inside(d, "web1", "/etc/app.conf"), Some(d.join("web1/etc/app.conf")));
        assert_eq!(inside(d, "web1", "/../../../../x"), None);
        assert_eq!(inside(d, "web1", "/etc/../../x"), None);
        assert_eq!(inside(d, "..", "/x"), None);
        assert_eq!(inside(d, "a/b", "/x"), None);
    }

    #[test]
    fn only_facts_undefined_is_known_later() {
        use super::reads_facts_unprobed as later;
        assert!(later("role a: Variable `facts` is not defined. If it may be missing…"));
        assert!(later("`facts.os.id` is not defined"));
        assert!(!later("Variable `factsy` is not defined"));
        assert!(!later("Variable `port` is not defined (facts.x in the line)"));
    }
}
