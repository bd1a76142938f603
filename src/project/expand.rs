//! A unit's resources for one host: the role's entries (`role::entry`)
//! walked in the host's contexts. A block or an include runs its entries
//! when each of its `when:` holds, once per item of its `loop:`; a resource
//! with a `loop:` is one resource per item (`package` loops: one resource
//! for all, one apt call), labelled with its index (`user deploy[0]`).
//! Every iteration renders twice like any resource (`prepare::HostCtx`): an
//! item that comes from a secret is a stand-in in the sealed render.

use super::registered::{Outcome, ReadTooEarly, Registered, Shadows};
use super::registers::registers;
use super::role::entry::{Entry, Group};
use super::role::outline::{field_path, Seg};
use super::role::Role;
use super::tags::Tags;
use crate::error::Location;
use crate::prepare::{self, HostCtx, Prepared};
use crate::resource::sealed::seal_error;
use crate::resource::ResourceError;
use crate::template::{Dialect, Renderer};
use serde_json::{json, Value};
use std::path::Path;
use tera::Context;

/// The contexts of one iteration (or of the unit), with its index suffix.
#[derive(Clone)]
pub struct Scope {
    pub real: Context,
    pub sealed: Option<Context>,
    /// `[0]`, `[1][2]`: the loop indexes a label takes.
    pub suffix: String,
}

impl Scope {
    fn host(&self, errors_only: bool) -> HostCtx<'_> {
        HostCtx { real: &self.real, sealed: self.sealed.as_ref(), errors_only }
    }
}

/// Why a `loop:` gives no items.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    /// The value is not shown: it may come from a secret.
    #[error("`loop:` gives {0}, not a list or a map")]
    NotAList(&'static str),
}

/// A resource (or a block's `loop:`/`when:`) that cannot be prepared, and where it is written.
pub struct Failed {
    pub at: Box<Location>,
    pub source: Box<ResourceError>,
}

/// Walks a role's entries for one host, collecting its prepared resources.
pub struct Walk<'a> {
    pub root: &'a Path,
    pub role: &'a Role,
    pub renderer: &'a Renderer,
    pub tags: &'a Tags,
    /// With facts known: `when:` is evaluated, errors are reported.
    pub full: bool,
    pub errors_only: bool,
    pub out: Vec<Prepared>,
    /// The registered results known before the walk.
    pub registered: &'a Registered,
    /// Names registered by the commands walked so far, and their result
    /// when known (`None`: the command will run, so it is known at apply).
    pub seen: Vec<(String, Option<Outcome>)>,
}

impl Walk<'_> {
    pub fn entries(&mut self, entries: &[Entry], scope: &Scope) -> Result<(), Failed> {
        for e in entries {
            match e {
                Entry::Resource(i) => self.resource(*i, scope)?,
                Entry::Group(g) => self.group(g, scope)?,
            }
        }
        Ok(())
    }

    fn error(&self, at: Location, source: ResourceError) -> Failed {
        Failed { at: Box::new(at), source: Box::new(source) }
    }

    fn resource(&mut self, i: usize, scope: &Scope) -> Result<(), Failed> {
        if let Some(name) = self.waits(i) {
            self.wait(i, scope, &name);
            return Ok(());
        }
        let owned;
        let scope = if self.seen.is_empty() {
            scope
        } else {
            owned = self.scoped(scope, false);
            &owned
        };
        let (decl, spec) = &self.role.resources[i];
        let Some(each) = &decl.each else { return self.one(i, scope) };
        let iterations = match self.iterations(each, decl.loop_var.as_deref(), scope) {
            Ok(its) => its,
            // Before facts are known a loop may not render yet; the full pass decides.
            Err(_) if !self.full => return Ok(()),
            Err(e) => return Err(self.error(self.role.locate_resource(i, &[Seg::Key("loop".into())]), e)),
        };
        if spec.kind() == "package" && self.full && iterations.len() > 1 && self.merge(i, &iterations)? {
            return Ok(());
        }
        for it in &iterations {
            self.one(i, it)?;
        }
        Ok(())
    }

    /// One resource in one scope.
    fn one(&mut self, i: usize, scope: &Scope) -> Result<(), Failed> {
        let (decl, spec) = &self.role.resources[i];
        if let Some(name) = registers(spec).filter(|n| scope.real.contains_key(n)) {
            let e = ResourceError::kind(Shadows(name.to_string()));
            return Err(self.error(self.role.locate_token(i, "register"), e));
        }
        let cx = scope.host(self.errors_only);
        match prepare::prepare_in(self.root, self.role, decl, spec, self.renderer, cx, self.tags, self.full) {
            Ok(mut p) => {
                p.label.push_str(&scope.suffix);
                if let Some(name) = registers(spec) {
                    let known = if p.skipped.is_some() { Some(Outcome::not_run()) } else { self.registered.get(name) };
                    self.seen.push((name.to_string(), known));
                    p.registers = Some(name.to_string());
                }
                self.out.push(p);
                Ok(())
            }
            Err(_) if !self.full => {
                if let Some(name) = registers(spec) {
                    self.seen.push((name.to_string(), self.registered.get(name)));
                }
                Ok(())
            }
            Err(e) => {
                let at = match &e {
                    ResourceError::AfterRender { field, .. } => self.role.locate_resource(i, &field_path(field)),
                    _ => self.role.locate_resource(i, &[]),
                };
                Err(self.error(at, self.too_early(i, e)))
            }
        }
    }

    /// A package loop as one resource, when its iterations differ only in
    /// names; false when they differ in more (each is then its own resource).
    fn merge(&mut self, i: usize, iterations: &[Scope]) -> Result<bool, Failed> {
        let (decl, spec) = &self.role.resources[i];
        if prepare::tagged_out(self.role, decl, self.tags).is_some() {
            return Ok(false);
        }
        let mut running = Vec::new();
        for it in iterations {
            match decl.when.as_ref().map(|w| self.renderer.eval_bool_in(self.role.dialect, w, &it.real)) {
                None | Some(Ok(true)) => running.push(it.host(self.errors_only)),
                Some(Ok(false)) => {}
                // Reported by the resource itself.
                Some(Err(_)) => return Ok(false),
            }
        }
        let body = decl.body(spec);
        let merged = prepare::resolve_merged(self.root, self.role, spec, &body, self.renderer, &running, true);
        let Ok(Some(res)) = merged else { return Ok(false) };
        for it in iterations {
            let holds = |w: &String| self.renderer.eval_bool_in(self.role.dialect, w, &it.real);
            if decl.when.as_ref().is_some_and(|w| holds(w).is_ok_and(|b| !b)) {
                self.one(i, it)?;
            }
        }
        let mut label = decl.name.clone().filter(|n| !n.contains("{{")).unwrap_or_else(|| res.label());
        label.push_str(&iterations[0].suffix[..iterations[0].suffix.rfind('[').unwrap_or(0)]);
        self.out.push(Prepared { label, resource: Some(res), ..Prepared::default() });
        Ok(true)
    }

    fn group(&mut self, g: &Group, scope: &Scope) -> Result<(), Failed> {
        let owned;
        let scope = if self.seen.is_empty() {
            scope
        } else {
            owned = self.scoped(scope, false);
            &owned
        };
        if let Some(name) = self.group_waits(g) {
            self.wait_all(&g.entries, scope, &name);
            return Ok(());
        }
        let iterations = match &g.each {
            None => vec![scope.clone()],
            Some(each) => match self.iterations(each, g.loop_var.as_deref(), scope) {
                Ok(its) => its,
                Err(_) if !self.full => return Ok(()),
                Err(e) => {
                    let at = super::role::entry::locate(&self.role.files, &g.origin, &[Seg::Key("loop".into())]);
                    return Err(self.error(at, e));
                }
            },
        };
        'each: for it in &iterations {
            for w in g.when.iter().filter(|_| self.full) {
                match self.renderer.eval_bool_in(self.role.dialect, w, &it.real) {
                    Ok(true) => {}
                    Ok(false) => {
                        self.skip_all(&g.entries, it, &format!("when: {w}"));
                        continue 'each;
                    }
                    Err(e) => {
                        let at = super::role::entry::locate(&self.role.files, &g.origin, &[]);
                        return Err(self.error(at, ResourceError::Render(e)));
                    }
                }
            }
            self.entries(&g.entries, it)?;
        }
        Ok(())
    }

    /// Every resource under a block or include that is skipped.
    fn skip_all(&mut self, entries: &[Entry], scope: &Scope, why: &str) {
        for e in entries {
            match e {
                Entry::Resource(i) => {
                    let (decl, spec) = &self.role.resources[*i];
                    let cx = scope.host(self.errors_only);
                    // As for a resource: `--tags` is looked at before `when:`.
                    let why = prepare::tagged_out(self.role, decl, self.tags).unwrap_or(why);
                    let mut p = prepare::skipped(self.root, self.role, decl, spec, self.renderer, cx, why);
                    p.label.push_str(&scope.suffix);
                    if let Some(name) = registers(spec) {
                        self.seen.push((name.to_string(), Some(Outcome::not_run())));
                        p.registers = Some(name.to_string());
                    }
                    self.out.push(p);
                }
                Entry::Group(g) => self.skip_all(&g.entries, scope, why),
            }
        }
    }

    /// `e`, with a word on why when it is an undefined name that a later
    /// command of the role registers.
    fn too_early(&self, i: usize, e: ResourceError) -> ResourceError {
        let text = e.to_string();
        let later = self.role.resources.iter().enumerate().skip(i + 1);
        let found = later.filter_map(|(j, (_, s))| Some((j, registers(s)?)));
        let Some((j, name)) = found.into_iter().find(|(_, n)| text.contains(&format!("`{n}` is not defined"))) else {
            return e;
        };
        let at = self.role.locate_token(j, "register").to_string();
        ResourceError::kind(ReadTooEarly { name: name.to_string(), at, source: e })
    }

    /// The registered name, not known yet, that `resources[i]` (or a block around it) reads.
    fn waits(&self, i: usize) -> Option<String> {
        let pending = |n: &String| self.seen.iter().any(|(s, known)| s == n && known.is_none());
        self.role.reads.get(i)?.iter().find(|n| pending(n)).cloned()
    }

    /// `resources[i]` waits for the result of `name`: conditional, labelled
    /// as well as stand-ins for the results not known yet allow.
    fn wait(&mut self, i: usize, scope: &Scope, name: &str) {
        let (decl, spec) = &self.role.resources[i];
        let labelled = self.scoped(scope, true);
        let cx = labelled.host(self.errors_only);
        let mut p = prepare::skipped(self.root, self.role, decl, spec, self.renderer, cx, "");
        p.label.push_str(&scope.suffix);
        p.skipped = None;
        p.waits = Some(name.to_string());
        if let Some(r) = registers(spec) {
            self.seen.push((r.to_string(), None));
            p.registers = Some(r.to_string());
        }
        self.out.push(p);
    }

    /// The registered name, not known yet, that a block's `when:` or `loop:` reads.
    fn group_waits(&self, g: &Group) -> Option<String> {
        let mut text = g.when.join("\n");
        text.push_str(&g.each.as_ref().map(|v| v.to_string()).unwrap_or_default());
        let pending = self.seen.iter().filter(|(_, known)| known.is_none());
        pending.map(|(n, _)| n).find(|n| crate::template::mentions(&text, n)).cloned()
    }

    /// Every resource under a block that waits for `name`.
    fn wait_all(&mut self, entries: &[Entry], scope: &Scope, name: &str) {
        for e in entries {
            match e {
                Entry::Resource(i) => self.wait(*i, scope, name),
                Entry::Group(g) => self.wait_all(&g.entries, scope, name),
            }
        }
    }

    /// `scope` with the registered results seen so far; with `stand_ins`,
    /// those not known yet read as a command that did not run (for labels only).
    fn scoped(&self, scope: &Scope, stand_ins: bool) -> Scope {
        let mut s = scope.clone();
        for (name, known) in &self.seen {
            let Some(o) = known.clone().or_else(|| stand_ins.then(Outcome::not_run)) else { continue };
            s.real.insert(name.clone(), &o.value());
            if let Some(sealed) = s.sealed.as_mut() {
                sealed.insert(name.clone(), &o.shown());
            }
        }
        s
    }

    /// One scope per item of `each` (rendered in the scope), with `var` (or `item`) and `loop_index` set.
    fn iterations(&self, each: &Value, var: Option<&str>, scope: &Scope) -> Result<Vec<Scope>, ResourceError> {
        let fields = (self.renderer, self.role.dialect);
        let real = items(fields, each, &scope.real);
        let sealed = scope.sealed.as_ref().map(|s| items(fields, each, s));
        let real = match (real, sealed.as_ref()) {
            (Ok(r), _) => r,
            (Err(e), None) => return Err(e),
            (Err(e), Some(s)) => return Err(seal_error(e, s.as_ref().err())),
        };
        let var = var.unwrap_or("item");
        let mut out = Vec::with_capacity(real.len());
        for (i, item) in real.iter().enumerate() {
            let mut it = scope.clone();
            it.real.insert(var.to_string(), item);
            it.real.insert("loop_index", &i);
            if let Some(s) = it.sealed.as_mut() {
                // A list whose length depends on a secret: what each item
                // holds then does too, and the stand-in says so.
                let shown = match &sealed {
                    Some(Ok(list)) if list.len() == real.len() => list[i].clone(),
                    _ => json!(crate::resource::sealed::SENSITIVE),
                };
                s.insert(var.to_string(), &shown);
                s.insert("loop_index", &i);
            }
            it.suffix.push_str(&format!("[{i}]"));
            out.push(it);
        }
        Ok(out)
    }
}

/// The items of a `loop:` value (rendered in the role's dialect): a list's
/// elements, or a map's entries as `{key, value}` in order.
fn items((r, d): (&Renderer, Dialect), each: &Value, ctx: &Context) -> Result<Vec<Value>, ResourceError> {
    let mut v = each.clone();
    prepare::render_native(r, d, &mut v, ctx, "loop").map_err(ResourceError::Render)?;
    match v {
        Value::Array(a) => Ok(a),
        Value::Object(m) => Ok(m.into_iter().map(|(key, value)| json!({ "key": key, "value": value })).collect()),
        Value::String(_) => Err(ResourceError::kind(LoopError::NotAList("a string"))),
        Value::Number(_) => Err(ResourceError::kind(LoopError::NotAList("a number"))),
        Value::Bool(_) => Err(ResourceError::kind(LoopError::NotAList("a boolean"))),
        Value::Null => Err(ResourceError::kind(LoopError::NotAList("nothing (null)"))),
    }
}
