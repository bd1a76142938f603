//! `rigger init [DIR]`: a project that `check`, `plan` and `apply` accept as
//! it stands, also for a user without root: an inventory of this machine
//! (`ansible_connection: local`), a site, and one role that writes into the
//! user's home and has a handler. Nothing is overwritten.

use super::output::Out;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The files, relative to DIR. `@HELLO_DIR@` is replaced by the folder the role writes to.
const FILES: &[(&str, &str)] = &[
    ("inventory/hosts.yaml", include_str!("init/hosts.yaml")),
    ("site.yaml", include_str!("init/site.yaml")),
    ("roles/hello/role.yaml", include_str!("init/role.yaml")),
    ("roles/hello/templates/greeting.txt.j2", include_str!("init/greeting.txt.j2")),
    ("roles/hello/README.md", include_str!("init/README.md")),
    (".gitignore", ".rigger/\n"),
];

/// Why a project could not be made.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0} already exists: rigger init writes only into a folder without these files ({1})")]
    Exists(PathBuf, String),
    #[error("no home folder to write into: set HOME")]
    NoHome,
}

impl From<InitError> for Error {
    fn from(e: InitError) -> Self {
        Error::usage(e.to_string())
    }
}

/// Writes the project into `dir` (made if missing); refuses to overwrite a file.
pub fn init(dir: &Path, out: &Out) -> Result<i32> {
    let home = std::env::var("HOME").ok().filter(|h| !h.is_empty()).ok_or(InitError::NoHome)?;
    let hello_dir = Path::new(&home).join("rigger-hello");
    let names: Vec<&str> = FILES.iter().map(|(n, _)| *n).collect();
    if let Some(taken) = names.iter().map(|n| dir.join(n)).find(|p| p.exists()) {
        return Err(InitError::Exists(taken, names.join(", ")).into());
    }
    for (name, text) in FILES {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        // A JSON string is a YAML double-quoted scalar: any home folder name survives.
        let quoted = serde_json::to_string(&hello_dir.display().to_string()).unwrap_or_default();
        let text = text.replace("@HELLO_DIR@", &quoted);
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    let cd = if dir == Path::new(".") { String::new() } else { format!("cd {} && ", dir.display()) };
    out.human(&format!(
        "Made a rigger project in {} for this machine: inventory/hosts.yaml, site.yaml, roles/hello/.\n\
         Next: {cd}rigger check && rigger plan && rigger apply\n\
         The hello role writes into {} (no root needed).\n",
        dir.display(),
        hello_dir.display()
    ));
    Ok(0)
}
