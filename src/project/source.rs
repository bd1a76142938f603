//! Reading input files. Only this module and the loaders built on it touch
//! YAML text; everything downstream gets typed, validated data.

use super::nesting::{self, MAX_DEPTH};
use crate::error::{Error, Location, Result};
use crate::secret::{ansible_vault, Secrets, VaultError};
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

/// Reads a vars file (YAML mapping); an empty file is no vars. A `.age` file
/// or a file encrypted whole by ansible-vault is decrypted first, and every
/// value in it is added to `secrets` (so the output layer hides it); so is
/// every inline `!vault` value of a plain file.
pub fn read_vars(path: &Path, secrets: &Secrets) -> Result<Vars> {
    if path.extension().is_some_and(|e| e == "age") {
        return sealed_vars(path, &secrets.decrypt_file(path)?, secrets);
    }
    let src = Source::read(path)?;
    if ansible_vault::is_vaulted(&src.text) {
        let in_file = |e| VaultError::File { path: path.to_path_buf(), source: Box::new(e) };
        let text = secrets.open_ansible(&src.text).map_err(in_file)?;
        // Ansible reads what it decrypts as YAML 1.1 too.
        return sealed_vars(path, &super::yaml11::rewrite(&text), secrets);
    }
    let src = src.yaml11();
    if src.text.trim().is_empty() {
        return Ok(Vars::new());
    }
    if src.text.contains("!vault") {
        return open_inline(&src, secrets);
    }
    let value: Option<Vars> = src.parse()?;
    Ok(value.unwrap_or_default())
}

/// The vars of a decrypted file, each a secret.
fn sealed_vars(path: &Path, text: &str, secrets: &Secrets) -> Result<Vars> {
    let vars = parse_sealed(path, text)?;
    for (k, v) in &vars {
        if crate::secret::too_short(v) {
            return Err(SealedVarsError::TooShort { path: path.to_path_buf(), key: k.clone() }.into());
        }
        secrets.add_value(v);
    }
    Ok(vars)
}

/// A plain vars file with inline `!vault` values, each opened and sealed.
fn open_inline(src: &Source, secrets: &Secrets) -> Result<Vars> {
    let mut doc: serde_yaml::Value = src.parse()?;
    let at = |e| SealedVarsError::Inline { path: src.path.clone(), source: e };
    super::inline_vault::open(&mut doc, &src.text, secrets).map_err(at)?;
    let vars: Option<Vars> = serde_yaml::from_value(doc)
        .map_err(|e| SealedVarsError::NotVars { path: src.path.clone(), problem: unquote(&e.to_string()) })?;
    Ok(vars.unwrap_or_default())
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
    /// An inline `!vault` value: the line is in the error.
    #[error("{}:{source}", .path.display())]
    Inline { path: std::path::PathBuf, source: super::inline_vault::InlineVaultError },
    #[error("{}: {problem}", .path.display())]
    NotVars { path: std::path::PathBuf, problem: String },
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
        // "…, while parsing a flow sequence at line 2 column 6": an unclosed
        // bracket is found at the end of the text; where it opens is the place to look.
        if let Some((what, l, c)) = opened_at(&full) {
            let problem = format!("{} while parsing {what} opened here", unquote(problem));
            return SealedVarsError::Yaml { path: path.to_path_buf(), line: l, col: c, problem };
        }
        SealedVarsError::Yaml { path: path.to_path_buf(), line, col, problem: unquote(problem) }
    };
    // The untyped pass first, as `Source::parse` does: it catches duplicate keys.
    serde_yaml::from_str::<serde_yaml::Value>(text).map_err(located)?;
    Ok(serde_yaml::from_str::<Option<Vars>>(text).map_err(located)?.unwrap_or_default())
}

/// The construct libyaml was parsing when it failed, and where it began:
/// `(a flow sequence, 2, 6)` from "…, while parsing a flow sequence at line 2 column 6".
fn opened_at(message: &str) -> Option<(&str, usize, usize)> {
    let (_, context) = message.split_once(", while parsing ")?;
    let (what, at) = context.split_once(" at line ")?;
    let (line, col) = at.split_once(" column ")?;
    Some((what, line.trim().parse().ok()?, col.trim().parse().ok()?))
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
