//! The `limits` kind: a file in /etc/security/limits.d of pam_limits
//! entries (domain, type, item, value), owned whole by rigger. pam_limits
//! applies them to login sessions; a systemd service takes its limits from
//! its unit instead (`systemd_unit` with `LimitNOFILE=`).

use super::file::File;
use super::kind::{Doc, Field, Resolve, Resource, ResourceError, Spec};
use super::spec::{OneOrMany, PresentAbsent};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// The file: /etc/security/limits.d/NAME.conf.
    pub name: String,
    #[serde(default)]
    pub entries: Vec<Entry>,
    #[serde(default)]
    pub state: PresentAbsent,
    /// pam_limits' folder (a test's own folder, say).
    #[serde(default = "limits_d")]
    pub dir: String,
    #[serde(default)]
    pub notify: OneOrMany,
}

fn limits_d() -> String {
    "/etc/security/limits.d".into()
}

/// One line of limits.conf: `redis - nofile 65536`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// A user, `@group`, `*`, a uid range `1000:`…
    pub domain: String,
    /// `soft`, `hard`, or `-` for both.
    #[serde(rename = "type")]
    pub kind: String,
    pub item: String,
    pub value: String,
}

/// The items pam_limits knows (limits.conf(5)).
const ITEMS: &[&str] = &[
    "core",
    "data",
    "fsize",
    "memlock",
    "nofile",
    "rss",
    "stack",
    "cpu",
    "nproc",
    "as",
    "maxlogins",
    "maxsyslogins",
    "nonewprivs",
    "priority",
    "locks",
    "sigpending",
    "msgqueue",
    "nice",
    "rtprio",
];

#[derive(Debug, thiserror::Error)]
enum LimitsError {
    #[error("limits name {0:?} must be a plain file name (letters, digits, `-`, `_`, `.`)")]
    BadName(String),
    #[error("entries[{0}]: domain {1:?} must be one word (a user, @group, *, or a uid range)")]
    BadDomain(usize, String),
    #[error("entries[{0}]: type {1:?} is not one of soft, hard, -")]
    BadType(usize, String),
    #[error("entries[{0}]: item {1:?} is not a pam_limits item; expected one of: {items}", items = ITEMS.join(", "))]
    BadItem(usize, String),
    #[error("entries[{0}]: value {1:?} is not a number, `unlimited` or `infinity`")]
    BadValue(usize, String),
    #[error("limits `{0}` has no entries (use `state: absent` to remove the file)")]
    Empty(String),
}

impl Spec for LimitsSpec {
    const KIND: &'static str = "limits";
    const DOC: Doc = Doc {
        summary: "DIR/NAME.conf (DIR: /etc/security/limits.d): pam_limits entries for login sessions (a systemd \
                  service takes its limits from its unit: use `systemd_unit` with `LimitNOFILE`).",
        fields: &[
            Field { name: "name", ty: "file name", default: "", help: "the file is limits.d/NAME.conf" },
            Field {
                name: "entries",
                ty: "list",
                default: "",
                help: "`{ domain, type: soft | hard | -, item, value }`, e.g. `{ domain: redis, type: \"-\", item: nofile, value: 65536 }`",
            },
            Field { name: "state", ty: "present | absent", default: "present", help: "" },
            Field { name: "dir", ty: "absolute path", default: "/etc/security/limits.d", help: "" },
            Field { name: "notify", ty: "handler or list", default: "none", help: "" },
        ],
        example: "limits: { name: redis, entries: [ { domain: redis, type: \"-\", item: nofile, value: 65536 } ] }",
    };

    fn notify(&self) -> &[String] {
        &self.notify.0
    }

    fn resolve(self, _: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
        Ok(Arc::new(self.build()?))
    }
}

impl LimitsSpec {
    /// The file it writes, every entry checked.
    pub fn build(self) -> Result<File, ResourceError> {
        let name = self.name.strip_suffix(".conf").unwrap_or(&self.name);
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return Err(ResourceError::kind(LimitsError::BadName(self.name.clone())));
        }
        if self.entries.is_empty() && self.state == PresentAbsent::Present {
            return Err(ResourceError::kind(LimitsError::Empty(self.name.clone())));
        }
        let mut content = String::from("# Managed by rigger.\n");
        for (i, e) in self.entries.iter().enumerate() {
            content.push_str(&line(i, e).map_err(ResourceError::kind)?);
        }
        super::path::check_path(&self.dir)?;
        let path = format!("{}/{name}.conf", self.dir.trim_end_matches('/'));
        let mut f = File::plain(path, content.into_bytes(), self.state);
        f.kind = "limits";
        f.notify = self.notify.0;
        Ok(f)
    }
}

/// One entry as a limits.conf line, checked.
fn line(i: usize, e: &Entry) -> Result<String, LimitsError> {
    let one_word = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c == '#');
    if !one_word(&e.domain) {
        return Err(LimitsError::BadDomain(i, e.domain.clone()));
    }
    if !["soft", "hard", "-"].contains(&e.kind.as_str()) {
        return Err(LimitsError::BadType(i, e.kind.clone()));
    }
    if !ITEMS.contains(&e.item.as_str()) {
        return Err(LimitsError::BadItem(i, e.item.clone()));
    }
    // priority and nice take negative numbers.
    let number = e.value.strip_prefix('-').unwrap_or(&e.value);
    let ok = ["unlimited", "infinity"].contains(&e.value.as_str())
        || (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        return Err(LimitsError::BadValue(i, e.value.clone()));
    }
    Ok(format!("{}\t{}\t{}\t{}\n", e.domain, e.kind, e.item, e.value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::path::{self, PathState};
    use crate::session::probe::HostState;

    fn build(yaml: &str) -> Result<File, ResourceError> {
        serde_yaml::from_str::<LimitsSpec>(yaml).unwrap().build()
    }

    #[test]
    fn entries_become_lines_and_an_equal_file_is_in_sync() {
        let f = build("name: redis\nentries: [ { domain: redis, type: '-', item: nofile, value: '65536' }, { domain: '@ops', type: soft, item: nice, value: '-5' } ]").unwrap();
        assert_eq!(f.path, "/etc/security/limits.d/redis.conf");
        let text = "# Managed by rigger.\nredis\t-\tnofile\t65536\n@ops\tsoft\tnice\t-5\n";
        assert_eq!(String::from_utf8(f.content.clone().unwrap()).unwrap(), text);
        let mut st = HostState::default();
        st.insert(path::query(&f.path), PathState::file(text.as_bytes(), 0o644));
        assert!(f.plan(&st).unwrap().is_empty());
        st.insert(path::query(&f.path), PathState::default());
        assert_eq!(f.plan(&st).unwrap()[0].action, "create");
    }

    #[test]
    fn bad_entries_name_the_entry() {
        let e = |entry: &str| build(&format!("name: x\nentries: [ {entry} ]")).unwrap_err().to_string();
        assert!(e("{ domain: 'a b', type: '-', item: nofile, value: '1' }").contains("entries[0]: domain"));
        assert!(e("{ domain: a, type: both, item: nofile, value: '1' }").contains("type \"both\""));
        assert!(e("{ domain: a, type: '-', item: nofiles, value: '1' }").contains("item \"nofiles\" is not"));
        assert!(e("{ domain: a, type: '-', item: nofile, value: lots }").contains("value \"lots\""));
        assert!(build("name: ../x\nentries: []").unwrap_err().to_string().contains("plain file name"));
        assert!(build("name: x").unwrap_err().to_string().contains("no entries"));
    }
}
