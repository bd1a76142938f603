//! Which driver makes a scenario's hosts: `nspawn` (lab containers on this
//! machine, the default) or `vagrant` (real VMs from `vagrant up`). Named by
//! `--driver` or by `driver:` in the scenario file; the flag wins.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DriverKind {
    #[default]
    Nspawn,
    Vagrant,
}

impl DriverKind {
    pub const NAMES: [&'static str; 2] = ["nspawn", "vagrant"];
}

impl fmt::Display for DriverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DriverKind::Nspawn => "nspawn",
            DriverKind::Vagrant => "vagrant",
        })
    }
}

impl FromStr for DriverKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "nspawn" => Ok(DriverKind::Nspawn),
            "vagrant" => Ok(DriverKind::Vagrant),
            _ => Err(format!("unknown driver `{s}`: expected nspawn or vagrant")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_others_are_refused() {
        for n in DriverKind::NAMES {
            assert_eq!(n.parse::<DriverKind>().unwrap().to_string(), n);
        }
        assert!("docker".parse::<DriverKind>().unwrap_err().contains("expected nspawn or vagrant"));
    }
}
