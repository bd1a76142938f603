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
    if token.is_empty() {
        return None;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '-' || c == '.';
    for (i, line) in src.lines().enumerate() {
        let mut start = 0;
        while let Some(pos) = line[start..].find(token) {
            let at = start + pos;
            let before = line[..at].chars().next_back();
            let after = line[at + token.len()..].chars().next();
            if !before.is_some_and(is_word) && !after.is_some_and(is_word) {
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

    /// Converts a serde_yaml error into a located error for `file`.
    pub fn yaml(file: &Path, src: &str, err: &serde_yaml::Error) -> Self {
        let full = err.to_string();
        let message = strip_yaml_position(&full);
        // serde_yaml names the top-level document `.`: `.[0]: …` reads better as `[0]: …`.
        let message = message.strip_prefix('.').map(str::to_string).unwrap_or(message);
        let (line, col) = err.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
        Error::at(Location::new(file, src, line, col), message)
    }
}

fn strip_yaml_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_string(),
        _ => message.to_string(),
    }
}

fn render_located(message: &str, loc: &Location, help: Option<&str>) -> String {
    let mut out = format!("{message}\n  --> {loc}");
    if let Some(text) = &loc.text {
        let num = loc.line.to_string();
        let pad = " ".repeat(num.len());
        let caret_at = text.chars().take(loc.col.saturating_sub(1)).map(|c| if c == '\t' { '\t' } else { ' ' }).collect::<String>();
        out.push_str(&format!("\n {pad} |\n {num} | {text}\n {pad} | {caret_at}^"));
    }
    if let Some(help) = help {
        out.push_str(&format!("\n  = help: {help}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn token_must_be_a_whole_word() {
        assert_eq!(find_token("webserver: 1\nweb: 2\n", "web"), Some((2, 1)));
        assert_eq!(find_token("x-web: 1\n", "web"), None);
    }
}
