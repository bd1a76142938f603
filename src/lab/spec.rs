//! Which lab, on which subnet, with which image: the settings the lab script
//! reads from its environment. Pure data, so the naming rules are testable.

use crate::error::{Error, Result};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A host's operating system image, built once by debootstrap and cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Image {
    #[default]
    Debian12,
    Debian13,
}

impl Image {
    pub const NAMES: [&'static str; 2] = ["debian12", "debian13"];
}

impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Image::Debian12 => "debian12",
            Image::Debian13 => "debian13",
        })
    }
}

impl FromStr for Image {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "debian12" | "bookworm" => Ok(Image::Debian12),
            "debian13" | "trixie" => Ok(Image::Debian13),
            _ => Err(format!("unknown image `{s}`: expected debian12 or debian13")),
        }
    }
}

/// One lab. The default lab (no name) is the project's own: bridge lab0 on
/// 10.77.0.0/24, hosts h1..hN. A named lab has its own bridge, subnet,
/// network namespaces, cgroups and state folder, so several run side by side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabSpec {
    pub name: Option<String>,
    /// The /24 as `A.B.C`; None: the one the lab was made with (or 10.77.0).
    pub net: Option<String>,
    pub image: Image,
    /// Hosts that run Docker: they get writable /sys and cgroup controllers.
    pub docker_hosts: Vec<String>,
    /// The lab's state folder; None: the script's default.
    pub dir: Option<PathBuf>,
    /// Seconds a host gets to power off before it is killed; None: the script's 20.
    pub stop_wait: Option<u32>,
}

impl LabSpec {
    /// Checks the name and subnet as the script would, but with a usage error
    /// before anything runs.
    pub fn new(name: Option<&str>, net: Option<&str>, image: Image) -> Result<Self> {
        let name = name.filter(|n| *n != "default");
        if let Some(n) = name {
            let ok = n.len() <= 8
                && n.starts_with(|c: char| c.is_ascii_lowercase())
                && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            if !ok {
                return Err(Error::usage(format!(
                    "bad lab name `{n}`: a-z and 0-9, a letter first, at most 8 characters"
                )));
            }
        }
        if let Some(net) = net {
            parse_net(net)?;
        }
        Ok(LabSpec { name: name.map(str::to_string), net: net.map(str::to_string), image, ..Default::default() })
    }

    /// The environment the lab script reads.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![("LAB_NAME", self.name.clone().unwrap_or_default()), ("LAB_IMAGE", self.image.to_string())];
        if let Some(net) = &self.net {
            env.push(("LAB_NET", net.clone()));
        }
        if self.name.is_some() || !self.docker_hosts.is_empty() {
            env.push(("LAB_DOCKER_HOSTS", self.docker_hosts.join(" ")));
        }
        if let Some(s) = self.stop_wait {
            env.push(("LAB_STOP_WAIT", s.to_string()));
        }
        if let Some(dir) = &self.dir {
            env.push(("RIGGER_LAB_DIR", dir.display().to_string()));
        }
        env
    }

    /// The address of the host with this index (1-based), as the script gives it.
    pub fn address(net: &str, index: usize) -> String {
        format!("{net}.{}", 10 + index)
    }
}

/// `A.B.C` of a private /24 (10/8, 172.16/12, 192.168/16).
pub fn parse_net(net: &str) -> Result<[u8; 3]> {
    let parts: Vec<Option<u8>> = net.split('.').map(|p| p.parse().ok()).collect();
    let octets = match parts[..] {
        [Some(a), Some(b), Some(c)] => [a, b, c],
        _ => return Err(Error::usage(format!("bad subnet `{net}`: expected A.B.C, e.g. 10.78.3"))),
    };
    let private = octets[0] == 10
        || (octets[0] == 172 && (16..32).contains(&octets[1]))
        || (octets[0] == 192 && octets[1] == 168);
    if !private {
        return Err(Error::usage(format!(
            "subnet `{net}.0/24` is not private: the lab sends traffic only to its own hosts"
        )));
    }
    Ok(octets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_subnets_are_checked_before_anything_runs() {
        assert!(LabSpec::new(Some("t3"), Some("10.78.3"), Image::Debian12).is_ok());
        assert!(LabSpec::new(Some("T3"), None, Image::Debian12).is_err());
        assert!(LabSpec::new(Some("toolongname"), None, Image::Debian12).is_err());
        assert!(LabSpec::new(Some("3t"), None, Image::Debian12).is_err());
        assert!(LabSpec::new(None, Some("8.8.8"), Image::Debian12).is_err());
        assert!(LabSpec::new(None, Some("10.78"), Image::Debian12).is_err());
        assert_eq!(LabSpec::new(Some("default"), None, Image::Debian12).unwrap().name, None);
    }

    #[test]
    fn the_default_lab_gets_no_name_and_keeps_its_docker_hosts() {
        let env = LabSpec::new(None, None, Image::Debian13).unwrap().env();
        assert!(env.contains(&("LAB_NAME", String::new())));
        assert!(env.contains(&("LAB_IMAGE", "debian13".into())));
        assert!(!env.iter().any(|(k, _)| *k == "LAB_DOCKER_HOSTS"));
        let mut named = LabSpec::new(Some("t1"), Some("10.78.1"), Image::Debian12).unwrap();
        named.docker_hosts = vec!["d1".into()];
        let env = named.env();
        assert!(env.contains(&("LAB_DOCKER_HOSTS", "d1".into())));
        assert!(env.contains(&("LAB_NET", "10.78.1".into())));
        assert_eq!(LabSpec::address("10.78.1", 2), "10.78.1.12");
    }

    #[test]
    fn images_read_as_names_or_codenames() {
        assert_eq!("trixie".parse::<Image>(), Ok(Image::Debian13));
        assert_eq!("debian12".parse::<Image>(), Ok(Image::Debian12));
        assert!("ubuntu".parse::<Image>().is_err());
    }
}
