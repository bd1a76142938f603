//! Files, templates, directories and lines. All content changes are written
//! atomically: a temp file beside the target, `validate` on it, then rename.

use super::Step;
use crate::probe::{HostState, PathState, Query};
use crate::resource::spec::{ModeSpec, PresentAbsent};
use crate::shell::{check_value, quote, write_bytes};

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

#[derive(Debug, Clone, PartialEq)]
pub struct Directory {
    pub path: String,
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub state: PresentAbsent,
    pub notify: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Line {
    pub path: String,
    pub line: String,
    pub regexp: Option<regex::Regex>,
    pub state: PresentAbsent,
    pub create: bool,
    pub mode: Option<u32>,
    pub notify: Vec<String>,
}

/// `"0644"` → 0o644. Only octal digits, at most 0o7777.
pub fn parse_mode(m: &ModeSpec) -> Result<u32, String> {
    let s = m.0.trim();
    let ok = !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| (b'0'..=b'7').contains(&b));
    match u32::from_str_radix(s, 8) {
        Ok(n) if ok && n <= 0o7777 => Ok(n),
        _ => Err(format!("mode {s:?} is not an octal mode like \"0644\"")),
    }
}

/// An owner or group goes into `chown OWNER:GROUP`: an owner must not look like an
/// option or carry `:` (it would set the group), and neither may hold a NUL.
pub fn check_account(what: &str, v: &Option<String>) -> Result<(), String> {
    let Some(v) = v else { return Ok(()) };
    check_value(what, v, false)?;
    if what == "owner" && (v.is_empty() || v.starts_with('-') || v.contains(':')) {
        return Err(format!("bad owner {v:?}: it must not be empty, start with `-` or contain `:`"));
    }
    Ok(())
}

pub fn check_path(p: &str) -> Result<(), String> {
    check_value("path", p, true)?;
    if !p.starts_with('/') {
        return Err(format!("path {p:?} must be absolute"));
    }
    if p.len() > 1 && p.ends_with('/') {
        return Err(format!("path {p:?} must not end with `/`"));
    }
    Ok(())
}

fn split_path(p: &str) -> (&str, &str) {
    match p.rfind('/') {
        Some(0) => ("/", &p[1..]),
        Some(i) => (&p[..i], &p[i + 1..]),
        None => (".", p),
    }
}

/// A unified diff of `old` → `new`, or a note when either side is binary or secret.
pub fn diff(path: &str, old: Option<&[u8]>, new: &[u8], secret: bool) -> String {
    if secret {
        return format!(
            "--- {path}\n+++ {path}\n(secret content hidden: {} → {} bytes)\n",
            old.map_or(0, <[u8]>::len),
            new.len()
        );
    }
    let (Ok(o), Ok(n)) = (std::str::from_utf8(old.unwrap_or_default()), std::str::from_utf8(new)) else {
        return format!(
            "--- {path}\n+++ {path}\n(binary content differs: {} → {} bytes)\n",
            old.map_or(0, <[u8]>::len),
            new.len()
        );
    };
    let from = if old.is_some() { format!("a{path}") } else { "/dev/null".to_string() };
    similar::TextDiff::from_lines(o, n).unified_diff().context_radius(3).header(&from, &format!("b{path}")).to_string()
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

fn owner_spec(owner: &Option<String>, group: &Option<String>) -> Option<String> {
    match (owner, group) {
        (Some(o), Some(g)) => Some(format!("{o}:{g}")),
        (Some(o), None) => Some(o.clone()),
        (None, Some(g)) => Some(format!(":{g}")),
        (None, None) => None,
    }
}

fn metadata_actions(cur: &PathState, mode: Option<u32>, owner: &Option<String>, group: &Option<String>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(m) = mode.filter(|m| *m != cur.mode) {
        out.push(format!("mode {:04o} → {:04o}", cur.mode, m));
    }
    if let Some(o) = owner.as_ref().filter(|o| **o != cur.owner) {
        out.push(format!("owner {} → {o}", cur.owner));
    }
    if let Some(g) = group.as_ref().filter(|g| **g != cur.group) {
        out.push(format!("group {} → {g}", cur.group));
    }
    out
}

fn metadata_script(path: &str, mode: Option<u32>, owner: &Option<String>, group: &Option<String>) -> String {
    let mut s = String::new();
    if let Some(m) = mode {
        s.push_str(&format!("chmod {m:04o} -- {}\n", quote(path)));
    }
    if let Some(o) = owner_spec(owner, group) {
        s.push_str(&format!("chown {} -- {}\n", quote(&o), quote(path)));
    }
    s
}

impl File {
    pub fn queries(&self) -> Vec<Query> {
        vec![Query::Path(self.path.clone())]
    }

    pub fn plan(&self, state: &HostState) -> Result<Vec<Step>, String> {
        check_path(&self.path)?;
        check_account("owner", &self.owner)?;
        check_account("group", &self.group)?;
        let cur = state.path(&self.path)?;
        if cur.kind == "directory" {
            return Err(format!("{} is a directory, expected a file", self.path));
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
            let action = if cur.exists() { "update".to_string() } else { "create".to_string() };
            let mut step = Step::new(action, self.write_script(&want));
            step.diff = Some(diff(
                &self.path,
                cur.exists().then(|| cur.content.as_deref().unwrap_or_default()),
                &want,
                self.secret,
            ));
            return Ok(vec![step]);
        }
        let actions = metadata_actions(cur, self.mode, &self.owner, &self.group);
        if actions.is_empty() {
            return Ok(vec![]);
        }
        let mode = self.mode.filter(|m| *m != cur.mode);
        let owner = self.owner.clone().filter(|o| *o != cur.owner);
        let group = self.group.clone().filter(|g| *g != cur.group);
        Ok(vec![Step::new(actions.join(", "), metadata_script(&self.path, mode, &owner, &group))])
    }

    /// Temp file beside the target → metadata → validate → atomic rename.
    fn write_script(&self, content: &[u8]) -> String {
        let (dir, name) = split_path(&self.path);
        let dest = quote(&self.path);
        let mut s = format!(
            "dest={dest}\ntmp=$(mktemp -- {})\ntrap 'rm -f -- \"$tmp\"' EXIT\n",
            quote(&format!("{}/.{}.rigger-XXXXXX", dir.trim_end_matches('/'), name))
        );
        s.push_str(&write_bytes("tmp", content));
        match self.mode {
            Some(m) => s.push_str(&format!("chmod {m:04o} -- \"$tmp\"\n")),
            None => s.push_str(
                "if [ -e \"$dest\" ]; then chmod --reference=\"$dest\" -- \"$tmp\"; else chmod 0644 -- \"$tmp\"; fi\n",
            ),
        }
        match owner_spec(&self.owner, &self.group) {
            Some(o) => s.push_str(&format!("chown {} -- \"$tmp\"\n", quote(&o))),
            None => s.push_str("if [ -e \"$dest\" ]; then chown --reference=\"$dest\" -- \"$tmp\"; fi\n"),
        }
        if let Some(v) = &self.validate {
            s.push_str(&format!("{}\n", v.replace("%s", "\"$tmp\"")));
        }
        s.push_str("mv -f -- \"$tmp\" \"$dest\"\ntrap - EXIT\n");
        s
    }
}

impl Directory {
    pub fn queries(&self) -> Vec<Query> {
        vec![Query::Path(self.path.clone())]
    }

    pub fn plan(&self, state: &HostState) -> Result<Vec<Step>, String> {
        check_path(&self.path)?;
        check_account("owner", &self.owner)?;
        check_account("group", &self.group)?;
        let cur = state.path(&self.path)?;
        let p = quote(&self.path);
        if self.state == PresentAbsent::Absent {
            return Ok(if cur.exists() { vec![Step::new("remove", format!("rm -rf -- {p}\n"))] } else { vec![] });
        }
        if cur.exists() && cur.kind != "directory" {
            return Err(format!("{} exists and is not a directory ({})", self.path, cur.kind));
        }
        if !cur.exists() {
            let script =
                format!("mkdir -p -- {p}\n{}", metadata_script(&self.path, self.mode, &self.owner, &self.group));
            return Ok(vec![Step::new("create", script)]);
        }
        let actions = metadata_actions(cur, self.mode, &self.owner, &self.group);
        if actions.is_empty() {
            return Ok(vec![]);
        }
        let owner = self.owner.clone().filter(|o| *o != cur.owner);
        let group = self.group.clone().filter(|g| *g != cur.group);
        Ok(vec![Step::new(
            actions.join(", "),
            metadata_script(&self.path, self.mode.filter(|m| *m != cur.mode), &owner, &group),
        )])
    }
}

impl Line {
    pub fn queries(&self) -> Vec<Query> {
        vec![Query::Path(self.path.clone())]
    }

    /// The file's content after ensuring the line, or `None` when unchanged.
    pub fn edit(&self, current: &str) -> Option<String> {
        let mut lines: Vec<&str> = current.lines().collect();
        let matches = |l: &str| match &self.regexp {
            Some(re) => re.is_match(l),
            None => l == self.line,
        };
        match self.state {
            PresentAbsent::Present => {
                if let Some(i) = lines.iter().rposition(|l| matches(l)) {
                    if lines[i] == self.line {
                        return None;
                    }
                    lines[i] = &self.line;
                } else if lines.contains(&self.line.as_str()) {
                    return None;
                } else {
                    lines.push(&self.line);
                }
            }
            PresentAbsent::Absent => {
                let before = lines.len();
                lines.retain(|l| !matches(l));
                if lines.len() == before {
                    return None;
                }
            }
        }
        let mut out = lines.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        Some(out)
    }

    pub fn plan(&self, state: &HostState) -> Result<Vec<Step>, String> {
        check_value("line", &self.line, true)?;
        let cur = state.path(&self.path)?;
        if !cur.exists() && (!self.create || self.state == PresentAbsent::Absent) {
            return if self.state == PresentAbsent::Absent {
                Ok(vec![])
            } else {
                Err(format!("{} does not exist (set `create: true`)", self.path))
            };
        }
        let text = String::from_utf8(cur.content.clone().unwrap_or_default())
            .map_err(|_| format!("{} is not UTF-8 text", self.path))?;
        let Some(new) = self.edit(&text) else { return Ok(vec![]) };
        let file = File {
            kind: "line",
            path: self.path.clone(),
            content: Some(new.into_bytes()),
            mode: self.mode,
            owner: None,
            group: None,
            state: PresentAbsent::Present,
            validate: None,
            secret: false,
            notify: vec![],
        };
        file.plan(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with(path: &str, ps: PathState) -> HostState {
        let mut st = HostState::default();
        st.paths.insert(path.into(), ps);
        st
    }

    fn present(content: &str, mode: u32) -> PathState {
        PathState {
            kind: "file".into(),
            mode,
            owner: "root".into(),
            group: "root".into(),
            size: content.len() as u64,
            content: Some(content.as_bytes().to_vec()),
            sha256: None,
        }
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
        let st = state_with("/etc/app.conf", present("a=1\n", 0o644));
        assert!(file("a=1\n").plan(&st).unwrap().is_empty());
    }

    #[test]
    fn changed_content_writes_atomically_with_diff_and_validate() {
        let st = state_with("/etc/app.conf", present("a=1\n", 0o644));
        let steps = file("a=2\n").plan(&st).unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].action, "update");
        assert_eq!(
            steps[0].diff.as_deref().unwrap(),
            "--- a/etc/app.conf\n+++ b/etc/app.conf\n@@ -1 +1 @@\n-a=1\n+a=2\n"
        );
        let s = &steps[0].script;
        let (tmp, val, mv) = (s.find("mktemp").unwrap(), s.find("app -t \"$tmp\"").unwrap(), s.find("mv -f").unwrap());
        assert!(tmp < val && val < mv, "validate runs on the temp file before the rename:\n{s}");
        assert!(s.contains("/etc/.app.conf.rigger-XXXXXX"), "temp file beside the target");
    }

    #[test]
    fn mode_only_change_is_a_chmod() {
        let st = state_with("/etc/app.conf", present("a=1\n", 0o600));
        let steps = file("a=1\n").plan(&st).unwrap();
        assert_eq!(steps[0].action, "mode 0600 → 0644");
        assert_eq!(steps[0].script, "chmod 0644 -- /etc/app.conf\n");
    }

    #[test]
    fn absent_file_is_created_and_secret_is_hidden() {
        let st = state_with("/etc/app.conf", PathState { kind: "absent".into(), ..Default::default() });
        let mut f = file("password=hunter2\n");
        f.secret = true;
        let steps = f.plan(&st).unwrap();
        assert_eq!(steps[0].action, "create");
        assert!(!steps[0].diff.as_ref().unwrap().contains("hunter2"));
    }

    #[test]
    fn modes_must_be_octal() {
        assert_eq!(parse_mode(&ModeSpec("0644".into())), Ok(0o644));
        assert_eq!(parse_mode(&ModeSpec("4755".into())), Ok(0o4755));
        assert!(parse_mode(&ModeSpec("0998".into())).is_err());
        assert!(parse_mode(&ModeSpec("rw-r--r--".into())).is_err());
    }

    #[test]
    fn line_replaces_by_regexp_or_appends() {
        let l = Line {
            path: "/etc/x".into(),
            line: "MaxSessions 100".into(),
            regexp: Some(regex::Regex::new("^#?MaxSessions").unwrap()),
            state: PresentAbsent::Present,
            create: true,
            mode: None,
            notify: vec![],
        };
        assert_eq!(l.edit("a\n#MaxSessions 10\nb\n").unwrap(), "a\nMaxSessions 100\nb\n");
        assert_eq!(l.edit("a\n").unwrap(), "a\nMaxSessions 100\n");
        assert_eq!(l.edit("MaxSessions 100\n"), None);
        let gone = Line { state: PresentAbsent::Absent, ..l };
        assert_eq!(gone.edit("a\nMaxSessions 5\n").unwrap(), "a\n");
    }

    #[test]
    fn directory_created_with_metadata() {
        let st = state_with("/srv/my dir", PathState { kind: "absent".into(), ..Default::default() });
        let d = Directory {
            path: "/srv/my dir".into(),
            mode: Some(0o750),
            owner: Some("www-data".into()),
            group: None,
            state: PresentAbsent::Present,
            notify: vec![],
        };
        let steps = d.plan(&st).unwrap();
        assert_eq!(
            steps[0].script,
            "mkdir -p -- '/srv/my dir'\nchmod 0750 -- '/srv/my dir'\nchown www-data -- '/srv/my dir'\n"
        );
    }

    #[test]
    fn relative_and_multiline_paths_are_refused() {
        let st = HostState::default();
        let mut f = file("x");
        f.path = "etc/x".into();
        assert!(f.plan(&st).unwrap_err().contains("absolute"));
        f.path = "/etc/x\n; rm -rf /".into();
        assert!(f.plan(&st).unwrap_err().contains("single line"));
    }
}
