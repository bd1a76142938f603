//! Verify checks: each becomes one shell script run on its host over SSH
//! (only what a Debian host has: sh, python3, ss, systemctl, stat), and a
//! judge that compares what came back with what the scenario expects. A
//! failing check says what it expected and what it saw.

use serde::Deserialize;

fn default_status() -> u16 {
    200
}
fn default_within() -> u64 {
    10
}

/// `http`: a GET from the host; status and, optionally, a substring of the body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub host: String,
    pub url: String,
    #[serde(default = "default_status")]
    pub status: u16,
    pub contains: Option<String>,
    #[serde(default = "default_within")]
    pub within: u64,
}

/// `command`: its exit code and, optionally, a substring of its stdout.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cmd {
    pub host: String,
    pub cmd: String,
    #[serde(default)]
    pub rc: i32,
    pub stdout: Option<String>,
    #[serde(default = "default_within")]
    pub within: u64,
}

/// `port`: something listens on this TCP port on the host.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    pub host: String,
    pub port: u16,
    #[serde(default = "default_within")]
    pub within: u64,
}

/// `service`: a systemd unit active and/or enabled (or not).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub host: String,
    pub name: String,
    pub active: Option<bool>,
    pub enabled: Option<bool>,
    #[serde(default = "default_within")]
    pub within: u64,
}

/// `file`: exists, optionally with a substring and a mode.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCheck {
    pub host: String,
    pub path: String,
    pub contains: Option<String>,
    pub mode: Option<String>,
    #[serde(default = "default_within")]
    pub within: u64,
}

/// One entry of `verify:`: a map with exactly one of these keys. (serde_yaml
/// reads an externally tagged enum only from `!tag` syntax, hence the struct.)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    http: Option<Http>,
    command: Option<Cmd>,
    port: Option<Port>,
    service: Option<Service>,
    file: Option<FileCheck>,
}

impl TryFrom<Entry> for Check {
    type Error = String;
    fn try_from(e: Entry) -> Result<Check, String> {
        let all = [
            e.http.map(Check::Http),
            e.command.map(Check::Command),
            e.port.map(Check::Port),
            e.service.map(Check::Service),
            e.file.map(Check::File),
        ];
        let mut given = all.into_iter().flatten();
        match (given.next(), given.next()) {
            (Some(c), None) => Ok(c),
            (None, _) => Err("a check needs one of http, command, port, service, file".into()),
            (Some(_), Some(_)) => Err("one check per list entry: start another `- ` for the next".into()),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "Entry")]
pub enum Check {
    Http(Http),
    Command(Cmd),
    Port(Port),
    Service(Service),
    File(FileCheck),
}

/// What a failed check expected and what it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub expected: String,
    pub seen: String,
}

/// What came back from the host.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub rc: i32,
    pub stdout: String,
    pub stderr: String,
}

const HTTP_GET: &str = r#"import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=5)
    code, body = r.status, r.read(65536)
except urllib.error.HTTPError as e:
    code, body = e.code, e.read(65536)
except Exception as e:
    code, body = 0, str(e).encode()
sys.stdout.write("%d\n" % code)
sys.stdout.write(body.decode("utf-8", "replace"))"#;

impl Check {
    pub fn host(&self) -> &str {
        match self {
            Check::Http(c) => &c.host,
            Check::Command(c) => &c.host,
            Check::Port(c) => &c.host,
            Check::Service(c) => &c.host,
            Check::File(c) => &c.host,
        }
    }

    /// How long the check may take to pass: it is retried until then, so it
    /// waits for a settled state instead of catching a lucky moment.
    pub fn within(&self) -> u64 {
        match self {
            Check::Http(c) => c.within,
            Check::Command(c) => c.within,
            Check::Port(c) => c.within,
            Check::Service(c) => c.within,
            Check::File(c) => c.within,
        }
    }

    /// One line for people: `http lb1 http://127.0.0.1/`.
    pub fn label(&self) -> String {
        match self {
            Check::Http(c) => format!("http {} {}", c.host, c.url),
            Check::Command(c) => format!("command {} `{}`", c.host, c.cmd),
            Check::Port(c) => format!("port {} {}", c.host, c.port),
            Check::Service(c) => format!("service {} {}", c.host, c.name),
            Check::File(c) => format!("file {} {}", c.host, c.path),
        }
    }

    /// The same check with `{{ rigger_lab_net }}` replaced by the lab's subnet (`A.B.C`).
    pub fn expand(&self, net: &str) -> Check {
        let x = |s: &str| s.replace("{{ rigger_lab_net }}", net).replace("{{rigger_lab_net}}", net);
        let mut c = self.clone();
        match &mut c {
            Check::Http(h) => {
                h.url = x(&h.url);
                h.contains = h.contains.as_deref().map(x);
            }
            Check::Command(k) => {
                k.cmd = x(&k.cmd);
                k.stdout = k.stdout.as_deref().map(x);
            }
            Check::File(f) => f.contains = f.contains.as_deref().map(x),
            Check::Port(_) | Check::Service(_) => {}
        }
        c
    }

    /// The shell script run on the host.
    pub fn script(&self) -> String {
        let q = |s: &str| shlex::try_quote(s).map(|c| c.into_owned()).unwrap_or_else(|_| "''".into());
        match self {
            Check::Http(c) => format!("python3 -c {} {}", q(HTTP_GET), q(&c.url)),
            Check::Command(c) => c.cmd.clone(),
            Check::Port(_) => "ss -Hltn".to_string(),
            Check::Service(c) => {
                format!("systemctl is-active {n}; systemctl is-enabled {n}; true", n = q(&c.name))
            }
            Check::File(c) => format!("stat -c %a -- {p} && cat -- {p}", p = q(&c.path)),
        }
    }

    /// Did the host's answer pass?
    pub fn judge(&self, seen: &Seen) -> Result<(), Mismatch> {
        match self {
            Check::Http(c) => judge_http(c, seen),
            Check::Command(c) => judge_command(c, seen),
            Check::Port(c) => judge_port(c, seen),
            Check::Service(c) => judge_service(c, seen),
            Check::File(c) => judge_file(c, seen),
        }
    }
}

fn mismatch(expected: impl Into<String>, seen: impl Into<String>) -> Result<(), Mismatch> {
    Err(Mismatch { expected: expected.into(), seen: seen.into() })
}

/// At most `n` characters of `s`, on one line, for a report.
fn excerpt(s: &str, n: usize) -> String {
    let one: String = s.trim().chars().map(|c| if c == '\n' { '⏎' } else { c }).take(n).collect();
    if s.trim().chars().count() > n {
        format!("{one}…")
    } else {
        one
    }
}

fn judge_http(c: &Http, seen: &Seen) -> Result<(), Mismatch> {
    let (first, body) = seen.stdout.split_once('\n').unwrap_or((seen.stdout.as_str(), ""));
    let status: u16 = match first.trim().parse() {
        Ok(s) if seen.rc == 0 => s,
        _ => {
            return mismatch(format!("status {}", c.status), format!("no HTTP answer: {}", excerpt(&seen.stderr, 200)))
        }
    };
    if status == 0 {
        return mismatch(format!("status {}", c.status), format!("no answer: {}", excerpt(body, 200)));
    }
    if status != c.status {
        return mismatch(format!("status {}", c.status), format!("status {status}, body: {}", excerpt(body, 200)));
    }
    match &c.contains {
        Some(want) if !body.contains(want.as_str()) => {
            mismatch(format!("a body containing {want:?}"), format!("body: {}", excerpt(body, 300)))
        }
        _ => Ok(()),
    }
}

fn judge_command(c: &Cmd, seen: &Seen) -> Result<(), Mismatch> {
    let out = || format!("stdout: {}; stderr: {}", excerpt(&seen.stdout, 200), excerpt(&seen.stderr, 200));
    if seen.rc != c.rc {
        return mismatch(format!("exit code {}", c.rc), format!("exit code {}, {}", seen.rc, out()));
    }
    match &c.stdout {
        Some(want) if !seen.stdout.contains(want.as_str()) => mismatch(format!("stdout containing {want:?}"), out()),
        _ => Ok(()),
    }
}

fn judge_port(c: &Port, seen: &Seen) -> Result<(), Mismatch> {
    if seen.rc != 0 {
        return mismatch(
            format!("a listener on TCP port {}", c.port),
            format!("ss failed: {}", excerpt(&seen.stderr, 200)),
        );
    }
    // `ss -Hltn`: State Recv-Q Send-Q Local-Address:Port Peer-Address:Port
    let mut ports: Vec<u16> = seen
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .filter_map(|a| a.rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    if ports.contains(&c.port) {
        return Ok(());
    }
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    mismatch(format!("a listener on TCP port {}", c.port), format!("listening on: {}", list.join(", ")))
}

fn judge_service(c: &Service, seen: &Seen) -> Result<(), Mismatch> {
    let mut lines = seen.stdout.lines().map(str::trim);
    let (active, enabled) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    let want = |w: Option<bool>, yes: &str, no: &str| w.map(|b| if b { yes.to_string() } else { no.to_string() });
    let expected: Vec<String> = [want(c.active, "active", "not active"), want(c.enabled, "enabled", "not enabled")]
        .into_iter()
        .flatten()
        .collect();
    let ok_active = c.active.is_none_or(|b| (active == "active") == b);
    let ok_enabled = c.enabled.is_none_or(|b| (enabled == "enabled") == b);
    if ok_active && ok_enabled {
        return Ok(());
    }
    mismatch(expected.join(", "), format!("{}, {}", active_or(active, "unknown"), active_or(enabled, "unknown")))
}

fn active_or<'a>(s: &'a str, other: &'a str) -> &'a str {
    if s.is_empty() {
        other
    } else {
        s
    }
}

fn judge_file(c: &FileCheck, seen: &Seen) -> Result<(), Mismatch> {
    if seen.rc != 0 {
        return mismatch(format!("{} to exist", c.path), excerpt(&seen.stderr, 200));
    }
    let (mode, content) = seen.stdout.split_once('\n').unwrap_or((seen.stdout.as_str(), ""));
    if let Some(want) = &c.mode {
        let norm = |m: &str| u32::from_str_radix(m.trim(), 8).ok();
        if norm(want).is_none() || norm(want) != norm(mode) {
            return mismatch(format!("mode {want}"), format!("mode {:0>4}", mode.trim()));
        }
    }
    match &c.contains {
        Some(want) if !content.contains(want.as_str()) => {
            mismatch(format!("content containing {want:?}"), format!("content: {}", excerpt(content, 300)))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> Check {
        serde_yaml::from_str(yaml).unwrap()
    }
    fn seen(rc: i32, stdout: &str) -> Seen {
        Seen { rc, stdout: stdout.into(), stderr: String::new() }
    }

    #[test]
    fn http_judges_status_then_body() {
        let c = check("http: { host: lb1, url: 'http://127.0.0.1/', contains: served by }");
        assert_eq!(c.judge(&seen(0, "200\n<p>served by web1</p>")), Ok(()));
        let e = c.judge(&seen(0, "503\nno server")).unwrap_err();
        assert_eq!((e.expected.as_str(), e.seen.as_str()), ("status 200", "status 503, body: no server"));
        let e = c.judge(&seen(0, "200\nhello")).unwrap_err();
        assert_eq!(e.expected, "a body containing \"served by\"");
        assert_eq!(e.seen, "body: hello");
        let e = c.judge(&seen(0, "0\n[Errno 111] Connection refused")).unwrap_err();
        assert_eq!(e.seen, "no answer: [Errno 111] Connection refused");
        assert!(c.script().starts_with("python3 -c "), "{}", c.script());
        assert!(c.script().ends_with(" http://127.0.0.1/"), "{}", c.script());
    }

    #[test]
    fn command_judges_exit_code_and_stdout() {
        let c = check("command: { host: web1, cmd: nginx -t, rc: 0, stdout: ok }");
        assert_eq!(c.judge(&seen(0, "syntax ok")), Ok(()));
        let e = c.judge(&seen(1, "")).unwrap_err();
        assert_eq!(e.expected, "exit code 0");
        assert!(e.seen.starts_with("exit code 1"), "{}", e.seen);
        assert!(c.judge(&seen(0, "nope")).is_err());
    }

    #[test]
    fn port_reads_the_listeners_of_ss() {
        let c = check("port: { host: web1, port: 80 }");
        let ss = "LISTEN 0 511 0.0.0.0:80 0.0.0.0:*\nLISTEN 0 128 [::]:22 [::]:*\n";
        assert_eq!(c.judge(&seen(0, ss)), Ok(()));
        let e = check("port: { host: web1, port: 443 }").judge(&seen(0, ss)).unwrap_err();
        assert_eq!(e.seen, "listening on: 22, 80");
    }

    #[test]
    fn service_compares_what_was_asked_only() {
        let c = check("service: { host: web1, name: nginx, active: true, enabled: true }");
        assert_eq!(c.judge(&seen(0, "active\nenabled\n")), Ok(()));
        let e = c.judge(&seen(0, "inactive\nenabled\n")).unwrap_err();
        assert_eq!((e.expected.as_str(), e.seen.as_str()), ("active, enabled", "inactive, enabled"));
        let stopped = check("service: { host: lb1, name: keepalived, active: false }");
        assert_eq!(stopped.judge(&seen(0, "inactive\nenabled\n")), Ok(()));
    }

    #[test]
    fn file_compares_mode_as_octal_and_content() {
        let c = check("file: { host: web1, path: /etc/x, contains: worker_processes, mode: '0644' }");
        assert_eq!(c.judge(&seen(0, "644\nworker_processes 2;\n")), Ok(()));
        let e = c.judge(&seen(0, "600\nworker_processes 2;\n")).unwrap_err();
        assert_eq!((e.expected.as_str(), e.seen.as_str()), ("mode 0644", "mode 0600"));
        assert!(c.judge(&seen(0, "644\nother\n")).is_err());
        let gone = c.judge(&Seen { rc: 1, stdout: String::new(), stderr: "No such file".into() }).unwrap_err();
        assert_eq!(gone.expected, "/etc/x to exist");
    }

    #[test]
    fn the_lab_subnet_is_filled_in() {
        let c = check("http: { host: web1, url: 'http://{{ rigger_lab_net }}.100/' }").expand("10.78.4");
        assert_eq!(c.label(), "http web1 http://10.78.4.100/");
    }

    #[test]
    fn unknown_keys_and_kinds_are_refused() {
        assert!(serde_yaml::from_str::<Check>("http: { host: a, url: x, statuss: 200 }").is_err());
        assert!(serde_yaml::from_str::<Check>("ping: { host: a }").is_err());
    }
}
