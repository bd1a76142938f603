//! Why a second apply changed something: every resource it changed again,
//! with its steps and diffs, and every handler it ran again, read from the
//! apply's JSON report (docs/json.md). Molecule only says "not idempotent".

use serde_json::Value;
use std::fmt::Write;

/// One resource (or handler) that a second apply changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub host: String,
    pub role: String,
    pub what: String,
    /// `(action, diff)` per step.
    pub steps: Vec<(String, Option<String>)>,
}

/// Everything the run document says changed.
pub fn changes(doc: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    let list = |v: &Value, k: &str| v.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    for host in list(doc, "hosts") {
        for unit in list(&host, "units") {
            for r in list(&unit, "resources").iter().filter(|r| text(r, "status") == "changed") {
                let steps = list(r, "steps")
                    .iter()
                    .map(|s| (text(s, "action"), s.get("diff").and_then(Value::as_str).map(str::to_string)))
                    .collect();
                out.push(Change {
                    host: text(&host, "host"),
                    role: text(&unit, "role"),
                    what: text(r, "resource"),
                    steps,
                });
            }
            for h in list(&unit, "handlers") {
                let what = format!("handler {}", h.as_str().unwrap_or(""));
                out.push(Change { host: text(&host, "host"), role: text(&unit, "role"), what, steps: Vec::new() });
            }
        }
    }
    out
}

/// The changes, for people: one block per resource, its diffs indented.
pub fn explain(changes: &[Change]) -> String {
    let mut s = String::new();
    for c in changes {
        let _ = writeln!(s, "{} / {}: {} changed again", c.host, c.role, c.what);
        for (action, diff) in &c.steps {
            let _ = writeln!(s, "    {action}");
            for line in diff.iter().flat_map(|d| d.lines()) {
                let _ = writeln!(s, "      {line}");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_resource_that_changed_again_with_its_diff() {
        let doc: Value = serde_json::from_str(
            r#"{"hosts":[{"host":"web1","units":[{"role":"web","resources":[
                {"resource":"package nginx-light","status":"ok","steps":[]},
                {"resource":"template /var/www/html/index.html","status":"changed",
                 "steps":[{"action":"update","diff":"--- a\n+++ b\n-x\n+y\n"}]}],
              "handlers":["reload nginx"]}]}]}"#,
        )
        .unwrap();
        let c = changes(&doc);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].what, "template /var/www/html/index.html");
        let text = explain(&c);
        assert!(
            text.contains("web1 / web: template /var/www/html/index.html changed again\n    update\n      --- a\n"),
            "{text}"
        );
        assert!(text.contains("web1 / web: handler reload nginx changed again"), "{text}");
    }

    #[test]
    fn a_quiet_second_run_has_no_changes() {
        let doc: Value = serde_json::from_str(
            r#"{"hosts":[{"host":"web1","units":[{"role":"web","resources":[{"resource":"x","status":"ok","steps":[]}],"handlers":[]}]}]}"#,
        )
        .unwrap();
        assert!(changes(&doc).is_empty());
    }
}
