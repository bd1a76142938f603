//! Snapshot test of the ELK roles (roles/elastic_repo, elasticsearch, logstash,
//! kibana, filebeat) on the sample deployment in tests/fixtures/elk: `rigger
//! check --out` renders every file for every host, offline, and the tree must
//! equal tests/fixtures/elk/expected/ — the same files, byte for byte.
//!
//! After an intended change, rewrite the snapshot and review it with git diff:
//!     UPDATE_SNAPSHOTS=1 cargo test --test elk

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/elk")
}

/// `rigger check` on the fixture with `extra` args, rendering into `out`.
fn check(out: &Path, extra: &[&str]) {
    let f = fixture();
    let o = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .arg("check")
        .arg("-i")
        .arg(f.join("inventory"))
        .arg(f.join("site.yaml"))
        .arg("--out")
        .arg(out)
        .args(extra)
        .env("NO_COLOR", "1")
        .env_remove("RIGGER_INVENTORY")
        .output()
        .expect("run rigger");
    assert!(
        o.status.success(),
        "rigger check failed ({}):\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Every regular file under `root`, by path relative to it.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn copy_tree(files: &BTreeMap<String, Vec<u8>>, dest: &Path) {
    for (rel, bytes) in files {
        let p = dest.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

/// A unified diff of one file, expected → rendered.
fn diff(rel: &str, want: &[u8], got: &[u8]) -> String {
    let (w, g) = (String::from_utf8_lossy(want), String::from_utf8_lossy(got));
    let d = similar::TextDiff::from_lines(w.as_ref(), g.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(&format!("expected/{rel}"), &format!("rendered/{rel}"))
        .to_string();
    if d.trim().is_empty() {
        format!("{rel}: same text, different bytes (line endings or encoding?)\n")
    } else {
        d
    }
}

fn rendered() -> (tempfile::TempDir, BTreeMap<String, Vec<u8>>) {
    let tmp = tempfile::tempdir().unwrap();
    check(tmp.path(), &[]);
    let files = tree(tmp.path());
    (tmp, files)
}

#[test]
fn check_renders_the_expected_tree() {
    let (_tmp, got) = rendered();
    let expected_dir = fixture().join("expected");
    if std::env::var("UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
        let _ = std::fs::remove_dir_all(&expected_dir);
        copy_tree(&got, &expected_dir);
        eprintln!("UPDATE_SNAPSHOTS=1: wrote {} files to {}", got.len(), expected_dir.display());
        return;
    }
    let want = tree(&expected_dir);
    assert!(
        !want.is_empty(),
        "no snapshot in {}: run UPDATE_SNAPSHOTS=1 cargo test --test elk",
        expected_dir.display()
    );
    let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the rendered files differ from tests/fixtures/elk/expected/\n  expected but not rendered: {missing:?}\n  rendered but not expected: {extra:?}\n(UPDATE_SNAPSHOTS=1 cargo test --test elk rewrites the snapshot)"
    );
    let differing: Vec<&String> = want.keys().filter(|k| want[*k] != got[*k]).collect();
    if let Some(first) = differing.first() {
        panic!(
            "{} of {} files differ from tests/fixtures/elk/expected/: {differing:?}\nfirst difference:\n{}(UPDATE_SNAPSHOTS=1 cargo test --test elk rewrites the snapshot)",
            differing.len(),
            want.len(),
            diff(first, &want[*first], &got[*first])
        );
    }
}

/// Every rendered `.yml` is YAML, and the computed parts say what the inventory says.
#[test]
fn rendered_yaml_parses_and_follows_the_inventory() {
    let (_tmp, got) = rendered();
    let mut yml = 0;
    for (rel, bytes) in &got {
        if rel.ends_with(".yml") {
            serde_yaml::from_slice::<serde_yaml::Value>(bytes)
                .unwrap_or_else(|e| panic!("{rel} is not YAML: {e}\n{}", String::from_utf8_lossy(bytes)));
            yml += 1;
        }
    }
    assert_eq!(yml, 8, "3 elasticsearch.yml, logstash.yml, pipelines.yml, kibana.yml, 2 filebeat.yml; got {yml}");
    let y = |rel: &str| -> serde_yaml::Value { serde_yaml::from_slice(&got[rel]).unwrap() };
    let strs = |v: &serde_yaml::Value| -> Vec<String> {
        v.as_sequence().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
    };

    let es2 = y("es2/etc/elasticsearch/elasticsearch.yml");
    assert_eq!(es2["node.name"].as_str(), Some("es2"));
    assert_eq!(es2["network.host"].as_str(), Some("10.77.0.22"));
    assert_eq!(strs(&es2["discovery.seed_hosts"]), ["10.77.0.21:9300", "10.77.0.22:9300", "10.77.0.23:9300"]);
    assert_eq!(strs(&es2["cluster.initial_master_nodes"]), ["es1", "es2", "es3"]);
    assert_eq!(es2["xpack.security.enabled"].as_bool(), Some(false));

    let kb = y("kb1/etc/kibana/kibana.yml");
    assert_eq!(
        strs(&kb["elasticsearch.hosts"]),
        ["http://10.77.0.21:9200", "http://10.77.0.22:9200", "http://10.77.0.23:9200"]
    );

    let fb = y("dk2/etc/filebeat/filebeat.yml");
    assert_eq!(strs(&fb["output.logstash"]["hosts"]), ["10.77.0.31:5044"]);
    let inputs = fb["filebeat.inputs"].as_sequence().unwrap();
    assert_eq!(inputs[0]["type"].as_str(), Some("container"));
    assert_eq!(strs(&inputs[0]["paths"]), ["/var/lib/docker/containers/*/*.log"]);
    assert_eq!(inputs[1]["type"].as_str(), Some("filestream"));
    assert_eq!(strs(&inputs[1]["paths"]), ["/var/log/syslog", "/var/log/auth.log"]);

    let heap =
        |h: &str| String::from_utf8(got[&format!("{h}/etc/elasticsearch/jvm.options.d/heap.options")].clone()).unwrap();
    assert!(heap("es1").contains("-Xms1024m\n-Xmx1024m\n"), "{}", heap("es1"));
    assert!(heap("es3").contains("-Xms2048m\n-Xmx2048m\n"), "host_vars win over group_vars:\n{}", heap("es3"));

    let beats = String::from_utf8(got["ls1/etc/logstash/conf.d/beats.conf"].clone()).unwrap();
    assert!(beats.contains("port => 5044"), "{beats}");
    assert!(
        beats.contains(r#"hosts => ["http://10.77.0.21:9200", "http://10.77.0.22:9200", "http://10.77.0.23:9200"]"#),
        "{beats}"
    );
}

/// The lab runs with the packages off: the same configuration files must come out.
#[test]
fn packages_off_renders_the_same_configs() {
    let (_tmp, with) = rendered();
    let tmp = tempfile::tempdir().unwrap();
    check(tmp.path(), &["-e", "elastic_install_packages=false"]);
    let without = tree(tmp.path());
    assert_eq!(with.keys().collect::<Vec<_>>(), without.keys().collect::<Vec<_>>());
    for (rel, bytes) in &with {
        assert!(*bytes == without[rel], "{}", diff(rel, bytes, &without[rel]));
    }
}

/// Cross-host order through the graph: elasticsearch → logstash and kibana → filebeat.
#[test]
fn graph_orders_elasticsearch_then_logstash_and_kibana_then_filebeat() {
    let f = fixture();
    let o = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .arg("graph")
        .arg("-i")
        .arg(f.join("inventory"))
        .arg(f.join("site.yaml"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let mut wave_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut wave = 0;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("wave ").and_then(|l| l.trim_end_matches(':').parse().ok()) {
            wave = n;
        } else if let Some(unit) = line.split_whitespace().next() {
            wave_of.insert(unit.to_string(), wave);
        }
    }
    let w = |u: &str| *wave_of.get(u).unwrap_or_else(|| panic!("{u} not in the graph:\n{text}"));
    let es = ["elasticsearch@es1", "elasticsearch@es2", "elasticsearch@es3"].map(w);
    let last_es = *es.iter().max().unwrap();
    assert!(w("logstash@ls1") > last_es && w("kibana@kb1") > last_es, "{text}");
    assert!(w("filebeat@dk1") > w("logstash@ls1") && w("filebeat@dk2") > w("logstash@ls1"), "{text}");
    for h in ["es1", "ls1", "kb1", "dk1"] {
        assert_eq!(w(&format!("elastic_repo@{h}")), 1, "the repository comes first on every host:\n{text}");
    }
}

/// A project beside the fixture's roles: one host `h8` in group `elk` carrying every ELK role.
fn one_host_project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    std::os::unix::fs::symlink(root.join("roles"), d.path().join("roles")).unwrap();
    std::os::unix::fs::symlink(root.join("templates"), d.path().join("templates")).unwrap();
    std::fs::create_dir_all(d.path().join("inventory")).unwrap();
    std::fs::write(
        d.path().join("inventory/hosts.yaml"),
        "all:\n  children:\n    elk:\n      hosts:\n        h8: { ansible_host: 10.77.0.18 }\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("site.yaml"),
        "- hosts: elk\n  roles: [elasticsearch, logstash, kibana, filebeat]\n  vars:\n    elasticsearch_group: elk\n    logstash_group: elk\n",
    )
    .unwrap();
    d
}

fn check_in(dir: &Path, args: &[&str]) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_rigger"))
        .arg("check")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RIGGER_INVENTORY")
        .output()
        .unwrap();
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

/// One node: single-node discovery; no facts and no heap var: automatic heap; no pin.
#[test]
fn one_node_cluster_offline() {
    let d = one_host_project();
    let (ok, msg) = check_in(d.path(), &["--out", "out", "-e", "elastic_install_packages=false"]);
    assert!(ok, "{msg}");
    let files = tree(&d.path().join("out"));
    let es = String::from_utf8(files["h8/etc/elasticsearch/elasticsearch.yml"].clone()).unwrap();
    assert!(
        es.contains("discovery.type: single-node\n")
            && !es.contains("initial_master_nodes")
            && !es.contains("seed_hosts"),
        "{es}"
    );
    let heap = String::from_utf8(files["h8/etc/elasticsearch/jvm.options.d/heap.options"].clone()).unwrap();
    assert!(!heap.contains("-Xm") && heap.contains("sizes its heap itself"), "{heap}");
    assert!(!files.contains_key("h8/etc/apt/preferences.d/elastic.pref"), "no pin without elastic_version");
    let fb = String::from_utf8(files["h8/etc/filebeat/filebeat.yml"].clone()).unwrap();
    assert!(fb.contains("- \"10.77.0.18:5044\""), "{fb}");
}

#[test]
fn misplaced_groups_are_errors() {
    let d = one_host_project();
    let (ok, msg) = check_in(d.path(), &["-e", "elasticsearch_group=nope"]);
    assert!(!ok && msg.contains("no inventory group `nope` (elasticsearch_group)"), "{msg}");
    std::fs::write(d.path().join("inventory/hosts.yaml"), "all:\n  children:\n    elk:\n      hosts:\n        h8: { ansible_host: 10.77.0.18 }\n    other:\n      hosts:\n        h9:\n").unwrap();
    let (ok, msg) = check_in(d.path(), &["-e", "elasticsearch_group=other"]);
    assert!(!ok && msg.contains("host h8 is not in its cluster's group `other`"), "{msg}");
    let (ok, msg) = check_in(d.path(), &["-e", "logstash_group=nope"]);
    assert!(!ok && msg.contains("no inventory group `nope` (logstash_group)"), "{msg}");
}

/// Air-gapped: packages come from `elastic_deb_dir`, narrowed by `elastic_version`.
#[test]
fn deb_dir_is_resolved_on_the_control_machine() {
    let d = one_host_project();
    std::fs::create_dir_all(d.path().join("debs")).unwrap();
    for p in ["elasticsearch", "logstash", "kibana", "filebeat"] {
        std::fs::write(d.path().join(format!("debs/{p}-8.13.4-amd64.deb")), "not a real package").unwrap();
    }
    let (ok, msg) = check_in(d.path(), &["-e", "elastic_deb_dir=debs", "-e", "elastic_version=8.13.4"]);
    assert!(ok, "{msg}");
    let (ok, msg) = check_in(d.path(), &["-e", "elastic_deb_dir=debs", "-e", "elastic_version=8.14.0"]);
    assert!(!ok && msg.contains("no .deb file matches \"debs/elasticsearch-8.14.0*.deb\""), "{msg}");
    // Packages off: the .deb entries are skipped, nothing is looked up.
    let (ok, msg) = check_in(d.path(), &["-e", "elastic_deb_dir=missing", "-e", "elastic_install_packages=false"]);
    assert!(ok, "{msg}");
}
