//! What rigger knows about hosts, without a site: `inventory` (groups, merged
//! vars, the `ansible-inventory --list` shape, a Vagrant import) and `facts`
//! (a host's vars and, unless offline, what one probe finds on it).

use super::flags::Common;
use super::output::Out;
use super::settings::{parse_extra_vars, Settings};
use crate::error::{Error, Result};
use crate::project::fact_cache;
use crate::project::inventory::Inventory;
use crate::project::source::merge_into;
use crate::project::LimitError;
use crate::session::target::Target;
use crate::session::transport::ConnectOptions;
use crate::session::Session;
use serde_json::Value;
use std::path::Path;

/// `inventory`: one host's vars (`--host`), Ansible's JSON (`--list` or `--json`), or the groups.
pub fn show(c: &Common, list: bool, host: Option<&str>, out: Out) -> Result<i32> {
    let (inventory, extra_vars) = (&c.inventory.inventory, &c.inventory.extra_vars);
    let mut inv = Inventory::load_with(inventory, &out.secrets)?;
    if let Some(pattern) = &c.limit.limit {
        let keep = inv.select(pattern).map_err(|source| LimitError::Pattern { pattern: pattern.clone(), source })?;
        if keep.is_empty() {
            return Err(LimitError::NoHost(pattern.clone()).into());
        }
        inv.retain_hosts(&keep.into_iter().collect());
    }
    // `-e` is parsed only now, so a broken inventory is the error reported first.
    let extra = parse_extra_vars(extra_vars, &out.secrets)?;
    if let Some(h) = host {
        if !inv.hosts.contains_key(h) {
            return Err(Error::UnknownHost { host: h.to_string(), inventory: inventory.to_path_buf() });
        }
        let mut vars = inv.host_vars(h);
        merge_into(&mut vars, &extra);
        out.document(&vars);
    } else if list || out.json {
        out.document(&inv.to_ansible_json());
    } else {
        // Every group's hosts in one pass: per group, a chain of N groups costs N².
        let by_group = inv.hosts_by_group();
        for (name, g) in &inv.groups {
            let hosts = by_group.get(name).cloned().unwrap_or_default();
            if name == "ungrouped" && hosts.is_empty() {
                continue;
            }
            out.print(&format!("{}: {}\n", out.style.paint("1", name), hosts.join(", ")));
            if !g.children.is_empty() && name != "all" {
                out.print(&format!("  children: {}\n", g.children.join(", ")));
            }
        }
    }
    Ok(0)
}

/// `inventory --from-vagrant DIR`: an Ansible YAML inventory of DIR's Vagrant machines.
pub fn from_vagrant(dir: &Path, out: &Out) -> Result<i32> {
    let inv = crate::project::inventory::vagrant::from_dir(dir)?;
    out.print(&crate::project::inventory::vagrant::to_yaml(&inv));
    Ok(0)
}

/// `facts HOST`: its merged vars and, unless `offline`, its probed facts, as JSON.
pub fn facts(s: &Settings, host: &str, offline: bool) -> Result<i32> {
    let inv = Inventory::load_with(&s.inventory, &s.out.secrets)?;
    if !inv.hosts.contains_key(host) {
        return Err(Error::UnknownHost { host: host.to_string(), inventory: s.inventory.clone() });
    }
    let mut vars = inv.host_vars(host);
    merge_into(&mut vars, &s.extra_vars);
    let mut doc = serde_json::json!({ "host": host, "vars": vars });
    if !offline {
        let target = Target::from_vars(host, &vars).map_err(|e| Error::host(host, e.to_string()))?;
        let rt = tokio::runtime::Runtime::new().map_err(Error::System)?;
        doc["facts"] = rt.block_on(probe_facts(host, &target, &s.connect))?;
        // Kept for `check`, as `plan` keeps them; a cache that cannot be written is said.
        if let Err(e) = fact_cache::write(&s.inventory, host, &doc["facts"], &s.out.secrets) {
            s.out.warnings(&[e.to_string()]);
        }
    }
    s.out.document(&doc);
    Ok(0)
}

/// One session, one probe with no resource queries: just the facts.
async fn probe_facts(host: &str, target: &Target, connect: &ConnectOptions) -> Result<Value> {
    let failed = |e: crate::session::SessionError| Error::host(host, e.to_string());
    let session = Session::open(target, connect).await.map_err(failed)?;
    let state = session.probe(&Default::default(), true).await.map_err(failed)?;
    session.close().await;
    Ok(state.facts)
}
