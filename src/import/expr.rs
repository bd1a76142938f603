//! Ansible expressions made to read rigger's names: the facts Ansible
//! gathers (`ansible_os_family`, `ansible_facts.distribution`) become
//! rigger's `facts`, a command registered as a query is read at
//! `query.NAME`, and a `when:` that only tests for a non-Debian OS family
//! is decided at import (rigger manages Debian-family hosts through apt).

use regex::Regex;
use std::collections::BTreeSet;
use std::sync::LazyLock;

/// Ansible fact → rigger expression. `capitalize` keeps Ansible's spelling
/// (`Debian`, `Ubuntu`) for comparisons written against it.
const FACTS: &[(&str, &str)] = &[
    ("os_family", "(facts.os.family | capitalize)"),
    ("distribution_release", "facts.os.codename"),
    ("distribution_major_version", "facts.os.version"),
    ("distribution_version", "facts.os.version"),
    ("distribution", "(facts.os.id | capitalize)"),
    ("architecture", "facts.arch"),
    ("hostname", "facts.hostname"),
    ("nodename", "facts.hostname"),
    ("fqdn", "facts.fqdn"),
    ("default_ipv4", "facts.default_ipv4"),
    ("all_ipv4_addresses", "facts.all_ipv4_addresses"),
    ("interfaces", "facts.interfaces"),
    ("processor_vcpus", "facts.cpus"),
    ("processor_cores", "facts.cpus"),
    ("memtotal_mb", "facts.memory_mb"),
    ("kernel", "facts.kernel"),
    ("user_id", "facts.user"),
];

/// OS families no Debian host has: a `when:` that only asks for one of them is never true.
const OTHER_FAMILIES: &[&str] = &[
    "RedHat",
    "Rocky",
    "AlmaLinux",
    "Suse",
    "Archlinux",
    "FreeBSD",
    "OpenBSD",
    "Alpine",
    "Gentoo",
    "Darwin",
    "Solaris",
    "Windows",
];

static FACT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\bansible_facts\s*(?:\.\s*([a-z0-9_]+)|\[\s*['"]([a-z0-9_]+)['"]\s*\])|\bansible_([a-z0-9_]+)"#)
        .expect("fact regex")
});
static ANSIBLE_NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bansible_[a-z0-9_]+").expect("regex"));

/// Ansible's connection vars: rigger reads them from the inventory too, so they are defined.
const INVENTORY_VARS: &[&str] =
    &["ansible_host", "ansible_port", "ansible_user", "ansible_become", "ansible_connection"];
static FAMILY_TEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\(?\s*ansible_(?:facts\s*(?:\.\s*os_family|\[\s*['"]os_family['"]\s*\])|os_family)\s*==\s*['"]([A-Za-z]+)['"]\s*\)?$"#)
        .expect("family regex")
});

/// `text` with Ansible's fact names replaced by rigger's; the notes name each replacement.
pub fn rewrite_facts(text: &str, notes: &mut BTreeSet<String>) -> String {
    FACT.replace_all(text, |c: &regex::Captures| {
        // `hostvars[h]['ansible_x']` names a key, not an expression: left to the reader.
        if text[..c.get(0).map_or(0, |m| m.start())].ends_with(['\'', '"']) {
            return c[0].to_string();
        }
        let name = c.get(1).or(c.get(2)).or(c.get(3)).map(|m| m.as_str()).unwrap_or("");
        if name == "check_mode" && c.get(3).is_some() {
            notes.insert("`ansible_check_mode` read as `false`: `apply` is never a check run (`plan` is)".into());
            return "false".to_string();
        }
        match FACTS.iter().find(|(a, _)| *a == name) {
            Some((_, rigger)) => {
                notes.insert(format!("Ansible fact `{name}` read as `{rigger}`"));
                rigger.to_string()
            }
            None => c[0].to_string(),
        }
    })
    .into_owned()
}

/// `text` with each registered query's results read where rigger keeps them:
/// `NAME.stdout_lines` → `query.NAME.lines`, `NAME.x` → `query.NAME.x`.
pub fn rewrite_queries(text: &str, queries: &BTreeSet<String>) -> String {
    let mut out = text.to_string();
    for q in queries {
        let lines = Regex::new(&format!(r"(^|[^.\w]){}\.stdout_lines\b", regex::escape(q))).expect("query regex");
        out = lines.replace_all(&out, format!("${{1}}query.{q}.lines")).into_owned();
        let field = Regex::new(&format!(r"(^|[^.\w]){}\.", regex::escape(q))).expect("query regex");
        out = field.replace_all(&out, format!("${{1}}query.{q}.")).into_owned();
    }
    out
}

/// `NAME is changed` and friends, for a registered result kept at `at` (`NAME` or `query.NAME`).
pub fn rewrite_tests(text: &str, name: &str, at: &str) -> String {
    let re = Regex::new(&format!(
        r"(^|[^.\w]){}\s+is\s+(not\s+)?(changed|succeeded|success|failed|failure)\b",
        regex::escape(name)
    ))
    .expect("test regex");
    re.replace_all(text, |c: &regex::Captures| {
        let not = c.get(2).is_some();
        let test = match (&c[3], not) {
            ("changed", false) => format!("{at}.changed"),
            ("changed", true) => format!("not {at}.changed"),
            ("succeeded" | "success", false) | ("failed" | "failure", true) => format!("{at}.rc == 0"),
            _ => format!("{at}.rc != 0"),
        };
        format!("{}{test}", &c[1])
    })
    .into_owned()
}

/// The Ansible-only names left in `text` after rewriting (a fact rigger does
/// not gather, `ansible_version`, `ansible_check_mode`…): each needs a hand.
pub fn unknown_ansible_names(text: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for m in ANSIBLE_NAME.find_iter(text) {
        if !seen.iter().any(|s| s == m.as_str()) && !INVENTORY_VARS.contains(&m.as_str()) {
            seen.push(m.as_str().to_string());
        }
    }
    seen
}

/// What a `when:` made only of OS-family tests means on a Debian host.
#[derive(Debug, PartialEq)]
pub enum OsOnly {
    /// Not only OS-family tests: keep it (rewritten).
    No,
    /// True on every Debian host: the `when:` can go.
    Always,
    /// False on every Debian host: the task can go. The families it asked for.
    Never(Vec<String>),
}

/// Decides `when:` terms joined by `or` that each compare the OS family to a name.
pub fn os_only(when: &str) -> OsOnly {
    let mut families = Vec::new();
    for term in when.split(" or ") {
        match FAMILY_TEST.captures(term.trim()) {
            Some(c) => families.push(c[1].to_string()),
            None => return OsOnly::No,
        }
    }
    if families.iter().any(|f| f == "Debian") {
        OsOnly::Always
    } else if families.iter().all(|f| OTHER_FAMILIES.contains(&f.as_str())) {
        OsOnly::Never(families)
    } else {
        OsOnly::No
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_become_rigger_facts_in_every_spelling() {
        let mut notes = BTreeSet::new();
        let got = rewrite_facts(
            "ansible_os_family == 'Debian' and ansible_facts.distribution_release != '' and ansible_facts['architecture']",
            &mut notes,
        );
        assert_eq!(got, "(facts.os.family | capitalize) == 'Debian' and facts.os.codename != '' and facts.arch");
        assert_eq!(notes.len(), 3);
        assert_eq!(rewrite_facts("ansible_version.full", &mut notes), "ansible_version.full");
        assert_eq!(rewrite_facts("hostvars[h].ansible_fqdn", &mut notes), "hostvars[h].facts.fqdn");
        assert_eq!(rewrite_facts("hostvars[h]['ansible_fqdn']", &mut notes), "hostvars[h]['ansible_fqdn']");
        assert_eq!(
            unknown_ansible_names("ansible_version.full is version('2', '>') or ansible_check_mode"),
            ["ansible_version", "ansible_check_mode"]
        );
    }

    #[test]
    fn registered_queries_are_read_under_query() {
        let q: BTreeSet<String> = ["v".to_string()].into();
        assert_eq!(
            rewrite_queries("{{ v.stdout_lines[0] }} {{ v.rc }} {{ x.v.rc }} {{ vv.rc }}", &q),
            "{{ query.v.lines[0] }} {{ query.v.rc }} {{ x.v.rc }} {{ vv.rc }}"
        );
    }

    #[test]
    fn registered_tests_read_the_result() {
        assert_eq!(rewrite_tests("r is changed and x", "r", "r"), "r.changed and x");
        assert_eq!(rewrite_tests("v is not failed", "v", "query.v"), "query.v.rc == 0");
        assert_eq!(rewrite_tests("vr is changed", "r", "r"), "vr is changed");
    }

    #[test]
    fn os_family_tests_are_decided_for_debian_hosts() {
        assert_eq!(os_only("ansible_os_family == 'Debian'"), OsOnly::Always);
        assert_eq!(os_only("ansible_facts.os_family == \"RedHat\""), OsOnly::Never(vec!["RedHat".into()]));
        assert_eq!(
            os_only("ansible_os_family == 'RedHat' or ansible_os_family == 'Rocky'"),
            OsOnly::Never(vec!["RedHat".into(), "Rocky".into()])
        );
        assert_eq!(os_only("ansible_distribution == 'Ubuntu'"), OsOnly::No);
        assert_eq!(os_only("ansible_os_family == 'RedHat' and x"), OsOnly::No);
        assert_eq!(os_only("ansible_os_family == 'Plan9'"), OsOnly::No);
    }
}
