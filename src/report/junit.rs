//! `--junit FILE`: the run as JUnit XML, so CI systems show it natively —
//! one testsuite per host, one testcase per unit. A failed unit fails its
//! testcase with its errors; under `plan`, a unit with changes pending
//! fails too (drift is what a CI plan exists to catch). An unreachable
//! host is one failed `connect` testcase.

use super::run::{HostReport, RunReport, UnitReport};
use super::svg::escape;
use crate::plan::Status;
use std::fmt::Write;

/// The JUnit XML of `report` (already sealed by the caller's `Secrets::redact`).
pub fn render(report: &RunReport) -> String {
    let plan = report.command == "plan";
    let cases = |h: &HostReport| if h.error.is_some() { 1 } else { h.units.len() };
    let failures = |h: &HostReport| match &h.error {
        Some(_) => 1,
        None => h.units.iter().filter(|u| fails(u, plan)).count(),
    };
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"rigger {}\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">",
        escape(&report.command),
        report.hosts.iter().map(cases).sum::<usize>(),
        report.hosts.iter().map(failures).sum::<usize>(),
        report.seconds
    );
    for h in &report.hosts {
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">",
            escape(&h.host),
            cases(h),
            failures(h),
            h.seconds
        );
        if let Some(e) = &h.error {
            let _ = writeln!(
                xml,
                "    <testcase classname=\"{0}\" name=\"connect\"><failure message=\"{1}\">{1}</failure></testcase>",
                escape(&h.host),
                escape(e)
            );
        }
        for u in h.units.iter().filter(|_| h.error.is_none()) {
            xml.push_str(&testcase(&h.host, u, plan));
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn fails(u: &UnitReport, plan: bool) -> bool {
    u.status == Status::Failed || (plan && u.status == Status::Changed)
}

fn testcase(host: &str, u: &UnitReport, plan: bool) -> String {
    let mut detail = String::new();
    for r in u.resources.iter().filter(|r| r.status != Status::Ok) {
        let actions: Vec<&str> = r.steps.iter().map(|s| s.action.as_str()).collect();
        let _ = writeln!(detail, "{:?} {}: {}", r.status, r.resource, actions.join(", "));
        if let Some(m) = &r.message {
            let _ = writeln!(detail, "  {m}");
        }
        for d in r.steps.iter().filter_map(|s| s.diff.as_deref()) {
            detail.push_str(d);
            if !d.ends_with('\n') {
                detail.push('\n');
            }
        }
    }
    for handler in &u.handlers {
        let _ = writeln!(detail, "handler: {handler}");
    }
    let mut body = String::new();
    if fails(u, plan) {
        let message = match (&u.message, u.status) {
            (Some(m), _) => m.clone(),
            (None, Status::Changed) => "changes pending".to_string(),
            (None, _) => "failed".to_string(),
        };
        let _ = write!(body, "<failure message=\"{}\">{}</failure>", escape(&message), escape(&detail));
    } else if u.status == Status::Skipped {
        let _ = write!(body, "<skipped message=\"{}\"/>", escape(u.message.as_deref().unwrap_or("skipped")));
    } else if !detail.is_empty() {
        let _ = write!(body, "<system-out>{}</system-out>", escape(&detail));
    }
    format!(
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">{body}</testcase>\n",
        escape(host),
        escape(&u.role),
        u.seconds
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Counts;

    fn report(command: &str, status: Status) -> RunReport {
        let mut h = HostReport::new("web1");
        h.units.push(UnitReport {
            role: "nginx".into(),
            status,
            message: None,
            resources: vec![],
            handlers: vec![],
            seconds: 0.5,
            span: None,
        });
        let mut down = HostReport::new("web2");
        down.error = Some("ssh: connection refused <x>".into());
        down.counts = Counts::default();
        RunReport {
            schema: 1,
            command: command.into(),
            changes_pending: false,
            failed: false,
            interrupted: false,
            seconds: 1.0,
            warnings: vec![],
            hosts: vec![h, down],
            gates: vec![],
        }
    }

    #[test]
    fn pending_changes_fail_a_plan_and_not_an_apply() {
        let plan = render(&report("plan", Status::Changed));
        assert!(plan.contains("<testsuites name=\"rigger plan\" tests=\"2\" failures=\"2\""), "{plan}");
        assert!(plan.contains("<failure message=\"changes pending\">"), "{plan}");
        assert!(plan.contains("connection refused &lt;x&gt;"), "{plan}");
        let apply = render(&report("apply", Status::Changed));
        assert!(apply.contains("tests=\"2\" failures=\"1\""), "{apply}");
    }
}
