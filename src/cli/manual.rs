//! `completions` and `man`: both generated from the clap definitions in
//! `args`, so they can never drift from the flags rigger really takes; and
//! `doc`: the role-file reference, from the same data the parser uses.

use super::args::Cli;
use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Shell completions for `shell`, on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<i32> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "rigger", &mut std::io::stdout());
    Ok(0)
}

/// A man page (roff) on stdout: rigger's, or `sub`'s (rigger-SUB(1)); or,
/// with `dir`, every page written there.
pub fn man(sub: Option<&str>, dir: Option<&Path>) -> Result<i32> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    // Built, so `help` is among the subcommands, as rigger(1) lists it.
    cmd.build();
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        for (name, page) in pages(&cmd)? {
            let path = dir.join(format!("{name}.1"));
            std::fs::write(&path, page).map_err(|e| Error::io(&path, e))?;
        }
        return Ok(0);
    }
    let page = match sub {
        None => render(cmd)?,
        Some(s) => {
            let names: Vec<String> = cmd.get_subcommands().map(|c| c.get_name().to_string()).collect();
            let Some(c) = cmd.find_subcommand(s) else {
                let near = crate::template::suggest(s, names.iter().map(String::as_str));
                let near = near.map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
                return Err(Error::usage(format!("no subcommand `{s}`{near}; there are: {}", names.join(", "))));
            };
            render(page_of(c))?
        }
    };
    std::io::stdout().write_all(&page).map_err(Error::System)?;
    Ok(0)
}

/// Every page: rigger(1), then rigger-SUB(1) for each subcommand.
fn pages(cmd: &clap::Command) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = vec![("rigger".to_string(), render(cmd.clone())?)];
    for c in cmd.get_subcommands() {
        out.push((format!("rigger-{}", c.get_name()), render(page_of(c))?));
    }
    Ok(out)
}

/// A subcommand as its own page: named rigger-SUB, as the SEE ALSO of rigger(1) names it.
fn page_of(c: &clap::Command) -> clap::Command {
    let name = format!("rigger-{}", c.get_name());
    c.clone().name(name.clone()).bin_name(name.replacen('-', " ", 1))
}

fn render(cmd: clap::Command) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf).map_err(Error::System)?;
    Ok(buf)
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

/// `rigger doc --markdown`: one row per kind — what it is (the summary's
/// first sentence) and its keys, the required ones in bold. The README's
/// table is this output; a test keeps them equal.
pub fn markdown() -> Result<i32> {
    let mut out = String::from("| kind | what it is | keys (**required**) |\n|---|---|---|\n");
    for (k, d) in crate::resource::registry::DOCS {
        let first = d.summary.split(". ").next().unwrap_or(d.summary).trim_end_matches('.');
        let keys: Vec<String> = d
            .fields
            .iter()
            .map(|f| if f.default.is_empty() { format!("**`{}`**", f.name) } else { format!("`{}`", f.name) })
            .collect();
        out.push_str(&format!("| `{k}` | {}. | {} |\n", first.replace('|', "\\|"), keys.join(", ")));
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
