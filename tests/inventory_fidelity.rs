//! Real public inventories, read by rigger and by ansible-core: `rigger
//! inventory --list` must say what `ansible-inventory --list` says, group by
//! group, host by host, var by var (type and value). The inventories, their
//! licences and ansible-core's output live in tests/fixtures/inventories/
//! (see its README; record.sh records the output anew from live ansible-core).

use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inventories")
}

/// A case: its folder and the `key: value` lines of its SOURCE file.
struct Case {
    dir: PathBuf,
    source: Map<String, Value>,
}

impl Case {
    fn name(&self) -> String {
        self.dir.file_name().unwrap().to_string_lossy().into_owned()
    }

    fn field(&self, key: &str) -> &str {
        self.source.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("{}/SOURCE has no `{key}:`", self.name()))
    }
}

fn cases() -> Vec<Case> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(fixtures()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let text = std::fs::read_to_string(dir.join("SOURCE")).unwrap();
            let source = text
                .lines()
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect();
            Case { dir, source }
        })
        .collect()
}

/// What `rigger inventory --list` prints for the case, run where record.sh runs ansible-inventory.
fn rigger_list(case: &Case, limit: Option<&str>) -> Result<Value, String> {
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .args(["inventory", "--list", "-i", case.field("inventory")])
        .args(limit.map(|l| ["--limit", l]).into_iter().flatten())
        .current_dir(&case.dir)
        .env("NO_COLOR", "1")
        .env("RIGGER_STATE_DIR", state.path())
        .env("RIGGER_HOST_STATE_DIR", state.path())
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(format!("rigger failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("rigger printed no JSON: {e}"))
}

/// What both sides are compared on. ansible-inventory leaves out a group
/// with neither hosts nor children, a host with no vars, and empty `hosts`
/// or `children` lists; it adds `_meta.profile` (the name of its JSON
/// encoder, nothing about the inventory). The same is dropped from both, so
/// that only a difference in groups, membership or vars can fail a case.
fn normalise(list: &Value) -> Value {
    let mut out = Map::new();
    for (name, entry) in list.as_object().unwrap() {
        if name == "_meta" {
            let hostvars: Map<String, Value> = entry["hostvars"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, vars)| vars.as_object().is_some_and(|v| !v.is_empty()))
                .map(|(h, v)| (h.clone(), v.clone()))
                .collect();
            out.insert("_meta".into(), serde_json::json!({ "hostvars": hostvars }));
            continue;
        }
        let kept: Map<String, Value> = entry
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, v)| v.as_array().is_none_or(|a| !a.is_empty()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !kept.is_empty() {
            out.insert(name.clone(), Value::Object(kept));
        }
    }
    Value::Object(out)
}

/// The differences, one line each: a group or a host var that differs.
fn differences(want: &Value, got: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let (want, got) = (want.as_object().unwrap(), got.as_object().unwrap());
    for name in want.keys().chain(got.keys().filter(|k| !want.contains_key(*k))) {
        if name != "_meta" && want.get(name) != got.get(name) {
            out.push(format!("group {name}: ansible {:?}, rigger {:?}", want.get(name), got.get(name)));
        }
    }
    let empty = Map::new();
    let hostvars = |side: &Map<String, Value>| side["_meta"]["hostvars"].as_object().cloned().unwrap_or_default();
    let (want_hv, got_hv) = (hostvars(want), hostvars(got));
    for host in want_hv.keys().chain(got_hv.keys().filter(|k| !want_hv.contains_key(*k))) {
        let w = want_hv.get(host).and_then(Value::as_object).unwrap_or(&empty);
        let g = got_hv.get(host).and_then(Value::as_object).unwrap_or(&empty);
        for key in w.keys().chain(g.keys().filter(|k| !w.contains_key(*k))) {
            if w.get(key) != g.get(key) {
                out.push(format!("host {host} var {key}: ansible {:?}, rigger {:?}", w.get(key), g.get(key)));
            }
        }
    }
    out
}

#[test]
fn real_inventories_load_as_ansible_core_reads_them() {
    let all = cases();
    let mut failed = Vec::new();
    for case in &all {
        let recorded = std::fs::read_to_string(case.dir.join("ansible-inventory.json")).unwrap();
        let want = normalise(&serde_json::from_str(&recorded).unwrap());
        let problems = match rigger_list(case, None) {
            Ok(got) => differences(&want, &normalise(&got)),
            Err(e) => vec![e],
        };
        if !problems.is_empty() {
            let shown: Vec<&str> = problems.iter().take(8).map(String::as_str).collect();
            let more = problems.len().saturating_sub(shown.len());
            failed.push(format!(
                "{} ({} differences, {more} not shown):\n  {}",
                case.name(),
                problems.len(),
                shown.join("\n  ")
            ));
        }
    }
    eprintln!("{} of {} inventories read as ansible-core reads them", all.len() - failed.len(), all.len());
    assert!(failed.is_empty(), "{} of {} cases differ:\n{}", failed.len(), all.len(), failed.join("\n"));
}

/// `--limit` chooses the same hosts as Ansible's patterns (`,` or `:`,
/// globs, `!` and `&` wherever written), for the cases whose SOURCE has a `limit:`.
#[test]
fn limited_inventories_list_what_ansible_core_lists() {
    let limited: Vec<Case> = cases().into_iter().filter(|c| c.source.contains_key("limit")).collect();
    assert!(limited.len() >= 2, "cases with a `limit:` line: {}", limited.len());
    for case in &limited {
        let recorded = std::fs::read_to_string(case.dir.join("ansible-inventory.limit.json")).unwrap();
        let want = normalise(&serde_json::from_str(&recorded).unwrap());
        let got = rigger_list(case, Some(case.field("limit"))).unwrap_or_else(|e| panic!("{}: {e}", case.name()));
        let problems = differences(&want, &normalise(&got));
        assert!(problems.is_empty(), "{} --limit {}:\n{}", case.name(), case.field("limit"), problems.join("\n"));
    }
}

#[test]
fn the_corpus_is_real_licensed_and_broad() {
    // `finding-*` cases are written for rigger: each pins a way rigger once read an inventory unlike Ansible.
    let all: Vec<Case> = cases().into_iter().filter(|c| !c.name().starts_with("finding-")).collect();
    assert!(all.len() >= 25, "at least 25 inventories, found {}", all.len());
    let mut projects: Vec<&str> = all.iter().map(|c| c.field("repository")).collect();
    projects.sort();
    projects.dedup();
    assert!(projects.len() >= 10, "from at least 10 projects, found {projects:?}");
    for case in &all {
        for file in ["LICENSE", "ansible-inventory.json"] {
            assert!(case.dir.join(file).is_file(), "{} has no {file}", case.name());
        }
        assert_eq!(case.field("commit").len(), 40, "{}: SOURCE names a full commit", case.name());
        assert!(case.dir.join(case.field("inventory")).exists(), "{}: no {}", case.name(), case.field("inventory"));
    }
    // YAML by content, as Ansible decides it: the recorded file starts like a YAML mapping.
    let yaml = |c: &&Case| {
        let path = c.dir.join(c.field("inventory"));
        std::fs::read_to_string(&path).is_ok_and(|t| {
            t.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).is_some_and(|l| l.ends_with(':'))
        })
    };
    let yaml_cases = all.iter().filter(yaml).count();
    assert!(yaml_cases >= 3 && all.len() - yaml_cases >= 3, "both INI and YAML inventories: {yaml_cases} YAML");
}
