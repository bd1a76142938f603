//! `rigger import ansible PATH [--out DIR]`: an Ansible role (a folder
//! with `tasks/main.yml`) or playbook becomes rigger's files. It prints one
//! line per task (converted, converted with a note, or not converted, with
//! the Ansible file:line and why) and returns 0 when everything converted,
//! 2 when some tasks need a hand; errors (unreadable files, bad YAML) are 1.

mod args;
mod expr;
mod files;
mod module;
mod playbook;
pub mod report;
mod role;
mod special;
mod state;
mod task;

use crate::error::{Error, Result};
use report::RoleReport;
use std::path::Path;

/// Imports `path` into `out`; the reports, per role (a playbook's plays first).
/// Nothing is written unless every role converts (bad YAML anywhere is an error that writes nothing).
pub fn ansible(path: &Path, out: &Path) -> Result<Vec<RoleReport>> {
    let mut files = files::Files::default();
    let reports = convert(path, out, &mut files)?;
    files.write()?;
    Ok(reports)
}

fn convert(path: &Path, out: &Path, files: &mut files::Files) -> Result<Vec<RoleReport>> {
    if path.is_dir() && path.join("tasks").is_dir() {
        let name = role_name(path)?;
        return Ok(vec![role::import(path, &name, &out.join("roles"), "", files)?]);
    }
    if path.is_file() {
        return playbook::import(path, out, files);
    }
    for site in ["site.yml", "site.yaml", "playbook.yml"] {
        if path.join(site).is_file() {
            return playbook::import(&path.join(site), out, files);
        }
    }
    Err(Error::usage(format!(
        "{}: neither a role (a folder with tasks/main.yml) nor a playbook (a .yml file, or a folder with site.yml)",
        path.display()
    )))
}

/// The role's name: its folder's, without a Galaxy `ansible-role-` prefix (not a valid rigger name).
fn role_name(path: &Path) -> Result<String> {
    let abs = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
    let base = abs.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let name = base.strip_prefix("ansible-role-").unwrap_or(&base).replace(['-', '.'], "_");
    Ok(name)
}

/// Every report's lines, then the exit code: 0, or 2 when a task needs a hand.
pub fn render(reports: &[RoleReport]) -> (String, i32) {
    let text: String = reports.iter().map(RoleReport::render).collect();
    (text, report::exit_code(reports))
}
