//! Every resource kind, listed once. The list makes `AnySpec` (one spec of
//! any kind), reads a `resources:` entry (`Decl`: one kind's key plus `name`,
//! `when`, `tags`) and finds a kind's reference text. Adding a kind is one
//! line in `kinds!` below and its own module.

use super::kind::{Doc, Resolve, Resource, ResourceError, RoleFile, Spec};
use super::typed;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;
use std::sync::{Arc, LazyLock};

macro_rules! kinds {
    ($($variant:ident: $spec:ty),* $(,)?) => {
        /// One resource spec, of any kind.
        #[derive(Debug, Clone, PartialEq)]
        pub enum AnySpec {
            $($variant($spec)),*
        }

        /// The `resources:` keys, in the order the parser lists them.
        pub const KINDS: &[&str] = &[$(<$spec as Spec>::KIND),*];

        /// Every kind's reference text, in `KINDS` order.
        pub const DOCS: &[(&str, &Doc)] = &[$((<$spec as Spec>::KIND, &<$spec as Spec>::DOC)),*];

        impl AnySpec {
            pub fn kind(&self) -> &'static str {
                match self { $(AnySpec::$variant(_) => <$spec as Spec>::KIND),* }
            }

            pub fn notify(&self) -> &[String] {
                match self { $(AnySpec::$variant(s) => s.notify()),* }
            }

            pub fn role_files(&self) -> Vec<RoleFile<'_>> {
                match self { $(AnySpec::$variant(s) => s.role_files()),* }
            }

            /// The spec as JSON, for rendering its strings per host.
            pub fn to_json(&self) -> serde_json::Value {
                let v = match self { $(AnySpec::$variant(s) => serde_json::to_value(s)),* };
                v.unwrap_or(serde_json::Value::Null)
            }

            /// Reads back a rendered spec of this kind, every field type-checked
            /// (`typed::from_rendered`): a mistake names the field's path.
            pub fn read_rendered(&self, v: serde_json::Value) -> Result<AnySpec, ResourceError> {
                let kind = self.kind();
                let read = |e: typed::RenderedError| ResourceError::AfterRender {
                    field: if e.field.is_empty() { kind.to_string() } else { format!("{kind}.{}", e.field) },
                    source: Arc::new(e.source),
                };
                Ok(match self { $(AnySpec::$variant(_) => AnySpec::$variant(typed::from_rendered::<$spec>(v).map_err(read)?)),* })
            }

            /// Resolves the spec for one host.
            pub fn resolve(self, cx: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
                match self { $(AnySpec::$variant(s) => s.resolve(cx)),* }
            }

            /// Reads back a rendered spec of this kind and resolves it.
            pub fn resolve_json(&self, v: serde_json::Value, cx: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
                self.read_rendered(v)?.resolve(cx)
            }

            /// The value of the map key `key` as that kind's spec, a template
            /// standing for any type (`typed::from_load`); `None` when no kind has that key.
            fn read<'de, A: MapAccess<'de>>(key: &str, map: &mut A) -> Option<Result<AnySpec, A::Error>> {
                $(if key == <$spec as Spec>::KIND {
                    return Some(map.next_value_seed(typed::LoadSeed::<$spec>::default()).map(AnySpec::$variant));
                })*
                None
            }
        }
    };
}

kinds! {
    Package: super::package::PackageSpec,
    File: super::file::FileSpec,
    Directory: super::directory::DirectorySpec,
    Template: super::template::TemplateSpec,
    Service: super::service::ServiceSpec,
    Command: super::command::CommandSpec,
    Line: super::line::LineSpec,
    User: super::user::UserSpec,
    Group: super::group::GroupSpec,
    Sysctl: super::sysctl::SysctlSpec,
    AptRepository: super::apt_repository::AptRepositorySpec,
    DockerContainer: super::docker_container::DockerContainerSpec,
    Blockinfile: super::blockinfile::BlockinfileSpec,
    GetUrl: super::get_url::GetUrlSpec,
    SystemdUnit: super::systemd_unit::SystemdUnitSpec,
    Limits: super::limits::LimitsSpec,
    // Not a change: a read-only question in the probe (`query.NAME`), shown as ok.
    Query: super::query::QuerySpec,
}

/// The reference text of `kind`.
pub fn doc(kind: &str) -> Option<&'static Doc> {
    DOCS.iter().find(|(k, _)| *k == kind).map(|(_, d)| *d)
}

/// The keys an entry of `resources:` takes beside its kind, and the entries
/// that are not resources, in `ENTRY_KEYS` order (`rigger doc`, the README).
pub const ENTRY_DOC: &[super::kind::Field] = &[
    field("name", "string", "KIND TARGET", "shown in plan, diff and recap"),
    field("when", "expression", "always", "the resource is skipped when false; evaluated per loop item"),
    field("tags", "list", "[]", "`--tags T` runs the resources tagged T (or of role T)"),
    field(
        "loop",
        "list | map | \"{{ var }}\"",
        "none",
        "one resource per item: `item` (a map's: `item.key`, `item.value`, in order), `loop_index` (0-based); \
         labelled `KIND TARGET[INDEX]`; a `package` loop is one apt call; an empty list is no resource",
    ),
    field("loop_var", "name", "item", "the name each item takes (nested loops)"),
    field(
        "become",
        "bool",
        "the connection's",
        "true: its steps run as root (`sudo -n` unless the connection is root); false: as the login user \
         when the connection became root through sudo. The probe keeps the connection's privileges",
    ),
    field(
        "become_user",
        "name",
        "none",
        "its steps run as this user (`runuser` from root, else `sudo -n -u`), in the user's home",
    ),
    field(
        "block",
        "mapping",
        "none",
        "`{ name, when, tags, notify, become, become_user, loop, loop_var, resources }`: its resources share \
         its `when` (ANDed with theirs), `tags` and `notify` (added to theirs), `become` and `become_user` \
         (where they set none); blocks nest",
    ),
    field(
        "include",
        "path",
        "none",
        "the entries of a YAML list in a file of the role folder (blocks and includes too); `when`, `tags`, \
         `become`, `become_user`, `loop`, `loop_var` beside it apply to all",
    ),
];

/// What the reference says about templated fields.
pub const TEMPLATED_FIELDS_DOC: &str = "Any field may be templated, whatever its type (`enabled: \"{{ on }}\"`, \
    `uid`, `ports`): a field that is one `{{ expression }}` takes the value's own type (a list var given to \
    `names` is that list), and each field is type-checked after rendering, per host, an error naming its \
    file:line:col. After rendering, a number or bool is taken as text where text is wanted, a string of digits as \
    a number, and yes/no/true/false/on/off (any case) as a bool.";

const fn field(name: &'static str, ty: &'static str, default: &'static str, help: &'static str) -> super::kind::Field {
    super::kind::Field { name, ty, default, help }
}

/// One resource entry of `resources:` (or a handler): one kind's key, plus
/// `name`, `when`, `tags` and `loop`/`loop_var`.
#[derive(Debug, Clone, Default)]
pub struct Decl {
    /// An optional human name shown in reports.
    pub name: Option<String>,
    /// An expression; the resource is skipped when it is false.
    pub when: Option<String>,
    pub tags: Vec<String>,
    /// `loop:`: a template naming a list or a map, or a literal list or map.
    pub each: Option<Value>,
    /// The name each iteration's value takes (`item` by default).
    pub loop_var: Option<String>,
    /// `become:` / `become_user:`: whom its steps run as.
    pub privilege: super::privilege::Privilege,
    /// Every kind key the entry has: exactly one is right (`spec` says so).
    specs: Vec<AnySpec>,
    /// The spec as written, templates and all: what is rendered per host.
    /// The typed `specs` are only its load-time check (a template there
    /// stands for any value), so they cannot be rendered themselves.
    body: Option<Value>,
}

/// Why an entry is not one resource.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeclError {
    #[error("this entry declares no resource; expected one of: {}", KINDS.join(", "))]
    NoResource,
    #[error("this entry declares more than one resource; split it into one entry per resource")]
    MoreThanOne,
}

impl Decl {
    /// The one resource this entry declares.
    pub fn spec(&self) -> Result<AnySpec, DeclError> {
        match self.specs.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(DeclError::NoResource),
            _ => Err(DeclError::MoreThanOne),
        }
    }

    /// The spec as written (see `body`): what `plan` renders for each host.
    pub fn body(&self, spec: &AnySpec) -> Value {
        self.body.clone().unwrap_or_else(|| spec.to_json())
    }

    /// Keeps the spec as written: the value of the kind's key in the raw entry.
    pub fn set_body(&mut self, raw_entry: &Value) {
        if let Ok(spec) = self.spec() {
            self.body = raw_entry.get(spec.kind()).cloned();
        }
    }

    /// Adds handlers to notify (a block's `notify:`); false when the kind notifies none.
    pub fn add_notify(&mut self, names: &[String]) -> bool {
        let Ok(spec) = self.spec() else { return false };
        let mut typed = spec.to_json();
        let Some(Value::Array(list)) = typed.get_mut("notify") else { return false };
        list.extend(names.iter().cloned().map(Value::String));
        let Ok(read) = spec.read_rendered(typed) else { return false };
        self.specs = vec![read];
        let body = self.body.get_or_insert_with(|| spec.to_json());
        if let Value::String(s) = body {
            // `package: haproxy`: the short form, as the mapping it stands for.
            *body = serde_json::json!({ "name": s.clone() });
        }
        if let Value::Object(m) = body {
            let mut all: Vec<Value> = match m.remove("notify") {
                Some(Value::Array(a)) => a,
                Some(Value::Null) | None => vec![],
                Some(one) => vec![one],
            };
            all.extend(names.iter().cloned().map(Value::String));
            m.insert("notify".into(), Value::Array(all));
        }
        true
    }

    /// Reads the value of `key` when it is a resource entry's key; `None` when it is not one.
    pub fn read_key<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Option<Result<(), A::Error>> {
        let read = match key {
            "name" => map.next_value().map(|v| self.name = v),
            "when" => map.next_value().map(|v| self.when = v),
            "tags" => map.next_value().map(|v| self.tags = v),
            "loop" => map.next_value().map(|v| self.each = Some(v)),
            "loop_var" => map.next_value().map(|v| self.loop_var = Some(v)),
            "become" => map.next_value().map(|v| self.privilege.become_ = Some(v)),
            "become_user" => map.next_value().map(|v| self.privilege.user = Some(v)),
            // Ansible writes it beside the task; here it is the command's own key.
            "register" => Err(de::Error::custom(
                "`register:` is a key of `command:` (`command: { cmd: …, register: NAME }`); only a command \
                 registers a result",
            )),
            kind => AnySpec::read(kind, map)?.map(|spec| self.specs.push(spec)),
        };
        Some(read)
    }
}

/// The keys a resource entry takes (`ENTRY_KEYS` plus every kind), for "unknown field" errors.
pub static DECL_KEYS: LazyLock<&'static [&'static str]> = LazyLock::new(|| keys(&[]));

/// The keys of an entry of `resources:`, where blocks and includes may be too.
pub static ENTRY_KEYS: LazyLock<&'static [&'static str]> = LazyLock::new(|| keys(&["block", "include"]));

/// serde wants the expected keys `'static`.
fn keys(more: &[&'static str]) -> &'static [&'static str] {
    let keys: Vec<&'static str> = ["name", "when", "tags", "loop", "loop_var", "become", "become_user"]
        .into_iter()
        .chain(more.iter().copied())
        .chain(KINDS.iter().copied())
        .collect();
    Box::leak(keys.into_boxed_slice())
}

impl<'de> serde::Deserialize<'de> for Decl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Decl;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a resource entry (a mapping)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Decl, A::Error> {
                let mut decl = Decl::default();
                while let Some(key) = map.next_key::<String>()? {
                    match decl.read_key(&key, &mut map) {
                        Some(read) => read?,
                        None => return Err(de::Error::unknown_field(&key, &DECL_KEYS)),
                    }
                }
                Ok(decl)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(y: &str) -> Result<Decl, String> {
        serde_yaml::from_str(y).map_err(|e| e.to_string())
    }

    #[test]
    fn one_kind_per_entry_with_name_when_tags() {
        let d = decl("name: x\nwhen: a\ntags: [t]\npackage: haproxy").unwrap();
        assert_eq!(
            (d.name.as_deref(), d.when.as_deref(), d.tags.as_slice()),
            (Some("x"), Some("a"), &["t".to_string()][..])
        );
        assert_eq!(d.spec().unwrap().kind(), "package");
        assert_eq!(decl("when: \"true\"").unwrap().spec().unwrap_err(), DeclError::NoResource);
        assert_eq!(decl("{package: a, file: {path: /x}}").unwrap().spec().unwrap_err(), DeclError::MoreThanOne);
    }

    #[test]
    fn unknown_keys_are_errors_listing_every_kind() {
        let e = decl("packge: x").unwrap_err();
        assert!(
            e.starts_with(
                "unknown field `packge`, expected one of `name`, `when`, `tags`, `loop`, `loop_var`, `become`, `become_user`, `package`"
            ),
            "{e}"
        );
        assert!(e.contains("`get_url`"), "{e}");
        let e = decl("package: { nme: x }").unwrap_err();
        assert!(e.contains("unknown field `nme`"), "{e}");
    }

    #[test]
    fn every_entry_key_is_documented_in_order() {
        let documented: Vec<&str> = ENTRY_DOC.iter().map(|f| f.name).collect();
        let keys: Vec<&str> = ENTRY_KEYS.iter().copied().filter(|k| !KINDS.contains(k)).collect();
        assert_eq!(documented, keys);
    }

    #[test]
    fn every_kind_is_listed_once_with_a_doc() {
        let mut seen = std::collections::HashSet::new();
        for k in KINDS {
            assert!(seen.insert(k), "{k} twice");
            assert!(doc(k).is_some_and(|d| !d.summary.is_empty() && !d.example.is_empty()), "{k} has no doc");
        }
    }

    /// The documented fields of every kind are exactly the keys its parser
    /// takes: the docs are checked against the same source the parser uses.
    #[test]
    fn docs_name_exactly_the_fields_the_parser_takes() {
        for (kind, doc) in DOCS {
            let documented: Vec<&str> = doc.fields.iter().map(|f| f.name).collect();
            let probe = format!("{kind}: {{ no_such_key_xyz: 1 }}");
            let e = decl(&probe).unwrap_err();
            let taken: Vec<&str> = e
                .split("expected one of ")
                .nth(1)
                .or_else(|| e.split("expected ").nth(1))
                .unwrap_or_else(|| panic!("{kind}: {e}"))
                .split(", ")
                // serde says "expected `a` or `b`" for two fields.
                .flat_map(|f| f.split("` or `"))
                .map(|f| f.trim_matches(|c: char| c == '`' || c.is_whitespace() || c == '.'))
                .map(|f| f.split(" at line").next().unwrap_or(f).trim_matches('`'))
                .collect();
            assert_eq!(documented, taken, "{kind}: the doc's fields differ from the parser's");
        }
    }

    /// Any field of any kind may be a template at load, whatever its type.
    #[test]
    fn every_field_of_every_kind_may_be_templated() {
        for (kind, doc) in DOCS {
            for f in doc.fields {
                let mut entry: serde_yaml::Value = serde_yaml::from_str(doc.example).unwrap();
                let body = entry.get_mut(*kind).unwrap();
                if !body.is_mapping() {
                    *body = serde_yaml::from_str(&format!("{{ name: {} }}", body.as_str().unwrap())).unwrap();
                }
                body[f.name] = serde_yaml::Value::String("{{ x }}".into());
                let text = serde_yaml::to_string(&entry).unwrap();
                let d = decl(&text).unwrap_or_else(|e| panic!("{kind}.{}: {e}\n{text}", f.name));
                assert!(d.spec().is_ok(), "{kind}.{}", f.name);
            }
        }
    }

    /// Each kind's example parses as a `resources:` entry of that kind.
    #[test]
    fn every_example_parses() {
        for (kind, doc) in DOCS {
            let d: Decl = serde_yaml::from_str(doc.example).unwrap_or_else(|e| panic!("{kind}: {e}\n{}", doc.example));
            assert_eq!(d.spec().unwrap().kind(), *kind);
        }
    }
}
