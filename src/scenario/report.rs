//! The outcome of scenarios: per scenario, per phase, passed / failed /
//! skipped with the time it took and why it failed. Rendered as a recap for
//! people, a JSON document (`--json`) and JUnit XML (`--junit`).

use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Create,
    Converge,
    Idempotence,
    Verify,
    Destroy,
}

impl Phase {
    pub const ALL: [Phase; 5] = [Phase::Create, Phase::Converge, Phase::Idempotence, Phase::Verify, Phase::Destroy];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Create => "create",
            Phase::Converge => "converge",
            Phase::Idempotence => "idempotence",
            Phase::Verify => "verify",
            Phase::Destroy => "destroy",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
    /// Not run: an earlier phase failed, or `--keep` kept the hosts.
    Skipped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "FAILED",
            Status::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseOutcome {
    pub phase: Phase,
    pub status: Status,
    pub seconds: f64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// `ROLE:NAME`.
    pub scenario: String,
    pub file: String,
    pub passed: bool,
    pub seconds: f64,
    /// The lab it ran on (`rigger lab --lab NAME`) and its subnet.
    pub lab: String,
    pub net: String,
    pub phases: Vec<PhaseOutcome>,
}

impl ScenarioReport {
    /// The recap line: `web:default  passed  41.2 s  (create 3.1 s, converge 30.0 s, …)`.
    pub fn line(&self) -> String {
        let phases: Vec<String> = self
            .phases
            .iter()
            .map(|p| match p.status {
                Status::Skipped => format!("{} skipped", p.phase.name()),
                Status::Failed => format!("{} FAILED {:.1} s", p.phase.name(), p.seconds),
                Status::Passed => format!("{} {:.1} s", p.phase.name(), p.seconds),
            })
            .collect();
        let verdict = if self.passed { "passed" } else { "FAILED" };
        format!("{:<28} {verdict:<7} {:>6.1} s  ({})", self.scenario, self.seconds, phases.join(", "))
    }
}

/// The `--json` document.
pub fn json(reports: &[ScenarioReport], seconds: f64) -> serde_json::Value {
    serde_json::json!({
        "schema": 1,
        "command": "test",
        "failed": reports.iter().any(|r| !r.passed),
        "seconds": seconds,
        "scenarios": reports,
    })
}

fn xml(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// JUnit XML: one testsuite per scenario, one testcase per phase.
pub fn junit(reports: &[ScenarioReport]) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"rigger test\">\n");
    for r in reports {
        let failures = r.phases.iter().filter(|p| p.status == Status::Failed).count();
        let skipped = r.phases.iter().filter(|p| p.status == Status::Skipped).count();
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{:.3}\">",
            xml(&r.scenario),
            r.phases.len(),
            r.seconds
        );
        for p in &r.phases {
            let head = format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                xml(&r.scenario),
                p.phase.name(),
                p.seconds
            );
            match p.status {
                Status::Passed => {
                    let _ = writeln!(s, "{head}/>");
                }
                Status::Skipped => {
                    let _ = writeln!(s, "{head}><skipped message=\"{}\"/></testcase>", xml(&p.message));
                }
                Status::Failed => {
                    let first = p.message.lines().next().unwrap_or("");
                    let _ = writeln!(
                        s,
                        "{head}>\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                        xml(first),
                        xml(&p.message)
                    );
                }
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ScenarioReport {
        let phase =
            |phase, status, message: &str| PhaseOutcome { phase, status, seconds: 1.5, message: message.into() };
        ScenarioReport {
            scenario: "web:default".into(),
            file: "roles/web/tests/default.yaml".into(),
            passed: false,
            seconds: 6.0,
            lab: "t1".into(),
            net: "10.78.1".into(),
            phases: vec![
                phase(Phase::Create, Status::Passed, ""),
                phase(Phase::Converge, Status::Passed, ""),
                phase(Phase::Idempotence, Status::Failed, "web1 / web: template <x> & y changed again"),
                phase(Phase::Verify, Status::Skipped, "an earlier phase failed"),
                phase(Phase::Destroy, Status::Passed, ""),
            ],
        }
    }

    #[test]
    fn junit_has_one_testcase_per_phase_and_escapes() {
        let x = junit(&[report()]);
        assert_eq!(x.matches("<testcase ").count(), 5);
        assert!(x.contains("tests=\"5\" failures=\"1\" skipped=\"1\""), "{x}");
        assert!(x.contains("<failure message=\"web1 / web: template &lt;x&gt; &amp; y changed again\">"), "{x}");
        assert!(x.contains("name=\"verify\" time=\"1.500\"><skipped"), "{x}");
    }

    #[test]
    fn the_recap_line_names_the_failed_phase() {
        let line = report().line();
        assert!(line.starts_with("web:default"), "{line}");
        assert!(
            line.contains("FAILED") && line.contains("idempotence FAILED 1.5 s") && line.contains("verify skipped"),
            "{line}"
        );
        let doc = json(&[report()], 6.0);
        assert_eq!(doc["failed"], true);
        assert_eq!(doc["scenarios"][0]["phases"][2]["phase"], "idempotence");
        assert_eq!(doc["scenarios"][0]["phases"][2]["status"], "failed");
    }
}
