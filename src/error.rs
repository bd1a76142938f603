//! Typed errors. Every error a user can cause points at the file, line and
//! column at fault and shows the offending line with a caret, like a compiler.

use std::fmt;
use std::path::{Path, PathBuf};

/// A position in a source file, with the line's text kept for display.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub text: Option<String>,
}

impl Location {
    /// A location at `line:col` (1-based) in `file`, whose source is `src`.
    pub fn new(file: &Path, src: &str, line: usize, col: usize) -> Self {
        let text = src.lines().nth(line.saturating_sub(1)).map(str::to_string);
        Location { file: file.to_path_buf(), line, col, text }
    }

    /// The first place `token` stands in `src` as a whole word, else the top of the file.
    pub fn of_token(file: &Path, src: &str, token: &str) -> Self {
        match find_token(src, token) {
            Some((line, col)) => Location::new(file, src, line, col),
            None => Location::new(file, src, 1, 1),
        }
    }

    /// Like `of_token`, but searching only from `after` (1-based line) on.
    pub fn of_token_after(file: &Path, src: &str, token: &str, after: usize) -> Self {
        let skip: usize = src.lines().take(after.saturating_sub(1)).map(|l| l.len() + 1).sum();
        match find_token(src.get(skip..).unwrap_or(""), token) {
            Some((line, col)) => Location::new(file, src, line + after.saturating_sub(1), col),
            None => Location::of_token(file, src, token),
        }
    }
}

/// Finds `token` as a whole word (not part of a longer identifier).
pub fn find_token(src: &str, token: &str) -> Option<(usize, usize)> {
    find_word(src, token, |c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// The first (line, column) of `token` with no `is_word` character right
/// before or after it.
pub fn find_word(src: &str, token: &str, is_word: impl Fn(char) -> bool) -> Option<(usize, usize)> {
    if token.is_empty() {
        return None;
    }
    for (i, line) in src.lines().enumerate() {
        let mut start = 0;
        while let Some(pos) = line[start..].find(token) {
            let at = start + pos;
            let before = line[..at].chars().next_back();
            let after = line[at + token.len()..].chars().next();
            if !before.is_some_and(&is_word) && !after.is_some_and(&is_word) {
                return Some((i + 1, line[..at].chars().count() + 1));
            }
            start = at + token.len();
        }
    }
    None
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A mistake in an input file, shown with its line.
    #[error("{}", render_located(.message, .location, .help.as_deref()))]
    Located { message: String, location: Location, help: Option<String> },

    #[error("cannot read {}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },

    /// Tera's own report already carries `--> file:line:col` and a caret.
    #[error("{0}")]
    Template(String),

    #[error("dependency cycle: {path}\n{details}")]
    Cycle { path: String, details: String },

    #[error("{host}: {message}")]
    Host { host: String, message: String },

    #[error("{0}")]
    Usage(String),

    /// A host named on the command line that the inventory does not have.
    #[error("no host `{host}` in {}", .inventory.display())]
    UnknownHost { host: String, inventory: PathBuf },

    /// `vault edit`: $EDITOR could not be started.
    #[error("cannot run {editor}: {source}")]
    EditorUnavailable { editor: String, source: std::io::Error },

    /// `vault edit`: $EDITOR exited with an error; the encrypted file is kept as it was.
    #[error("{editor} failed; {} is unchanged", .file.display())]
    EditorFailed { editor: String, file: PathBuf },

    /// The control machine itself failed where no input is at fault: no async
    /// runtime, no temp dir, stdout closed.
    #[error("{0}")]
    System(std::io::Error),

    /// The lab (`rigger lab`, `rigger test`) could not be had: not root, a
    /// host that did not boot, a subnet in use.
    #[error("{0}")]
    Lab(String),

    /// A loader's own typed error, shown as it is: `-i vagrant:DIR` and
    /// `inventory --from-vagrant DIR` when the Vagrant machines could not be
    /// had. Boxed so that this module names no other module of the crate.
    #[error(transparent)]
    Load(Box<dyn std::error::Error + Send + Sync>),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn at(location: Location, message: impl Into<String>) -> Self {
        Error::Located { message: message.into(), location, help: None }
    }

    pub fn at_with_help(location: Location, message: impl Into<String>, help: impl Into<String>) -> Self {
        Error::Located { message: message.into(), location, help: Some(help.into()) }
    }

    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }

    pub fn host(host: &str, message: impl Into<String>) -> Self {
        Error::Host { host: host.to_string(), message: message.into() }
    }

    /// Converts a serde_yaml error into a located error for `file`, pointing
    /// where the mistake is: the duplicate key, the bracket never closed.
    pub fn yaml(file: &Path, src: &str, err: &serde_yaml::Error) -> Self {
        let full = err.to_string();
        let (line, col) = err.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
        let (mut message, line, col) = explain_yaml(src, &full, line, col);
        // A numeric mode: quote what the user wrote, not what YAML made of it.
        if let Some(i) = message.find("is a number; write it as a quoted octal string") {
            let written: String = src
                .lines()
                .nth(line.saturating_sub(1))
                .unwrap_or("")
                .chars()
                .skip(col.saturating_sub(1))
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            let value = message[..i].rsplit(' ').nth(1).unwrap_or("").to_string();
            if !written.is_empty() && written != value {
                let digits = written.trim_start_matches("0o").trim_start_matches('0');
                let head = &message[..message[..i].rfind("mode ").unwrap_or(0)];
                message = format!("{head}mode {written} is a number; write it as a quoted octal string like \"0{digits}\" (YAML reads {written} as the number {value})");
            }
        }
        let yaml11 = ["\"yes\"", "\"no\"", "\"on\"", "\"off\"", "\"y\"", "\"n\""]
            .iter()
            .any(|w| message.contains(&format!("invalid type: string {w}, expected a boolean")));
        if let Some((help, line, col)) = unknown_field_help(src, &message, line, col) {
            return Error::at_with_help(Location::new(file, src, line, col), message, help);
        }
        if yaml11 {
            return Error::at_with_help(
                Location::new(file, src, line, col),
                message,
                "rigger reads YAML 1.2, where yes/no/on/off are strings: write `true` or `false`",
            );
        }
        Error::at(Location::new(file, src, line, col), message)
    }
}

/// Rewords libyaml/serde_yaml messages and picks the right position.
/// For serde's "unknown field `X`, expected one of `a`, `b`": the key a
/// slip of the keyboard meant, or — when `X` sits at the level of a key
/// above it that opens a block (`service:`) — that it was meant inside it.
fn unknown_field_help(src: &str, message: &str, line: usize, col: usize) -> Option<(String, usize, usize)> {
    let rest = message.split("unknown field `").nth(1)?;
    let (field, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    // serde points at the mapping; the key itself is on this line or below.
    let (line, col) = key_at(src, field, line).unwrap_or((line, col));
    if let Some(opener) = block_above(src, line, col) {
        if expected.contains(&opener.as_str()) {
            let help = format!(
                "`{field}` is at the level of `{opener}:` above it; if it is one of {opener}'s keys, indent it under `{opener}:` like the others"
            );
            return Some((help, line, col));
        }
    }
    let limit = if field.chars().count() <= 3 { 1 } else { 2 };
    let near = expected.iter().map(|k| (strsim::levenshtein(field, k), *k)).filter(|(d, _)| *d <= limit).min()?;
    Some((format!("did you mean `{}`?", near.1), line, col))
}

/// Where `key:` is written, from `line` on: (line, column), 1-based.
fn key_at(src: &str, key: &str, line: usize) -> Option<(usize, usize)> {
    let block = format!("{key}:");
    src.lines().enumerate().skip(line.saturating_sub(1)).find_map(|(i, l)| {
        let t = l.trim_start_matches([' ', '-']);
        t.starts_with(&block).then(|| (i + 1, l.len() - t.len() + 1))
    })
}

/// The key above `line` at the same column `col` whose value is a block
/// (nothing after its colon, the next line indented deeper), if one comes
/// before anything less indented.
fn block_above(src: &str, line: usize, col: usize) -> Option<String> {
    let lines: Vec<&str> = src.lines().collect();
    let indent = col.saturating_sub(1);
    for i in (0..line.saturating_sub(1).min(lines.len())).rev() {
        let l = lines[i];
        let lead = l.get(..indent)?;
        let text = l.get(indent..).unwrap_or("");
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        if !lead.trim_start_matches([' ', '-']).is_empty() || lead.len() < indent {
            return None;
        }
        if text.starts_with(' ') {
            continue; // deeper: inside a block above
        }
        let (key, value) = text.split_once(':')?;
        let value = value.split(" #").next().unwrap_or("").trim();
        let deeper = lines.get(i + 1).is_some_and(|n| n.len() - n.trim_start().len() > indent);
        return (value.is_empty() && deeper && !key.contains(' ')).then(|| key.to_string());
    }
    None
}

fn explain_yaml(src: &str, full: &str, line: usize, col: usize) -> (String, usize, usize) {
    let re =
        regex::Regex::new(r"^(?s)(.*?) at line (\d+) column (\d+)(?:, while (.*?)(?: at line (\d+) column (\d+))?)?$")
            .expect("static regex");
    let Some(c) = re.captures(full) else {
        return (full.strip_prefix('.').unwrap_or(full).to_string(), line, col);
    };
    let problem = c[1].strip_prefix('.').unwrap_or(&c[1]).to_string();
    let (pl, pc): (usize, usize) = (c[2].parse().unwrap_or(line), c[3].parse().unwrap_or(col));
    let context = c.get(4).map(|m| m.as_str().to_string());
    let ctx_pos: Option<(usize, usize)> =
        c.get(5).zip(c.get(6)).map(|(l, k)| (l.as_str().parse().unwrap_or(1), k.as_str().parse().unwrap_or(1)));
    // A duplicate key: serde_yaml points at the first one; the mistake is the second.
    if let Some(key) = problem.split("duplicate entry with key ").nth(1) {
        let key = key.trim_matches('"');
        // The key sits at column `pc` on its first line; the duplicate sits at the same column.
        let indent = pc.saturating_sub(1);
        for (i, l) in src.lines().enumerate().skip(pl) {
            let t = l.get(indent..).unwrap_or("");
            let lead = l.get(..indent).unwrap_or("");
            if lead.trim_start_matches([' ', '-']).is_empty()
                && (t.starts_with(&format!("{key}:")) || t.starts_with(&format!("\"{key}\":")))
            {
                return (format!("{problem} (first defined at line {pl})"), i + 1, indent + 1);
            }
        }
        return (problem, pl, pc);
    }
    let at_end = pl > src.lines().count() || problem.contains("end of stream");
    match (context, ctx_pos) {
        (Some(ctx), Some((cl, cc))) if at_end || ctx.contains("flow") => {
            let what = if ctx.contains("quoted scalar") {
                "the quoted string that starts here is never closed".to_string()
            } else if ctx.contains("flow sequence")
                || (ctx.contains("flow") && src.lines().nth(cl - 1).is_some_and(|l| l.chars().nth(cc - 1) == Some('[')))
            {
                "the `[` that starts here is never closed".to_string()
            } else if ctx.contains("flow mapping")
                || src.lines().nth(cl - 1).is_some_and(|l| l.chars().nth(cc - 1) == Some('{'))
            {
                "the `{` that starts here is never closed".to_string()
            } else {
                format!("{problem}, while {ctx}")
            };
            if problem.contains("end of stream") {
                (what, cl, cc)
            } else {
                (format!("{what} ({problem})"), cl, cc)
            }
        }
        (Some(ctx), Some((cl, cc))) => {
            let hint = if problem.contains("did not find expected key") {
                format!("{problem}: this line's indentation does not match the mapping that starts at line {cl} column {cc}")
            } else {
                format!("{problem}, while {ctx} that starts at line {cl} column {cc}")
            };
            (hint, pl, pc)
        }
        (ctx, _) => {
            let problem = match ctx {
                Some(c) => format!("{problem}, while {c}"),
                None => problem,
            };
            let tab =
                src.lines().nth(pl.saturating_sub(1)).and_then(|l| l.chars().nth(pc.saturating_sub(1))) == Some('\t');
            if tab {
                ("this line is indented with a tab; YAML allows only spaces for indentation".to_string(), pl, pc)
            } else {
                (problem, pl, pc)
            }
        }
    }
}

fn render_located(message: &str, loc: &Location, help: Option<&str>) -> String {
    let mut out = format!("{}\n  --> {loc}", clip(message));
    if let Some(text) = &loc.text {
        let num = loc.line.to_string();
        let pad = " ".repeat(num.len());
        let (text, col) = excerpt(text, loc.col);
        let caret_at =
            text.chars().take(col.saturating_sub(1)).map(|c| if c == '\t' { '\t' } else { ' ' }).collect::<String>();
        out.push_str(&format!("\n {pad} |\n {num} | {text}\n {pad} | {caret_at}^"));
    }
    if let Some(help) = help {
        out.push_str(&format!("\n  = help: {}", clip(help)));
    }
    out
}

/// The most characters of a source line an error shows. A generated or
/// minified line can be megabytes long; the reader needs the part at fault.
pub const SHOWN_WIDTH: usize = 160;

/// `line` cut to `SHOWN_WIDTH` characters around `col` (1-based, in
/// characters), with `…` on each side that was cut, and the column the same
/// character has in the cut text, so a caret still points at it.
pub fn excerpt(line: &str, col: usize) -> (String, usize) {
    let len = line.chars().count();
    if len <= SHOWN_WIDTH {
        return (line.to_string(), col);
    }
    // The fault sits mid-window where it can; the window stays inside the line.
    let start = col.saturating_sub(1).saturating_sub(SHOWN_WIDTH / 2).min(len - SHOWN_WIDTH);
    let end = start + SHOWN_WIDTH;
    let mut shown: String = line.chars().skip(start).take(SHOWN_WIDTH).collect();
    if end < len {
        shown.push('…');
    }
    if start > 0 {
        return (format!("…{shown}"), col - start + 1);
    }
    (shown, col)
}

/// The most characters of a message shown whole: serde quotes the value at
/// fault, and a value can be megabytes long.
const MESSAGE_WIDTH: usize = 1000;

/// `message`, its middle cut out when it is longer than `MESSAGE_WIDTH`
/// (its start says what is wrong, its end often what was expected).
pub fn clip(message: &str) -> std::borrow::Cow<'_, str> {
    let len = message.chars().count();
    if len <= MESSAGE_WIDTH {
        return message.into();
    }
    let half = MESSAGE_WIDTH / 2;
    let head: String = message.chars().take(half).collect();
    let tail: String = message.chars().skip(len - half).collect();
    format!("{head} … ({} characters cut) … {tail}", len - 2 * half).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_field_names_the_key_meant() {
        let msg = "resources[0].directory: unknown field `mdoe`, expected one of `path`, `mode`, `owner`";
        let src = "resources:\n  - directory: { path: /x, mdoe: \"0755\" }\n";
        assert_eq!(unknown_field_help(src, msg, 2, 30).unwrap().0, "did you mean `mode`?");
        assert_eq!(unknown_field_help(src, "unknown field `zzzz`, expected one of `path`", 2, 30), None);
        // `state` written at the level of `service:`, which opens a block.
        let src = "resources:\n  - service:\n      name: nginx\n    state: started\n";
        let msg = "resources[0]: unknown field `state`, expected one of `name`, `when`, `service`, `file`";
        // serde points at the entry (2:5); the caret moves to the key.
        let (help, line, col) = unknown_field_help(src, msg, 2, 5).unwrap();
        assert!(help.contains("indent it under `service:`"), "{help}");
        assert_eq!((line, col), (4, 5));
    }

    #[test]
    fn located_error_shows_line_and_caret() {
        let src = "a: 1\nroles: [web, nope]\n";
        let loc = Location::of_token(Path::new("site.yaml"), src, "nope");
        let err = Error::at(loc, "role `nope` not found");
        assert_eq!(
            err.to_string(),
            "role `nope` not found\n  --> site.yaml:2:14\n   |\n 2 | roles: [web, nope]\n   |              ^"
        );
    }

    #[test]
    fn a_long_line_is_cut_around_the_fault_with_the_caret_on_it() {
        let line = format!("{}X{}", "a".repeat(1000), "b".repeat(1000));
        let (shown, col) = excerpt(&line, 1001);
        assert_eq!(shown.chars().count(), SHOWN_WIDTH + 2);
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        assert_eq!(shown.chars().nth(col - 1), Some('X'));
        let (shown, col) = excerpt(&line, 3);
        assert_eq!((shown.chars().nth(col - 1), shown.starts_with('a'), shown.ends_with('…')), (Some('a'), true, true));
        let (shown, col) = excerpt(&line, 2002);
        assert_eq!((col, shown.starts_with('…'), shown.ends_with('b')), (SHOWN_WIDTH + 2, true, true));
        assert_eq!(excerpt("short", 3), ("short".to_string(), 3));
    }

    #[test]
    fn a_long_message_keeps_its_ends() {
        let message = format!("invalid type: string \"{}\", expected a map", "a".repeat(5000));
        let shown = clip(&message);
        assert!(
            shown.len() < 1100 && shown.starts_with("invalid type") && shown.ends_with("expected a map"),
            "{shown}"
        );
    }

    #[test]
    fn token_must_be_a_whole_word() {
        assert_eq!(find_token("webserver: 1\nweb: 2\n", "web"), Some((2, 1)));
        assert_eq!(find_token("x-web: 1\n", "web"), None);
    }
}
