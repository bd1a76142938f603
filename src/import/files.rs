//! What an import writes, gathered while every role converts and written
//! only at the end: bad input in any role (unreadable file, bad YAML) is an
//! error that writes nothing at all.

use crate::error::{Error, Result};
use serde_yaml::Value;
use std::path::{Path, PathBuf};

/// Files to write, copy and remove.
#[derive(Debug, Default)]
pub struct Files {
    yaml: Vec<(PathBuf, Value)>,
    copies: Vec<(PathBuf, PathBuf)>,
    /// Left from an earlier import (an import-todo.yaml with nothing to do now).
    stale: Vec<PathBuf>,
}

impl Files {
    pub fn yaml(&mut self, path: PathBuf, v: Value) {
        self.yaml.push((path, v));
    }

    pub fn stale(&mut self, path: PathBuf) {
        self.stale.push(path);
    }

    /// Every file under the folder `from` (if any), to be copied byte for byte under `to`.
    pub fn copy_tree(&mut self, from: &Path, to: &Path) -> Result<()> {
        if !from.is_dir() {
            return Ok(());
        }
        for e in std::fs::read_dir(from).map_err(|e| Error::io(from, e))? {
            let e = e.map_err(|e| Error::io(from, e))?;
            let (src, dst) = (e.path(), to.join(e.file_name()));
            if src.is_dir() {
                self.copy_tree(&src, &dst)?;
            } else {
                self.copies.push((src, dst));
            }
        }
        Ok(())
    }

    /// Writes everything.
    pub fn write(&self) -> Result<()> {
        for (path, v) in &self.yaml {
            let text = serde_yaml::to_string(v).map_err(|e| Error::usage(format!("{}: {e}", path.display())))?;
            make_parent(path)?;
            std::fs::write(path, text).map_err(|e| Error::io(path, e))?;
        }
        for (src, dst) in &self.copies {
            make_parent(dst)?;
            std::fs::copy(src, dst).map_err(|e| Error::io(src, e))?;
        }
        for path in &self.stale {
            if path.is_file() {
                std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
            }
        }
        Ok(())
    }
}

fn make_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e)),
        None => Ok(()),
    }
}
