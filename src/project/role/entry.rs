//! The structure of `resources:`. An entry is a resource, a `block:` (its
//! entries share its `when:`, `tags:`, `notify:` and `loop:`) or an
//! `include:` (the entries of a file in the role folder). Loading flattens
//! every resource into the role's list, in the order written, keeps the
//! tree of blocks and includes over that list for `plan` to walk per host,
//! and records where each resource is written, for later errors.

use super::outline::{self, Seg};
use crate::error::{Error, Location, Result};
use crate::project::source::Source;
use crate::resource::privilege::Privilege;
use crate::resource::registry::{DeclError, ENTRY_KEYS};
use crate::resource::spec::OneOrMany;
use crate::resource::{AnySpec, Decl};
use serde::de::{self, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::path::{Component, Path, PathBuf};

/// A node of the tree over the role's resources.
#[derive(Debug, Clone)]
pub enum Entry {
    /// The role's `resources[i]`.
    Resource(usize),
    /// A block or an include.
    Group(Group),
}

/// A block or an include: its entries, run when every `when:` holds, once per item of its `loop:`.
#[derive(Debug, Clone)]
pub struct Group {
    /// `when:` expressions, all of which must hold (beside and inside `block:`).
    pub when: Vec<String>,
    pub each: Option<Value>,
    pub loop_var: Option<String>,
    pub entries: Vec<Entry>,
    /// Where the block or include is written.
    pub origin: Origin,
}

/// Where an entry is written: which of the role's files, and its path in that file.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    /// 0: role.yaml; then included files in the order first read.
    pub file: usize,
    pub path: Vec<Seg>,
}

impl Origin {
    pub fn child(&self, seg: Seg) -> Origin {
        let mut path = self.path.clone();
        path.push(seg);
        Origin { file: self.file, path }
    }
}

/// An entry as written.
#[derive(Debug)]
pub enum Written {
    Resource(Decl),
    /// The keys beside `block:` (a `Decl` with no resource), and its body.
    Block(Decl, Box<BlockBody>),
    Include(Decl, String),
}

/// The keys inside `block:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    when: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    notify: OneOrMany,
    #[serde(default, rename = "loop")]
    each: Option<Value>,
    #[serde(default)]
    loop_var: Option<String>,
    #[serde(default, rename = "become")]
    become_: Option<bool>,
    #[serde(default)]
    become_user: Option<String>,
    resources: Vec<Written>,
}

impl<'de> Deserialize<'de> for Written {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Written;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a resource entry, a `block:` or an `include:` (a mapping)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Written, A::Error> {
                let mut decl = Decl::default();
                let (mut block, mut include) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "block" => block = Some(Box::new(map.next_value::<BlockBody>()?)),
                        "include" => include = Some(map.next_value::<String>()?),
                        k => match decl.read_key(k, &mut map) {
                            Some(read) => read?,
                            None => return Err(de::Error::unknown_field(k, &ENTRY_KEYS)),
                        },
                    }
                }
                let has_spec = decl.spec() != Err(DeclError::NoResource);
                match (block, include) {
                    (Some(_), Some(_)) => Err(de::Error::custom("an entry is a `block:` or an `include:`, not both")),
                    (Some(_), None) | (None, Some(_)) if has_spec => Err(de::Error::custom(
                        "an entry is a resource, a `block:` or an `include:`: put the resource inside the block",
                    )),
                    (Some(b), None) => Ok(Written::Block(decl, b)),
                    (None, Some(f)) => Ok(Written::Include(decl, f)),
                    (None, None) => Ok(Written::Resource(decl)),
                }
            }
        }
        d.deserialize_map(V)
    }
}

/// The role's resources, flat, with where each is written, and the tree over them.
#[derive(Debug, Default)]
pub struct Loaded {
    pub resources: Vec<(Decl, AnySpec)>,
    pub origins: Vec<Origin>,
    /// role.yaml, then every included file.
    pub files: Vec<Source>,
    pub entries: Vec<Entry>,
}

/// What a block passes to the entries inside it.
#[derive(Debug, Clone, Default)]
struct Inherit {
    tags: Vec<String>,
    notify: Vec<String>,
    privilege: Privilege,
}

/// Reads the entries of role.yaml's `resources:` (`raw` is that list as written) and every file they include.
pub fn load(dir: &Path, source: Source, written: Vec<Written>, raw: Option<&Value>) -> Result<Loaded> {
    let mut l = Loader { dir, out: Loaded { files: vec![source], ..Loaded::default() }, stack: vec![] };
    let top = Origin { file: 0, path: vec![Seg::Key("resources".into())] };
    l.out.entries = l.entries(written, raw, &top, &Inherit::default())?;
    Ok(l.out)
}

/// Where `origin` (then `rest`) is written, among `files`.
pub fn locate(files: &[Source], origin: &Origin, rest: &[Seg]) -> Location {
    let src = &files[origin.file];
    let path: Vec<Seg> = origin.path.iter().chain(rest).cloned().collect();
    let (line, col) = outline::locate(&src.text, &path);
    Location::new(&src.path, &src.text, line, col)
}

struct Loader<'a> {
    dir: &'a Path,
    out: Loaded,
    /// The files being read, outermost first: an include cycle names them.
    stack: Vec<String>,
}

impl Loader<'_> {
    fn at(&self, origin: &Origin, rest: &[Seg]) -> Location {
        locate(&self.out.files, origin, rest)
    }

    fn entries(
        &mut self,
        written: Vec<Written>,
        raw: Option<&Value>,
        list: &Origin,
        inh: &Inherit,
    ) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        for (i, w) in written.into_iter().enumerate() {
            let origin = list.child(Seg::Index(i));
            let raw = raw.and_then(|r| r.get(i)).unwrap_or(&Value::Null);
            out.push(match w {
                Written::Resource(decl) => self.resource(decl, raw, origin, inh)?,
                Written::Block(head, body) => self.block(head, *body, raw, origin, inh)?,
                Written::Include(head, file) => self.include(head, &file, origin, inh)?,
            });
        }
        Ok(out)
    }

    fn resource(&mut self, mut decl: Decl, raw: &Value, origin: Origin, inh: &Inherit) -> Result<Entry> {
        let spec = decl.spec().map_err(|m| Error::at(self.at(&origin, &[]), m.to_string()))?;
        check_loop_var(decl.loop_var.as_deref()).map_err(|m| Error::at(self.at(&origin, &[key("loop_var")]), m))?;
        decl.set_body(raw);
        add_tags(&mut decl.tags, &inh.tags);
        decl.privilege = decl.privilege.within(&inh.privilege);
        if !inh.notify.is_empty() && !decl.add_notify(&inh.notify) {
            let m = format!("this `{}` takes no `notify:`, which its block gives", spec.kind());
            return Err(Error::at(self.at(&origin, &[]), m));
        }
        let spec = decl.spec().unwrap_or(spec);
        self.out.resources.push((decl, spec));
        self.out.origins.push(origin);
        Ok(Entry::Resource(self.out.resources.len() - 1))
    }

    fn block(&mut self, head: Decl, body: BlockBody, raw: &Value, origin: Origin, inh: &Inherit) -> Result<Entry> {
        let inside = origin.child(key("block"));
        if head.each.is_some() && body.each.is_some() {
            return Err(Error::at(self.at(&inside, &[key("loop")]), "`loop:` given both beside and inside `block:`"));
        }
        let mut group = self.group(&head, &origin)?;
        group.when.extend(body.when);
        check_loop_var(body.loop_var.as_deref()).map_err(|m| Error::at(self.at(&inside, &[key("loop_var")]), m))?;
        group.each = group.each.or(body.each);
        group.loop_var = group.loop_var.or(body.loop_var);
        let _ = body.name;
        let mut inner = inh.clone();
        add_tags(&mut inner.tags, &head.tags);
        add_tags(&mut inner.tags, &body.tags);
        add_tags(&mut inner.notify, &body.notify.0);
        let inside_keys = Privilege { become_: body.become_, user: body.become_user };
        inner.privilege = inside_keys.within(&head.privilege).within(&inh.privilege);
        let raw = raw.get("block").and_then(|b| b.get("resources"));
        group.entries = self.entries(body.resources, raw, &inside.child(key("resources")), &inner)?;
        Ok(Entry::Group(group))
    }

    fn include(&mut self, head: Decl, file: &str, origin: Origin, inh: &Inherit) -> Result<Entry> {
        let at = self.at(&origin, &[key("include")]);
        let path = self.include_path(file).map_err(|m| Error::at(at.clone(), m))?;
        if let Some(first) = self.stack.iter().position(|f| f == file) {
            let chain: Vec<&str> = self.stack[first..].iter().map(String::as_str).chain([file]).collect();
            return Err(Error::at(at, format!("include cycle: {}", chain.join(" → "))));
        }
        let src = Source::read(&path)?;
        let written: Vec<Written> = src.parse()?;
        let raw: Value = src.parse()?;
        let mut group = self.group(&head, &origin)?;
        let mut inner = inh.clone();
        add_tags(&mut inner.tags, &head.tags);
        inner.privilege = head.privilege.within(&inh.privilege);
        self.out.files.push(src);
        let top = Origin { file: self.out.files.len() - 1, path: vec![] };
        self.stack.push(file.to_string());
        group.entries = self.entries(written, Some(&raw), &top, &inner)?;
        self.stack.pop();
        Ok(Entry::Group(group))
    }

    /// The group of a block or include from the keys beside it.
    fn group(&self, head: &Decl, origin: &Origin) -> Result<Group> {
        check_loop_var(head.loop_var.as_deref()).map_err(|m| Error::at(self.at(origin, &[key("loop_var")]), m))?;
        Ok(Group {
            when: head.when.iter().cloned().collect(),
            each: head.each.clone(),
            loop_var: head.loop_var.clone(),
            entries: vec![],
            origin: origin.clone(),
        })
    }

    /// The file an `include:` names, which must be in the role folder.
    fn include_path(&self, file: &str) -> std::result::Result<PathBuf, String> {
        if file.contains("{{") || file.contains("{%") {
            return Err(format!(
                "include `{file}`: the file of an include is not a template; include each file with its own `when:`"
            ));
        }
        let rel = Path::new(file);
        let leaves = rel.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
        let full = self.dir.join(rel);
        let escape =
            || format!("include `{file}` leaves the role folder {}: name a file inside it", self.dir.display());
        if file.is_empty() || leaves {
            return Err(escape());
        }
        if !full.is_file() {
            return Err(format!("include `{file}` not found: no {}", full.display()));
        }
        // A link may point out of the folder too.
        match (full.canonicalize(), self.dir.canonicalize()) {
            (Ok(f), Ok(d)) if f.starts_with(&d) => Ok(full),
            _ => Err(escape()),
        }
    }
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

fn add_tags(to: &mut Vec<String>, more: &[String]) {
    for t in more {
        if !to.contains(t) {
            to.push(t.clone());
        }
    }
}

/// A `loop_var:` must be a name a template can read.
fn check_loop_var(name: Option<&str>) -> std::result::Result<(), String> {
    let Some(n) = name else { return Ok(()) };
    let ok = n.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok || n == "loop_index" {
        return Err(format!(
            "`loop_var: {n}` is not a name a template can use (letters, digits, `_`; not `loop_index`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::project::role::Role;

    fn load(role: &str, files: &[(&str, &str)]) -> Result<Role, String> {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("roles/r");
        std::fs::create_dir_all(dir.join("tasks")).unwrap();
        std::fs::write(dir.join("role.yaml"), role).unwrap();
        for (f, text) in files {
            std::fs::write(dir.join(f), text).unwrap();
        }
        Role::load(&d.path().join("roles"), "r").map_err(|e| e.to_string())
    }

    #[test]
    fn blocks_and_includes_flatten_in_order_with_their_tags_and_notify() {
        let role = load(
            "resources:\n  - package: a\n  - block:\n      tags: [t]\n      notify: h\n      resources:\n        - command: { cmd: x }\n        - include: tasks/i.yaml\nhandlers:\n  h: { command: { cmd: y } }\n  g: { command: { cmd: z } }\n",
            &[("tasks/i.yaml", "- file: { path: /f, content: x, notify: [g] }\n")],
        )
        .unwrap();
        let kinds: Vec<&str> = role.resources.iter().map(|(_, s)| s.kind()).collect();
        assert_eq!(kinds, ["package", "command", "file"]);
        let (decl, spec) = &role.resources[2];
        assert_eq!(decl.tags, ["t"]);
        assert_eq!(spec.notify(), ["g", "h"]);
        assert_eq!(decl.body(spec)["notify"], serde_json::json!(["g", "h"]));
        assert_eq!(role.files.len(), 2);
        assert_eq!(role.locate_resource(2, &[]).line, 1);
        assert!(role.locate_resource(2, &[]).file.ends_with("tasks/i.yaml"));
        assert_eq!(role.locate_resource(1, &[]).line, 7);
    }

    #[test]
    fn mistakes_in_the_structure_are_located() {
        let e = load("resources:\n  - block:\n      notify: h\n      resources:\n        - user: { name: x }\n", &[])
            .unwrap_err();
        assert!(e.contains("this `user` takes no `notify:`, which its block gives") && e.contains(":5:11"), "{e}");
        let e = load("resources:\n  - package: a\n    loop_var: a-b\n", &[]).unwrap_err();
        assert!(e.contains("`loop_var: a-b` is not a name") && e.contains(":3:5"), "{e}");
        let e = load("resources:\n  - include: tasks/x.yaml\n    package: a\n", &[]).unwrap_err();
        assert!(e.contains("put the resource inside the block"), "{e}");
        let e = load("resources:\n  - include: \"tasks/{{ os }}.yaml\"\n", &[]).unwrap_err();
        assert!(e.contains("is not a template"), "{e}");
        let e = load("resources: []\nhandlers:\n  h: { command: { cmd: x }, loop: [1] }\n", &[]).unwrap_err();
        assert!(e.contains("handlers take no `loop:`"), "{e}");
        let e = load(
            "resources:\n  - include: tasks/a.yaml\n",
            &[("tasks/a.yaml", "- service: { name: x, enabled: maybe }\n")],
        )
        .unwrap_err();
        assert!(e.contains("tasks/a.yaml:1:32") && e.contains("expected a boolean"), "{e}");
    }
}
