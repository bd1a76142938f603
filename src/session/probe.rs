//! The batched probe: every fact a host's units need, asked in ONE generated
//! sh script over ONE SSH round trip, answered in delimited sections that are
//! parsed into typed state. Round trips per host are the cost model.
//!
//! What is asked is defined by the resource kinds themselves (a `Probe`: the
//! sh that prints the answer and the parser of that answer, beside the
//! kind's planner); this module only batches, delimits and files answers.

use serde_json::{json, Value};
use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

/// A question resource kinds ask a host.
pub struct Probe {
    /// What is asked, for messages (`path`, `package`): unique among probes.
    pub name: &'static str,
    pub ask: Ask,
    /// The answer's lines (for `Ask::All`, the whole batch's) → typed state for `arg`.
    pub parse: fn(arg: &str, lines: &[&str]) -> Result<Answer, ProbeError>,
}

/// How a probe is put to the host.
pub enum Ask {
    /// One sh snippet per argument (quoting it itself).
    Each(fn(arg: &str) -> String),
    /// One sh snippet for every argument at once: one program for all packages.
    All(fn(args: &[&str]) -> String),
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// A parsed answer: the asking kind's own state type.
pub type Answer = Arc<dyn Any + Send + Sync>;

/// Wraps a parsed answer.
pub fn answer<T: Any + Send + Sync>(v: T) -> Answer {
    Arc::new(v)
}

/// One thing to learn about a host: a probe and its argument.
#[derive(Debug, Clone)]
pub struct Query {
    pub probe: &'static Probe,
    pub arg: String,
}

impl Query {
    pub fn new(probe: &'static Probe, arg: impl Into<String>) -> Self {
        Query { probe, arg: arg.into() }
    }

    fn key(&self) -> (&'static str, &str) {
        (self.probe.name, &self.arg)
    }
}

impl PartialEq for Query {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Query {}
impl PartialOrd for Query {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Query {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}
impl std::hash::Hash for Query {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.key().hash(h)
    }
}

/// Why a probe's answer could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProbeError {
    #[error("the probe's answer was cut short")]
    CutShort,
    #[error("empty answer for a {what}")]
    Empty { what: &'static str },
    #[error("unexpected {what} answer {answer:?}")]
    Unexpected { what: &'static str, answer: String },
    #[error("bad file content: {0}")]
    Content(String),
    /// A planner asked for what the probe was never asked: a bug in rigger.
    #[error("internal error: {what} `{arg}` was not probed")]
    NotProbed { what: &'static str, arg: String },
}

/// What the probe learned: facts plus the parsed answer to every query.
#[derive(Debug, Clone, Default)]
pub struct HostState {
    pub facts: Value,
    /// sha256 of everything the probe observed except facts: a saved plan is
    /// stale when a fresh probe of the same queries gives another digest.
    pub digest: String,
    answers: HashMap<Query, Answer>,
}

impl HostState {
    /// Files an answer (the probe does; tests build states from fixtures).
    pub fn insert<T: Any + Send + Sync>(&mut self, q: Query, value: T) {
        self.answers.insert(q, answer(value));
    }

    /// The answer to `q`, as the type its probe parses to.
    pub fn get<T: Any>(&self, q: &Query) -> Result<&T, ProbeError> {
        let not_probed = || ProbeError::NotProbed { what: q.probe.name, arg: q.arg.clone() };
        self.answers.get(q).and_then(|a| a.downcast_ref::<T>()).ok_or_else(not_probed)
    }

    /// Whether this state answers every one of `queries`.
    pub fn covers(&self, queries: &BTreeSet<Query>) -> bool {
        queries.iter().all(|q| self.answers.contains_key(q))
    }

    /// Overlays a later, narrower probe on this one.
    pub fn update(&mut self, newer: HostState) {
        if !newer.facts.is_null() {
            self.facts = newer.facts;
        }
        self.answers.extend(newer.answers);
    }
}

/// Facts in as few programs as possible: each exec costs the host ~1 ms of
/// CPU, which is most of a no-change run's cost on the host side. Builtins
/// (`read`, `while`, subshells) start no program.
const FACTS: &str = r#"read -r h 2>/dev/null </proc/sys/kernel/hostname || h=$(cat /etc/hostname)
echo "hostname=$h"
echo "fqdn=$(hostname -f 2>/dev/null || echo "$h")"
read -r a 2>/dev/null </proc/sys/kernel/arch || a=$(uname -m)
echo "arch=$a"
read -r k 2>/dev/null </proc/sys/kernel/osrelease || k=$(uname -r)
echo "kernel=$k"
( . /etc/os-release 2>/dev/null; echo "os_id=$ID"; echo "os_version=$VERSION_ID"; echo "os_codename=$VERSION_CODENAME"; echo "os_name=$PRETTY_NAME"; echo "os_like=$ID_LIKE" )
c=; while read -r k v; do if [ "$k" = Cpus_allowed_list: ]; then c=$v; break; fi; done 2>/dev/null </proc/self/status
if [ -n "$c" ]; then echo "cpus_allowed=$c"; else echo "cpus=$(nproc 2>/dev/null || echo 1)"; fi
while read -r k v _; do if [ "$k" = MemTotal: ]; then echo "memtotal_kb=$v"; break; fi; done </proc/meminfo
printf '%s\n' 'addr show' 'route show default' | ip -o -4 -batch - 2>/dev/null | while read -r a b c d e _; do
if [ "$a" != default ]; then echo "addr=$b $d"; elif [ "$b" = via ] && [ -z "$r" ]; then r=1; echo "route=$c $e"; fi; done
echo "user=$(id -un)""#;

/// The probe script: facts (when asked), one section per batched probe
/// (`Ask::All`), one per other query.
pub fn script(queries: &BTreeSet<Query>, with_facts: bool, marker: &str) -> String {
    script_guarded(queries, with_facts, marker, "", "")
}

/// The probe script with `head` run first and `tail` last, inside its
/// function (the run lock: taken before anything is read, released after).
pub fn script_guarded(queries: &BTreeSet<Query>, with_facts: bool, marker: &str, head: &str, tail: &str) -> String {
    format!("main() {{\nexport LC_ALL=C\n{head}{}{tail}}}\nmain\n", body(queries, with_facts, marker))
}

/// The questions alone, each answer in its section, ending with `end`: the
/// probe script's body, and what an apply script asks at its end so that
/// the host's next unit is planned without a round trip of its own.
pub fn body(queries: &BTreeSet<Query>, with_facts: bool, marker: &str) -> String {
    let mut s = String::new();
    if with_facts {
        s.push_str(&format!("echo '{marker} facts'\n{FACTS}\n"));
    }
    for (name, batch) in batches(queries) {
        if let Ask::All(ask) = &batch[0].probe.ask {
            let args: Vec<&str> = batch.iter().map(|q| q.arg.as_str()).collect();
            s.push_str(&format!("echo '{marker} all {name}'\n{}\n", ask(&args)));
        }
    }
    for (i, q) in queries.iter().enumerate() {
        if let Ask::Each(ask) = &q.probe.ask {
            s.push_str(&format!("echo '{marker} {i}'\n{}\n", ask(&q.arg)));
        }
    }
    s.push_str(&format!("echo '{marker} end'\n"));
    s
}

/// The queries of batched probes, by probe name.
fn batches(queries: &BTreeSet<Query>) -> BTreeMap<&'static str, Vec<&Query>> {
    let mut out: BTreeMap<&'static str, Vec<&Query>> = BTreeMap::new();
    for q in queries.iter().filter(|q| matches!(q.probe.ask, Ask::All(_))) {
        out.entry(q.probe.name).or_default().push(q);
    }
    out
}

/// Parses the probe's output. An incomplete answer (no `end` section) is an error.
pub fn parse(queries: &BTreeSet<Query>, output: &str, marker: &str) -> Result<HostState, ProbeError> {
    let mut sections: HashMap<String, Vec<&str>> = HashMap::new();
    let mut current: Option<String> = None;
    let prefix = format!("{marker} ");
    for line in output.lines() {
        if let Some(name) = line.strip_prefix(&prefix) {
            current = Some(name.to_string());
            sections.entry(name.to_string()).or_default();
        } else if let Some(lines) = current.as_ref().and_then(|c| sections.get_mut(c)) {
            lines.push(line);
        }
    }
    if !sections.contains_key("end") {
        return Err(ProbeError::CutShort);
    }
    let mut st = HostState { digest: digest(&sections), ..Default::default() };
    if let Some(lines) = sections.get("facts") {
        st.facts = parse_facts(lines);
    }
    for (i, q) in queries.iter().enumerate() {
        let section = match q.probe.ask {
            Ask::Each(_) => i.to_string(),
            Ask::All(_) => format!("all {}", q.probe.name),
        };
        let lines: &[&str] = sections.get(&section).map(Vec::as_slice).unwrap_or(&[]);
        st.answers.insert(q.clone(), (q.probe.parse)(&q.arg, lines)?);
    }
    Ok(st)
}

/// sha256 over every section but the facts, in a stable order.
fn digest(sections: &HashMap<String, Vec<&str>>) -> String {
    use sha2::Digest;
    let mut names: Vec<&String> = sections.keys().filter(|k| *k != "facts").collect();
    names.sort();
    let mut h = sha2::Sha256::new();
    for n in names {
        h.update(n.as_bytes());
        h.update(b"\n");
        h.update(sections[n].join("\n").as_bytes());
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The number of CPUs in a kernel CPU list such as `0-3,8,10-11` (what
/// `nproc` counts: the CPUs this process may run on).
fn cpu_count(list: &str) -> u64 {
    list.split(',')
        .filter_map(|r| match r.trim().split_once('-') {
            Some((a, b)) => Some(b.parse::<u64>().ok()?.checked_sub(a.parse::<u64>().ok()?)? + 1),
            None => r.trim().parse::<u64>().ok().map(|_| 1),
        })
        .sum()
}

fn parse_facts(lines: &[&str]) -> Value {
    let mut kv: HashMap<&str, &str> = HashMap::new();
    let mut interfaces = serde_json::Map::new();
    let mut all_ipv4 = Vec::new();
    let mut route = ("", "");
    for l in lines {
        let Some((k, v)) = l.split_once('=') else { continue };
        match k {
            "addr" => {
                if let Some((ifname, cidr)) = v.split_once(' ') {
                    let addr = cidr.split('/').next().unwrap_or(cidr);
                    let entry = interfaces.entry(ifname.to_string()).or_insert_with(|| json!({ "ipv4": [] }));
                    if let Some(a) = entry["ipv4"].as_array_mut() {
                        a.push(json!({ "address": addr, "cidr": cidr }));
                    }
                    if ifname != "lo" {
                        all_ipv4.push(addr.to_string());
                    }
                }
            }
            "route" => route = v.split_once(' ').unwrap_or((v, "")),
            _ => {
                kv.insert(k, v);
            }
        }
    }
    let default_if = route.1;
    let default_addr = interfaces
        .get(default_if)
        .and_then(|i| i["ipv4"][0]["address"].as_str())
        .map(str::to_string)
        .or_else(|| all_ipv4.first().cloned())
        .unwrap_or_default();
    let num = |k: &str| kv.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let os_id = kv.get("os_id").copied().unwrap_or("");
    let like = kv.get("os_like").copied().unwrap_or("");
    let family = if os_id == "debian" || like.contains("debian") {
        "debian"
    } else if like.is_empty() {
        os_id
    } else {
        like
    };
    json!({
        "hostname": kv.get("hostname").copied().unwrap_or(""),
        "fqdn": kv.get("fqdn").copied().unwrap_or(""),
        "arch": kv.get("arch").copied().unwrap_or(""),
        "kernel": kv.get("kernel").copied().unwrap_or(""),
        "os": {
            "id": os_id, "family": family,
            "version": kv.get("os_version").copied().unwrap_or(""),
            "codename": kv.get("os_codename").copied().unwrap_or(""),
            "name": kv.get("os_name").copied().unwrap_or(""),
        },
        "cpus": kv.get("cpus_allowed").map(|l| cpu_count(l)).unwrap_or_else(|| num("cpus")),
        "memory_mb": num("memtotal_kb") / 1024,
        "default_ipv4": { "address": default_addr, "interface": default_if, "gateway": route.0 },
        "all_ipv4_addresses": all_ipv4,
        "interfaces": interfaces,
        "user": kv.get("user").copied().unwrap_or(""),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "@@rigger-test@@";

    fn lines(_: &str, lines: &[&str]) -> Result<Answer, ProbeError> {
        Ok(answer(lines.iter().map(|l| l.to_string()).collect::<Vec<String>>()))
    }
    static ECHO: Probe =
        Probe { name: "echo", ask: Ask::Each(|a| format!("echo {}", crate::shell::quote(a))), parse: lines };
    static BATCH: Probe =
        Probe { name: "batch", ask: Ask::All(|a| format!("printf '%s\\n' {}", a.join(" "))), parse: lines };

    fn run(script: &str) -> String {
        let out = std::process::Command::new("sh").arg("-c").arg(script).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn each_query_gets_its_section_and_a_batch_shares_one() {
        let q: BTreeSet<Query> =
            [Query::new(&ECHO, "a b"), Query::new(&ECHO, "$(x)"), Query::new(&BATCH, "p1"), Query::new(&BATCH, "p2")]
                .into();
        let s = script(&q, false, M);
        assert_eq!(s.matches("printf").count(), 1, "one program for the whole batch:\n{s}");
        let st = parse(&q, &run(&s), M).unwrap();
        assert_eq!(st.get::<Vec<String>>(&Query::new(&ECHO, "a b")).unwrap(), &["a b"]);
        assert_eq!(st.get::<Vec<String>>(&Query::new(&ECHO, "$(x)")).unwrap(), &["$(x)"]);
        assert_eq!(st.get::<Vec<String>>(&Query::new(&BATCH, "p2")).unwrap(), &["p1", "p2"]);
        let e = st.get::<Vec<String>>(&Query::new(&ECHO, "never")).unwrap_err();
        assert_eq!(e.to_string(), "internal error: echo `never` was not probed");
        assert!(st.get::<u32>(&Query::new(&ECHO, "a b")).is_err(), "a wrong type is not an answer");
    }

    #[test]
    fn digest_changes_with_what_was_seen_not_with_facts() {
        let q: BTreeSet<Query> = [Query::new(&ECHO, "x")].into();
        let a = parse(&q, &format!("{M} facts\nhostname=a\n{M} 0\none\n{M} end\n"), M).unwrap();
        let b = parse(&q, &format!("{M} facts\nhostname=b\n{M} 0\none\n{M} end\n"), M).unwrap();
        let c = parse(&q, &format!("{M} 0\ntwo\n{M} end\n"), M).unwrap();
        assert_eq!(a.digest, b.digest);
        assert_ne!(a.digest, c.digest);
    }

    #[test]
    fn cpu_lists_count_like_nproc() {
        assert_eq!(cpu_count("0"), 1);
        assert_eq!(cpu_count("0-1"), 2);
        assert_eq!(cpu_count("0-3,8,10-11"), 7);
        assert_eq!(cpu_count("garbage"), 0);
    }

    #[test]
    fn truncated_answer_is_an_error() {
        let q = BTreeSet::new();
        assert_eq!(parse(&q, &format!("{M} facts\nhostname=x\n"), M).unwrap_err(), ProbeError::CutShort);
    }

    #[test]
    fn facts_parse_from_captured_output() {
        let out = format!(
            "{M} facts\nhostname=h1\nfqdn=h1.lab\narch=x86_64\nkernel=6.1\nos_id=debian\nos_version=12\nos_codename=bookworm\nos_name=Debian GNU/Linux 12\nos_like=\ncpus=2\nmemtotal_kb=2048000\naddr=lo 127.0.0.1/8\naddr=eth0 10.77.0.11/24\nroute=10.77.0.1 eth0\nuser=root\n{M} end\n"
        );
        let st = parse(&BTreeSet::new(), &out, M).unwrap();
        assert_eq!(st.facts["default_ipv4"]["address"], "10.77.0.11");
        assert_eq!(st.facts["os"]["family"], "debian");
        assert_eq!(st.facts["memory_mb"], 2000);
        assert_eq!(st.facts["interfaces"]["eth0"]["ipv4"][0]["cidr"], "10.77.0.11/24");
    }

    /// The facts script reads /proc with builtins where it can; it must agree with the programs.
    #[test]
    fn facts_script_runs_locally_and_agrees_with_the_programs() {
        let st = parse(&BTreeSet::new(), &run(&script(&BTreeSet::new(), true, M)), M).unwrap();
        let run = |argv: &[&str]| {
            String::from_utf8(std::process::Command::new(argv[0]).args(&argv[1..]).output().unwrap().stdout)
                .unwrap()
                .trim()
                .to_string()
        };
        assert_eq!(st.facts["cpus"].as_u64().unwrap().to_string(), run(&["nproc"]));
        assert_eq!(st.facts["kernel"], run(&["uname", "-r"]));
        assert_eq!(st.facts["hostname"], run(&["hostname"]));
        assert_eq!(st.facts["arch"], run(&["uname", "-m"]));
        let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .unwrap()
            .trim()
            .trim_end_matches(" kB")
            .parse()
            .unwrap();
        assert_eq!(st.facts["memory_mb"], mem_kb / 1024);
        let addrs = run(&["sh", "-c", "ip -o -4 addr show | awk '{print $4}'"]);
        let got: Vec<&str> =
            st.facts["all_ipv4_addresses"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        for a in addrs.lines().map(|a| a.split('/').next().unwrap()).filter(|a| !a.starts_with("127.")) {
            assert!(got.contains(&a), "{a} missing from {got:?}");
        }
    }
}
