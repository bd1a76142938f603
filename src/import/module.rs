//! One Ansible module's arguments → one rigger resource. Each mapping takes
//! the options it can carry over, says what it dropped, and refuses (with
//! why) what rigger cannot mean the same way: the task then needs a hand.

use super::args::{self, boolean, is_false, mode, Args};
use serde_yaml::{Mapping, Value};

/// A rigger resource: its kind and its spec.
#[derive(Debug, Clone)]
pub struct Resource {
    pub kind: &'static str,
    pub spec: Mapping,
}

/// What a module became.
#[derive(Debug)]
pub enum Mapped {
    Resource(Resource, Vec<String>),
    /// Nothing to do in rigger; the note says why.
    Nothing(String),
}

/// Modules named by their short name or FQCN.
pub fn short_name(module: &str) -> &str {
    for prefix in ["ansible.builtin.", "ansible.legacy.", "ansible.posix.", "community.general.", "community.docker."] {
        if let Some(rest) = module.strip_prefix(prefix) {
            return rest;
        }
    }
    module
}

/// Whether a module's free-form text is a command line (not `key=value` words).
pub fn free_form(module: &str) -> bool {
    matches!(module, "command" | "shell")
}

/// Maps module `module` (short name) with `a`; Err says why it cannot.
pub fn map(module: &str, mut a: Args) -> Result<Mapped, String> {
    let (kind, spec) = match module {
        "apt" | "package" => match package(&mut a)? {
            Some(spec) => ("package", spec),
            None => return Ok(Mapped::Nothing(a.notes.join("; "))),
        },
        "template" => ("template", file_like(&mut a, "src", true)?),
        "copy" => copy(&mut a)?,
        "file" => file(&mut a)?,
        "lineinfile" => ("line", lineinfile(&mut a)?),
        "blockinfile" => ("blockinfile", blockinfile(&mut a)?),
        "service" | "systemd" | "systemd_service" => ("service", service(&mut a)?),
        "command" | "shell" => ("command", command(&mut a)?),
        "user" => ("user", user(&mut a)?),
        "group" => ("group", keys(&mut a, &["name", "gid", "system", "state"], &["system"])),
        "sysctl" => ("sysctl", sysctl(&mut a)?),
        "get_url" => ("get_url", get_url(&mut a)?),
        "docker_container" => ("docker_container", docker_container(&mut a)?),
        "apt_repository" => ("apt_repository", apt_repository(&mut a)?),
        "apt_key" => {
            return Err("rigger's `apt_repository` carries its signing key (`key` or `key_src` in files/): \
                        put the key there and drop this task"
                .into())
        }
        "yum" | "dnf" | "zypper" | "pacman" | "apk" | "homebrew" | "pkgng" | "openbsd_pkg" => {
            return Err(format!("`{module}` is not apt: rigger manages Debian-family hosts"))
        }
        other => return Err(format!("`{other}` has no rigger kind")),
    };
    let notes = a.finish(module)?;
    Ok(Mapped::Resource(Resource { kind, spec }, notes))
}

/// Moves each of `names` (no alias) into a spec, bools read as bools.
fn keys(a: &mut Args, names: &[&str], bools: &[&str]) -> Mapping {
    let mut spec = Mapping::new();
    for n in names {
        if let Some(v) = a.take(&[n]) {
            let v = if bools.contains(n) { boolean(v) } else { v };
            spec.insert((*n).into(), v);
        }
    }
    spec
}

fn put(spec: &mut Mapping, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        spec.insert(key.into(), v);
    }
}

/// `apt` / `package`; None when it only updates the cache.
fn package(a: &mut Args) -> Result<Option<Mapping>, String> {
    let mut spec = Mapping::new();
    a.drop_noted("cache_valid_time", "rigger updates the cache when `update_cache` asks, whatever its age");
    a.drop_noted("default_release", "rigger installs from the release apt prefers (pin it in apt preferences)");
    a.drop_noted("allow_downgrade", "rigger installs the candidate version");
    a.drop_silent("force_apt_get");
    let state = a.take_str(&["state"]).map(|s| match s.as_str() {
        "installed" | "present" => "present".to_string(),
        "removed" | "absent" => "absent".to_string(),
        _ => s,
    });
    let update = a.take(&["update_cache", "update-cache"]).map(boolean);
    match a.take(&["name", "pkg", "package"]) {
        Some(Value::Sequence(list)) => spec.insert("names".into(), Value::Sequence(list)),
        Some(v) => spec.insert("name".into(), v),
        None if a.has("deb") => return Err("`deb:` from a URL or the host: rigger's `deb` pushes local files".into()),
        None => {
            a.notes
                .push("`apt-get update` alone: rigger updates the cache when a package asks (`update_cache`)".into());
            return Ok(None);
        }
    };
    put(&mut spec, "state", state.map(Value::String));
    put(&mut spec, "update_cache", update);
    Ok(Some(spec))
}

/// The keys files share: dest, owner, group, mode, validate; `src_key` copied as is.
fn file_like(a: &mut Args, src_key: &str, template: bool) -> Result<Mapping, String> {
    let mut spec = Mapping::new();
    put(&mut spec, "src", a.take(&[src_key]));
    let dest = a.take(&["dest", "path"]).ok_or("no `dest`")?;
    if args::text(&dest).ends_with('/') {
        return Err("`dest` is a folder: rigger writes a file at a full path".into());
    }
    spec.insert(if template { "dest" } else { "path" }.into(), dest);
    for k in ["owner", "group", "validate"] {
        put(&mut spec, k, a.take(&[k]));
    }
    put(&mut spec, "mode", a.take(&["mode"]).map(mode));
    a.drop_noted("backup", "rigger keeps no backup copy (plan shows the diff first)");
    match a.take(&["force"]) {
        Some(v) if is_false(&v) => {
            return Err("`force: false` (write only when missing) has no rigger equivalent".into())
        }
        _ => {}
    }
    Ok(spec)
}

fn copy(a: &mut Args) -> Result<(&'static str, Mapping), String> {
    if a.take(&["remote_src"]).is_some_and(|v| !is_false(&v)) {
        return Err("`remote_src`: rigger's `file` copies from the role's files/, not from the host".into());
    }
    let content = a.take(&["content"]);
    let mut spec = file_like(a, "src", false)?;
    put(&mut spec, "content", content);
    Ok(("file", spec))
}

fn file(a: &mut Args) -> Result<(&'static str, Mapping), String> {
    let state = a.take_str(&["state"]).unwrap_or_else(|| "file".into());
    let mut spec = Mapping::new();
    put(&mut spec, "path", a.take(&["path", "dest", "name"]));
    match state.as_str() {
        "directory" => {
            for k in ["owner", "group"] {
                put(&mut spec, k, a.take(&[k]));
            }
            put(&mut spec, "mode", a.take(&["mode"]).map(mode));
            if a.take(&["recurse"]).is_some_and(|v| !is_false(&v)) {
                return Err("`recurse`: rigger sets the folder's own mode and owner, not its contents'".into());
            }
            Ok(("directory", spec))
        }
        "absent" => {
            spec.insert("state".into(), "absent".into());
            let path = spec.get("path").map(args::text).unwrap_or_default();
            let last = path.rsplit('/').next().unwrap_or("");
            if !last.contains('.') || last.contains("{{") {
                a.notes.push("removed as a file: a folder needs `directory` with `state: absent`".into());
            }
            Ok(("file", spec))
        }
        "link" | "hard" => Err("links have no rigger kind".into()),
        "touch" => Err("`touch` has no rigger kind".into()),
        _ => Err("only a file's mode and owner: rigger's `file` manages its content too".into()),
    }
}

fn lineinfile(a: &mut Args) -> Result<Mapping, String> {
    let mut spec = Mapping::new();
    put(&mut spec, "path", a.take(&["path", "dest", "destfile", "name"]));
    for k in ["line", "regexp", "state"] {
        put(&mut spec, k, a.take(&[k]));
    }
    // rigger's `line` creates a missing file by default; Ansible's does not.
    spec.insert("create".into(), a.take(&["create"]).map(boolean).unwrap_or(Value::Bool(false)));
    put(&mut spec, "mode", a.take(&["mode"]).map(mode));
    for k in ["insertafter", "insertbefore"] {
        a.drop_noted(k, "rigger appends a line that no `regexp` line matches at the end");
    }
    a.drop_noted("backup", "rigger keeps no backup copy");
    Ok(spec)
}

fn blockinfile(a: &mut Args) -> Result<Mapping, String> {
    let mut spec = Mapping::new();
    put(&mut spec, "path", a.take(&["path", "dest", "destfile", "name"]));
    put(&mut spec, "block", a.take(&["block", "content"]));
    for k in ["marker", "marker_begin", "marker_end", "insertafter", "insertbefore", "state", "owner", "group"] {
        put(&mut spec, k, a.take(&[k]));
    }
    put(&mut spec, "validate", a.take(&["validate"]));
    put(&mut spec, "create", a.take(&["create"]).map(boolean));
    put(&mut spec, "mode", a.take(&["mode"]).map(mode));
    a.drop_noted("backup", "rigger keeps no backup copy");
    Ok(spec)
}

fn service(a: &mut Args) -> Result<Mapping, String> {
    if !a.has("name") {
        return Err("no `name`: a bare `daemon_reload` has no rigger kind".into());
    }
    a.drop_noted("daemon_reload", "rigger's service runs no `systemctl daemon-reload`");
    a.drop_silent("no_block");
    Ok(keys(a, &["name", "state", "enabled"], &["enabled"]))
}

fn command(a: &mut Args) -> Result<Mapping, String> {
    let cmd = match (a.take(&["cmd", "_raw_params"]), a.take(&["argv"])) {
        (Some(c), _) => c,
        (None, Some(Value::Sequence(argv))) => {
            Value::String(argv.iter().map(|w| crate::shell::quote(&args::text(w))).collect::<Vec<_>>().join(" "))
        }
        _ => return Err("no command".into()),
    };
    if let Some(exe) = a.take_str(&["executable"]).filter(|e| e != "/bin/sh") {
        return Err(format!("`executable: {exe}`: rigger runs commands with sh"));
    }
    a.drop_silent("warn");
    let mut spec = Mapping::new();
    spec.insert("cmd".into(), cmd);
    put(&mut spec, "creates", a.take(&["creates"]));
    if let Some(removes) = a.take_str(&["removes"]) {
        // `removes` runs the command only while the path exists: skip it when it does not.
        spec.insert("unless".into(), format!("test ! -e {}", quote_template(&removes)).into());
    }
    put(&mut spec, "chdir", a.take(&["chdir"]));
    Ok(spec)
}

/// A path for `sh`: quoted, or, when templated, through the `quote` filter.
fn quote_template(path: &str) -> String {
    match path.trim().strip_prefix("{{").and_then(|p| p.strip_suffix("}}")) {
        Some(expr) if !expr.contains("{{") => format!("{{{{ {} | quote }}}}", expr.trim()),
        _ => crate::shell::quote(path),
    }
}

fn user(a: &mut Args) -> Result<Mapping, String> {
    for k in ["password", "generate_ssh_key", "remove", "expires", "update_password"] {
        if a.has(k) {
            return Err(format!("`{k}` has no rigger equivalent"));
        }
    }
    let mut spec = keys(a, &["name", "uid", "group", "shell", "home", "system", "state"], &["system"]);
    match a.take(&["groups"]) {
        Some(Value::String(s)) if !s.contains("{{") => {
            let list = s.split(',').map(|g| Value::String(g.trim().to_string())).collect();
            spec.insert("groups".into(), Value::Sequence(list));
        }
        Some(v) => {
            spec.insert("groups".into(), v);
        }
        None => {}
    }
    if a.take(&["append"]).is_none_or(|v| is_false(&v)) && spec.contains_key("groups") {
        a.notes.push("supplementary groups are added, never removed (Ansible's `append: true`)".into());
    }
    a.drop_noted("comment", "rigger's user has no GECOS comment");
    for k in ["create_home", "createhome"] {
        a.drop_noted(k, "rigger's user makes a home unless `system`");
    }
    Ok(spec)
}

fn sysctl(a: &mut Args) -> Result<Mapping, String> {
    if a.take_str(&["state"]).is_some_and(|s| s == "absent") {
        return Err("`state: absent` has no rigger equivalent".into());
    }
    let spec = keys(a, &["name", "value"], &[]);
    a.drop_silent("sysctl_set");
    a.drop_silent("reload");
    a.drop_noted("sysctl_file", "rigger persists in /etc/sysctl.d/60-rigger-NAME.conf");
    a.drop_noted("ignoreerrors", "an unknown key is an error");
    Ok(spec)
}

fn get_url(a: &mut Args) -> Result<Mapping, String> {
    let Some(sum) = a.take_str(&["checksum"]) else {
        return Err("no `checksum`: rigger's get_url requires `sha256:HEX` (it fetches only what it can verify)".into());
    };
    if !sum.starts_with("sha256:") {
        return Err(format!("checksum `{sum}`: rigger's get_url takes `sha256:HEX` only"));
    }
    let mut spec = keys(a, &["url", "dest", "owner", "group", "timeout"], &[]);
    spec.insert("checksum".into(), sum.into());
    put(&mut spec, "mode", a.take(&["mode"]).map(mode));
    a.drop_silent("force");
    Ok(spec)
}

fn docker_container(a: &mut Args) -> Result<Mapping, String> {
    let mut spec = keys(a, &["name", "image", "volumes", "env", "command"], &[]);
    put(&mut spec, "ports", a.take(&["published_ports", "ports"]));
    put(&mut spec, "restart", a.take(&["restart_policy"]));
    if let Some(state) = a.take_str(&["state"]) {
        let state = if state == "present" { "started".to_string() } else { state };
        spec.insert("state".into(), state.into());
    }
    a.drop_silent("detach");
    a.drop_noted("pull", "rigger pulls the image when it is missing");
    Ok(spec)
}

/// `repo: "deb [arch=amd64] URI SUITE COMP…"` → name, uri, suite, components, arch.
fn apt_repository(a: &mut Args) -> Result<Mapping, String> {
    let repo = a.take_str(&["repo"]).ok_or("no `repo`")?;
    if repo.starts_with("ppa:") {
        return Err("a PPA: rigger's `apt_repository` takes the repository's URI and its key".into());
    }
    let mut words: Vec<&str> = repo.split_whitespace().collect();
    if words.first() != Some(&"deb") {
        return Err(format!("`{repo}` is not a `deb` line"));
    }
    words.remove(0);
    let mut spec = Mapping::new();
    if words.first().is_some_and(|w| w.starts_with('[')) {
        let opts = words.remove(0);
        return Err(format!("options `{opts}`: rigger's `apt_repository` writes its own `signed-by` and `arch`"));
    }
    let [uri, suite, components @ ..] = words.as_slice() else {
        return Err(format!("`{repo}` has no suite"));
    };
    let name = a.take_str(&["filename"]).unwrap_or_else(|| uri.replace("://", "_").replace(['/', '.', ':'], "_"));
    spec.insert("name".into(), name.into());
    spec.insert("uri".into(), (*uri).into());
    spec.insert("suite".into(), (*suite).into());
    spec.insert("components".into(), Value::Sequence(components.iter().map(|c| (*c).into()).collect()));
    put(&mut spec, "state", a.take(&["state"]));
    put(&mut spec, "update_cache", a.take(&["update_cache"]).map(boolean));
    a.notes.push("no signing key: add `key_src` (a key in files/) or `key`".into());
    Ok(spec)
}
