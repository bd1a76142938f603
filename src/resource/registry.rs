//! Every resource kind, listed once. The list makes `AnySpec` (one spec of
//! any kind), reads a `resources:` entry (`Decl`: one kind's key plus `name`,
//! `when`, `tags`) and finds a kind's reference text. Adding a kind is one
//! line in `kinds!` below and its own module.

use super::kind::{Doc, Resolve, Resource, ResourceError, RoleFile, Spec};
use serde::de::{self, Deserializer, MapAccess, Visitor};
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

            /// Reads back a rendered spec of this kind and resolves it.
            pub fn resolve_json(&self, v: serde_json::Value, cx: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
                let read = |e| ResourceError::AfterRender(Arc::new(e));
                match self { $(AnySpec::$variant(_) => serde_json::from_value::<$spec>(v).map_err(read)?.resolve(cx)),* }
            }

            /// The value of the map key `key` as that kind's spec; `None` when no kind has that key.
            fn read<'de, A: MapAccess<'de>>(key: &str, map: &mut A) -> Option<Result<AnySpec, A::Error>> {
                $(if key == <$spec as Spec>::KIND {
                    return Some(map.next_value::<$spec>().map(AnySpec::$variant));
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
    // Not a change: a read-only question in the probe (`query.NAME`), shown as ok.
    Query: super::query::QuerySpec,
}

/// The reference text of `kind`.
pub fn doc(kind: &str) -> Option<&'static Doc> {
    DOCS.iter().find(|(k, _)| *k == kind).map(|(_, d)| *d)
}

/// One entry of `resources:` (or a handler): one kind's key, plus `name`, `when`, `tags`.
#[derive(Debug, Clone, Default)]
pub struct Decl {
    /// An optional human name shown in reports.
    pub name: Option<String>,
    /// An expression; the resource is skipped when it is false.
    pub when: Option<String>,
    pub tags: Vec<String>,
    /// Every kind key the entry has: exactly one is right (`spec` says so).
    specs: Vec<AnySpec>,
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
}

/// The keys an entry takes, for "unknown field" errors: serde wants them `'static`.
static DECL_KEYS: LazyLock<&'static [&'static str]> = LazyLock::new(|| {
    let keys: Vec<&'static str> = ["name", "when", "tags"].into_iter().chain(KINDS.iter().copied()).collect();
    Box::leak(keys.into_boxed_slice())
});

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
                    match key.as_str() {
                        "name" => decl.name = map.next_value()?,
                        "when" => decl.when = map.next_value()?,
                        "tags" => decl.tags = map.next_value()?,
                        kind => match AnySpec::read(kind, &mut map) {
                            Some(spec) => decl.specs.push(spec?),
                            None => return Err(de::Error::unknown_field(kind, &DECL_KEYS)),
                        },
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
            e.starts_with("unknown field `packge`, expected one of `name`, `when`, `tags`, `package`, `file`"),
            "{e}"
        );
        assert!(e.contains("`get_url`"), "{e}");
        let e = decl("package: { nme: x }").unwrap_err();
        assert!(e.contains("unknown field `nme`"), "{e}");
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

    /// Each kind's example parses as a `resources:` entry of that kind.
    #[test]
    fn every_example_parses() {
        for (kind, doc) in DOCS {
            let d: Decl = serde_yaml::from_str(doc.example).unwrap_or_else(|e| panic!("{kind}: {e}\n{}", doc.example));
            assert_eq!(d.spec().unwrap().kind(), *kind);
        }
    }
}
