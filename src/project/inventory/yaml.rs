//! Ansible's YAML inventory format: `all:` / `hosts:` / `children:` / `vars:`.

use super::model::Inventory;
use super::pattern::expand_host_range;
use crate::error::{Error, Location, Result};
use crate::project::source::{merge_into, Source, Vars};
use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlGroup {
    #[serde(default)]
    hosts: Option<IndexMap<String, Option<Vars>>>,
    #[serde(default)]
    children: Option<IndexMap<String, Option<YamlGroup>>>,
    #[serde(default)]
    vars: Option<Vars>,
}

impl Inventory {
    pub(super) fn load_yaml(&mut self, src: &Source) -> Result<()> {
        let top: Option<IndexMap<String, Option<YamlGroup>>> = src.parse()?;
        for (name, group) in top.unwrap_or_default() {
            self.add_yaml_group(src, &name, group)?;
        }
        Ok(())
    }

    fn add_yaml_group(&mut self, src: &Source, name: &str, group: Option<YamlGroup>) -> Result<()> {
        self.group_mut(name);
        let Some(group) = group else { return Ok(()) };
        if let Some(vars) = group.vars {
            merge_into(&mut self.group_mut(name).vars, &vars);
        }
        for (pattern, vars) in group.hosts.unwrap_or_default() {
            for host in expand_host_range(&pattern).map_err(|m| Error::at(src.locate(&pattern), m.to_string()))? {
                self.add_host(&host, name, vars.as_ref());
            }
        }
        for (child, def) in group.children.unwrap_or_default() {
            if child == name {
                let first = crate::error::find_token(&src.text, &child).map(|(l, _)| l).unwrap_or(1);
                let loc = Location::of_token_after(&src.path, &src.text, &child, first + 1);
                return Err(Error::at(loc, format!("group `{name}` lists itself as a child")));
            }
            if let Some(path) = self.child_path(&child, name) {
                return Err(Error::at(
                    src.locate(&child),
                    format!("adding `{child}` as a child of `{name}` makes a loop: {}", path.join(" → ")),
                ));
            }
            let g = self.group_mut(name);
            if !g.children.contains(&child) {
                g.children.push(child.clone());
            }
            self.add_yaml_group(src, &child, def)?;
        }
        Ok(())
    }
}
