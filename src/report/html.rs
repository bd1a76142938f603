//! `--report FILE.html`: one self-contained page (inline style, a few lines
//! of inline script, the graph as inline SVG; a Content-Security-Policy
//! that forbids fetching anything), so it works from a CI artifact with no
//! network. Failures come first with their errors, then the identical
//! changes grouped across hosts with their diffs, a per-host timeline of
//! units on one time axis (independent hosts overlapping, serial batches
//! and gates visible), and the dependency graph drawn by `svg`.

use super::group::{self, Change, Group};
use super::history::{utc, Record};
use super::run::{HostReport, Span, UnitReport};
use super::svg::{self, escape};
use crate::plan::Status;
use std::collections::HashMap;
use std::fmt::Write;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em}\
h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:1.6em}pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:12px}\
.add{color:#1a7f37}.del{color:#c62828}.hunk{color:#0277bd}.fail{color:#c62828}.summary span{margin-right:1.2em}\
.hosts{color:#555;font-size:12px}.timeline{position:relative}.axis{position:sticky;top:0;background:#fff;z-index:1;overflow:hidden;height:18px;margin-left:160px;font-size:11px;color:#666}\
.axis span{position:absolute}.row{display:flex;align-items:center;height:16px;border-bottom:1px solid #f0f0f0}\
.row .name{width:160px;flex:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-size:11px}\
.track{position:relative;flex:1;height:12px}.bar{position:absolute;top:1px;height:10px;min-width:2px;border-radius:2px}\
.probe{background:#b0bec5}.gate{outline:1px solid #37474f}.ok{background:#66bb6a}.changed{background:#ffb300}.failed{background:#e53935}.skipped{background:#bdbdbd}\
.scroll{overflow-y:auto;overflow-x:hidden;max-height:70vh;border:1px solid #ddd}.graph-box{overflow:auto;max-height:70vh;border:1px solid #ddd}.change{padding:0 .5em}details summary{cursor:pointer}";

/// The page for `run` (sealed by the caller).
pub fn render(run: &Record) -> String {
    let r = &run.report;
    let mut page = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    page.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n");
    let _ = writeln!(
        page,
        "<title>rigger {} {}</title><style>{STYLE}</style></head><body>",
        escape(&r.command),
        escape(&run.id)
    );
    let _ = writeln!(page, "<h1>rigger {} <small>{}</small></h1>", escape(&r.command), escape(&run.id));
    page.push_str(&summary(run));
    page.push_str("<nav><a href=\"#failures\">failures</a> · <a href=\"#timeline\">timeline</a> · <a href=\"#changes\">changes</a> · <a href=\"#graph\">graph</a></nav>\n");
    page.push_str(&failures(&r.hosts));
    page.push_str(&timeline(&r.hosts, &r.gates));
    page.push_str(&changes(&run.groups));
    let status: HashMap<(String, String), Status> = r
        .hosts
        .iter()
        .flat_map(|h| h.units.iter().map(move |u| ((h.host.clone(), u.role.clone()), u.status)))
        .collect();
    let _ = writeln!(
        page,
        "<h2 id=\"graph\">Dependency graph</h2>\n<div class=\"graph-box\">{}</div>",
        svg::render(&run.graph, &status)
    );
    page.push_str(SCRIPT);
    page.push_str("</body></html>\n");
    page
}

/// Filters the timeline rows by host name; nothing else runs.
const SCRIPT: &str = "<script>\n(function(){var f=document.getElementById('filter');if(!f)return;\
f.addEventListener('input',function(){var q=f.value.toLowerCase();\
document.querySelectorAll('.timeline .row').forEach(function(r){\
r.style.display=r.dataset.host.toLowerCase().indexOf(q)<0?'none':'';});});})();\n</script>\n";

fn summary(run: &Record) -> String {
    let r = &run.report;
    let s = run.summary();
    let outcome = if r.interrupted {
        "interrupted"
    } else if r.failed {
        "failed"
    } else if r.changes_pending {
        "changes pending"
    } else {
        "ok"
    };
    let mut out = format!(
        "<p class=\"summary\"><span>started {} UTC</span><span>{:.1}s</span><span>{} host(s)</span><span>{} changed</span><span class=\"{}\">{} failed</span><span><b>{outcome}</b></span></p>\n",
        utc(run.started_at),
        r.seconds,
        s.hosts,
        s.changed,
        if s.failed > 0 { "fail" } else { "" },
        s.failed
    );
    let _ = writeln!(out, "<p class=\"hosts\">inventory {} · site {}</p>", escape(&run.inventory), escape(&run.site));
    for w in &r.warnings {
        let _ = writeln!(out, "<p class=\"warning\">warning: {}</p>", escape(w));
    }
    out
}

/// Unreachable hosts, failed units and failed resources, with their errors.
fn failures(hosts: &[HostReport]) -> String {
    let mut items = String::new();
    for h in hosts {
        if let Some(e) = &h.error {
            let _ = writeln!(
                items,
                "<li class=\"failure\" data-host=\"{0}\"><b>{0}</b>: {1}</li>",
                escape(&h.host),
                escape(e)
            );
        }
        for u in h.units.iter().filter(|u| u.status == Status::Failed) {
            let mut why: Vec<String> = u.message.iter().cloned().collect();
            for r in u.resources.iter().filter(|r| r.status == Status::Failed) {
                why.push(format!("{}: {}", r.resource, r.message.as_deref().unwrap_or("failed")));
            }
            let _ = writeln!(
                items,
                "<li class=\"failure\" data-host=\"{0}\"><b>{1}@{0}</b>: <pre>{2}</pre></li>",
                escape(&h.host),
                escape(&u.role),
                escape(&why.join("\n"))
            );
        }
    }
    if items.is_empty() {
        return "<h2 id=\"failures\">Failures</h2>\n<p>none</p>\n".into();
    }
    format!("<h2 id=\"failures\" class=\"fail\">Failures</h2>\n<ul>\n{items}</ul>\n")
}

/// Each resource change and handler once, with every host it is identical on.
/// The changes on most hosts come first: at 200 hosts they are what matters.
fn changes(groups: &[Group]) -> String {
    let mut out = String::from("<h2 id=\"changes\">Changes</h2>\n<div class=\"scroll\">\n");
    let mut any = false;
    let mut sorted: Vec<&Group> = groups.iter().collect();
    sorted.sort_by_key(|g| std::cmp::Reverse(g.hosts.len()));
    for g in sorted {
        let (label, body) = match &g.change {
            Change::Resource { plan, .. } => {
                let actions: Vec<&str> = plan.steps.iter().map(|s| s.action.as_str()).collect();
                let mut body = String::new();
                if let Some(m) = &plan.message {
                    let _ = writeln!(body, "<div class=\"fail\">{}</div>", escape(m));
                }
                for d in plan.steps.iter().filter_map(|s| s.diff.as_deref()) {
                    let _ = writeln!(body, "<pre>{}</pre>", diff(d));
                }
                (
                    format!(
                        "{}: {} <span class=\"hosts\">{}</span>",
                        escape(&g.role),
                        escape(&plan.resource),
                        escape(&actions.join(", "))
                    ),
                    body,
                )
            }
            Change::Handler { handler, .. } => {
                (format!("{}: handler {}", escape(&g.role), escape(handler)), String::new())
            }
            Change::Unit { .. } => continue,
        };
        any = true;
        let resource = match &g.change {
            Change::Resource { plan, .. } => plan.resource.clone(),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "<div class=\"change\" data-resource=\"{}\" data-hosts=\"{}\"><p><b>{label}</b> — {} host(s): <span class=\"hosts\" title=\"{}\">{}</span></p>\n{body}</div>",
            escape(&resource),
            g.hosts.len(),
            g.hosts.len(),
            escape(&g.hosts.join(", ")),
            escape(&group::host_list(&g.hosts))
        );
    }
    if !any {
        out.push_str("<p>no changes</p>\n");
    }
    out.push_str("</div>\n");
    out
}

fn diff(d: &str) -> String {
    d.lines()
        .map(|l| {
            let class = if l.starts_with("+++") || l.starts_with("---") {
                ""
            } else if l.starts_with('+') {
                "add"
            } else if l.starts_with('-') {
                "del"
            } else if l.starts_with("@@") {
                "hunk"
            } else {
                ""
            };
            format!("<span class=\"{class}\">{}</span>\n", escape(l))
        })
        .collect()
}

/// One row per host; its probe and its units as bars on the run's time axis;
/// under them, one row of the serial bindings' gates (after each batch).
fn timeline(hosts: &[HostReport], gates: &[UnitReport]) -> String {
    let spans = hosts.iter().flat_map(|h| h.probe.iter().chain(h.units.iter().filter_map(|u| u.span.as_ref())));
    let spans = spans.chain(gates.iter().filter_map(|g| g.span.as_ref()));
    let (t0, t1) = spans.fold((f64::MAX, f64::MIN), |(a, b), s| (a.min(s.start), b.max(s.end)));
    let length = if t1 > t0 { t1 - t0 } else { 1.0 };
    let pos = |s: &Span| (100.0 * (s.start - t0.min(s.start)) / length, (100.0 * (s.end - s.start) / length).max(0.0));
    let mut out = String::from("<h2 id=\"timeline\">Timeline</h2>\n<p><input id=\"filter\" placeholder=\"filter hosts\"> <span class=\"hosts\">grey: connect and probe; then each unit, colored by its outcome</span></p>\n<div class=\"timeline scroll\">\n<div class=\"axis\">");
    let digits = if length < 10.0 { 2 } else { 0 };
    for i in 0..4 {
        let _ = write!(out, "<span style=\"left:{}%\">{:.digits$}s</span>", i * 25, length * f64::from(i) / 4.0);
    }
    let _ = write!(out, "<span style=\"right:0;transform:none\">{length:.digits$}s</span>");
    out.push_str("</div>\n");
    for h in hosts {
        let _ = write!(
            out,
            "<div class=\"row\" data-host=\"{0}\"><div class=\"name\" title=\"{0}\">{0}</div><div class=\"track\">",
            escape(&h.host)
        );
        if let Some(p) = &h.probe {
            let (left, width) = pos(p);
            let _ = write!(
                out,
                "<div class=\"bar probe\" style=\"left:{left:.3}%;width:{width:.3}%\" title=\"{} probe {:.2}s\"></div>",
                escape(&h.host),
                p.end - p.start
            );
        }
        for u in &h.units {
            let Some(s) = &u.span else { continue };
            let (left, width) = pos(s);
            let class =
                serde_json::to_value(u.status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
            let _ = write!(
                out,
                "<div class=\"bar unit {class}\" data-role=\"{0}\" style=\"left:{left:.3}%;width:{width:.3}%\" title=\"{0}@{1} {class} {2:.2}s\"></div>",
                escape(&u.role),
                escape(&h.host),
                s.end - s.start
            );
        }
        out.push_str("</div></div>\n");
    }
    if !gates.is_empty() {
        out.push_str("<div class=\"row gates\" data-host=\"\"><div class=\"name\" title=\"after each batch of a serial binding\">gates</div><div class=\"track\">");
        for g in gates {
            let Some(s) = &g.span else { continue };
            let (left, width) = pos(s);
            let class =
                serde_json::to_value(g.status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
            let _ = write!(
                out,
                "<div class=\"bar gate {class}\" style=\"left:{left:.3}%;width:{width:.3}%\" title=\"{} {class} {:.2}s: {}\"></div>",
                escape(&g.role),
                s.end - s.start,
                escape(g.message.as_deref().unwrap_or(""))
            );
        }
        out.push_str("</div></div>\n");
    }
    out.push_str("</div>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::run::UnitReport;

    /// A serial binding's gates get a row of their own under the hosts, on the same time axis.
    #[test]
    fn the_timeline_shows_the_gates_between_batches() {
        let unit = |role: &str, status, start: f64, end: f64| UnitReport {
            role: role.into(),
            status,
            message: Some("batch done".into()),
            resources: vec![],
            handlers: vec![],
            seconds: end - start,
            span: Some(Span { start, end }),
        };
        let mut h1 = HostReport::new("lb1");
        h1.units.push(unit("haproxy", Status::Changed, 10.0, 12.0));
        let gates = [unit("gate(binding 1 batch 1)", Status::Ok, 12.0, 14.0)];
        let html = timeline(&[h1], &gates);
        assert!(html.contains("<div class=\"row gates\""), "{html}");
        assert!(html.contains("class=\"bar gate ok\" style=\"left:50.000%;width:50.000%\""), "{html}");
        assert!(html.contains("gate(binding 1 batch 1) ok 2.00s: batch done"), "{html}");
        assert!(!timeline(&[], &[]).contains("row gates"), "no serial binding, no gate row");
    }
}
