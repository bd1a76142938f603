//! Which names a host, group or role may have. A name ends up as a file name
//! (`host_vars/NAME`, `group_vars/NAME`, `roles/NAME/role.yaml`, the pending
//! marker `STATE/pending/ROLE` on a host, see `session::host_state`) and as a word on a
//! command line (`ssh … NAME`), so one that is a path (`../x`) or looks like
//! an option (`-oProxyCommand=…`) is refused where it is written, before
//! anything uses it. Everything else Ansible accepts stays accepted: dots,
//! dashes after the first character, underscores, IP addresses.

use std::fmt;

/// What a name names, for the message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Host,
    Group,
    Role,
}

impl Kind {
    /// A file the name would become part of, as the user would recognise it.
    fn file(self, name: &str) -> String {
        match self {
            Kind::Host => format!("host_vars/{name}"),
            Kind::Group => format!("group_vars/{name}"),
            Kind::Role => format!("roles/{name}/role.yaml"),
        }
    }

    /// Who would take a name starting with `-` for an option.
    fn reader(self) -> &'static str {
        match self {
            Kind::Host => "ssh",
            Kind::Group | Kind::Role => "a command given it",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Host => "host",
            Kind::Group => "group",
            Kind::Role => "role",
        })
    }
}

/// Why a name cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadName {
    #[error("{kind} name is empty")]
    Empty { kind: Kind },
    #[error("{kind} name `{name}` would be read as a path ({}): a name cannot be `.` or `..`", .kind.file(.name))]
    Dots { kind: Kind, name: String },
    #[error("{kind} name `{name}` would be read as a path ({}): a name cannot contain `/`", .kind.file(.name))]
    Slash { kind: Kind, name: String },
    #[error("{kind} name {name:?} contains a control character")]
    Control { kind: Kind, name: String },
    #[error("{kind} name `{name}` starts with `-`: {} would read it as an option", .kind.reader())]
    Dash { kind: Kind, name: String },
}

/// Whether `name` can name a host, group or role (see the module's doc).
pub fn check(kind: Kind, name: &str) -> Result<(), BadName> {
    let name_ = || name.to_string();
    if name.is_empty() {
        Err(BadName::Empty { kind })
    } else if name == "." || name == ".." {
        Err(BadName::Dots { kind, name: name_() })
    } else if name.contains('/') {
        Err(BadName::Slash { kind, name: name_() })
    } else if name.chars().any(char::is_control) {
        // NUL ends a path early; a newline or escape garbles every message.
        Err(BadName::Control { kind, name: name_() })
    } else if name.starts_with('-') {
        Err(BadName::Dash { kind, name: name_() })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansible_names_pass() {
        for ok in ["web1", "web-01.example.com", "db_primary", "10.0.0.1", "::1", "a..b", "x-", "_x", "fe80::1%eth0"] {
            assert_eq!(check(Kind::Host, ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn paths_and_options_fail() {
        for bad in ["", ".", "..", "../x", "a/b", "/etc", "a\0b", "a\nb", "-oProxyCommand=x", "-"] {
            assert!(check(Kind::Host, bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check(Kind::Role, "../x").unwrap_err().to_string(),
            "role name `../x` would be read as a path (roles/../x/role.yaml): a name cannot contain `/`"
        );
    }
}
