//! Where the CLI's text goes and how it looks. Human text goes to stdout, or
//! to stderr when `--json` owns stdout; warnings and errors always go to
//! stderr; under `--json` a failed command still prints its JSON document.

use crate::error::Error;
use crate::report::Style;
use serde::Serialize;
use std::io::Write;

// Everything rigger prints passes through `secret::redact`: a secret value
// never reaches a terminal, a log or a JSON document.
macro_rules! rprintln { ($($t:tt)*) => { println!("{}", crate::secret::redact(&format!($($t)*))) } }
macro_rules! reprintln { ($($t:tt)*) => { eprintln!("{}", crate::secret::redact(&format!($($t)*))) } }
macro_rules! rprint { ($($t:tt)*) => { print!("{}", crate::secret::redact(&format!($($t)*))) } }
macro_rules! reprint { ($($t:tt)*) => { eprint!("{}", crate::secret::redact(&format!($($t)*))) } }

/// How one invocation prints, decided once from its flags.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// `--json`: stdout carries one JSON document, human text moves to stderr.
    pub json: bool,
    /// `--quiet`: only errors and the recap.
    pub quiet: bool,
    /// `--verbose`: unchanged resources too.
    pub verbose: bool,
    pub style: Style,
}

impl Out {
    /// Human text: stdout normally, stderr when `--json` owns stdout.
    pub fn human(&self, s: &str) {
        if s.is_empty() {
            return;
        }
        if self.json {
            reprint!("{s}");
        } else {
            rprint!("{s}");
            let _ = std::io::stdout().flush();
        }
    }

    /// Human text that `--quiet` silences.
    pub fn info(&self, s: &str) {
        if !self.quiet {
            self.human(s);
        }
    }

    /// One `warning:` line per warning, on stderr even under `--quiet`.
    pub fn warnings(&self, warnings: &[String]) {
        for w in warnings {
            reprintln!("{} {w}", self.style.paint("33", "warning:"));
        }
    }

    /// One `error:` line on stderr.
    pub fn error(&self, message: &str) {
        reprintln!("{} {message}", self.error_label());
    }

    /// A JSON document on stdout, pretty-printed.
    pub fn document<T: Serialize + ?Sized>(&self, doc: &T) {
        rprintln!("{}", serde_json::to_string_pretty(doc).unwrap_or_default());
    }

    /// Reports the error that ended `command` and returns its exit code (1).
    /// Under `--json` stdout still gets a document, so CI can parse every run.
    pub fn fail(&self, command: &str, e: &Error) -> i32 {
        reprint!("{} {e}\n", self.error_label());
        if self.json {
            self.document(
                &serde_json::json!({ "schema": 1, "command": command, "failed": true, "error": e.to_string() }),
            );
        }
        1
    }

    fn error_label(&self) -> String {
        self.style.paint("1;31", "error:")
    }
}
