//! Raw arguments → validated settings, once per invocation: `--forks 0` is
//! refused and every `-e` is parsed before a command starts, so commands get
//! typed values and never see a raw flag.

use super::flags::Common;
use super::output::Out;
use crate::error::{Error, Result};
use crate::project as engine;
use crate::project::source::{self, Vars};
use crate::project::tags::Tags;
use crate::report::Style;
use crate::secret::Secrets;
use crate::session::target::BecomePassword;
use crate::session::transport::ConnectOptions;
use std::path::{Path, PathBuf};

/// A flag's value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("--forks must be at least 1")]
    NoForks,
    #[error("-e {0:?}: expected key=value or @file.yaml")]
    NotKeyValue(String),
    #[error("-e {0:?}: the variable name before `=` is empty (expected key=value)")]
    EmptyName(String),
}

impl From<SettingsError> for Error {
    fn from(e: SettingsError) -> Self {
        Error::Load(Box::new(e))
    }
}

/// What a command that reads the project (and maybe connects) runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub out: Out,
    pub inventory: PathBuf,
    pub limit: Option<String>,
    pub tags: Tags,
    /// `-e`, parsed: the highest-precedence vars.
    pub extra_vars: Vars,
    /// At most this many hosts in flight; `None` is all of them, and never 0.
    pub forks: Option<usize>,
    pub connect: ConnectOptions,
}

impl Settings {
    pub fn new(c: &Common, out: Out) -> Result<Self> {
        if c.connect.forks == Some(0) {
            return Err(SettingsError::NoForks.into());
        }
        let become_password = c.connect.ask_become_pass.then(|| ask_become_password(&out)).transpose()?;
        Ok(Settings {
            out: out.clone(),
            inventory: c.inventory.inventory.clone(),
            limit: c.limit.limit.clone(),
            tags: Tags { only: c.tags.tags.clone(), skip: c.tags.skip_tags.clone() },
            extra_vars: parse_extra_vars(&c.inventory.extra_vars, &out.secrets)?,
            forks: c.connect.forks,
            connect: ConnectOptions {
                accept_new_host_keys: c.connect.accept_new_host_keys,
                connect_timeout: None,
                lock_timeout: std::time::Duration::from_secs(c.connect.lock_timeout),
                become_password,
                persist: std::time::Duration::from_secs(c.connect.persist),
            },
        })
    }

    /// What the engine needs to load and run `site`.
    pub fn project(&self, site: &Path) -> engine::Settings {
        engine::Settings {
            inventory: self.inventory.clone(),
            site: site.to_path_buf(),
            limit: self.limit.clone(),
            tags: self.tags.clone(),
            extra_vars: self.extra_vars.clone(),
            forks: self.forks,
            connect: self.connect.clone(),
            secrets: self.out.secrets.clone(),
        }
    }
}

/// `-K`: sudo's password, asked once on the terminal and sealed like a
/// vault value, so no output can show it.
fn ask_become_password(out: &Out) -> Result<BecomePassword> {
    let raw = crate::secret::vault_passwords::ask_on_terminal("BECOME password: ")
        .map_err(|e| Error::usage(format!("-K: {e}")))?;
    let password = String::from_utf8(raw).map_err(|_| Error::usage("-K: the password is not UTF-8"))?;
    out.secrets.add(&password);
    Ok(BecomePassword(password))
}

/// How to print, from the flags alone. It cannot fail, so even a refused
/// flag is reported in the form the user asked for (`--json`, colors).
pub fn output(c: &Common) -> Out {
    let passwords = crate::secret::vault_passwords::Sources::new(
        &c.vault.vault_password_file,
        std::env::var("RIGGER_VAULT_PASSWORD_FILE").ok().filter(|f| !f.is_empty()),
        c.vault.ask_vault_pass,
    );
    let secrets = Secrets::with_vault_passwords(c.vault.vault_key.clone(), passwords);
    crate::trace::init(c.output.verbose, &secrets);
    let verbose = crate::trace::level() >= 1;
    Out {
        json: c.output.json,
        quiet: c.output.quiet,
        verbose,
        style: Style::detect(c.output.json, &c.output.color),
        secrets,
    }
}

/// Parses `-e` values: `k=v` pairs (v as YAML) or `@file`.
pub fn parse_extra_vars(items: &[String], secrets: &Secrets) -> Result<Vars> {
    let mut vars = Vars::new();
    for item in items {
        if let Some(path) = item.strip_prefix('@') {
            source::merge_into(&mut vars, &source::read_vars(Path::new(path), secrets)?);
            continue;
        }
        let (k, v) = item.split_once('=').ok_or_else(|| SettingsError::NotKeyValue(item.clone()))?;
        if k.trim().is_empty() {
            return Err(SettingsError::EmptyName(item.clone()).into());
        }
        let value: serde_json::Value =
            serde_yaml::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_string()));
        vars.insert(k.to_string(), if v.is_empty() { serde_json::Value::String(String::new()) } else { value });
    }
    Ok(vars)
}
