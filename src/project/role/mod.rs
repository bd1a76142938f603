//! Roles: `roles/<name>/role.yaml` plus its `templates/` and `files/`.
//! Loading checks everything that can be checked without a host: the shape
//! of every resource, that templates exist. (Notified handlers are checked
//! per host, in `handlers`: another role on the host may define them.)

use crate::error::{Error, Location, Result};
use crate::project::names::{self, Kind};
use crate::project::source::{Source, Vars};
use crate::resource::{AnySpec, Decl};
use crate::template::Dialect;
use entry::{Entry, Origin};
use indexmap::IndexMap;
use outline::Seg;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub mod entry;
pub mod outline;

/// What `rigger doc` says of the role's `dialect:` key.
pub const DIALECT_DOC: &str = "`dialect: tera | jinja` at the top of role.yaml (default tera) is the \
language of every expression in the role's files: fields, `when:`, `loop:`, included files, handlers, \
query `cmd`s and `defaults:`; another value is an error at its line. `jinja` is Jinja2 as Ansible \
evaluates it (`default('x')`, `x is defined`, `| bool`, `.items()`). A template renders by its own name \
(`.j2` Jinja2, else Tera), and a var in the dialect of the file that defines it (inventories, \
group_vars, host_vars and `-e`: Jinja2; site.yaml: Tera), whoever reads it.";

/// `- web` or `- role: web`.
#[derive(Debug, Clone)]
struct AfterSpec(String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AfterMap {
    role: String,
}

impl<'de> Deserialize<'de> for AfterSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = AfterSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a role name or `role: NAME`")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> std::result::Result<AfterSpec, E> {
                Ok(AfterSpec(s.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> std::result::Result<AfterSpec, A::Error> {
                Ok(AfterSpec(AfterMap::deserialize(serde::de::value::MapAccessDeserializer::new(map))?.role))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleFile {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    dialect: Dialect,
    #[serde(default)]
    requires: Vec<String>,
    #[serde(default)]
    after: Vec<AfterSpec>,
    #[serde(default)]
    defaults: Vars,
    #[serde(default)]
    resources: Vec<entry::Written>,
    #[serde(default)]
    handlers: IndexMap<String, Decl>,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub dir: PathBuf,
    pub source: Source,
    pub description: Option<String>,
    /// The language of every expression in this role's files (fields,
    /// `when:`, `loop:`, handlers, defaults): see `DIALECT_DOC`.
    pub dialect: Dialect,
    /// Roles converged first on the same host.
    pub requires: Vec<String>,
    /// Roles converged first on every host that carries them.
    pub after: Vec<String>,
    pub defaults: Vars,
    /// Every resource of the role, flat and in the order written (inside
    /// blocks and included files too); `entries` is the tree over them.
    pub resources: Vec<(Decl, AnySpec)>,
    /// Where each of `resources` is written.
    pub origins: Vec<Origin>,
    /// `resources:` as written: resources, blocks and includes (see `entry`).
    pub entries: Vec<Entry>,
    /// role.yaml, then every file it includes: where `origins` point.
    pub files: Vec<Source>,
    pub handlers: IndexMap<String, (Decl, AnySpec)>,
    /// Per resource: the names registered by earlier commands that it reads
    /// (`project::registers`, filled in once every role is loaded).
    pub reads: Vec<Vec<String>>,
}

impl Role {
    pub fn load(roles_dir: &Path, name: &str) -> Result<Self> {
        let dir = roles_dir.join(name);
        let file = dir.join("role.yaml");
        let source = Source::read(&file)?;
        let raw: RoleFile = source.parse()?;
        // The file as written too: the templates of each spec (see `Decl::body`).
        let written: serde_json::Value = source.parse()?;
        let loaded = entry::load(&dir, source.clone(), raw.resources, written.get("resources"))?;
        let mut handlers = IndexMap::new();
        for (hname, mut decl) in raw.handlers {
            let spec = decl.spec().map_err(|m| Error::at(source.locate(&hname), format!("handler `{hname}`: {m}")))?;
            if !decl.tags.is_empty() {
                return Err(Error::at(
                    source.locate(&hname),
                    format!("handler `{hname}`: handlers take no `tags:` (they run when notified)"),
                ));
            }
            if matches!(spec, AnySpec::Query(_)) {
                return Err(Error::at(
                    source.locate(&hname),
                    format!("handler `{hname}`: a query is not a handler (it runs in the probe, not when notified)"),
                ));
            }
            if decl.each.is_some() || decl.loop_var.is_some() {
                return Err(Error::at(
                    source.locate(&hname),
                    format!("handler `{hname}`: handlers take no `loop:` (a handler runs once; loop in a resource)"),
                ));
            }
            if matches!(&spec, AnySpec::Command(c) if c.register.is_some()) {
                return Err(Error::at(
                    source.locate(&hname),
                    format!(
                        "handler `{hname}`: a handler cannot `register:` (it runs after every resource of the unit)"
                    ),
                ));
            }
            decl.set_body(written.get("handlers").and_then(|h| h.get(&hname)).unwrap_or(&serde_json::Value::Null));
            handlers.insert(hname, (decl, spec));
        }
        let role = Role {
            name: name.to_string(),
            dir,
            source,
            description: raw.description,
            dialect: raw.dialect,
            requires: raw.requires,
            after: raw.after.into_iter().map(|a| a.0).collect(),
            defaults: raw.defaults,
            resources: loaded.resources,
            origins: loaded.origins,
            entries: loaded.entries,
            files: loaded.files,
            handlers,
            reads: vec![],
        };
        role.check()?;
        Ok(role)
    }

    /// Cross-checks inside the role: template/file sources. (`notify:`
    /// targets depend on the roles that share a host: `project::handlers`.)
    fn check(&self) -> Result<()> {
        let mut query_names: Vec<&str> = Vec::new();
        for (i, (decl, spec)) in self.resources.iter().enumerate() {
            if let AnySpec::Query(q) = spec {
                if let Some(why) = query_problem(decl, q, &query_names) {
                    return Err(Error::at(self.locate_token(i, "query"), format!("query `{}`: {why}", q.name)));
                }
                query_names.push(&q.name);
            }
            for file in spec.role_files().into_iter().filter(|f| !f.name.contains("{{")) {
                let (src, sub) = (file.name, file.folder.dir());
                if !self.dir.join(sub).join(src).is_file() {
                    return Err(Error::at(
                        self.locate_token(i, src),
                        format!("{} `{src}` not found in {}", &sub[..sub.len() - 1], self.dir.join(sub).display()),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Where `resources[i]` is written (its entry, `rest` inside it).
    pub fn locate_resource(&self, i: usize, rest: &[Seg]) -> Location {
        entry::locate(&self.files, &self.origins[i], rest)
    }

    /// Where `token` stands in `resources[i]` or after it, in its file.
    pub fn locate_token(&self, i: usize, token: &str) -> Location {
        let at = self.locate_resource(i, &[]);
        let src = &self.files[self.origins[i].file];
        Location::of_token_after(&src.path, &src.text, token, at.line)
    }

    /// Where `requires`/`after` name `other`, for cycle and missing-role messages.
    pub fn locate(&self, token: &str) -> Location {
        self.source.locate(token)
    }

    /// Where `token` appears under the top-level `key:` (not in a description above it).
    pub fn locate_in(&self, key: &str, token: &str) -> Location {
        match self.source.text.lines().position(|l| l.starts_with(&format!("{key}:"))) {
            Some(i) => Location::of_token_after(&self.source.path, &self.source.text, token, i + 1),
            None => self.source.locate(token),
        }
    }
}

/// What is wrong with a `query:` entry, if anything: it runs in the probe,
/// before facts are gathered and before any `when:` could be evaluated.
fn query_problem(decl: &Decl, q: &crate::resource::query::QuerySpec, earlier: &[&str]) -> Option<String> {
    use crate::template::mentions;
    let ident = q.name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && q.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ident {
        Some("the name must be an identifier (letters, digits, `_`), so templates can read `query.NAME`".into())
    } else if earlier.contains(&q.name.as_str()) {
        Some("another query of this role has that name".into())
    } else if decl.each.is_some() || decl.loop_var.is_some() {
        Some("a query takes no `loop:`: it runs once, in the probe; loop over its `.lines` instead".into())
    } else if decl.when.is_some() || !decl.tags.is_empty() || decl.name.is_some() {
        Some("a query takes no `when:`, `tags:` or `name:`: it runs in the probe, before anything else".into())
    } else if mentions(&q.cmd, "facts") {
        Some(
            "its cmd uses facts, but queries run in the probe that gathers the facts (once per host): use vars only"
                .into(),
        )
    } else if mentions(&q.cmd, "query") {
        Some("its cmd uses another query's result, but all queries run at once, in the probe".into())
    } else {
        None
    }
}

/// The line of the `index`-th item of the top-level list `key` of role.yaml
/// (`Role::locate_resource` finds any resource, in blocks and included files too).
pub fn item_location(src: &Source, key: &str, index: usize) -> Location {
    let lines: Vec<&str> = src.text.lines().collect();
    let Some(start) = lines.iter().position(|l| l.starts_with(&format!("{key}:"))) else {
        return Location::new(&src.path, &src.text, 1, 1);
    };
    let mut indent: Option<usize> = None;
    let mut n = 0;
    for (i, l) in lines.iter().enumerate().skip(start + 1) {
        let t = l.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let ind = l.len() - t.len();
        if ind == 0 && !t.starts_with('-') {
            break;
        }
        if t.starts_with("- ") || t == "-" {
            if indent.is_none() {
                indent = Some(ind);
            }
            if Some(ind) == indent {
                if n == index {
                    return Location::new(&src.path, &src.text, i + 1, ind + 3);
                }
                n += 1;
            }
        }
    }
    Location::new(&src.path, &src.text, start + 1, 1)
}

/// All roles a site needs: those it binds and, recursively, those they require.
#[derive(Debug, Default)]
pub struct Roles {
    pub dir: PathBuf,
    pub roles: IndexMap<String, Role>,
}

impl Roles {
    pub fn new(dir: &Path) -> Self {
        Roles { dir: dir.to_path_buf(), roles: IndexMap::new() }
    }

    /// Every tag `--tags` may name: the roles' names and their resources' tags.
    pub fn tags(&self) -> std::collections::BTreeSet<String> {
        let names = self.roles.keys().cloned();
        let tagged = self.roles.values().flat_map(|r| r.resources.iter().flat_map(|(d, _)| d.tags.iter().cloned()));
        names.chain(tagged).collect()
    }

    /// Loads `name` and what it requires; `referrer` says where it was named, for the error.
    pub fn load(&mut self, name: &str, referrer: &dyn Fn() -> Location) -> Result<()> {
        if self.roles.contains_key(name) {
            return Ok(());
        }
        // Before the name becomes a path (roles/NAME/, the pending marker on each host).
        names::check(Kind::Role, name).map_err(|e| Error::at(referrer(), e.to_string()))?;
        let file = self.dir.join(name).join("role.yaml");
        if !file.is_file() {
            let mut known: Vec<String> = std::fs::read_dir(&self.dir)
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .filter(|e| e.path().join("role.yaml").is_file())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            known.sort();
            let near = crate::template::suggest(name, known.iter().map(String::as_str));
            let near = near.map(|n| format!("did you mean `{n}`? ")).unwrap_or_default();
            return Err(Error::at_with_help(
                referrer(),
                format!("role `{name}` not found: no {}", file.display()),
                format!(
                    "{near}roles in {}: {}",
                    self.dir.display(),
                    if known.is_empty() { "none".into() } else { known.join(", ") }
                ),
            ));
        }
        let role = Role::load(&self.dir, name)?;
        let requires = role.requires.clone();
        let after = role.after.clone();
        let src = role.source.clone();
        self.roles.insert(name.to_string(), role);
        for r in &requires {
            self.load(r, &|| {
                crate::error::Location::of_token_after(
                    &src.path,
                    &src.text,
                    r,
                    src.text.lines().position(|l| l.starts_with("requires:")).map_or(1, |i| i + 1),
                )
            })?;
        }
        for r in &after {
            self.load(r, &|| {
                crate::error::Location::of_token_after(
                    &src.path,
                    &src.text,
                    r,
                    src.text.lines().position(|l| l.starts_with("after:")).map_or(1, |i| i + 1),
                )
            })?;
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> &Role {
        &self.roles[name]
    }
}
