//! The `get_url` kind: a file downloaded on the host, idempotent by its
//! required `checksum`: when the file at `dest` already has that sha256,
//! nothing is fetched. The download lands in a temp file beside `dest`, is
//! verified, then renamed into place, so a bad or cut download never
//! replaces a good file.

use super::kind::{Doc, Field, Found, Resolve, Resource, ResourceError, Spec, Step};
use super::path::{self, check_path, split_path, Meta};
use super::spec::{ModeSpec, OneOrMany};
use crate::session::probe::{HostState, Query};
use crate::shell::{check_value, quote};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetUrlSpec {
    pub url: String,
    pub dest: String,
    /// `sha256:HEX`, as Ansible writes it.
    pub checksum: String,
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    /// Seconds for the whole download.
    #[serde(default = "timeout")]
    pub timeout: u32,
    #[serde(default)]
    pub notify: OneOrMany,
}

fn timeout() -> u32 {
    60
}

#[derive(Debug, thiserror::Error)]
enum GetUrlError {
    #[error("checksum {0:?} is not `sha256:` and 64 hex digits")]
    Checksum(String),
    #[error("url {0:?} must be http://, https://, ftp:// or file://")]
    Scheme(String),
}

impl Spec for GetUrlSpec {
    const KIND: &'static str = "get_url";
    const DOC: Doc = Doc {
        summary: "A file downloaded on the host (curl, else wget), kept by its sha256: nothing is fetched when \
                  dest already has the checksum; a download that does not match it never replaces dest.",
        fields: &[
            Field { name: "url", ty: "URL", default: "", help: "http, https, ftp or file" },
            Field { name: "dest", ty: "absolute path", default: "", help: "the file, not its directory" },
            Field { name: "checksum", ty: "sha256:HEX", default: "", help: "required: what the file must hash to" },
            Field { name: "mode", ty: "quoted octal", default: "0644 when new", help: "" },
            Field { name: "owner", ty: "user", default: "kept", help: "" },
            Field { name: "group", ty: "group", default: "kept", help: "" },
            Field { name: "timeout", ty: "seconds", default: "60", help: "for the whole download" },
            Field { name: "notify", ty: "handler or list", default: "none", help: "" },
        ],
        example: "get_url: { url: \"https://example.org/node_exporter.tar.gz\", dest: /opt/node_exporter.tar.gz, \
                  checksum: \"sha256:0000000000000000000000000000000000000000000000000000000000000000\" }",
    };

    fn notify(&self) -> &[String] {
        &self.notify.0
    }

    fn resolve(self, _: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
        Ok(Arc::new(self.build()?))
    }
}

impl GetUrlSpec {
    fn build(self) -> Result<GetUrl, ResourceError> {
        let sha256 = match self.checksum.split_once(':') {
            Some(("sha256", hex)) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                hex.to_ascii_lowercase()
            }
            _ => return Err(ResourceError::kind(GetUrlError::Checksum(self.checksum))),
        };
        let schemes = ["http://", "https://", "ftp://", "file://"];
        if !schemes.iter().any(|s| self.url.starts_with(s)) {
            return Err(ResourceError::kind(GetUrlError::Scheme(self.url)));
        }
        check_path(&self.dest)?;
        let meta = Meta { mode: path::mode(&self.mode)?, owner: self.owner, group: self.group };
        Ok(GetUrl { url: self.url, dest: self.dest, sha256, meta, timeout: self.timeout, notify: self.notify.0 })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GetUrl {
    pub url: String,
    pub dest: String,
    /// Lowercase hex.
    pub sha256: String,
    pub meta: Meta,
    pub timeout: u32,
    pub notify: Vec<String>,
}

impl GetUrl {
    /// Temp file beside dest → download → verify → metadata → rename.
    fn download_script(&self) -> String {
        let (dir, name) = split_path(&self.dest);
        let tmp = quote(&format!("{}/.{}.rigger-XXXXXX", dir.trim_end_matches('/'), name));
        let (url, t) = (quote(&self.url), self.timeout);
        let mut s = format!(
            "dest={}\ntmp=$(mktemp -- {tmp})\ntrap 'rm -f -- \"$tmp\"' EXIT\n\
             if command -v curl >/dev/null 2>&1; then curl -fsSL --max-time {t} -o \"$tmp\" -- {url}\n\
             elif command -v wget >/dev/null 2>&1; then wget -q -T {t} -O \"$tmp\" -- {url}\n\
             else echo 'get_url needs curl or wget on the host' >&2; exit 1; fi\n\
             got=$(sha256sum < \"$tmp\"); got=${{got%% *}}\n\
             if [ \"$got\" != {} ]; then echo \"checksum mismatch: got sha256:$got\" >&2; exit 1; fi\n",
            quote(&self.dest),
            self.sha256
        );
        // A download keeps no earlier owner: it is a new file, not an edit.
        s.push_str(&super::file::install_tmp(&self.meta, false, None));
        s
    }
}

impl Resource for GetUrl {
    fn label(&self) -> String {
        format!("get_url {}", self.dest)
    }

    fn queries(&self) -> Vec<Query> {
        path::queries_with_folder(&self.dest)
    }

    fn writes_into(&self) -> Option<&str> {
        path::folder_of(&self.dest)
    }

    fn plan(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        check_value("url", &self.url, true)?;
        self.meta.check()?;
        let cur = path::state(state, &self.dest)?;
        if cur.kind == path::PathKind::Directory {
            return Err(ResourceError::Found { path: self.dest.clone(), found: Found::DirectoryNotFile });
        }
        if cur.sha256.as_deref() != Some(self.sha256.as_str()) {
            let action = if cur.exists() { "download (checksum differs)" } else { "download" };
            return Ok(vec![Step::new(format!("{action} {}", self.url), self.download_script())]);
        }
        Ok(self.meta.step(&self.dest, cur).into_iter().collect())
    }

    fn notify(&self) -> &[String] {
        &self.notify
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::path::PathState;

    fn get(url: &str, dest: &str, sha: &str) -> GetUrl {
        let y = format!("{{ url: \"{url}\", dest: \"{dest}\", checksum: \"sha256:{sha}\" }}");
        serde_yaml::from_str::<GetUrlSpec>(&y).unwrap().build().unwrap()
    }

    #[test]
    fn checksum_is_required_and_checked() {
        let e = serde_yaml::from_str::<GetUrlSpec>("{ url: \"http://x/a\", dest: /a }").unwrap_err().to_string();
        assert!(e.contains("missing field `checksum`"), "{e}");
        let e = serde_yaml::from_str::<GetUrlSpec>("{ url: \"http://x/a\", dest: /a, checksum: \"md5:abc\" }")
            .unwrap()
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("sha256:"), "{e}");
        let e = serde_yaml::from_str::<GetUrlSpec>(&format!(
            "{{ url: \"-o/etc/x\", dest: /a, checksum: \"sha256:{}\" }}",
            "a".repeat(64)
        ))
        .unwrap()
        .build()
        .unwrap_err();
        assert!(e.to_string().contains("must be http"), "{e}");
    }

    #[test]
    fn a_file_with_the_checksum_is_in_sync_else_downloaded() {
        let data = b"payload\n";
        let g = get("https://example.org/p", "/opt/p", &path::sha256_hex(data));
        let mut st = HostState::default();
        st.insert(path::query("/opt/p"), PathState::file(data, 0o644));
        assert!(g.plan(&st).unwrap().is_empty());
        st.insert(path::query("/opt/p"), PathState::file(b"other\n", 0o644));
        assert_eq!(g.plan(&st).unwrap()[0].action, "download (checksum differs) https://example.org/p");
        st.insert(path::query("/opt/p"), PathState::default());
        assert_eq!(g.plan(&st).unwrap()[0].action, "download https://example.org/p");
    }

    /// The script, run by a real sh on a file:// URL: a good download lands;
    /// a wrong checksum fails and leaves dest as it was, with no temp file.
    #[test]
    fn the_download_is_verified_before_it_replaces_dest() {
        if std::process::Command::new("sh")
            .arg("-c")
            .arg("command -v curl || command -v wget")
            .output()
            .map(|o| o.stdout.is_empty())
            .unwrap_or(true)
        {
            eprintln!("neither curl nor wget here: skipping the download run");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src file");
        std::fs::write(&src, b"payload\n").unwrap();
        let dest = d.path().join("out/dest");
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        let url = format!("file://{}", src.display()).replace(' ', "%20");
        let run = |g: &GetUrl| {
            let steps = g.plan(&{
                let mut st = HostState::default();
                st.insert(path::query(dest.to_str().unwrap()), PathState::default());
                st
            });
            let out = std::process::Command::new("sh").arg("-c").arg(&steps.unwrap()[0].script).output().unwrap();
            (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
        };
        let good = get(&url, dest.to_str().unwrap(), &path::sha256_hex(b"payload\n"));
        assert!(run(&good).0);
        assert_eq!(std::fs::read(&dest).unwrap(), b"payload\n");
        std::fs::write(&dest, b"kept\n").unwrap();
        let bad = get(&url, dest.to_str().unwrap(), &"0".repeat(64));
        let (ok, err) = run(&bad);
        assert!(!ok && err.contains("checksum mismatch"), "{err}");
        assert_eq!(std::fs::read(&dest).unwrap(), b"kept\n", "a bad download never replaces dest");
        let left: Vec<_> = std::fs::read_dir(dest.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temp file left behind");
    }
}
