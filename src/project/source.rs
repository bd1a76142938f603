//! Reading input files. Only this module and the loaders built on it touch
//! YAML text; everything downstream gets typed, validated data.

use super::nesting::{self, MAX_DEPTH};
use crate::error::{Error, Location, Result};
use crate::secret::Secrets;
use serde::de::DeserializeOwned;
use std::path::Path;

/// A file's text, kept so later errors can quote its lines.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: std::path::PathBuf,
    pub text: String,
}

impl Source {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        // A byte-order mark (some Windows editors write one) is not content.
        let text = text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text);
        Ok(Source { path: path.to_path_buf(), text })
    }

    /// Deserializes the whole file; any error names file:line:col.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        if self.text.trim().is_empty() {
            // An empty file is an empty document: serde_yaml would call it a type error.
            return serde_yaml::from_str("{}")
                .or_else(|_| serde_yaml::from_str("[]"))
                .map_err(|e| Error::yaml(&self.path, &self.text, &e));
        }
        // Before libyaml, whose time grows with the depth at every token.
        if let Some((line, col)) = nesting::too_deep(&self.text) {
            let at = Location::new(&self.path, &self.text, line, col);
            let bracket = at.text.as_deref().and_then(|t| t.chars().nth(col - 1)).unwrap_or('[');
            let message =
                format!("`{bracket}` nested more than {MAX_DEPTH} levels deep: rigger reads YAML nested at most {MAX_DEPTH} levels");
            return Err(Error::at(at, message));
        }
        // A first pass into an untyped value catches what typed maps let through:
        // duplicate keys anywhere (an IndexMap would keep the last silently).
        serde_yaml::from_str::<serde_yaml::Value>(&self.text).map_err(|e| Error::yaml(&self.path, &self.text, &e))?;
        serde_yaml::from_str(&self.text).map_err(|e| Error::yaml(&self.path, &self.text, &e))
    }

    /// The same file with YAML 1.1's plain scalars spelled as `parse` reads
    /// them (`yes` → `true`): Ansible reads vars files and YAML inventories as YAML 1.1.
    pub fn yaml11(&self) -> Source {
        Source { path: self.path.clone(), text: super::yaml11::rewrite(&self.text).into_owned() }
    }

    pub fn locate(&self, token: &str) -> crate::error::Location {
        crate::error::Location::of_token(&self.path, &self.text, token)
    }
}

/// Variables as JSON values: what templates see and what `--json` prints.
pub type Vars = serde_json::Map<String, serde_json::Value>;

/// Reads a vars file (YAML mapping); an empty file is no vars. A `.age` file is
/// decrypted first, and every value in it is added to `secrets` (so the
/// output layer hides it).
pub fn read_vars(path: &Path, secrets: &Secrets) -> Result<Vars> {
    if path.extension().is_some_and(|e| e == "age") {
        let text = secrets.decrypt_file(path)?;
        let vars = parse_sealed(path, &text)?;
        for (k, v) in &vars {
            if crate::secret::too_short(v) {
                return Err(SealedVarsError::TooShort { path: path.to_path_buf(), key: k.clone() }.into());
            }
            secrets.add_value(v);
        }
        return Ok(vars);
    }
    let src = Source::read(path)?.yaml11();
    if src.text.trim().is_empty() {
        return Ok(Vars::new());
    }
    let value: Option<Vars> = src.parse()?;
    Ok(value.unwrap_or_default())
}

/// Why a decrypted vars file cannot be used. Never quotes its text: the
/// decrypted lines are the secrets.
#[derive(Debug, thiserror::Error)]
pub enum SealedVarsError {
    #[error("{}:{line}:{col}: {problem} (the decrypted text is not shown)", .path.display())]
    Yaml { path: std::path::PathBuf, line: usize, col: usize, problem: String },
    #[error(
        "{}: secret `{key}` holds a value of one character: too short to hide in output (every such character \
         would go); use a longer value",
        .path.display()
    )]
    TooShort { path: std::path::PathBuf, key: String },
}

impl From<SealedVarsError> for Error {
    fn from(e: SealedVarsError) -> Self {
        Error::Load(Box::new(e))
    }
}

/// The vars of a decrypted file. A YAML mistake names file:line:col and the
/// problem, with anything quoted from the text (a value, a key) hidden.
fn parse_sealed(path: &Path, text: &str) -> Result<Vars> {
    if text.trim().is_empty() {
        return Ok(Vars::new());
    }
    let located = |e: serde_yaml::Error| {
        let (line, col) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
        let full = e.to_string();
        // serde_yaml appends the position; it is given in front instead.
        let problem = full.split(" at line ").next().unwrap_or(&full);
        SealedVarsError::Yaml { path: path.to_path_buf(), line, col, problem: unquote(problem) }
    };
    // The untyped pass first, as `Source::parse` does: it catches duplicate keys.
    serde_yaml::from_str::<serde_yaml::Value>(text).map_err(located)?;
    Ok(serde_yaml::from_str::<Option<Vars>>(text).map_err(located)?.unwrap_or_default())
}

/// `problem` with every quoted part (`"…"`, `` `…` ``) emptied: the
/// parser quotes the text it stumbled on, which here is decrypted.
fn unquote(problem: &str) -> String {
    let mut out = String::new();
    let mut open: Option<char> = None;
    for c in problem.chars() {
        match open {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                open = None;
            }
            Some(_) => {}
            None => {
                out.push(c);
                if matches!(c, '"' | '`') {
                    open = Some(c);
                }
            }
        }
    }
    if open.is_some() {
        out.push('…');
    }
    out
}

/// Overlays `top` onto `base`: later wins, key by key (no deep merge, like Ansible's default).
pub fn merge_into(base: &mut Vars, top: &Vars) {
    for (k, v) in top {
        base.insert(k.clone(), v.clone());
    }
}
