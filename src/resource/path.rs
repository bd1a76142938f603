//! What every file-like kind shares: the `path` probe (type, mode, owner and
//! content of a path, parsed into `PathState`), path and mode checks, the
//! metadata steps and unified diffs. Not a kind of its own.

pub use super::kind::PathKind;
use super::kind::ResourceError;
use super::spec::ModeSpec;
use crate::session::probe::{answer, Ask, HostState, Probe, ProbeError, Query};
use crate::shell::{check_value, quote};

/// Files larger than this are compared by checksum only.
pub const MAX_CONTENT: u64 = 4 * 1024 * 1024;

/// A file up to MAX_CONTENT comes whole (`-`, then base64; its sha256 is
/// computed here); a bigger one as its sha256 only. Every path of a probe
/// shares one `stat` (`stat_all_sh`).
pub static PATH: Probe =
    Probe { name: "path", ask: Ask::All(stat_all_sh), parse: |p, lines| parse_state(own_lines(p, lines)?).map(answer) };

/// The batch's helpers. `rp_exist` notes which paths exist (`1`/`0` each,
/// in order, by sh's own tests); `rp_stat` runs ONE `stat` for those that
/// do (each program costs the host about a millisecond, on every host of a
/// run); `rp_one` prints a path's header and answer, taking its line of that
/// output. Should `stat` fail (a path went away in between), every path is
/// asked on its own instead, as `stat_sh` does.
const STAT_ALL: &str = r#"rp_nl='
'
rp_exist() { rp_x=; for rp_p do if [ -e "$rp_p" ] || [ -L "$rp_p" ]; then rp_x=${rp_x}1; else rp_x=${rp_x}0; fi; done; }
rp_stat() {
rp_f=$rp_x
for rp_p do
shift
case $rp_f in 1*) set -- "$@" "$rp_p";; esac
rp_f=${rp_f#?}
done
[ $# -eq 0 ] || exec stat -c "$rp_fmt" -- "$@" 2>/dev/null
}
"#;

/// The path probe for all of `paths` at once: one header line per path
/// (`own_lines` finds it), then what `stat_sh` would print for it.
fn stat_all_sh(paths: &[&str]) -> String {
    let quoted: Vec<String> = paths.iter().map(|p| quote(p)).collect();
    let all = quoted.join(" ");
    let content = content_sh("\"$2\"");
    let one = format!(
        "rp_one() {{\necho \"$1\"\ncase $rp_x in\n\
         1*) rp_x=${{rp_x#?}}; s=${{rp_s%%\"$rp_nl\"*}}; rp_s=${{rp_s#*\"$rp_nl\"}}; echo \"$s\"; {content};;\n\
         0*) rp_x=${{rp_x#?}}; echo absent;;\n\
         *) {};;\nesac\n}}\n",
        stat_sh("\"$2\"")
    );
    let mut s = format!(
        "{STAT_ALL}{one}rp_fmt='{STAT_FORMAT}'\nrp_exist {all}\nrp_s=$(rp_stat {all}) || rp_x=\nrp_s=$rp_s$rp_nl\n"
    );
    for (p, q) in paths.iter().zip(&quoted) {
        s.push_str(&format!("rp_one '{}' {q}\n", header(p)));
    }
    s
}

/// The line before a path's answer in the batch: `#` and the path's bytes
/// in hex, one line whatever the path holds. No answer line starts with `#`.
fn header(p: &str) -> String {
    p.bytes().fold(String::from("#"), |mut h, b| {
        h.push_str(&format!("{b:02x}"));
        h
    })
}

/// `p`'s answer among the batch's lines.
fn own_lines<'a>(p: &str, lines: &'a [&'a str]) -> Result<&'a [&'a str], ProbeError> {
    let h = header(p);
    let start = lines.iter().position(|l| *l == h).ok_or(ProbeError::Empty { what: "path" })? + 1;
    let len = lines[start..].iter().position(|l| l.starts_with('#')).unwrap_or(lines.len() - start);
    Ok(&lines[start..start + len])
}

/// The sh that answers the path probe for `p`, a path already in sh words
/// (quoted, or an expression such as `"$var/x"`).
pub fn stat_sh(p: &str) -> String {
    format!(
        "if [ -e {p} ] || [ -L {p} ]; then s=$(stat -c '{STAT_FORMAT}' -- {p}) && echo \"$s\" && {}; else echo absent; fi",
        content_sh(p)
    )
}

/// What `stat` prints of a path: type, mode, owner, group, size.
const STAT_FORMAT: &str = "%F|%a|%U|%G|%s";

/// After a path's `stat` line (in `$s`): its content, for a regular file
/// up to MAX_CONTENT, else its sha256.
fn content_sh(p: &str) -> String {
    format!(
        "if [ -f {p} ] && [ ! -L {p} ]; then if [ \"${{s##*|}}\" -le {MAX_CONTENT} ]; then echo -; base64 < {p}; \
         else sha256sum < {p}; fi; fi"
    )
}

/// The query for `path`.
pub fn query(path: &str) -> Query {
    Query::new(&PATH, path)
}

/// What the probe found at `path`.
pub fn state<'a>(state: &'a HostState, path: &str) -> Result<&'a PathState, ProbeError> {
    state.get::<PathState>(&query(path))
}

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct PathState {
    pub kind: PathKind,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    pub size: u64,
    #[serde(skip)]
    pub content: Option<Vec<u8>>,
    pub sha256: Option<String>,
}

impl PathState {
    pub fn exists(&self) -> bool {
        self.kind != PathKind::Absent
    }

    /// A regular file holding `content`, owned by root, for fixtures.
    pub fn file(content: &[u8], mode: u32) -> Self {
        PathState {
            kind: PathKind::File,
            mode,
            owner: "root".into(),
            group: "root".into(),
            size: content.len() as u64,
            sha256: Some(sha256_hex(content)),
            content: Some(content.to_vec()),
        }
    }
}

/// Reads the path probe's answer.
pub fn parse_state(lines: &[&str]) -> Result<PathState, ProbeError> {
    let Some(first) = lines.first() else { return Err(ProbeError::Empty { what: "path" }) };
    if *first == "absent" {
        return Ok(PathState::default());
    }
    let f: Vec<&str> = first.split('|').collect();
    if f.len() != 5 {
        return Err(ProbeError::Unexpected { what: "stat", answer: first.to_string() });
    }
    let kind = match f[0] {
        "regular file" | "regular empty file" => PathKind::File,
        "directory" => PathKind::Directory,
        "symbolic link" => PathKind::Link,
        _ => PathKind::Other,
    };
    let mut st = PathState {
        kind,
        mode: u32::from_str_radix(f[1], 8).unwrap_or(0),
        owner: f[2].into(),
        group: f[3].into(),
        size: f[4].parse().unwrap_or(0),
        content: None,
        sha256: None,
    };
    if kind != PathKind::File {
        return Ok(st);
    }
    match lines.get(1).and_then(|l| l.split_whitespace().next()) {
        Some("-") => {
            use base64::Engine;
            let b64: String = lines[2..].concat();
            let content = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| ProbeError::Content(e.to_string()))?;
            st.sha256 = Some(sha256_hex(&content));
            st.content = Some(content);
        }
        Some(sum) if sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit()) => st.sha256 = Some(sum.to_string()),
        _ => {
            let answer = format!("{:?}", lines.get(1));
            return Err(ProbeError::Unexpected { what: "checksum", answer });
        }
    }
    Ok(st)
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// `"0644"` → 0o644. Only octal digits, at most 0o7777.
pub fn parse_mode(m: &ModeSpec) -> Result<u32, ResourceError> {
    let s = m.0.trim();
    let ok = !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| (b'0'..=b'7').contains(&b));
    match u32::from_str_radix(s, 8) {
        Ok(n) if ok && n <= 0o7777 => Ok(n),
        _ => Err(ResourceError::Mode(s.to_string())),
    }
}

/// An optional mode field.
pub fn mode(m: &Option<ModeSpec>) -> Result<Option<u32>, ResourceError> {
    m.as_ref().map(parse_mode).transpose()
}

/// An owner or group goes into `chown OWNER:GROUP`: an owner must not look like an
/// option or carry `:` (it would set the group), and neither may hold a NUL.
pub fn check_account(what: &'static str, v: &Option<String>) -> Result<(), ResourceError> {
    let Some(v) = v else { return Ok(()) };
    check_value(what, v, false)?;
    if what == "owner" && (v.is_empty() || v.starts_with('-') || v.contains(':')) {
        return Err(ResourceError::bad_because("owner", v, "it must not be empty, start with `-` or contain `:`"));
    }
    Ok(())
}

pub fn check_path(p: &str) -> Result<(), ResourceError> {
    check_value("path", p, true)?;
    if !p.starts_with('/') {
        return Err(ResourceError::RelativePath(p.to_string()));
    }
    if p.len() > 1 && p.ends_with('/') {
        return Err(ResourceError::TrailingSlash(p.to_string()));
    }
    Ok(())
}

/// `/etc/app.conf` → (`/etc`, `app.conf`).
pub fn split_path(p: &str) -> (&str, &str) {
    match p.rfind('/') {
        Some(0) => ("/", &p[1..]),
        Some(i) => (&p[..i], &p[i + 1..]),
        None => (".", p),
    }
}

/// The folder a file at `p` goes into, when it is worth asking about:
/// not `/`, not a relative path (refused elsewhere).
pub fn folder_of(p: &str) -> Option<&str> {
    Some(split_path(p).0).filter(|d| d.starts_with('/') && *d != "/")
}

/// The probe questions of a resource that writes the file `p`: the file,
/// and its folder (`Resource::writes_into`).
pub fn queries_with_folder(p: &str) -> Vec<Query> {
    std::iter::once(query(p)).chain(folder_of(p).map(query)).collect()
}

/// A unified diff of `old` → `new`, or a note when either side is binary or secret.
pub fn diff(path: &str, old: Option<&[u8]>, new: &[u8], secret: bool) -> String {
    let sizes = || format!("{} → {} bytes", old.map_or(0, <[u8]>::len), new.len());
    if secret {
        let (o, n) = (String::from_utf8_lossy(old.unwrap_or_default()), String::from_utf8_lossy(new));
        let changed = similar::TextDiff::from_lines(o.as_ref(), n.as_ref())
            .iter_all_changes()
            .filter(|c| c.tag() != similar::ChangeTag::Equal)
            .count();
        return sealed_diff(path, changed, new);
    }
    let (Ok(o), Ok(n)) = (std::str::from_utf8(old.unwrap_or_default()), std::str::from_utf8(new)) else {
        return format!("--- {path}\n+++ {path}\n(binary content differs: {})\n", sizes());
    };
    // The host's path on both sides (git's `a/`, `b/` read as relative paths):
    // `---` is the file as the host has it, `+++` as it will be.
    let from = if old.is_some() { path } else { "/dev/null" };
    similar::TextDiff::from_lines(o, n).unified_diff().context_radius(3).header(from, path).to_string()
}

/// What a diff of content that is or depends on a secret shows: how much
/// changes and the new content's digest (to compare with the host's), never
/// a line of it.
pub fn sealed_diff(path: &str, changed_lines: usize, new: &[u8]) -> String {
    format!("--- {path}\n+++ {path}\n(sensitive: {changed_lines} lines changed, sha256 {})\n", sha256_hex(new))
}

/// The mode, owner and group a path should have.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta {
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl Meta {
    pub fn check(&self) -> Result<(), ResourceError> {
        check_account("owner", &self.owner)?;
        check_account("group", &self.group)
    }

    /// `OWNER:GROUP` for chown, when either is set.
    pub fn chown_spec(&self) -> Option<String> {
        match (&self.owner, &self.group) {
            (Some(o), Some(g)) => Some(format!("{o}:{g}")),
            (Some(o), None) => Some(o.clone()),
            (None, Some(g)) => Some(format!(":{g}")),
            (None, None) => None,
        }
    }

    /// Only what differs from `cur`.
    pub fn differing(&self, cur: &PathState) -> Meta {
        Meta {
            mode: self.mode.filter(|m| *m != cur.mode),
            owner: self.owner.clone().filter(|o| *o != cur.owner),
            group: self.group.clone().filter(|g| *g != cur.group),
        }
    }

    /// `mode 0600 → 0644, owner root → app`: what `differing` changes.
    pub fn actions(&self, cur: &PathState) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(m) = self.mode {
            out.push(format!("mode {:04o} → {:04o}", cur.mode, m));
        }
        if let Some(o) = &self.owner {
            out.push(format!("owner {} → {o}", cur.owner));
        }
        if let Some(g) = &self.group {
            out.push(format!("group {} → {g}", cur.group));
        }
        out
    }

    pub fn script(&self, path: &str) -> String {
        let mut s = String::new();
        if let Some(m) = self.mode {
            s.push_str(&format!("chmod {m:04o} -- {}\n", quote(path)));
        }
        if let Some(o) = self.chown_spec() {
            s.push_str(&format!("chown {} -- {}\n", quote(&o), quote(path)));
        }
        s
    }

    /// The step that fixes metadata only, if any differs.
    pub fn step(&self, path: &str, cur: &PathState) -> Option<super::kind::Step> {
        let fix = self.differing(cur);
        let actions = fix.actions(cur);
        (!actions.is_empty()).then(|| super::kind::Step::new(actions.join(", "), fix.script(path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(lines: &[&str]) -> Result<PathState, ProbeError> {
        parse_state(lines)
    }

    #[test]
    fn parses_captured_stat_answers() {
        let f = parsed(&["regular file|644|root|root|6", "-", "aGVsbG8K"]).unwrap();
        assert_eq!((f.kind, f.mode, f.content.as_deref()), (PathKind::File, 0o644, Some(&b"hello\n"[..])));
        assert_eq!(f.sha256.as_deref(), Some("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"));
        assert!(!parsed(&["absent"]).unwrap().exists());
        assert_eq!(parsed(&["directory|755|root|root|4096"]).unwrap().kind, PathKind::Directory);
    }

    #[test]
    fn a_garbled_checksum_is_an_error_not_a_silent_mismatch() {
        let e = parsed(&["regular file|644|root|root|99999999", "not-a-sum"]).unwrap_err();
        assert!(e.to_string().contains("checksum"), "{e}");
    }

    #[test]
    fn the_probe_runs_locally_and_parses() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a file 'with' $(quotes)");
        std::fs::write(&f, "content\n").unwrap();
        let big = dir.path().join("big");
        let data = vec![b'x'; MAX_CONTENT as usize + 1];
        std::fs::write(&big, &data).unwrap();
        let (fp, bp) = (f.to_str().unwrap(), big.to_str().unwrap());
        let q: std::collections::BTreeSet<Query> = [query(fp), query(bp)].into();
        let s = crate::session::probe::script(&q, false, "@@M@@");
        let out = std::process::Command::new("sh").arg("-c").arg(&s).output().unwrap();
        let st = crate::session::probe::parse(&q, &String::from_utf8_lossy(&out.stdout), "@@M@@").unwrap();
        assert_eq!(state(&st, fp).unwrap().content.as_deref(), Some(&b"content\n"[..]));
        let b = state(&st, bp).unwrap();
        assert_eq!((b.kind, b.size, b.content.is_none()), (PathKind::File, MAX_CONTENT + 1, true));
        assert_eq!(b.sha256.as_deref(), Some(sha256_hex(&data).as_str()));
    }

    /// Each of `paths` through the batched probe and through `stat_sh` on its
    /// own, with `path_dir` first on PATH; the two answers, parsed.
    fn both_ways(paths: &[&str], path_dir: Option<&std::path::Path>) -> Vec<(PathState, PathState)> {
        let q: std::collections::BTreeSet<Query> = paths.iter().map(|p| query(p)).collect();
        let env_path = match path_dir {
            Some(d) => format!("{}:{}", d.display(), std::env::var("PATH").unwrap()),
            None => std::env::var("PATH").unwrap(),
        };
        let sh = |script: &str| {
            let out = std::process::Command::new("sh").arg("-c").arg(script).env("PATH", &env_path).output().unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        let batched = sh(&crate::session::probe::script(&q, false, "@@M@@"));
        let st = crate::session::probe::parse(&q, &batched, "@@M@@").unwrap();
        let alone = |p: &str| {
            let out = sh(&stat_sh(&quote(p)));
            parse_state(&out.lines().collect::<Vec<_>>()).unwrap()
        };
        paths.iter().map(|p| (state(&st, p).unwrap().clone(), alone(p))).collect()
    }

    /// Files, a folder, a link, nothing, and names that quoting or a newline
    /// could break.
    fn a_mixed_folder() -> (tempfile::TempDir, Vec<String>) {
        let d = tempfile::tempdir().unwrap();
        let p = |n: &str| d.path().join(n).to_str().unwrap().to_string();
        std::fs::write(p("plain"), "plain\n").unwrap();
        std::fs::write(p("it's a $(file)\nwith #lines|"), "odd\n").unwrap();
        std::fs::write(p("empty"), "").unwrap();
        std::fs::create_dir(p("dir")).unwrap();
        std::os::unix::fs::symlink(p("plain"), p("link")).unwrap();
        let names = ["plain", "missing", "it's a $(file)\nwith #lines|", "empty", "dir", "link", "dir/missing"];
        let paths = names.iter().map(|n| p(n)).collect();
        (d, paths)
    }

    #[test]
    fn the_batched_probe_answers_as_each_path_on_its_own_does() {
        let (_d, paths) = a_mixed_folder();
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        for (i, (batched, alone)) in both_ways(&paths, None).into_iter().enumerate() {
            assert_eq!(batched, alone, "{}", paths[i]);
            assert_eq!(batched.content, alone.content, "{}", paths[i]);
        }
        let got = both_ways(&paths, None);
        assert_eq!(got[0].0.content.as_deref(), Some(&b"plain\n"[..]));
        assert_eq!(got[2].0.content.as_deref(), Some(&b"odd\n"[..]));
        let kinds: Vec<PathKind> = got.iter().map(|(b, _)| b.kind).collect();
        use PathKind::*;
        assert_eq!(kinds, [File, Absent, File, File, Directory, Link, Absent]);
    }

    /// A `stat` first on PATH in `dir/bin` that logs each call to `dir/calls`,
    /// then runs `then` (sh) before the real one.
    fn stat_wrapper(dir: &std::path::Path, then: &str) -> std::path::PathBuf {
        let bin = dir.join("bin");
        std::fs::create_dir(&bin).unwrap();
        let real = std::process::Command::new("sh").args(["-c", "command -v stat"]).output().unwrap().stdout;
        let log = dir.join("calls");
        let real = String::from_utf8(real).unwrap();
        let body = format!("#!/bin/sh\necho >>'{}'\n{then}\nexec {} \"$@\"\n", log.display(), real.trim());
        std::fs::write(bin.join("stat"), body).unwrap();
        std::fs::set_permissions(bin.join("stat"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        bin
    }

    #[test]
    fn one_stat_answers_every_path_of_a_probe() {
        let (d, paths) = a_mixed_folder();
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let bin = stat_wrapper(d.path(), "");
        let q: std::collections::BTreeSet<Query> = paths.iter().map(|p| query(p)).collect();
        let script = crate::session::probe::script(&q, false, "@@M@@");
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        std::process::Command::new("sh").arg("-c").arg(&script).env("PATH", path).output().unwrap();
        assert_eq!(std::fs::read_to_string(d.path().join("calls")).unwrap().lines().count(), 1);
    }

    #[test]
    fn when_the_one_stat_fails_each_path_is_asked_on_its_own() {
        let (d, paths) = a_mixed_folder();
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        // A `stat` that fails when given more than one path (as when one went away).
        let bin = stat_wrapper(d.path(), "[ $# -gt 4 ] && exit 1");
        let got = both_ways(&paths, Some(&bin));
        assert_eq!(got.iter().filter(|(b, _)| b.exists()).count(), 5);
        for (i, (batched, alone)) in got.into_iter().enumerate() {
            assert_eq!((&batched, &batched.content), (&alone, &alone.content), "{}", paths[i]);
        }
    }

    #[test]
    fn modes_must_be_octal() {
        assert_eq!(parse_mode(&ModeSpec("0644".into())).unwrap(), 0o644);
        assert_eq!(parse_mode(&ModeSpec("4755".into())).unwrap(), 0o4755);
        assert!(parse_mode(&ModeSpec("0998".into())).is_err());
        assert!(parse_mode(&ModeSpec("rw-r--r--".into())).is_err());
    }
}
