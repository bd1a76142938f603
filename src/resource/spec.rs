//! The YAML shape of resources in `role.yaml`, as strict serde types: an
//! unknown key or a wrong type is an error at its line and column.
//! String fields may hold Tera expressions; they are rendered per host.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One entry of `resources:` (or a handler): exactly one resource key, plus `when`/`tags`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decl {
    /// An optional human name shown in reports.
    #[serde(default)]
    pub name: Option<String>,
    /// A Tera expression; the resource is skipped when it is false.
    #[serde(default)]
    pub when: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    package: Option<PackageSpec>,
    #[serde(default)]
    file: Option<FileSpec>,
    #[serde(default)]
    directory: Option<DirectorySpec>,
    #[serde(default)]
    template: Option<TemplateSpec>,
    #[serde(default)]
    service: Option<ServiceSpec>,
    #[serde(default)]
    command: Option<CommandSpec>,
    #[serde(default)]
    line: Option<LineSpec>,
    #[serde(default)]
    user: Option<UserSpec>,
    #[serde(default)]
    group: Option<GroupSpec>,
    #[serde(default)]
    sysctl: Option<SysctlSpec>,
    #[serde(default)]
    apt_repository: Option<AptRepositorySpec>,
    #[serde(default)]
    docker_container: Option<DockerContainerSpec>,
}

pub const KINDS: &[&str] = &[
    "package",
    "file",
    "directory",
    "template",
    "service",
    "command",
    "line",
    "user",
    "group",
    "sysctl",
    "apt_repository",
    "docker_container",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spec {
    Package(PackageSpec),
    File(FileSpec),
    Directory(DirectorySpec),
    Template(TemplateSpec),
    Service(ServiceSpec),
    Command(CommandSpec),
    Line(LineSpec),
    User(UserSpec),
    Group(GroupSpec),
    Sysctl(SysctlSpec),
    AptRepository(AptRepositorySpec),
    DockerContainer(DockerContainerSpec),
}

impl Decl {
    /// The one resource this entry declares; an error names what is wrong.
    pub fn spec(&self) -> Result<Spec, String> {
        let mut found: Vec<Spec> = Vec::new();
        macro_rules! take {
            ($($field:ident => $variant:ident),*) => { $( if let Some(s) = &self.$field { found.push(Spec::$variant(s.clone())); } )* };
        }
        take!(package => Package, file => File, directory => Directory, template => Template, service => Service,
              command => Command, line => Line, user => User, group => Group, sysctl => Sysctl, apt_repository => AptRepository,
              docker_container => DockerContainer);
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(format!("this entry declares no resource; expected one of: {}", KINDS.join(", "))),
            _ => Err("this entry declares more than one resource; split it into one entry per resource".into()),
        }
    }
}

/// `a` or `[a, b]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![s.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(OneOrMany(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A file mode. Must be a quoted string: YAML reads an unquoted 0644 as the number 644 (or 420).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ModeSpec(pub String);

impl<'de> Deserialize<'de> for ModeSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ModeSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a quoted octal mode like \"0644\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ModeSpec, E> {
                Ok(ModeSpec(s.to_string()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<ModeSpec, E> {
                Err(E::custom(format!(
                    "mode {n} is a number; write it as a quoted octal string like \"0{n}\" (YAML reads unquoted modes as decimal)"
                )))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ModeSpec, E> {
                self.visit_u64(n.unsigned_abs())
            }
        }
        d.deserialize_any(V)
    }
}

macro_rules! string_or_struct {
    ($ty:ident, $map:ident, $field:ident) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a name or a mapping")
                    }
                    fn visit_str<E: de::Error>(self, s: &str) -> Result<$ty, E> {
                        Ok($ty { $field: Some(s.to_string().into()), ..Default::default() })
                    }
                    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<$ty, A::Error> {
                        let m = $map::deserialize(de::value::MapAccessDeserializer::new(map))?;
                        Ok(m.into())
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PresentAbsent {
    #[default]
    Present,
    Absent,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageState {
    #[default]
    Present,
    Absent,
    Latest,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PackageSpec {
    pub name: Option<OneOrMany>,
    pub names: Option<OneOrMany>,
    pub state: PackageState,
    pub update_cache: bool,
    /// `.deb` files on the control machine, pushed and installed (air-gapped sites).
    pub deb: Option<String>,
    pub notify: OneOrMany,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackageMap {
    #[serde(default)]
    name: Option<OneOrMany>,
    #[serde(default)]
    names: Option<OneOrMany>,
    #[serde(default)]
    state: PackageState,
    #[serde(default)]
    update_cache: bool,
    #[serde(default)]
    deb: Option<String>,
    #[serde(default)]
    notify: OneOrMany,
}

impl From<PackageMap> for PackageSpec {
    fn from(m: PackageMap) -> Self {
        PackageSpec {
            name: m.name,
            names: m.names,
            state: m.state,
            update_cache: m.update_cache,
            deb: m.deb,
            notify: m.notify,
        }
    }
}
impl From<String> for OneOrMany {
    fn from(s: String) -> Self {
        OneOrMany(vec![s])
    }
}
string_or_struct!(PackageSpec, PackageMap, name);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub path: String,
    #[serde(default)]
    pub content: Option<String>,
    /// A file in the role's `files/` directory, copied verbatim.
    #[serde(default)]
    pub src: Option<String>,
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub state: PresentAbsent,
    #[serde(default)]
    pub validate: Option<String>,
    /// Hide the content from diffs and reports.
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub notify: OneOrMany,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectorySpec {
    pub path: String,
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub state: PresentAbsent,
    #[serde(default)]
    pub notify: OneOrMany,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// A template in the role's `templates/` directory.
    pub src: String,
    pub dest: String,
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    /// A command run on the temp file (`%s`) before it replaces `dest`.
    #[serde(default)]
    pub validate: Option<String>,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub notify: OneOrMany,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    Started,
    Stopped,
    Restarted,
    Reloaded,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub name: String,
    #[serde(default)]
    pub state: Option<ServiceState>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub notify: OneOrMany,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    pub cmd: String,
    /// Skip when this path exists.
    #[serde(default)]
    pub creates: Option<String>,
    /// Skip when this command succeeds.
    #[serde(default)]
    pub unless: Option<String>,
    #[serde(default)]
    pub chdir: Option<String>,
    #[serde(default)]
    pub notify: OneOrMany,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineSpec {
    pub path: String,
    pub line: String,
    /// Replace the last line matching this regex (else append).
    #[serde(default)]
    pub regexp: Option<String>,
    #[serde(default)]
    pub state: PresentAbsent,
    /// Create the file when it does not exist.
    #[serde(default = "yes")]
    pub create: bool,
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    #[serde(default)]
    pub notify: OneOrMany,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub name: String,
    #[serde(default)]
    pub uid: Option<u32>,
    /// Primary group.
    #[serde(default)]
    pub group: Option<String>,
    /// Supplementary groups; added, never removed.
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub shell: Option<String>,
    #[serde(default)]
    pub home: Option<String>,
    #[serde(default)]
    pub system: bool,
    #[serde(default)]
    pub state: PresentAbsent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    pub name: String,
    #[serde(default)]
    pub gid: Option<u32>,
    #[serde(default)]
    pub system: bool,
    #[serde(default)]
    pub state: PresentAbsent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SysctlSpec {
    pub name: String,
    pub value: serde_json::Value,
    /// Also write it to /etc/sysctl.d so it survives a reboot.
    #[serde(default = "yes")]
    pub persist: bool,
    #[serde(default)]
    pub notify: OneOrMany,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AptRepositorySpec {
    /// Names the files: /etc/apt/keyrings/NAME.asc and /etc/apt/sources.list.d/NAME.list.
    pub name: String,
    pub uri: String,
    pub suite: String,
    #[serde(default = "main_component")]
    pub components: Vec<String>,
    /// The ASCII-armored signing key, inline...
    #[serde(default)]
    pub key: Option<String>,
    /// ...or a file in the role's `files/` directory.
    #[serde(default)]
    pub key_src: Option<String>,
    #[serde(default)]
    pub arch: Option<String>,
    #[serde(default)]
    pub state: PresentAbsent,
    /// Run `apt-get update` when the repository changes.
    #[serde(default = "yes")]
    pub update_cache: bool,
    #[serde(default)]
    pub notify: OneOrMany,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerContainerSpec {
    pub name: String,
    pub image: String,
    /// `HOST:CONTAINER[/proto]`, as `docker run -p`.
    #[serde(default)]
    pub ports: Vec<String>,
    /// `SRC:DEST[:opts]`, as `docker run -v`.
    #[serde(default)]
    pub volumes: Vec<String>,
    #[serde(default)]
    pub env: indexmap::IndexMap<String, String>,
    /// no, always, on-failure, unless-stopped.
    #[serde(default = "unless_stopped")]
    pub restart: String,
    #[serde(default)]
    pub command: Option<OneOrMany>,
    #[serde(default)]
    pub state: crate::resource::docker::ContainerState,
    #[serde(default)]
    pub notify: OneOrMany,
}

fn unless_stopped() -> String {
    "unless-stopped".into()
}

fn main_component() -> Vec<String> {
    vec!["main".into()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(y: &str) -> Result<Decl, String> {
        serde_yaml::from_str(y).map_err(|e| e.to_string())
    }

    #[test]
    fn package_as_name_or_map() {
        let d = decl("package: haproxy").unwrap();
        let Spec::Package(p) = d.spec().unwrap() else { panic!() };
        assert_eq!(p.name.unwrap().0, ["haproxy"]);
        let d = decl("package: { names: [a, b], state: absent }").unwrap();
        let Spec::Package(p) = d.spec().unwrap() else { panic!() };
        assert_eq!(p.names.unwrap().0, ["a", "b"]);
        assert_eq!(p.state, PackageState::Absent);
    }

    #[test]
    fn unknown_keys_and_numeric_modes_are_errors() {
        let e = decl("package: { nme: x }").unwrap_err();
        assert!(e.contains("unknown field `nme`"), "{e}");
        let e = decl("file: { path: /x, mode: 644 }").unwrap_err();
        assert!(e.contains("quoted octal string"), "{e}");
        // serde_yaml keeps a leading-zero scalar as the string it looks like.
        let Spec::File(f) = decl("file: { path: /x, mode: 0644 }").unwrap().spec().unwrap() else { panic!() };
        assert_eq!(f.mode.unwrap().0, "0644");
        let e = decl("packge: x").unwrap_err();
        assert!(e.contains("unknown field `packge`"), "{e}");
    }

    #[test]
    fn exactly_one_resource() {
        assert!(decl("when: \"true\"").unwrap().spec().unwrap_err().contains("no resource"));
        assert!(decl("{package: a, file: {path: /x}}").unwrap().spec().unwrap_err().contains("more than one"));
    }
}
