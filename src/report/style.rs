//! How human text looks: colors on a terminal (or when asked), none otherwise.

use std::io::IsTerminal;

#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn detect(json: bool, mode: &str) -> Self {
        let tty = if json { std::io::stderr().is_terminal() } else { std::io::stdout().is_terminal() };
        let color = match mode {
            "always" => true,
            "never" => false,
            _ => tty && std::env::var_os("NO_COLOR").is_none(),
        };
        Style { color }
    }

    pub fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    pub fn diff(&self, d: &str) -> String {
        d.lines()
            .map(|l| {
                let code = if l.starts_with("+++") || l.starts_with("---") {
                    "1"
                } else if l.starts_with('+') {
                    "32"
                } else if l.starts_with('-') {
                    "31"
                } else if l.starts_with("@@") {
                    "36"
                } else {
                    ""
                };
                let line = if code.is_empty() { l.to_string() } else { self.paint(code, l) };
                format!("      {line}\n")
            })
            .collect()
    }
}
