//! `completions` and `man`: both generated from the clap definitions in
//! `args`, so they can never drift from the flags rigger really takes; and
//! `doc`: the role-file reference, from the same data the parser uses.

use super::args::Cli;
use crate::error::{Error, Result};
use std::io::Write;

/// Shell completions for `shell`, on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<i32> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "rigger", &mut std::io::stdout());
    Ok(0)
}

/// The man page (roff), on stdout.
pub fn man() -> Result<i32> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf).map_err(Error::System)?;
    std::io::stdout().write_all(&buf).map_err(Error::System)?;
    Ok(0)
}

/// `rigger doc`: the keys of a `resources:` entry and every kind; `rigger doc KIND`: that kind.
pub fn doc(kind: Option<&str>) -> Result<i32> {
    use crate::resource::registry::{self, DOCS, ENTRY_DOC, TEMPLATED_FIELDS_DOC};
    let mut out = String::new();
    match kind {
        None => {
            out.push_str("Every entry of `resources:` is one resource (one kind's key) plus these keys,\n");
            out.push_str("or a `block:` or an `include:`:\n\n");
            out.push_str(&fields(ENTRY_DOC));
            out.push_str(&format!("\n{}\n", wrap(TEMPLATED_FIELDS_DOC)));
            out.push_str(&format!("\nDialect: {}\n", wrap(crate::project::role::DIALECT_DOC)));
            out.push_str(&format!(
                "\nHandlers: {}\n\nKinds (`rigger doc KIND`):\n",
                wrap(crate::project::handlers::DOC)
            ));
            for (k, d) in DOCS {
                out.push_str(&format!("  {k:<18} {}\n", d.summary.split(". ").next().unwrap_or(d.summary)));
            }
        }
        Some(k) => {
            let Some(d) = registry::doc(k) else {
                let kinds: Vec<&str> = DOCS.iter().map(|(k, _)| *k).collect();
                return Err(Error::usage(format!("no resource kind `{k}`; kinds: {}", kinds.join(", "))));
            };
            out.push_str(&format!("{k}: {}\n\n{}\nExample:\n{}\n", d.summary, fields(d.fields), d.example));
        }
    }
    std::io::stdout().write_all(out.as_bytes()).map_err(Error::System)?;
    Ok(0)
}

/// One line per field: name, type, default, help.
fn fields(fields: &[crate::resource::Field]) -> String {
    let mut out = String::new();
    for f in fields {
        let default = if f.default.is_empty() { "required".to_string() } else { format!("default {}", f.default) };
        out.push_str(&format!("  {:<10} {} ({default})", f.name, f.ty));
        if !f.help.is_empty() {
            out.push_str(&format!(": {}", f.help));
        }
        out.push('\n');
    }
    out
}

/// `text` in lines of at most 78 columns.
fn wrap(text: &str) -> String {
    let mut lines = vec![String::new()];
    for w in text.split_whitespace() {
        let last = lines.last_mut().map(|l| l.len()).unwrap_or(0);
        if last > 0 && last + 1 + w.len() > 78 {
            lines.push(String::new());
        }
        let l = lines.last_mut().expect("one line at least");
        if !l.is_empty() {
            l.push(' ');
        }
        l.push_str(w);
    }
    lines.join("\n")
}
