//! The `file` kind: a file's content (inline or from the role's `files/`),
//! mode, owner and group, or its absence. `File`, the resolved resource, is
//! also how `template`, `line`, `blockinfile`, `sysctl` and `apt_repository`
//! write content: atomically, through a temp file beside the target that
//! `validate` checks before the rename.

use super::kind::{Doc, Field, Found, Resolve, Resource, ResourceError, RoleFile, RoleFolder, Spec, Step};
use super::path::{self, check_path, diff, sha256_hex, split_path, Meta, PathKind};
use super::spec::{ModeSpec, OneOrMany, PresentAbsent};
use crate::session::probe::{HostState, Query};
use crate::shell::{quote, write_bytes};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub path: String,
    #[serde(default)]
    pub content: Option<String>,
    /// A file in the role's `files/` directory, copied verbatim.
    #[serde(default)]
    pub src: Option<String>,
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub state: PresentAbsent,
    #[serde(default)]
    pub validate: Option<String>,
    /// Hide the content from diffs and reports.
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub notify: OneOrMany,
}

#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error("file takes `content` or `src`, not both")]
    ContentAndSrc,
}

impl Spec for FileSpec {
    const KIND: &'static str = "file";
    const DOC: Doc = Doc {
        summary: "A file: its content (inline or from the role's files/), mode, owner and group; or its absence. \
                  Written atomically: temp file beside it, `validate`, rename.",
        fields: &[
            Field { name: "path", ty: "absolute path", default: "", help: "the file on the host" },
            Field { name: "content", ty: "string", default: "none", help: "the content, inline" },
            Field {
                name: "src",
                ty: "file name",
                default: "none",
                help: "a file in the role's files/, copied verbatim",
            },
            Field { name: "mode", ty: "quoted octal", default: "kept (0644 when new)", help: "e.g. \"0640\"" },
            Field { name: "owner", ty: "user", default: "kept", help: "" },
            Field { name: "group", ty: "group", default: "kept", help: "" },
            Field { name: "state", ty: "present | absent", default: "present", help: "" },
            Field {
                name: "validate",
                ty: "command",
                default: "none",
                help: "run on the temp file (%s) before it replaces the file",
            },
            Field { name: "secret", ty: "bool", default: "false", help: "hide the content from diffs and reports" },
            Field { name: "notify", ty: "handler or list", default: "none", help: "handlers to run when it changes" },
        ],
        example: "file: { path: /etc/motd, content: \"managed by rigger\\n\", mode: \"0644\" }",
    };

    fn notify(&self) -> &[String] {
        &self.notify.0
    }

    fn role_files(&self) -> Vec<RoleFile<'_>> {
        self.src.iter().map(|s| RoleFile { folder: RoleFolder::Files, name: s }).collect()
    }

    fn resolve(self, cx: &Resolve) -> Result<Arc<dyn Resource>, ResourceError> {
        let content = match (&self.content, &self.src) {
            (Some(_), Some(_)) => return Err(ResourceError::kind(FileError::ContentAndSrc)),
            (Some(c), None) => Some(c.clone().into_bytes()),
            (None, Some(s)) => Some(cx.read(RoleFolder::Files, s)?),
            (None, None) => None,
        };
        check_path(&self.path)?;
        Ok(Arc::new(File {
            kind: "file",
            path: self.path,
            content,
            mode: path::mode(&self.mode)?,
            owner: self.owner,
            group: self.group,
            state: self.state,
            validate: self.validate,
            secret: self.secret,
            notify: self.notify.0,
        }))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// `file`, `template`, `line`: how reports name it.
    pub kind: &'static str,
    pub path: String,
    /// Desired bytes; `None` manages only existence and metadata.
    pub content: Option<Vec<u8>>,
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub state: PresentAbsent,
    pub validate: Option<String>,
    pub secret: bool,
    pub notify: Vec<String>,
}

impl File {
    /// A root-owned 0644 file with this content: what other kinds write.
    pub fn plain(path: String, content: Vec<u8>, state: PresentAbsent) -> Self {
        File {
            kind: "file",
            path,
            content: Some(content),
            mode: Some(0o644),
            owner: None,
            group: None,
            state,
            validate: None,
            secret: false,
            notify: vec![],
        }
    }

    fn meta(&self) -> Meta {
        Meta { mode: self.mode, owner: self.owner.clone(), group: self.group.clone() }
    }

    /// The steps that give the file this content (and metadata), from `state`.
    pub fn steps(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        check_path(&self.path)?;
        self.meta().check()?;
        let cur = path::state(state, &self.path)?;
        if cur.kind == PathKind::Directory {
            return Err(ResourceError::Found { path: self.path.clone(), found: Found::DirectoryNotFile });
        }
        if self.state == PresentAbsent::Absent {
            return Ok(if cur.exists() {
                vec![Step::new("remove", format!("rm -f -- {}\n", quote(&self.path)))]
            } else {
                vec![]
            });
        }
        let content_differs = match (&self.content, cur.exists()) {
            (_, false) => true,
            (None, true) => false,
            (Some(want), true) => match &cur.content {
                Some(have) => have != want,
                None => cur.sha256.as_deref() != Some(sha256_hex(want).as_str()),
            },
        };
        if content_differs {
            let want = self.content.clone().unwrap_or_default();
            let action = if cur.exists() { "update" } else { "create" };
            let mut step = Step::new(action, self.write_script(&want));
            let old = cur.exists().then(|| cur.content.as_deref().unwrap_or_default());
            step.diff = Some(diff(&self.path, old, &want, self.secret));
            return Ok(vec![step]);
        }
        Ok(self.meta().step(&self.path, cur).into_iter().collect())
    }

    /// Temp file beside the target → metadata → validate → atomic rename.
    /// The temp file's name is chosen here, not by mktemp on the host, so
    /// `validate` can be given the path itself: `%s` then works inside
    /// quotes too (`check '%s'`). It is created new (noclobber) and private.
    fn write_script(&self, content: &[u8]) -> String {
        let (dir, name) = split_path(&self.path);
        let dest = quote(&self.path);
        let tmp = format!("{}/.{}.rigger-{}", dir.trim_end_matches('/'), name, nonce());
        // Say plainly when the folder is missing, rather than the shell's
        // "cannot create …/.name.rigger-…" about a file the user never named.
        let parent = quote(dir);
        let mut s = format!(
            "dest={dest}\n[ -d {parent} ] || {{ echo \"parent {} does not exist\" >&2; exit 1; }}\ntmp={}\n\
             ( umask 077; set -C; : > \"$tmp\" ) || exit 1\ntrap 'rm -f -- \"$tmp\"' EXIT\n",
            dir.replace(['"', '\\', '$', '`'], "?"),
            quote(&tmp)
        );
        s.push_str(&write_bytes("tmp", content));
        let validate = self.validate.as_ref().map(|v| validate_command(v, &tmp));
        s.push_str(&install_tmp(&self.meta(), true, validate.as_deref()));
        s
    }
}

/// The tail of every write through a temp file (`$tmp` beside `$dest`): its
/// mode (the given one, else the existing file's, else 0644), its owner (the
/// given one, else with `keep_owner` the existing file's), `validate` on it,
/// then the atomic rename.
pub(super) fn install_tmp(meta: &Meta, keep_owner: bool, validate: Option<&str>) -> String {
    let mut s = match meta.mode {
        Some(m) => format!("chmod {m:04o} -- \"$tmp\"\n"),
        None => "if [ -e \"$dest\" ]; then chmod --reference=\"$dest\" -- \"$tmp\"; else chmod 0644 -- \"$tmp\"; fi\n"
            .into(),
    };
    match meta.chown_spec() {
        Some(o) => s.push_str(&format!("chown {} -- \"$tmp\"\n", quote(&o))),
        None if keep_owner => s.push_str("if [ -e \"$dest\" ]; then chown --reference=\"$dest\" -- \"$tmp\"; fi\n"),
        None => {}
    }
    if let Some(v) = validate {
        s.push_str(&format!("{v}\n"));
    }
    s.push_str("mv -f -- \"$tmp\" \"$dest\"\ntrap - EXIT\n");
    s
}

/// A temp-file suffix no other run or file of this run picks: the time,
/// the process and a counter.
fn nonce() -> String {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:x}{:x}{n:x}", t & 0xffff_ffff_ffff, std::process::id())
}

/// `validate` with `%s` replaced by the temp file's path: as it is when it
/// is one plain shell word (so it works inside quotes as well), else quoted
/// (it then works outside quotes only: a path with blanks or quotes cannot
/// sit inside the user's own quotes).
pub fn validate_command(validate: &str, tmp: &str) -> String {
    validate.replace("%s", &quote(tmp))
}

impl Resource for File {
    fn label(&self) -> String {
        format!("{} {}", self.kind, self.path)
    }

    fn queries(&self) -> Vec<Query> {
        path::queries_with_folder(&self.path)
    }

    fn plan(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        self.steps(state)
    }

    fn notify(&self) -> &[String] {
        &self.notify
    }

    fn writes_into(&self) -> Option<&str> {
        path::folder_of(&self.path).filter(|_| self.state == PresentAbsent::Present)
    }

    fn rendered(&self) -> Vec<(String, Vec<u8>)> {
        if self.secret {
            return vec![];
        }
        self.rendered_in_clear()
    }

    fn rendered_in_clear(&self) -> Vec<(String, Vec<u8>)> {
        match (&self.content, self.state) {
            (Some(c), PresentAbsent::Present) => vec![(self.path.clone(), c.clone())],
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::path::PathState;

    fn state_with(path: &str, ps: PathState) -> HostState {
        let mut st = HostState::default();
        st.insert(path::query(path), ps);
        st
    }

    fn file(content: &str) -> File {
        File {
            kind: "file",
            path: "/etc/app.conf".into(),
            content: Some(content.into()),
            mode: Some(0o644),
            owner: None,
            group: None,
            state: PresentAbsent::Present,
            validate: Some("app -t %s".into()),
            secret: false,
            notify: vec![],
        }
    }

    #[test]
    fn in_sync_file_plans_nothing() {
        let st = state_with("/etc/app.conf", PathState::file(b"a=1\n", 0o644));
        assert!(file("a=1\n").plan(&st).unwrap().is_empty());
    }

    #[test]
    fn changed_content_writes_atomically_with_diff_and_validate() {
        let st = state_with("/etc/app.conf", PathState::file(b"a=1\n", 0o644));
        let steps = file("a=2\n").plan(&st).unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].action, "update");
        assert_eq!(
            steps[0].diff.as_deref().unwrap(),
            "--- /etc/app.conf\n+++ /etc/app.conf\n@@ -1 +1 @@\n-a=1\n+a=2\n"
        );
        let s = &steps[0].script;
        let (tmp, val, mv) =
            (s.find("set -C").unwrap(), s.find("app -t /etc/.app.conf.rigger-").unwrap(), s.find("mv -f").unwrap());
        assert!(tmp < val && val < mv, "validate runs on the temp file before the rename:\n{s}");
        assert!(s.contains("tmp=/etc/.app.conf.rigger-"), "temp file beside the target");
    }

    #[test]
    fn mode_only_change_is_a_chmod() {
        let st = state_with("/etc/app.conf", PathState::file(b"a=1\n", 0o600));
        let steps = file("a=1\n").plan(&st).unwrap();
        assert_eq!(steps[0].action, "mode 0600 → 0644");
        assert_eq!(steps[0].script, "chmod 0644 -- /etc/app.conf\n");
    }

    #[test]
    fn absent_file_is_created_and_secret_is_hidden() {
        let st = state_with("/etc/app.conf", PathState::default());
        let mut f = file("password=hunter2\n");
        f.secret = true;
        let steps = f.plan(&st).unwrap();
        assert_eq!(steps[0].action, "create");
        assert!(!steps[0].diff.as_ref().unwrap().contains("hunter2"));
        assert!(f.rendered().is_empty(), "secret files are not written by check --out");
    }

    #[test]
    fn relative_and_multiline_paths_are_refused() {
        let st = HostState::default();
        let mut f = file("x");
        f.path = "etc/x".into();
        assert!(f.plan(&st).unwrap_err().to_string().contains("absolute"));
        f.path = "/etc/x\n; rm -rf /".into();
        assert!(f.plan(&st).unwrap_err().to_string().contains("single line"));
    }

    /// `%s` inside the user's quotes, outside them, and a target whose temp
    /// path needs quoting: the validate command sees the temp file each time.
    #[test]
    fn validate_gets_the_temp_file_inside_or_outside_quotes() {
        let d = tempfile::tempdir().unwrap();
        for (dir, validate) in
            [("plain", "grep -q new '%s'"), ("plain", "grep -q new %s"), ("with blank", "grep -q new %s")]
        {
            let target = d.path().join(dir).join("app.conf");
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            let mut f = file("new\n");
            f.path = target.to_str().unwrap().into();
            f.validate = Some(validate.into());
            let st = state_with(&f.path, PathState::default());
            let script = &f.plan(&st).unwrap()[0].script;
            let out = std::process::Command::new("sh").arg("-ec").arg(script).output().unwrap();
            assert!(out.status.success(), "{validate} in {dir}: {}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(std::fs::read_to_string(&target).unwrap(), "new\n");
            let left: Vec<_> = std::fs::read_dir(target.parent().unwrap()).unwrap().collect();
            assert_eq!(left.len(), 1, "no temp file left");
        }
        let mut f = file("old\n");
        f.path = d.path().join("plain/app.conf").to_str().unwrap().into();
        f.validate = Some("grep -q new '%s'".into());
        let st = state_with(&f.path, PathState::file(b"new\n", 0o644));
        let out = std::process::Command::new("sh").arg("-ec").arg(&f.plan(&st).unwrap()[0].script).output().unwrap();
        assert!(!out.status.success(), "a failing validate fails the step");
        assert_eq!(std::fs::read_to_string(d.path().join("plain/app.conf")).unwrap(), "new\n", "and keeps the file");
    }

    #[test]
    fn a_missing_parent_folder_is_named() {
        let d = tempfile::tempdir().unwrap();
        let mut f = file("x\n");
        f.validate = None;
        f.path = d.path().join("nope/app.conf").to_str().unwrap().into();
        let st = state_with(&f.path, PathState::default());
        let out = std::process::Command::new("sh").arg("-ec").arg(&f.plan(&st).unwrap()[0].script).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("parent {} does not exist", d.path().join("nope").display())), "{err}");
    }

    #[test]
    fn a_directory_in_the_way_is_an_error() {
        let st = state_with("/etc/app.conf", PathState { kind: PathKind::Directory, ..Default::default() });
        assert_eq!(file("x").plan(&st).unwrap_err().to_string(), "/etc/app.conf is a directory, expected a file");
    }
}
