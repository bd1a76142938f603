//! Ansible's YAML inventory format: `all:` / `hosts:` / `children:` / `vars:`.

use super::links::Link;
use super::model::Inventory;
use super::pattern::{expand_host_range, split_port};
use crate::error::{Error, Location, Result};
use crate::project::names::{self, Kind};
use crate::project::source::{merge_into, Source, Vars};
use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct YamlGroup {
    #[serde(default, deserialize_with = "map_or_name")]
    hosts: Option<IndexMap<String, Option<Vars>>>,
    #[serde(default, deserialize_with = "map_or_name")]
    children: Option<IndexMap<String, Option<YamlGroup>>>,
    #[serde(default)]
    vars: Option<Vars>,
}

/// `hosts:` or `children:` as a map of names, or as one name (`hosts: web1`),
/// which Ansible reads as `{web1: null}`. A map is read as a map, so a
/// mistake inside it keeps its own message and place.
fn map_or_name<'de, D, T>(d: D) -> std::result::Result<Option<IndexMap<String, Option<T>>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Names<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Names<T> {
        type Value = Option<IndexMap<String, Option<T>>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of names, or one name")
        }
        fn visit_str<E: serde::de::Error>(self, name: &str) -> std::result::Result<Self::Value, E> {
            Ok(Some(IndexMap::from([(name.to_string(), None)])))
        }
        fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> std::result::Result<Self::Value, A::Error> {
            IndexMap::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    d.deserialize_any(Names(std::marker::PhantomData))
}

/// A YAML inventory as read, before anything is added to the inventory:
/// a file that does not read as one may still be INI (see `Inventory::load_file`).
pub(super) struct Doc(Option<IndexMap<String, Option<YamlGroup>>>);

/// Reads `src` as a YAML inventory, with YAML 1.1 scalars as Ansible reads them (`yes` is true).
pub(super) fn parse(src: &Source) -> Result<Doc> {
    Ok(Doc(src.yaml11().parse()?))
}

impl Inventory {
    pub(super) fn load_yaml(&mut self, src: &Source, doc: Doc) -> Result<()> {
        let mut links = Vec::new();
        for (name, group) in doc.0.unwrap_or_default() {
            self.add_yaml_group(src, &name, group, &mut links)?;
        }
        // Once for the whole file: checking at every child would cost a chain's length squared.
        if let Some((i, message)) = self.first_loop(&links) {
            return Err(Error::at(src.locate(&links[i].child), message));
        }
        Ok(())
    }

    /// Adds group `name` as `group` defines it, and the links it makes to `links`.
    fn add_yaml_group(
        &mut self,
        src: &Source,
        name: &str,
        group: Option<YamlGroup>,
        links: &mut Vec<Link>,
    ) -> Result<()> {
        names::check(Kind::Group, name).map_err(|e| Error::at(locate_name(src, name), e.to_string()))?;
        self.group_mut(name);
        let Some(group) = group else { return Ok(()) };
        if let Some(vars) = group.vars {
            merge_into(&mut self.group_mut(name).vars, &vars);
        }
        for (written, vars) in group.hosts.unwrap_or_default() {
            // `web1:2222` is host web1 with ansible_port 2222, as in INI (host vars may still set it).
            let (pattern, port) = split_port(&written);
            let mut vars = vars.unwrap_or_default();
            if let Some(port) = port {
                vars.entry("ansible_port").or_insert(port.into());
            }
            for host in expand_host_range(pattern).map_err(|m| Error::at(src.locate(&written), m.to_string()))? {
                names::check(Kind::Host, &host).map_err(|e| Error::at(locate_name(src, &written), e.to_string()))?;
                self.add_host(&host, name, Some(&vars));
            }
        }
        for (child, def) in group.children.unwrap_or_default() {
            if child == name {
                let first = crate::error::find_token(&src.text, &child).map(|(l, _)| l).unwrap_or(1);
                let loc = Location::of_token_after(&src.path, &src.text, &child, first + 1);
                return Err(Error::at(loc, format!("group `{name}` lists itself as a child")));
            }
            links.push(self.add_child(name, &child));
            self.add_yaml_group(src, &child, def, links)?;
        }
        Ok(())
    }
}

/// Where a host or group name stands: as written, or as `""` when it is empty.
fn locate_name(src: &Source, name: &str) -> Location {
    if name.is_empty() {
        for quoted in ["\"\"", "''"] {
            if let Some((line, col)) = crate::error::find_token(&src.text, quoted) {
                return Location::new(&src.path, &src.text, line, col);
            }
        }
    }
    src.locate(name)
}
