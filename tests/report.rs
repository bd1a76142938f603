//! Issue 21 on the local host: identical changes grouped across hosts (and
//! `--no-group`), the run history (`rigger runs`, `show`, `diff`), JUnit,
//! and the HTML report rendered in headless Chromium: every host has a
//! timeline row, every changed resource appears, the failure is listed, and
//! the page logs nothing to the console.

mod common;

use common::browser;
use common::*;
use std::path::Path;

/// Three local hosts: h1 and h2 get the same motd, h3 another one, and a
/// command fails on h3 only.
fn project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let hosts: String = [("h1", "hello"), ("h2", "hello"), ("h3", "howdy")]
        .iter()
        .map(|(h, g)| format!("    {h}: {{ ansible_connection: local, greeting: {g} }}\n"))
        .collect();
    write(d.path(), "inventory/hosts.yaml", &format!("all:\n  hosts:\n{hosts}  vars:\n    out: {}\n", out.display()));
    write(d.path(), "site.yaml", "- hosts: all\n  roles: [motd, check]\n");
    write(
        d.path(),
        "roles/base/role.yaml",
        "resources:\n  - directory: { path: '{{ out }}/{{ inventory_hostname }}' }\n",
    );
    write(
        d.path(),
        "roles/motd/role.yaml",
        "requires: [base]\nresources:\n  - file: { path: '{{ out }}/motd', content: \"{{ greeting }} world\\n\" }\n",
    );
    write(
        d.path(),
        "roles/check/role.yaml",
        "requires: [motd]\nresources:\n  - command: { cmd: 'echo broken >&2; exit 3' }\n    when: \"inventory_hostname == 'h3'\"\n",
    );
    d
}

#[test]
fn identical_changes_print_once_with_their_hosts_and_no_group_prints_each() {
    let d = project();
    let run = rigger_local(d.path(), &["plan", "--no-record"]);
    assert_eq!(run.code, 2, "{}", run.all());
    let motd = format!("file {}/out/motd: create", d.path().display());
    assert!(run.stdout.contains(&format!("    h1, h2: + {motd}\n")), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("    h3: + {motd}\n")), "{}", run.stdout);
    assert_eq!(run.stdout.matches("+hello world").count(), 1, "{}", run.stdout);
    assert!(run.stdout.contains("● motd@h1, h2, h3: will change"), "{}", run.stdout);

    let apart = rigger_local(d.path(), &["plan", "--no-record", "--no-group"]);
    assert_eq!(apart.stdout.matches("+hello world").count(), 2, "{}", apart.stdout);
    assert!(apart.stdout.contains("● motd@h2: will change"), "{}", apart.stdout);

    let doc = json(&rigger_local(d.path(), &["plan", "--no-record", "--json"]));
    assert_eq!(doc["hosts"].as_array().unwrap().len(), 3, "per-host detail stays");
    let groups = doc["groups"].as_array().unwrap();
    let motd_groups: Vec<&serde_json::Value> = groups
        .iter()
        .filter(|g| g["kind"] == "resource" && g["plan"]["resource"].as_str().unwrap().ends_with("/motd"))
        .collect();
    assert_eq!(motd_groups.len(), 2, "{groups:?}");
    assert_eq!(motd_groups[0]["hosts"], serde_json::json!(["h1", "h2"]));
    assert!(!d.path().join("inventory/.rigger/runs").exists(), "--no-record records nothing");
}

#[test]
fn runs_are_recorded_listed_shown_and_diffed() {
    let d = project();
    let junit = d.path().join("plan.xml");
    let plan = rigger_local(d.path(), &["plan", "--junit", junit.to_str().unwrap()]);
    assert_eq!(plan.code, 2, "{}", plan.all());
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite name=\"h1\" tests=\"3\" failures=\"2\""), "{xml}");
    assert!(xml.contains("<failure message=\"changes pending\">"), "{xml}");

    let apply = rigger_local(d.path(), &["apply", "--yes", "--junit", junit.to_str().unwrap()]);
    assert_eq!(apply.code, 1, "the command fails on h3:\n{}", apply.all());
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite name=\"h1\" tests=\"3\" failures=\"0\""), "{xml}");
    assert!(xml.contains("<testsuite name=\"h3\" tests=\"3\" failures=\"1\""), "{xml}");

    let list = json(&rigger_local(d.path(), &["runs", "--json"]));
    let runs = list["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{list}");
    assert_eq!((runs[0]["command"].as_str(), runs[1]["command"].as_str()), (Some("plan"), Some("apply")));
    assert_eq!((runs[1]["hosts"].as_u64(), runs[1]["failed"].as_u64()), (Some(3), Some(1)));
    let text = rigger_local(d.path(), &["runs"]);
    assert!(
        text.stdout.contains("COMMAND") && text.stdout.contains(runs[1]["id"].as_str().unwrap()),
        "{}",
        text.stdout
    );

    let shown = json(&rigger_local(d.path(), &["runs", "show", "last", "--json"]));
    assert_eq!(shown["id"], runs[1]["id"]);
    let units = &shown["run"]["hosts"][0]["units"];
    assert!(
        units.as_array().unwrap().iter().all(|u| u["span"]["end"].as_f64() >= u["span"]["start"].as_f64()),
        "{units}"
    );

    // Drift on h1 after the apply: the next plan's run differs from it there only.
    std::fs::write(d.path().join("out/motd"), "drifted\n").unwrap();
    rigger_local(d.path(), &["plan"]);
    let diff = rigger_local(d.path(), &["runs", "diff", "last~1", "last"]);
    assert_eq!(diff.code, 0, "{}", diff.all());
    let motd = format!("motd: file {}/out/motd", d.path().display());
    // The three local hosts share out/motd: which of them created it, which updated
    // it and which found it made already (h1 is read again after its base unit) is
    // up to the race between them, not the test.
    let h1 = ["changed (create)", "changed (update)", "ok"].map(|was| format!("  h1 {motd}: {was} → changed (update)"));
    assert!(h1.iter().any(|l| diff.stdout.contains(l.as_str())), "{}", diff.stdout);
    assert!(diff.stdout.contains("+hello world") && diff.stdout.contains("-drifted"), "{}", diff.stdout);
    let doc = json(&rigger_local(d.path(), &["runs", "diff", "last~1", "last", "--json"]));
    assert!(doc["differences"].as_array().unwrap().iter().any(|x| x["host"] == "h1" && x["what"] == motd), "{doc}");

    let missing = rigger_local(d.path(), &["runs", "show", "nope"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("no recorded run \"nope\""), "{}", missing.stderr);
}

#[test]
fn the_html_report_renders_in_chromium_with_every_host_and_change() {
    let d = project();
    let page = d.path().join("report.html");
    let apply = rigger_local(d.path(), &["apply", "--yes", "--report", page.to_str().unwrap()]);
    assert_eq!(apply.code, 1, "{}", apply.all());
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("http://") || html.matches("http://").all(|_| html.contains("http://www.w3.org/2000/svg")),
        "no network"
    );
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "nothing fetched");
    if !browser::available() {
        return;
    }
    check_rendered(&page, &["h1", "h2", "h3"], &["directory", "file"]);
    // The same run, recorded, draws the same report again.
    let again = d.path().join("again.html");
    assert_eq!(rigger_local(d.path(), &["runs", "show", "last", "--report", again.to_str().unwrap()]).code, 0);
    check_rendered(&again, &["h1", "h2", "h3"], &["directory", "file"]);
    let shot = browser::screenshot(&page, &root().join("target/report-screenshot.png"));
    assert!(std::fs::metadata(shot).unwrap().len() > 10_000);
}

/// The console check itself can fail: a page with an error is caught.
#[test]
fn a_page_with_a_script_error_is_caught() {
    if !browser::available() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let page = d.path().join("bad.html");
    std::fs::write(&page, "<!DOCTYPE html><html><body><p>x</p><script>no_such_function();</script></body></html>")
        .unwrap();
    let r = browser::render(&page);
    assert!(!r.console.is_empty(), "an uncaught error went unseen");
}

fn check_rendered(page: &Path, hosts: &[&str], kinds: &[&str]) {
    let r = browser::render(page);
    assert!(r.console.is_empty(), "console: {:#?}", r.console);
    for h in hosts {
        assert!(r.dom.contains(&format!("<div class=\"row\" data-host=\"{h}\">")), "no timeline row for {h}");
    }
    for k in kinds {
        assert!(r.dom.contains(&format!("class=\"change\" data-resource=\"{k} ")), "no {k} change");
    }
    assert!(r.dom.contains("class=\"failure\" data-host=\"h3\""), "the failure on h3 is listed");
    assert!(r.dom.contains("exit 3") || r.dom.contains("broken"), "with its error");
    assert!(r.dom.matches("class=\"bar unit ").count() >= 9, "every unit that ran has a bar");
    assert!(r.dom.contains("<svg") && r.dom.contains("class=\"node\""), "the dependency graph");
}
