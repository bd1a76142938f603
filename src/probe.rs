//! The batched probe: every fact a host's units need, asked in ONE generated
//! sh script over ONE SSH round trip, answered in delimited sections that are
//! parsed here into typed state. Round trips per host are the cost model.

use crate::shell::quote;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

/// One thing to learn about a host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Query {
    /// Type, mode, owner, group and (small files) content.
    Path(String),
    /// Installed version of a Debian package.
    Package(String),
    /// The version apt would install.
    Candidate(String),
    /// systemd unit: load/active/enabled state.
    Service(String),
    /// Exit status of a (read-only) command, for `unless`.
    Succeeds(String),
    User(String),
    Group(String),
    Sysctl(String),
    /// A Docker container: its rigger spec label and whether it runs.
    Container(String),
}

/// Files larger than this are compared by checksum only.
pub const MAX_CONTENT: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PathState {
    /// `file`, `directory`, `link`, `other`, or `absent`.
    pub kind: String,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    pub size: u64,
    #[serde(skip)]
    pub content: Option<Vec<u8>>,
    pub sha256: Option<String>,
}

impl PathState {
    pub fn exists(&self) -> bool {
        self.kind != "absent"
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ServiceState {
    pub load: String,
    pub active: String,
    pub enabled: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ContainerInfo {
    /// The `rigger.spec` label (empty for a container rigger did not make).
    pub spec: String,
    pub running: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct UserState {
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
    pub groups: Vec<String>,
}

/// What the probe learned: facts plus the answer to every query.
#[derive(Debug, Clone, Default)]
pub struct HostState {
    pub facts: Value,
    /// sha256 of everything the probe observed except facts: a saved plan is
    /// stale when a fresh probe of the same queries gives another digest.
    pub digest: String,
    pub paths: HashMap<String, PathState>,
    /// Package → installed version (absent when not installed).
    pub packages: HashMap<String, Option<String>>,
    pub candidates: HashMap<String, Option<String>>,
    pub services: HashMap<String, ServiceState>,
    pub succeeds: HashMap<String, bool>,
    pub users: HashMap<String, Option<UserState>>,
    pub groups: HashMap<String, Option<u32>>,
    pub sysctl: HashMap<String, Option<String>>,
    pub containers: HashMap<String, Option<ContainerInfo>>,
}

fn missing(what: &str, key: &str) -> String {
    format!("internal error: {what} `{key}` was not probed")
}

impl HostState {
    pub fn path(&self, p: &str) -> Result<&PathState, String> {
        self.paths.get(p).ok_or_else(|| missing("path", p))
    }
    pub fn package(&self, n: &str) -> Result<Option<&str>, String> {
        self.packages.get(n).map(|v| v.as_deref()).ok_or_else(|| missing("package", n))
    }
    pub fn candidate(&self, n: &str) -> Result<Option<&str>, String> {
        self.candidates.get(n).map(|v| v.as_deref()).ok_or_else(|| missing("package candidate", n))
    }
    pub fn service(&self, n: &str) -> Result<&ServiceState, String> {
        self.services.get(n).ok_or_else(|| missing("service", n))
    }
    pub fn succeeds(&self, c: &str) -> Result<bool, String> {
        self.succeeds.get(c).copied().ok_or_else(|| missing("command", c))
    }
    pub fn user(&self, n: &str) -> Result<Option<&UserState>, String> {
        self.users.get(n).map(Option::as_ref).ok_or_else(|| missing("user", n))
    }
    pub fn group(&self, n: &str) -> Result<Option<u32>, String> {
        self.groups.get(n).copied().ok_or_else(|| missing("group", n))
    }
    pub fn container(&self, n: &str) -> Result<Option<&ContainerInfo>, String> {
        self.containers.get(n).map(Option::as_ref).ok_or_else(|| missing("container", n))
    }
    pub fn sysctl(&self, n: &str) -> Result<Option<&str>, String> {
        self.sysctl.get(n).map(|v| v.as_deref()).ok_or_else(|| missing("sysctl", n))
    }

    /// Overlays a later, narrower probe on this one.
    pub fn update(&mut self, newer: HostState) {
        if !newer.facts.is_null() {
            self.facts = newer.facts;
        }
        self.paths.extend(newer.paths);
        self.packages.extend(newer.packages);
        self.candidates.extend(newer.candidates);
        self.services.extend(newer.services);
        self.succeeds.extend(newer.succeeds);
        self.users.extend(newer.users);
        self.groups.extend(newer.groups);
        self.sysctl.extend(newer.sysctl);
        self.containers.extend(newer.containers);
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

/// The probe script: facts (when asked) and one section per query.
pub fn script(queries: &BTreeSet<Query>, with_facts: bool, marker: &str) -> String {
    let mut s = String::from("main() {\nexport LC_ALL=C\n");
    if with_facts {
        s.push_str(&format!("echo '{marker} facts'\n{FACTS}\n"));
    }
    let packages: Vec<&str> =
        queries.iter().filter_map(|q| if let Query::Package(n) = q { Some(n.as_str()) } else { None }).collect();
    if !packages.is_empty() {
        let names: Vec<String> = packages.iter().map(|n| quote(n)).collect();
        s.push_str(&format!(
            "echo '{marker} packages'\ndpkg-query -W -f='${{Package}}|${{db:Status-Abbrev}}|${{Version}}\\n' -- {} 2>/dev/null\n",
            names.join(" ")
        ));
    }
    for (i, q) in queries.iter().enumerate() {
        let body = match q {
            Query::Package(_) => continue,
            Query::Path(p) => {
                let p = quote(p);
                // A file up to MAX_CONTENT comes whole (`-`, then base64; its
                // sha256 is computed here); a bigger one as its sha256 only.
                format!(
                    "if [ -e {p} ] || [ -L {p} ]; then s=$(stat -c '%F|%a|%U|%G|%s' -- {p}) && echo \"$s\" && \
                     if [ -f {p} ] && [ ! -L {p} ]; then if [ \"${{s##*|}}\" -le {MAX_CONTENT} ]; then echo -; base64 < {p}; \
                     else sha256sum < {p}; fi; fi; else echo absent; fi"
                )
            }
            Query::Candidate(n) => format!("apt-cache policy -- {} 2>/dev/null | awk '/Candidate:/{{print $2}}'", quote(n)),
            Query::Service(n) => format!(
                "systemctl show -p LoadState -p ActiveState -p UnitFileState -- {} 2>/dev/null",
                quote(&unit_name(n))
            ),
            Query::Succeeds(c) => format!("sh -c {} </dev/null >/dev/null 2>&1; echo $?", quote(c)),
            Query::User(n) => {
                let n = quote(n);
                format!("getent passwd -- {n} || echo absent; id -Gn -- {n} 2>/dev/null")
            }
            Query::Group(n) => format!("getent group -- {} || echo absent", quote(n)),
            Query::Sysctl(n) => format!("cat -- {} 2>/dev/null || echo absent", quote(&sysctl_path(n))),
            Query::Container(n) => format!(
                "docker inspect -f '{{{{index .Config.Labels \"{}\"}}}}|{{{{.State.Running}}}}' -- {} 2>/dev/null || echo absent",
                crate::resource::docker::LABEL,
                quote(n)
            ),
        };
        s.push_str(&format!("echo '{marker} {i}'\n{body}\n"));
    }
    s.push_str(&format!("echo '{marker} end'\n}}\nmain\n"));
    s
}

/// `haproxy` → `haproxy.service`; names with a unit suffix are kept.
pub fn unit_name(n: &str) -> String {
    let suffixes = [".service", ".socket", ".timer", ".target", ".mount", ".path"];
    if suffixes.iter().any(|s| n.ends_with(s)) {
        n.to_string()
    } else {
        format!("{n}.service")
    }
}

pub fn sysctl_path(name: &str) -> String {
    format!("/proc/sys/{}", name.replace('.', "/"))
}

/// Parses the probe's output. An incomplete answer (no `end` section) is an error.
pub fn parse(queries: &BTreeSet<Query>, output: &str, marker: &str) -> Result<HostState, String> {
    let mut sections: HashMap<String, Vec<&str>> = HashMap::new();
    let mut current: Option<String> = None;
    let prefix = format!("{marker} ");
    for line in output.lines() {
        if let Some(name) = line.strip_prefix(&prefix) {
            current = Some(name.to_string());
            sections.entry(name.to_string()).or_default();
        } else if let Some(c) = &current {
            sections.get_mut(c).map(|v| v.push(line));
        }
    }
    if !sections.contains_key("end") {
        return Err("the probe's answer was cut short".into());
    }
    let mut st = HostState::default();
    {
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
        st.digest = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    }
    if let Some(lines) = sections.get("facts") {
        st.facts = parse_facts(lines);
    }
    if let Some(lines) = sections.get("packages") {
        for l in lines {
            let parts: Vec<&str> = l.split('|').collect();
            if parts.len() == 3 && parts[1].starts_with("ii") {
                st.packages.insert(parts[0].to_string(), Some(parts[2].to_string()));
            }
        }
    }
    for (i, q) in queries.iter().enumerate() {
        let lines: &[&str] = sections.get(&i.to_string()).map(Vec::as_slice).unwrap_or(&[]);
        match q {
            Query::Package(n) => {
                st.packages.entry(n.clone()).or_insert(None);
            }
            Query::Path(p) => {
                st.paths.insert(p.clone(), parse_path(lines)?);
            }
            Query::Candidate(n) => {
                let c = lines.first().map(|s| s.trim()).filter(|s| !s.is_empty() && *s != "(none)");
                st.candidates.insert(n.clone(), c.map(str::to_string));
            }
            Query::Service(n) => {
                let mut s = ServiceState::default();
                for l in lines {
                    match l.split_once('=') {
                        Some(("LoadState", v)) => s.load = v.to_string(),
                        Some(("ActiveState", v)) => s.active = v.to_string(),
                        Some(("UnitFileState", v)) => s.enabled = v.to_string(),
                        _ => {}
                    }
                }
                st.services.insert(n.clone(), s);
            }
            Query::Succeeds(c) => {
                let ok = lines.last().is_some_and(|l| l.trim() == "0");
                st.succeeds.insert(c.clone(), ok);
            }
            Query::User(n) => {
                let user = match lines.first() {
                    Some(l) if *l != "absent" => {
                        let f: Vec<&str> = l.split(':').collect();
                        Some(UserState {
                            uid: f.get(2).and_then(|s| s.parse().ok()).unwrap_or(0),
                            gid: f.get(3).and_then(|s| s.parse().ok()).unwrap_or(0),
                            home: f.get(5).unwrap_or(&"").to_string(),
                            shell: f.get(6).unwrap_or(&"").to_string(),
                            groups: lines
                                .get(1)
                                .map(|g| g.split_whitespace().map(str::to_string).collect())
                                .unwrap_or_default(),
                        })
                    }
                    _ => None,
                };
                st.users.insert(n.clone(), user);
            }
            Query::Group(n) => {
                let g = lines
                    .first()
                    .filter(|l| **l != "absent")
                    .and_then(|l| l.split(':').nth(2))
                    .and_then(|g| g.parse().ok());
                st.groups.insert(n.clone(), g);
            }
            Query::Sysctl(n) => {
                let v = lines.first().filter(|l| **l != "absent").map(|v| normalize_ws(v));
                st.sysctl.insert(n.clone(), v);
            }
            Query::Container(n) => {
                let info = lines.first().filter(|l| **l != "absent").and_then(|l| l.rsplit_once('|')).map(
                    |(spec, running)| ContainerInfo {
                        spec: if spec == "<no value>" { String::new() } else { spec.to_string() },
                        running: running == "true",
                    },
                );
                st.containers.insert(n.clone(), info);
            }
        }
    }
    Ok(st)
}

pub fn normalize_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn parse_path(lines: &[&str]) -> Result<PathState, String> {
    let Some(first) = lines.first() else { return Err("empty answer for a path".into()) };
    if *first == "absent" {
        return Ok(PathState { kind: "absent".into(), ..Default::default() });
    }
    let f: Vec<&str> = first.split('|').collect();
    if f.len() != 5 {
        return Err(format!("unexpected stat output {first:?}"));
    }
    let kind = match f[0] {
        "regular file" | "regular empty file" => "file",
        "directory" => "directory",
        "symbolic link" => "link",
        _ => "other",
    };
    let mut st = PathState {
        kind: kind.into(),
        mode: u32::from_str_radix(f[1], 8).unwrap_or(0),
        owner: f[2].into(),
        group: f[3].into(),
        size: f[4].parse().unwrap_or(0),
        content: None,
        sha256: None,
    };
    if kind != "file" {
        return Ok(st);
    }
    match lines.get(1).and_then(|l| l.split_whitespace().next()) {
        Some("-") => {
            use base64::Engine;
            let b64: String = lines[2..].concat();
            let content = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| format!("bad file content: {e}"))?;
            st.sha256 = Some(crate::resource::file::sha256_hex(&content));
            st.content = Some(content);
        }
        Some(sum) if sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit()) => st.sha256 = Some(sum.to_string()),
        _ => return Err(format!("unexpected checksum answer {:?}", lines.get(1))),
    }
    Ok(st)
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
                    interfaces.entry(ifname.to_string()).or_insert_with(|| json!({ "ipv4": [] }))["ipv4"]
                        .as_array_mut()
                        .map(|a| a.push(json!({ "address": addr, "cidr": cidr })));
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

    #[test]
    fn parses_captured_probe_output() {
        let mut q = BTreeSet::new();
        q.insert(Query::Path("/etc/haproxy/haproxy.cfg".into()));
        q.insert(Query::Path("/nope".into()));
        q.insert(Query::Package("haproxy".into()));
        q.insert(Query::Package("curl".into()));
        q.insert(Query::Service("haproxy".into()));
        q.insert(Query::Succeeds("test -x /bin/sh".into()));
        q.insert(Query::User("deploy".into()));
        // Sections are numbered in the BTreeSet's order.
        let order: Vec<&Query> = q.iter().collect();
        let idx = |want: &Query| order.iter().position(|x| *x == want).unwrap();
        let out = format!(
            "{M} facts\nhostname=h1\nfqdn=h1.lab\narch=x86_64\nkernel=6.1\nos_id=debian\nos_version=12\nos_codename=bookworm\nos_name=Debian GNU/Linux 12\nos_like=\ncpus=2\nmemtotal_kb=2048000\naddr=lo 127.0.0.1/8\naddr=eth0 10.77.0.11/24\nroute=10.77.0.1 eth0\nuser=root\n\
             {M} packages\nhaproxy|ii |2.6.12-1\n\
             {M} {}\nregular file|644|root|root|6\n-\naGVsbG8K\n\
             {M} {}\nabsent\n\
             {M} {}\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\n\
             {M} {}\n0\n\
             {M} {}\ndeploy:x:1000:1000::/home/deploy:/bin/bash\ndeploy sudo\n\
             {M} end\n",
            idx(&Query::Path("/etc/haproxy/haproxy.cfg".into())),
            idx(&Query::Path("/nope".into())),
            idx(&Query::Service("haproxy".into())),
            idx(&Query::Succeeds("test -x /bin/sh".into())),
            idx(&Query::User("deploy".into())),
        );
        let st = parse(&q, &out, M).unwrap();
        assert_eq!(st.facts["default_ipv4"]["address"], "10.77.0.11");
        assert_eq!(st.facts["os"]["family"], "debian");
        assert_eq!(st.facts["memory_mb"], 2000);
        assert_eq!(st.facts["interfaces"]["eth0"]["ipv4"][0]["cidr"], "10.77.0.11/24");
        let f = st.path("/etc/haproxy/haproxy.cfg").unwrap();
        assert_eq!((f.kind.as_str(), f.mode, f.content.as_deref()), ("file", 0o644, Some(&b"hello\n"[..])));
        assert_eq!(f.sha256.as_deref(), Some("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"));
        assert!(!st.path("/nope").unwrap().exists());
        assert_eq!(st.package("haproxy").unwrap(), Some("2.6.12-1"));
        assert_eq!(st.package("curl").unwrap(), None);
        assert_eq!(st.service("haproxy").unwrap().active, "active");
        assert!(st.succeeds("test -x /bin/sh").unwrap());
        assert_eq!(st.user("deploy").unwrap().unwrap().groups, ["deploy", "sudo"]);
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
        assert!(parse(&q, &format!("{M} facts\nhostname=x\n"), M).is_err());
    }

    #[test]
    fn script_runs_locally_and_parses() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a file 'with' $(quotes)");
        std::fs::write(&f, "content\n").unwrap();
        let mut q = BTreeSet::new();
        q.insert(Query::Path(f.to_str().unwrap().into()));
        q.insert(Query::Succeeds("exit 3".into()));
        let s = script(&q, true, M);
        let out = std::process::Command::new("sh")
            .arg("-s")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(s.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        let st = parse(&q, &String::from_utf8_lossy(&out.stdout), M).unwrap();
        assert_eq!(st.path(f.to_str().unwrap()).unwrap().content.as_deref(), Some(&b"content\n"[..]));
        assert_eq!(
            st.path(f.to_str().unwrap()).unwrap().sha256.as_deref(),
            Some(crate::resource::file::sha256_hex(b"content\n").as_str())
        );
        assert!(!st.succeeds("exit 3").unwrap());
        // The facts script reads /proc with builtins where it can; it must agree with the programs.
        let run = |argv: &[&str]| {
            String::from_utf8(std::process::Command::new(argv[0]).args(&argv[1..]).output().unwrap().stdout)
                .unwrap()
                .trim()
                .to_string()
        };
        assert_eq!(st.facts["cpus"].as_u64().unwrap().to_string(), run(&["nproc"]));
        assert_eq!(st.facts["kernel"], run(&["uname", "-r"]));
        assert_eq!(st.facts["hostname"], run(&["hostname"]));
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
        let got: Vec<String> = st.facts["all_ipv4_addresses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        for a in addrs.lines().map(|a| a.split('/').next().unwrap()).filter(|a| !a.starts_with("127.")) {
            assert!(got.iter().any(|g| g == a), "{a} missing from {got:?}");
        }
        let route = run(&["ip", "-4", "route", "show", "default"]);
        let w: Vec<&str> = route.lines().next().unwrap_or("").split_whitespace().collect();
        if w.len() >= 5 && w[1] == "via" {
            assert_eq!(st.facts["default_ipv4"]["gateway"], w[2]);
            assert_eq!(st.facts["default_ipv4"]["interface"], w[4]);
        }
        assert_eq!(st.facts["arch"], run(&["uname", "-m"]));
    }

    #[test]
    fn a_file_over_the_content_limit_comes_as_its_checksum_only() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big");
        let data = vec![b'x'; MAX_CONTENT as usize + 1];
        std::fs::write(&f, &data).unwrap();
        let mut q = BTreeSet::new();
        q.insert(Query::Path(f.to_str().unwrap().into()));
        let s = script(&q, false, M);
        let out = std::process::Command::new("sh").arg("-c").arg(&s).output().unwrap();
        let st = parse(&q, &String::from_utf8_lossy(&out.stdout), M).unwrap();
        let p = st.path(f.to_str().unwrap()).unwrap();
        assert_eq!((p.kind.as_str(), p.size, p.content.is_none()), ("file", MAX_CONTENT + 1, true));
        assert_eq!(p.sha256.as_deref(), Some(crate::resource::file::sha256_hex(&data).as_str()));
    }

    #[test]
    fn a_garbled_checksum_is_an_error_not_a_silent_mismatch() {
        let mut q = BTreeSet::new();
        q.insert(Query::Path("/x".into()));
        let out = format!("{M} 0\nregular file|644|root|root|99999999\nnot-a-sum\n{M} end\n");
        assert!(parse(&q, &out, M).unwrap_err().contains("checksum"));
    }
}

#[cfg(test)]
mod container_tests {
    use super::*;

    #[test]
    fn container_query_asks_docker_for_the_label_and_state() {
        let mut q = BTreeSet::new();
        q.insert(Query::Container("api".into()));
        let s = script(&q, false, "@@M@@");
        assert!(s.contains("docker inspect -f '{{index .Config.Labels \"rigger.spec\"}}|{{.State.Running}}' -- api 2>/dev/null || echo absent"), "{s}");
        let st = parse(&q, "@@M@@ 0\nabc123|true\n@@M@@ end\n", "@@M@@").unwrap();
        assert_eq!(st.container("api").unwrap(), Some(&ContainerInfo { spec: "abc123".into(), running: true }));
        let st = parse(&q, "@@M@@ 0\nabsent\n@@M@@ end\n", "@@M@@").unwrap();
        assert_eq!(st.container("api").unwrap(), None);
    }
}
