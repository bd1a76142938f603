//! Where the CLI's text goes and how it looks. Human text goes to stdout, or
//! to stderr when `--json` owns stdout; warnings and errors always go to
//! stderr; under `--json` a failed command still prints its JSON document.

use crate::error::Error;
use crate::report::Style;
use crate::secret::Secrets;
use serde::Serialize;
use std::io::Write;

/// How one invocation prints, decided once from its flags. Everything it
/// prints passes through `secrets`: a value loading marked secret never
/// reaches a terminal, a log or a JSON document.
#[derive(Debug, Clone)]
pub struct Out {
    /// `--json`: stdout carries one JSON document, human text moves to stderr.
    pub json: bool,
    /// `--quiet`: only errors and the recap.
    pub quiet: bool,
    /// `--verbose`: unchanged resources too.
    pub verbose: bool,
    pub style: Style,
    /// The vault key and every value to hide; loading adds to it.
    pub secrets: Secrets,
}

impl Out {
    /// Human text: stdout normally, stderr when `--json` owns stdout.
    pub fn human(&self, s: &str) {
        if s.is_empty() {
            return;
        }
        if self.json {
            self.eprint(s);
        } else {
            self.print(s);
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
            self.eprint(&format!("{} {w}\n", self.style.paint("33", "warning:")));
        }
    }

    /// One `error:` line on stderr.
    pub fn error(&self, message: &str) {
        self.eprint(&format!("{} {message}\n", self.error_label()));
    }

    /// A JSON document on stdout, pretty-printed. Secrets are sealed in the
    /// value tree (`Secrets::seal_json`), not in the text: substituting text
    /// would turn `"port": 9876` into invalid JSON, and sealing a line of it
    /// would break the document.
    pub fn document<T: Serialize + ?Sized>(&self, doc: &T) {
        let mut value = serde_json::to_value(doc).unwrap_or_default();
        self.secrets.seal_json(&mut value);
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    }

    /// Reports the error that ended `command` and returns its exit code (1).
    /// Under `--json` stdout still gets a document, so CI can parse every run.
    pub fn fail(&self, command: &str, e: &Error) -> i32 {
        self.eprint(&format!("{} {e}\n", self.error_label()));
        if self.json {
            self.document(
                &serde_json::json!({ "schema": 1, "command": command, "failed": true, "error": e.to_string() }),
            );
        }
        1
    }

    /// `s` on stdout, secrets hidden.
    pub fn print(&self, s: &str) {
        print!("{}", self.secrets.redact(s));
    }

    /// `s` on stderr, secrets hidden.
    pub fn eprint(&self, s: &str) {
        eprint!("{}", self.secrets.redact(s));
    }

    fn error_label(&self) -> String {
        self.style.paint("1;31", "error:")
    }
}
