//! Each host's connection vars checked at load, before anything connects:
//! what rigger cannot do (a password login, winrm, an unknown ssh flag) is
//! an error naming the host and where the var was set; an ssh option that
//! rigger's master overrides is a warning; a become password must come from
//! a vault.

use super::source::Vars;
use crate::secret::Secrets;
use crate::session::ssh_args::OWN;
use crate::session::target::{Target, TargetError, BECOME_PASSWORD};
use serde_json::Value;

/// A host's connection var that rigger cannot use.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectionError {
    #[error("host {host}: {source} ({at})")]
    Target { host: String, at: String, source: Box<TargetError> },
    #[error(
        "host {host}: `{var}` ({at}) is written in clear: a become password must come from a vault (an \
         ansible-vault `!vault` value or file, or a `.age` file)"
    )]
    ClearPassword { host: String, var: String, at: String },
}

impl From<ConnectionError> for crate::error::Error {
    fn from(e: ConnectionError) -> Self {
        crate::error::Error::Load(Box::new(e))
    }
}

/// Checks the hosts of the run; `at(host, var)` says where a var was set.
/// Returns the warnings: the ssh options rigger sets aside, once per option.
pub fn check<'a>(
    hosts: impl Iterator<Item = (&'a str, &'a Vars)>,
    secrets: &Secrets,
    at: &dyn Fn(&str, &str) -> String,
) -> Result<Vec<String>, ConnectionError> {
    let mut overridden: indexmap::IndexMap<String, Vec<&str>> = indexmap::IndexMap::new();
    for (host, vars) in hosts {
        let target = Target::from_vars(host, vars).map_err(|source| ConnectionError::Target {
            host: host.to_string(),
            at: at(host, source.var()),
            source: Box::new(source),
        })?;
        for var in BECOME_PASSWORD {
            if let Some(Value::String(p)) = vars.get(var) {
                if !secrets.contains(p) {
                    return Err(ConnectionError::ClearPassword {
                        host: host.into(),
                        var: var.into(),
                        at: at(host, var),
                    });
                }
            }
        }
        for o in target.overridden {
            overridden.entry(o).or_default().push(host);
        }
    }
    Ok(overridden
        .into_iter()
        .map(|(option, hosts)| {
            format!(
                "ssh option {option} of {} is ignored: rigger runs its own master connection and sets {} itself",
                hosts.join(", "),
                OWN.join(", ")
            )
        })
        .collect())
}
