//! `site.yaml`: which roles run on which hosts. Declarative: the graph, not
//! the order of entries, decides what runs when.

use crate::error::{Error, Location, Result};
use crate::project::source::{Source, Vars};
use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// A host pattern: names, groups, globs, `,`/`:` separated.
    pub hosts: String,
    pub roles: Vec<String>,
    /// Rolling: how many hosts of this binding converge at a time.
    #[serde(default)]
    pub serial: Option<Serial>,
    /// Stop further batches when more than this share of a batch's hosts failed.
    #[serde(default, deserialize_with = "percentage")]
    pub max_fail_percentage: Option<u8>,
    /// A command that must succeed on every host of a batch before the next batch starts.
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    /// Vars for the hosts of this binding (above inventory vars, below `-e`).
    #[serde(default)]
    pub vars: Vars,
    /// Run every step through `sudo -n` (overrides `ansible_become`).
    #[serde(default, rename = "become")]
    pub become_: Option<bool>,
    #[serde(skip)]
    pub line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Serial {
    Count(usize),
    Percent(u8),
}

impl Serial {
    /// Batch size for `n` hosts (at least 1).
    pub fn batch_size(self, n: usize) -> usize {
        match self {
            Serial::Count(c) => c.max(1),
            Serial::Percent(p) => ((n * p as usize) / 100).max(1),
        }
    }
}

impl<'de> Deserialize<'de> for Serial {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor, not an untagged enum, so errors keep the value's position.
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Serial;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number of hosts or a percentage like \"50%\"")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Serial, E> {
                if n == 0 {
                    return Err(E::custom("serial must be at least 1"));
                }
                Ok(Serial::Count(n as usize))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Serial, E> {
                if n < 0 {
                    return Err(E::custom(format!(
                        "serial must be a number of hosts (at least 1) or a percentage like \"50%\", not {n}"
                    )));
                }
                self.visit_u64(n as u64)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Serial, E> {
                s.strip_suffix('%')
                    .and_then(|p| p.trim().parse::<u8>().ok())
                    .filter(|p| (1..=100).contains(p))
                    .map(Serial::Percent)
                    .ok_or_else(|| {
                        E::custom(format!(
                            "serial must be a number of hosts (at least 1) or a percentage like \"50%\", not {s:?}"
                        ))
                    })
            }
        }
        d.deserialize_any(V)
    }
}

/// A number checked inside the visitor, so an error points at the value
/// itself: `ok` says whether it fits, `what` says what it must be.
struct Checked {
    ok: fn(f64) -> bool,
    what: &'static str,
}

impl<'de> de::Visitor<'de> for Checked {
    type Value = f64;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a number")
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<f64, E> {
        self.visit_f64(n as f64)
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<f64, E> {
        self.visit_f64(n as f64)
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<f64, E> {
        if (self.ok)(n) {
            Ok(n)
        } else {
            Err(E::custom(format!("{}, not {n}", self.what)))
        }
    }
}

fn percentage<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    let ok = |n: f64| (0.0..=100.0).contains(&n) && n.fract() == 0.0;
    let what = "max_fail_percentage must be a percentage from 0 to 100";
    d.deserialize_any(Checked { ok, what }).map(|n| Some(n as u8))
}

fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let ok = |n: f64| n.is_finite() && n >= 0.0;
    d.deserialize_any(Checked { ok, what: "delay must be a number of seconds, 0 or more" })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// Shell command run on each host of the batch; exit 0 means healthy.
    pub cmd: String,
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Seconds between tries.
    #[serde(default = "default_delay", deserialize_with = "seconds")]
    pub delay: f64,
}

fn default_retries() -> u32 {
    10
}
fn default_delay() -> f64 {
    1.0
}

#[derive(Debug, Clone)]
pub struct Site {
    pub bindings: Vec<Binding>,
    pub source: Source,
}

impl Site {
    pub fn load(path: &Path) -> Result<Self> {
        let source = Source::read(path)?;
        let mut bindings: Vec<Binding> = source.parse::<Option<Vec<Binding>>>()?.unwrap_or_default();
        if bindings.is_empty() {
            return Err(Error::at_with_help(
                Location::new(&source.path, &source.text, 1, 1),
                format!("{} is empty: it binds no roles to any host", source.path.display()),
                "a binding looks like `- hosts: web` with `roles: [app]` under it",
            ));
        }
        // Remember where each binding starts, so later errors can point at it.
        let starts: Vec<usize> = source
            .text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim_start().starts_with("- "))
            .filter(|(_, l)| l.starts_with("- "))
            .map(|(i, _)| i + 1)
            .collect();
        for (i, b) in bindings.iter_mut().enumerate() {
            b.line = starts.get(i).copied().unwrap_or(1);
            if b.roles.is_empty() {
                return Err(Error::at(
                    Location::new(&source.path, &source.text, b.line, 1),
                    "this binding lists no roles",
                ));
            }
        }
        Ok(Site { bindings, source })
    }

    /// Where `token` appears in binding `index`, for messages.
    pub fn locate(&self, index: usize, token: &str) -> Location {
        let after = self.bindings.get(index).map(|b| b.line).unwrap_or(1);
        Location::of_token_after(&self.source.path, &self.source.text, token, after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Site> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("site.yaml");
        std::fs::write(&p, text).unwrap();
        Site::load(&p)
    }

    #[test]
    fn serial_forms() {
        let s =
            load("- hosts: lb\n  roles: [a]\n  serial: 1\n- hosts: web\n  roles: [b]\n  serial: \"50%\"\n").unwrap();
        assert_eq!(s.bindings[0].serial, Some(Serial::Count(1)));
        assert_eq!(s.bindings[1].serial, Some(Serial::Percent(50)));
        assert_eq!(s.bindings[1].line, 4);
        assert_eq!(Serial::Percent(50).batch_size(5), 2);
        assert_eq!(Serial::Percent(10).batch_size(5), 1);
    }

    #[test]
    fn unknown_key_is_located() {
        let e = load("- hosts: lb\n  rolez: [a]\n").unwrap_err().to_string();
        assert!(e.contains("unknown field `rolez`"), "{e}");
        assert!(e.contains("site.yaml:2:3"), "{e}");
    }
}
