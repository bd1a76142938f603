//! Why a template or a templated field did not render, in either dialect:
//! the typed error and a field's report with its caret, shared by the Tera
//! and Jinja engines.

use std::fmt;

/// 1-based line and column (in chars) of byte `at` in `text`.
pub fn position(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

/// Why a template or a templated field did not render.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    /// Tera's own report on a template file: `--> file:line:col` and a caret.
    #[error("{0}")]
    Template(String),
    /// A mistake in a field's own text (`when:`, a resource field), shown
    /// against that text, named by `label`.
    #[error("{}", .0)]
    Field(FieldReport),
}

/// A field's mistake with its position in the field's text.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldReport {
    pub message: String,
    pub label: String,
    pub text: String,
    pub line: usize,
    /// 1-based.
    pub col: usize,
    pub carets: usize,
}

impl fmt::Display for FieldReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let FieldReport { message, label, text, line, col, carets } = self;
        let gutter = " ".repeat(line.to_string().len());
        // A field can hold one enormous line: show the part at fault, carets
        // cut where the shown text ends.
        let (shown, at) = crate::error::excerpt(text, *col);
        let carets = (*carets).clamp(1, (shown.chars().count() + 1).saturating_sub(at).max(1));
        write!(
            f,
            "{message}\n --> {label}:{line}:{col}\n{gutter} |\n{line} | {shown}\n{gutter} | {}{}",
            " ".repeat(at.saturating_sub(1)),
            "^".repeat(carets)
        )
    }
}
