#!/usr/bin/env python3
"""rigger's performance benchmarks: the same HAProxy workload with rigger,
Ansible and pyinfra on lab hosts, fan-out over light hosts, and `rigger
check` over a generated 1,000-host inventory.  Results and how to read them:
benches/README.md.

    benches/bench.py lab   [--hosts 5] [--rounds 3]     # rigger vs Ansible vs pyinfra vs the floor, cold and warm
    benches/bench.py lab   --hosts 20 --openssh 10      # the same with OpenSSH 10.0 on both ends
    benches/bench.py scale [--sizes 50,100,200]         # no-change run over light hosts, cold and warm
    benches/bench.py issue22 [--rigger PATH]             # issue 22's set: lab 5 and 20, scale 50/100/200, cold and warm
    benches/bench.py check [--hosts 1000]               # offline check of a big inventory
    benches/bench.py check-scale                         # check from 2,000 to 100,000 hosts, 6 roles, group chains
    benches/bench.py all                                 # all of the above, and a converge breakdown

Run as root on the lab machine.  `lab` uses hosts h11.. only (h1..h10 belong
to other users of the lab) and resets them with `tests/lab/lab.sh wipe`.
Ansible and pyinfra come from PyPI into a throwaway venv ($BENCH_VENV,
default /tmp/bench-venv), made here when missing.  Scratch files go to
$BENCH_WORK (default /tmp/rigger-bench); results to benches/results/
($BENCH_RESULTS for a trial run).
"""

import argparse
import concurrent.futures as cf
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benches"
RESULTS = Path(os.environ.get("BENCH_RESULTS", BENCH / "results"))  # elsewhere for a trial run
LAB_SH = REPO / "tests/lab/lab.sh"
LIGHT_SH = BENCH / "light.sh"
LAB = Path(os.environ.get("RIGGER_LAB_DIR", "/var/lib/rigger-lab"))
KEY = LAB / "id_ed25519"
KNOWN_HOSTS = LAB / "known_hosts"
VENV = Path(os.environ.get("BENCH_VENV", "/tmp/bench-venv"))
WORK = Path(os.environ.get("BENCH_WORK", "/tmp/rigger-bench"))
# Pinned so that a rerun measures the same tools; override to try others.
PIP_SPECS = os.environ.get("BENCH_PIP", "ansible-core==2.19.14 pyinfra==3.10.0").split()
FIRST_HOST = 11  # h1..h10 are other people's
MAXCONN_CHANGED = "5000"  # the one variable the dry-run changes (default 4096)
FLOOR_CMD = "sha256sum /etc/haproxy/haproxy.cfg; systemctl is-active haproxy; dpkg-query -W haproxy"
APT_CMD = (
    "export DEBIAN_FRONTEND=noninteractive; apt-get -q -y update >/dev/null && "
    "apt-get -q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install haproxy >/dev/null"
)
SSH_OPTS = ["-i", str(KEY), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={KNOWN_HOSTS}", "-o", "LogLevel=ERROR"]
# rigger-c25519: rigger with the key exchange paramiko (pyinfra) negotiates,
# curve25519-sha256, instead of OpenSSH's default sntrup761x25519-sha512,
# which costs ~7x the client CPU per connection (README: what dominated).
TOOLS = ("rigger", "rigger-c25519", "ansible", "pyinfra")
# Measured warm too: the run reuses the ssh master left up by the run just
# before it (rigger's --persist, default 60 s; Ansible's ControlPersist=60s).
# pyinfra (paramiko) has no such mode: its cold run is what it does every time.
# rigger-c25519 differs from rigger only in the key exchange, which a warm
# run does not do.
WARM_TOOLS = ("rigger", "ansible")
# The warm floor's masters stay up this long idle (longer than any run between
# two warm floor runs).
FLOOR_PERSIST = 900
# `lab --openssh 10`: OpenSSH 10.0 from bookworm-backports on both ends (the
# hosts' sshd and the ssh that the floor, rigger and Ansible run), whose
# default key exchange, mlkem768x25519-sha256, is post-quantum and cheap.
# pyinfra's paramiko is unchanged (curve25519).  Set by main().
BACKPORTS = os.environ.get("BENCH_DEBIAN_MIRROR", "http://deb.debian.org/debian")
OPENSSH10_PKGS = ("openssh-client", "openssh-server", "openssh-sftp-server")
CLIENT_BIN = None  # a directory to put first on PATH, or None for the machine's ssh
HOST_DEBS = []     # .deb files to install on every fresh host


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def die(msg):
    log(f"error: {msg}")
    sys.exit(1)


def sh(cmd, **kw):
    """Runs a setup command (not timed); fails loudly."""
    kw.setdefault("check", True)
    return subprocess.run(cmd, **kw)


def median(xs):
    return statistics.median(xs) if xs else None


# ------------------------------------------------------------------ setup --

def rigger_binary(args):
    """--rigger PATH (copied aside, labelled by this worktree's commit), else a fresh release build."""
    if not getattr(args, "rigger", None):
        return build_rigger()
    WORK.mkdir(parents=True, exist_ok=True)
    dst = WORK / "rigger"
    if Path(args.rigger).resolve() != dst.resolve():
        shutil.copy2(args.rigger, dst)
    rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    return dst, getattr(args, "label", None) or f"{rev} ({args.rigger})"


def build_rigger():
    """Builds rigger and copies the binary aside, so that a rebuild by someone
    else during the run cannot change what is measured."""
    log("cargo build --release")
    sh(["cargo", "build", "--release", "--quiet"], cwd=REPO)
    WORK.mkdir(parents=True, exist_ok=True)
    dst = WORK / "rigger"
    shutil.copy2(REPO / "target/release/rigger", dst)
    rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    return dst, rev


def ensure_venv():
    """Ansible and pyinfra from PyPI in a throwaway venv."""
    want = {s.split("==")[0]: s.split("==")[1] if "==" in s else None for s in PIP_SPECS}
    pip = VENV / "bin/pip"
    if pip.exists():
        have = subprocess.run([str(pip), "list", "--format=json"], capture_output=True, text=True).stdout
        have = {p["name"].lower(): p["version"] for p in json.loads(have or "[]")}
        if all(n in have and (v is None or have[n] == v) for n, v in want.items()):
            return versions(have)
    log(f"making venv {VENV} with {' '.join(PIP_SPECS)}")
    shutil.rmtree(VENV, ignore_errors=True)
    sh([sys.executable, "-m", "venv", str(VENV)])
    sh([str(pip), "install", "-q", *PIP_SPECS])
    have = subprocess.run([str(pip), "list", "--format=json"], capture_output=True, text=True).stdout
    return versions({p["name"].lower(): p["version"] for p in json.loads(have)})


def versions(have):
    return {"ansible-core": have.get("ansible-core"), "pyinfra": have.get("pyinfra")}


def openssh10():
    """OpenSSH 10.0's packages from bookworm-backports (downloaded once into
    $BENCH_WORK/openssh-10), and its client unpacked there (not installed)."""
    import lzma
    import urllib.request
    d = WORK / "openssh-10"
    d.mkdir(parents=True, exist_ok=True)
    debs = []
    for pkg in OPENSSH10_PKGS:
        have = sorted(d.glob(f"{pkg}_*.deb"))
        if not have:
            log(f"downloading {pkg} from bookworm-backports")
            index = d / "Packages"
            if not index.exists():
                with urllib.request.urlopen(f"{BACKPORTS}/dists/bookworm-backports/main/binary-amd64/Packages.xz", timeout=120) as r:
                    index.write_bytes(lzma.decompress(r.read()))
            stanza = next((b for b in index.read_text().split("\n\n") if b.startswith(f"Package: {pkg}\n")), None)
            if not stanza:
                die(f"{pkg} is not in bookworm-backports")
            fn = re.search(r"^Filename: (\S+)$", stanza, re.M).group(1)
            dst = d / Path(fn).name
            with urllib.request.urlopen(f"{BACKPORTS}/{fn}", timeout=300) as r:
                dst.write_bytes(r.read())
            have = [dst]
        debs.append(have[-1])
    root = d / "root"
    if not (root / "usr/bin/ssh").exists():
        sh(["dpkg-deb", "-x", str(debs[0]), str(root)])
    return root / "usr/bin", debs


def use_openssh10(on):
    global CLIENT_BIN, HOST_DEBS
    if on:
        client, HOST_DEBS = openssh10()
        CLIENT_BIN = str(client)
    else:
        CLIENT_BIN, HOST_DEBS = None, []


def ssh_bin():
    return str(Path(CLIENT_BIN) / "ssh") if CLIENT_BIN else "ssh"


def ssh_version():
    return subprocess.run([ssh_bin(), "-V"], capture_output=True, text=True).stderr.strip()


def kex_with(ip):
    """The key exchange the floor's ssh and this host's sshd agree on."""
    opts = ["LogLevel=DEBUG1" if o == "LogLevel=ERROR" else o for o in SSH_OPTS]  # ssh keeps the first LogLevel
    p = subprocess.run([ssh_bin(), *opts, f"root@{ip}", "true"], capture_output=True, text=True)
    m = re.search(r"kex: algorithm: (\S+)", p.stderr)
    return m.group(1) if m else "?"


def tool_env():
    env = dict(os.environ)
    env["PATH"] = f"{VENV}/bin:{env['PATH']}"
    if CLIENT_BIN:
        env["PATH"] = f"{CLIENT_BIN}:{env['PATH']}"
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # let the tools use their bytecode caches
    env["ANSIBLE_NOCOLOR"] = "1"
    env["NO_COLOR"] = "1"
    return env


# -------------------------------------------------------------- lab hosts --

class Host:
    def __init__(self, n):
        self.name = f"h{n}"
        self.ip = f"10.77.0.{10 + n}"

    def journal_dir(self):
        root = LAB / "hosts" / self.name / "root"
        mid = (root / "etc/machine-id").read_text().strip()
        return root / "var/log/journal" / mid


def ssh(ip, cmd, user="root", **kw):
    return subprocess.run([ssh_bin(), *SSH_OPTS, f"{user}@{ip}", cmd], **kw)


def parallel(fn, items):
    with cf.ThreadPoolExecutor(max_workers=max(1, len(items))) as ex:
        return list(ex.map(fn, items))


# ------------------------------------------------------------ ssh masters --

def warm_opts(cp_dir):
    """ssh options for the warm floor: through the master at cp_dir/%h."""
    return ["-o", f"ControlPath={cp_dir}/%h", "-o", "ControlMaster=no"]


def open_masters(ips, cp_dir, opts):
    """One ControlMaster per address at cp_dir/%h, up before any timing (the
    warm floor's).  ssh -f goes to the background once authenticated."""
    cp_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(cp_dir, 0o700)
    def one(ip):
        # stderr to a file: the backgrounded master keeps it open, so a pipe would never reach EOF
        with tempfile.TemporaryFile(mode="w+") as err:
            p = subprocess.run([ssh_bin(), *opts, "-o", f"ControlPath={cp_dir}/%h", "-o", "ControlMaster=yes",
                                "-o", f"ControlPersist={FLOOR_PERSIST}", "-fN", f"root@{ip}"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
            if p.returncode:
                err.seek(0)
                die(f"opening a master to {ip} failed: {err.read().strip()}")
    parallel(one, list(ips))


def close_masters(sockets):
    """Stops the masters behind these control sockets; returns how many there were."""
    sockets = [s for s in sockets if s.is_socket()]
    parallel(lambda s: subprocess.run([ssh_bin(), "-o", f"ControlPath={s}", "-O", "exit", "x"], capture_output=True), sockets)
    return len(sockets)


def rigger_sockets(ssh_dir):
    """rigger's warm masters: RIGGER_SSH_DIR/<hash>/.ssh-connection*/master (src/session/ssh_masters.rs)."""
    return list(ssh_dir.glob("*/.ssh-connection*/master"))


def clear_dir(d, sockets):
    """Closes the masters of d and removes it: nothing warm is left behind."""
    n = close_masters(sockets)
    shutil.rmtree(d, ignore_errors=True)
    return n


def rigger_ssh_dir(path):
    """RIGGER_SSH_DIR for the measured runs.  rigger keeps a master only when
    DIR/<16 hex> fits in 70 bytes (a Unix socket path's limit); longer, the
    warm runs would silently be cold."""
    if len(str(path)) + 17 > 70:
        die(f"{path} is too long for rigger's ssh masters (set a shorter BENCH_WORK)")
    return path


# sshd at DEBUG1 logs every session channel ("server_input_channel_open:
# ctype session"); journald must not rate-limit it.  Sorted before the lab's
# own drop-in because sshd keeps the first value it reads.
PREP = r"""set -e
printf 'LogLevel DEBUG1\n' > /etc/ssh/sshd_config.d/00-bench.conf
mkdir -p /etc/systemd/journald.conf.d
printf '[Journal]\nRateLimitIntervalSec=0\nRateLimitBurst=0\n' > /etc/systemd/journald.conf.d/00-bench.conf
systemctl restart systemd-journald
systemctl reload ssh
"""


def ensure_inotify():
    """systemd in every lab host takes ~7 inotify instances; the kernel's
    default of 128 per user runs out at ~20 running hosts (hosts then die
    with "Failed to allocate manager object: Too many open files")."""
    path = Path("/proc/sys/fs/inotify/max_user_instances")
    if int(path.read_text()) < 1024:
        log("raising fs.inotify.max_user_instances to 1024 (lab hosts need ~7 each)")
        path.write_text("1024\n")


def wipe(hosts):
    """Fresh hosts: the lab's base image, sshd logging every session."""
    t0 = time.monotonic()
    ensure_inotify()
    p = subprocess.run([str(LAB_SH), "wipe", *[h.name for h in hosts]], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode:
        die(f"lab.sh wipe failed:\n{p.stderr}")
    parallel(lambda h: ssh(h.ip, PREP, check=True, stdout=subprocess.DEVNULL), hosts)
    if HOST_DEBS:
        parallel(install_debs, hosts)
    time.sleep(1.0)
    log(f"wiped {hosts[0].name}..{hosts[-1].name} in {time.monotonic() - t0:.1f} s")


def install_debs(h):
    """HOST_DEBS onto a fresh host (copied into root's home on its disk, as /tmp is a tmpfs; dpkg
    restarts sshd, and the session that runs it survives)."""
    names = []
    for deb in HOST_DEBS:
        shutil.copy2(deb, LAB / "hosts" / h.name / "root/root" / deb.name)
        names.append(f"/root/{deb.name}")
    # ConnectionAttempts: sshd may still be re-executing after PREP's reload.
    p = subprocess.run([ssh_bin(), *SSH_OPTS, "-o", "ConnectionAttempts=10", f"root@{h.ip}",
                        f"DEBIAN_FRONTEND=noninteractive dpkg -i {' '.join(names)} && rm -f {' '.join(names)}"],
                       capture_output=True, text=True)
    if p.returncode:
        die(f"{h.name}: installing {', '.join(d.name for d in HOST_DEBS)} failed:\n{p.stdout}{p.stderr}")


def sshd_counts(hosts, t0, t1):
    """Per host: (connections, session channels) opened between t0 and t1,
    from the host's own sshd log (read from its disk here, so the counting
    adds no SSH traffic)."""
    def one(h):
        out = subprocess.run(["journalctl", "-D", str(h.journal_dir()), "--since", f"@{int(t0) - 1}",
                              "-o", "json", "SYSLOG_IDENTIFIER=sshd", "SYSLOG_IDENTIFIER=sshd-session"],
                             capture_output=True, text=True).stdout
        conns = sessions = 0
        for line in out.splitlines():
            e = json.loads(line)
            ts = int(e.get("_SOURCE_REALTIME_TIMESTAMP") or e["__REALTIME_TIMESTAMP"]) / 1e6
            if not t0 <= ts <= t1:
                continue
            m = e.get("MESSAGE")
            if isinstance(m, list):
                m = bytes(m).decode(errors="replace")
            if m.startswith("Accepted publickey for "):
                conns += 1
            elif "server_input_channel_open: ctype session" in m:
                sessions += 1
        return conns, sessions
    time.sleep(0.7)  # sshd's last lines reach the journal
    return dict(zip([h.name for h in hosts], parallel(one, hosts)))


def host_state(hosts):
    """haproxy's state on each host, after a converge (not timed, not counted)."""
    def one(h):
        p = ssh(h.ip, "systemctl is-active haproxy; systemctl is-enabled haproxy; sha256sum /etc/haproxy/haproxy.cfg",
                capture_output=True, text=True)
        w = p.stdout.split()
        return {"active": w[0] if w else "", "enabled": w[1] if len(w) > 1 else "", "sha256": w[2] if len(w) > 2 else ""}
    return dict(zip([h.name for h in hosts], parallel(one, hosts)))


# ------------------------------------------------------------ the tools --

def inventory_yaml(hosts, extra_all_vars=""):
    """rigger and Ansible read the same YAML inventory."""
    lines = ["# generated by benches/bench.py", "all:", "  vars:",
             "    ansible_user: root",
             f"    ansible_ssh_private_key_file: {KEY}",
             f'    ansible_ssh_common_args: "-o UserKnownHostsFile={KNOWN_HOSTS}"']
    lines += [f"    {l}" for l in extra_all_vars.splitlines()]
    lines += ["  children:", "    lb:", "      hosts:"]
    lines += [f"        {h.name}: {{ ansible_host: {h.ip} }}" for h in hosts]
    lines += ["    web:", "      hosts:"]
    lines += [f"        {h.name}:" for h in hosts]
    return "\n".join(lines) + "\n"


def pyinfra_inventory(hosts, known_hosts=KNOWN_HOSTS):
    """hosts: [(name, address)]."""
    conn = (f'{{"ssh_user": "root", "ssh_key": "{KEY}", "ssh_known_hosts_file": "{known_hosts}", '
            f'"ssh_strict_host_key_checking": "yes"}}')
    rows = ",\n".join(f'    ("{name}", {{"ssh_hostname": "{ip}", **_conn}})' for name, ip in hosts)
    return (f"# generated by benches/bench.py\n_conn = {conn}\n\nlb = [\n{rows},\n]\n\nweb = lb\n")


class Workdir:
    """The three projects, with inventories for these hosts."""

    def __init__(self, hosts, rigger_bin):
        self.root = WORK / f"lab-{len(hosts)}"
        shutil.rmtree(self.root, ignore_errors=True)
        self.rigger_bin = rigger_bin
        n = len(hosts)
        # rigger
        self.rigger = self.root / "rigger"
        shutil.copytree(BENCH / "rigger", self.rigger, ignore=shutil.ignore_patterns("inventory"))
        (self.rigger / "inventory").mkdir()
        (self.rigger / "inventory/hosts.yaml").write_text(inventory_yaml(hosts))
        self.rigger_c25519 = self.root / "rigger-c25519"
        shutil.copytree(self.rigger, self.rigger_c25519, ignore=shutil.ignore_patterns("inventory"))
        (self.rigger_c25519 / "inventory").mkdir()
        (self.rigger_c25519 / "ssh_config").write_text("Host *\n    KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org\n")
        (self.rigger_c25519 / "inventory/hosts.yaml").write_text(inventory_yaml(hosts).replace(
            f'UserKnownHostsFile={KNOWN_HOSTS}"', f'UserKnownHostsFile={KNOWN_HOSTS} -F {self.rigger_c25519}/ssh_config"'))
        # Ansible: best settings (pipelining, ControlPersist, forks >= hosts,
        # no interpreter discovery, no fact gathering)
        self.ansible = self.root / "ansible"
        shutil.copytree(BENCH / "ansible", self.ansible)
        (self.ansible / "hosts.yaml").write_text(inventory_yaml(hosts))
        (self.ansible / "ansible.cfg").write_text(
            "[defaults]\ninventory = hosts.yaml\n"
            f"forks = {max(n, 5)}\n"
            "interpreter_python = /usr/bin/python3\n"
            "gathering = explicit\nretry_files_enabled = False\nhost_key_checking = True\n"
            "[ssh_connection]\npipelining = True\n"
            "ssh_args = -o ControlMaster=auto -o ControlPersist=60s\n")
        # pyinfra
        self.pyinfra = self.root / "pyinfra"
        shutil.copytree(BENCH / "pyinfra", self.pyinfra)
        (self.pyinfra / "inventory.py").write_text(pyinfra_inventory([(h.name, h.ip) for h in hosts]))
        self.logs = self.root / "logs"
        self.logs.mkdir()
        # rigger's warm masters (RIGGER_SSH_DIR), Ansible's warm ControlPath,
        # and the warm floor's masters.
        self.rigger_ssh = rigger_ssh_dir(self.root / "rs")
        self.ansible_warm = self.root / "acp"
        self.floor_cp = self.root / "fcp"
        self.n = n
        self.run_id = 0

    def command(self, tool, phase, warm=False):
        """(argv, cwd, env, expected exit codes) of one run.  Cold: no master
        before it and none left after it; warm: the master left up by the run
        before is reused, and this run leaves it up for the next."""
        env = tool_env()
        self.run_id += 1
        if tool in ("rigger", "rigger-c25519"):
            env["RIGGER_SSH_DIR"] = str(self.rigger_ssh)
            persist = [] if warm else ["--persist", "0"]  # warm: the default, 60 s
            cwd = self.rigger if tool == "rigger" else self.rigger_c25519
            if phase == "dry":
                return [str(self.rigger_bin), "plan", *persist, "-i", "inventory", "site.yaml", "--json",
                        "-e", f"haproxy_maxconn={MAXCONN_CHANGED}"], cwd, env, (2,)
            return [str(self.rigger_bin), "apply", *persist, "-i", "inventory", "site.yaml", "--yes", "--json"], cwd, env, (0,)
        if tool == "ansible":
            # Cold: a fresh ControlPath directory per run, so that it starts
            # without a persisted master, as rigger and pyinfra do (its masters
            # are closed after it).  Warm: one directory for the warm runs of
            # a round, so that each reuses the masters (ControlPersist=60s)
            # of the run before.
            env["ANSIBLE_CONFIG"] = str(self.ansible / "ansible.cfg")
            env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(self.ansible_warm if warm else self.ansible / f"cp/{self.run_id}")
            argv = [f"{VENV}/bin/ansible-playbook", "site.yml"]
            if phase == "dry":
                argv += ["--check", "--diff", "-e", f"haproxy_maxconn={MAXCONN_CHANGED}"]
            return argv, self.ansible, env, (0,)
        if tool == "pyinfra":
            argv = [f"{VENV}/bin/pyinfra", "inventory.py", "deploy.py", "--parallel", str(max(self.n, 5)), "--no-wait"]
            argv += ["--dry", "--diff", "--data", f"haproxy_maxconn={MAXCONN_CHANGED}"] if phase == "dry" else ["-y"]
            return argv, self.pyinfra, env, (0,)
        raise ValueError(tool)

    def after(self, tool, warm=False):
        if tool == "ansible" and not warm:
            close_masters((self.ansible / f"cp/{self.run_id}").glob("*"))

    def warm_sockets(self, tool):
        if tool.startswith("rigger"):
            return rigger_sockets(self.rigger_ssh)
        if tool == "ansible":
            return list(self.ansible_warm.glob("*"))
        return []

    def close_warm(self, tool):
        """Closes the tool's warm masters; returns how many were up."""
        d = self.rigger_ssh if tool.startswith("rigger") else self.ansible_warm
        return clear_dir(d, self.warm_sockets(tool)) if tool.startswith("rigger") or tool == "ansible" else 0


def verify(tool, phase, out, err, hosts):
    """Did the run do what the phase says?  Returns a list of problems."""
    text = out + err
    bad = []
    if tool.startswith("rigger"):
        try:
            doc = json.loads(out)
        except ValueError:
            return ["no JSON document"]
        if doc.get("failed"):
            bad.append("failed" + (f": {doc['error']}" if doc.get("error") else ""))
        if "hosts" not in doc:
            return bad
        changed = sum(h["counts"]["changed"] for h in doc["hosts"])
        if phase == "nochange" and changed:
            bad.append(f"{changed} changes in a no-change run")
        if phase == "dry" and not doc.get("changes_pending"):
            bad.append("no change pending")
    elif tool == "ansible":
        recap = re.findall(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", text, re.M)
        if len(recap) != len(hosts):
            bad.append(f"recap for {len(recap)} hosts")
        if any(int(r[3]) or int(r[4]) for r in recap):
            bad.append("unreachable or failed")
        if phase == "nochange" and any(int(r[2]) for r in recap):
            bad.append("changes in a no-change run")
    elif tool == "pyinfra":
        m = re.search(r"Grand total\s+(\S+)\s+(\S+)\s+(\S+)", text)
        if phase == "nochange" and (not m or m.group(2) != "-"):
            bad.append("changes in a no-change run: " + (m.group(0) if m else "no results table"))
        if re.search(r"Error\s", text) and phase != "dry" and m and m.group(3) != "-":
            bad.append("errors")
    if phase == "dry" and shown_diffs(tool, out, text) < len(hosts):
        bad.append("diff of maxconn not shown for every host")
    return bad


def shown_diffs(tool, out, text):
    """How many hosts' diffs show maxconn's change.  rigger's terminal output
    shows a diff once for all the hosts it is the same on, so its per-host
    diffs are read from its JSON."""
    line = rf"^\s*\+\s*maxconn {MAXCONN_CHANGED}$"
    if not tool.startswith("rigger"):
        return len(re.findall(line, text, re.M))
    try:
        hosts = json.loads(out)["hosts"]
    except (ValueError, KeyError):
        return 0
    diffs = lambda h: (st.get("diff") or "" for u in h.get("units", []) for r in u.get("resources", []) for st in r.get("steps", []))
    return sum(1 for h in hosts if any(re.search(line, d, re.M) for d in diffs(h)))


def rigger_round_trips(out):
    try:
        return {h["host"]: h["round_trips"] for h in json.loads(out)["hosts"]}
    except (ValueError, KeyError):
        return {}


# ------------------------------------------------------------- lab bench --

def timed_run(work, hosts, tool, phase, tag, warm=False):
    """One measured run.  warm: False (cold: --persist 0, no master before),
    "first" (no master before; leaves it up), True (reuses the one left up)."""
    problems = []
    if warm is not True and (left := work.warm_sockets(tool)):
        # cold stays cold: a master left by an earlier run would make this one warm
        work.close_warm(tool)
        problems.append(f"{len(left)} warm master(s) were up before this cold run (closed first)")
    argv, cwd, env, ok = work.command(tool, phase, warm)
    load = os.getloadavg()[0]
    t0 = time.time()
    m0 = time.monotonic()
    p = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - m0
    t1 = time.time()
    work.after(tool, warm)
    (work.logs / f"{tag}.out").write_text(p.stdout)
    (work.logs / f"{tag}.err").write_text(p.stderr)
    counts = sshd_counts(hosts, t0, t1)
    problems += [] if p.returncode in ok else [f"exit {p.returncode}"]
    problems += verify(tool, phase, p.stdout, p.stderr, hosts)
    problems += warmth(tool, warm, counts)
    rec = {"seconds": round(seconds, 3), "load1": round(load, 2),
           "connections": {h: c[0] for h, c in counts.items()},
           "sessions": {h: c[1] for h, c in counts.items()}}
    if tool.startswith("rigger"):
        rec["round_trips"] = rigger_round_trips(p.stdout)
    if problems:
        rec["problems"] = problems
        log(f"  {tag}: PROBLEM {problems} (see {work.logs}/{tag}.*)")
    log(f"  {tag}: {seconds:.2f} s, per host {fmt_counts(rec)}")
    return rec


def warmth(tool, warm, counts):
    """A warm run that connected did not reuse the master; a cold one that did
    not connect reused one.  Either way it measured the wrong thing."""
    if tool not in WARM_TOOLS + ("rigger-c25519",):
        return []
    conns = [c[0] for c in counts.values()]
    if warm is True and any(conns):
        return [f"warm run opened {sum(conns)} SSH connection(s): a master was not reused"]
    if warm is not True and not all(conns):
        return [f"cold run opened no SSH connection to {conns.count(0)} host(s): a master was reused"]
    return []


def fmt_counts(rec):
    c = sorted(set(rec["connections"].values()))
    s = sorted(set(rec["sessions"].values()))
    j = lambda xs: "/".join(map(str, xs)) if xs else "?"
    return f"{j(c)} conn, {j(s)} sessions"


def parallel_ssh(hosts, cmd, tag, work, extra=()):
    """One plain ssh per host, all at once: the floor (warm: with `extra`,
    through a master that is already up)."""
    load = os.getloadavg()[0]
    t0 = time.time()
    m0 = time.monotonic()
    procs = [subprocess.Popen([ssh_bin(), *extra, *SSH_OPTS, f"root@{h.ip}", cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for h in hosts]
    outs = [p.communicate()[0] for p in procs]
    seconds = time.monotonic() - m0
    t1 = time.time()
    (work.logs / f"{tag}.out").write_text("".join(outs))
    counts = sshd_counts(hosts, t0, t1)
    rec = {"seconds": round(seconds, 3), "load1": round(load, 2),
           "connections": {h: c[0] for h, c in counts.items()},
           "sessions": {h: c[1] for h, c in counts.items()}}
    if any(p.returncode for p in procs):
        rec["problems"] = [f"exit codes {[p.returncode for p in procs]}"]
    log(f"  {tag}: {seconds:.2f} s, per host {fmt_counts(rec)}")
    return rec


def cmd_lab(args):
    n = args.hosts
    if FIRST_HOST + n - 1 > 50:
        die("the lab has at most h50")
    hosts = [Host(i) for i in range(FIRST_HOST, FIRST_HOST + n)]
    rigger_bin, rev = rigger_binary(args)
    vers = ensure_venv()
    work = Workdir(hosts, rigger_bin)
    runs = {t: {"converge": [], "nochange": [], "dry": [], "warmup": [], "nochange_warm": [], "dry_warm": []} for t in TOOLS}
    runs["floor"] = {"nochange": [], "warm": []}
    runs["apt"] = {"converge": []}
    states = {}
    tools = [t for t in TOOLS if t in args.tools.split(",")]
    ssh_info = {}
    for r in range(args.rounds):
        order = tools[r % len(tools):] + tools[:r % len(tools)]  # rotate: no tool always goes first
        log(f"round {r + 1}/{args.rounds}: {', '.join(order)}")
        for tool in order:
            wipe(hosts)
            if not ssh_info:
                ssh_info = {"client": ssh_version(), "kex": kex_with(hosts[0].ip),
                            "server": ssh(hosts[0].ip, "dpkg-query -W -f '${Version}' openssh-server",
                                          capture_output=True, text=True).stdout.strip()}
                log(f"ssh: client {ssh_info['client']}, hosts' openssh-server {ssh_info['server']}, kex {ssh_info['kex']}")
            runs[tool]["converge"].append(timed_run(work, hosts, tool, "converge", f"{tool}-converge-{r}"))
            states[f"{tool}-{r}"] = host_state(hosts)
            # Each run right after a floor run: the machine's load drifts (other
            # users of the lab), so ratios are taken pairwise.
            for phase in ("nochange", "dry"):
                for k in range(args.repeat):
                    floor = parallel_ssh(hosts, FLOOR_CMD, f"floor-{tool}-{phase}-{r}.{k}", work)
                    runs["floor"]["nochange"].append(floor)
                    rec = timed_run(work, hosts, tool, phase, f"{tool}-{phase}-{r}.{k}")
                    rec["floor_seconds"] = floor["seconds"]
                    runs[tool][phase].append(rec)
            if tool in WARM_TOOLS:
                lab_warm(work, hosts, tool, r, args.repeat, runs)
        # apt itself: `apt-get update && apt-get install haproxy` over one plain ssh per fresh host
        wipe(hosts)
        runs["apt"]["converge"].append(parallel_ssh(hosts, APT_CMD, f"apt-{r}", work))
    shas = {s["sha256"] for st in states.values() for s in st.values()}
    bad_states = {k: st for k, st in states.items() if any(s["active"] != "active" or s["enabled"] != "enabled" for s in st.values())}
    doc = {"hosts": n, "host_names": [h.name for h in hosts], "rounds": args.rounds, "repeat": args.repeat,
           "rigger": rev, "versions": vers, "nproc": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
           "ssh": ssh_info, "config_sha256": sorted(shas), "not_running_after_converge": bad_states, "runs": runs}
    RESULTS.mkdir(exist_ok=True)
    name = f"lab-{n}" + ("-openssh10" if HOST_DEBS else "")
    (RESULTS / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    md = lab_table(doc)
    (RESULTS / f"{name}.md").write_text(md)
    print(md)
    if len(shas) != 1:
        log(f"WARNING: the tools wrote different configs: {shas}")
    if bad_states:
        log(f"WARNING: haproxy not active+enabled after: {list(bad_states)}")


def lab_warm(work, hosts, tool, r, repeat, runs):
    """The warm runs of one tool and round, after its cold ones: a first run
    leaves the masters up, then each warm run right after a warm floor run
    (the floor's command through a ControlMaster opened before any timing).
    Every master is closed after, so the next cold run is cold."""
    open_masters([h.ip for h in hosts], work.floor_cp, SSH_OPTS)
    try:
        runs[tool]["warmup"].append(timed_run(work, hosts, tool, "nochange", f"{tool}-warmup-{r}", warm="first"))
        for phase in ("nochange", "dry"):
            for k in range(repeat):
                floor = parallel_ssh(hosts, FLOOR_CMD, f"floor-warm-{tool}-{phase}-{r}.{k}", work, warm_opts(work.floor_cp))
                runs["floor"]["warm"].append(floor)
                rec = timed_run(work, hosts, tool, phase, f"{tool}-{phase}-warm-{r}.{k}", warm=True)
                rec["floor_seconds"] = floor["seconds"]
                runs[tool][f"{phase}_warm"].append(rec)
    finally:
        work.close_warm(tool)
        clear_dir(work.floor_cp, list(work.floor_cp.glob("*")))


def per_host(recs, key):
    vals = sorted({v for r in recs for v in r[key].values()})
    return "/".join(map(str, vals)) if vals else "–"


WARM_NOTE = "pyinfra: no warm mode, its cold run"


def lab_table(doc):
    R = doc["runs"]
    floor = median([r["seconds"] for r in R["floor"]["nochange"]])
    apt = median([r["seconds"] for r in R["apt"]["converge"]])
    out = [f"### {doc['hosts']} hosts ({doc['host_names'][0]}..{doc['host_names'][-1]}), "
           f"{doc['nproc']} cores, rigger {doc['rigger']}, ansible-core {doc['versions']['ansible-core']}, "
           f"pyinfra {doc['versions']['pyinfra']}, {doc['date']}", "",
           *([f"ssh: {doc['ssh']['client']}; the hosts' openssh-server {doc['ssh']['server']}; "
              f"key exchange of the floor, rigger and Ansible: {doc['ssh']['kex']} (pyinfra's paramiko: curve25519-sha256)", ""]
             if doc.get("ssh") else []),
           "Median wall time in seconds (min–max, runs); per host: SSH connections / session channels (from the hosts' sshd logs).", "",
           "| phase | tool | median s | min–max | runs | × floor | conn/host | sessions/host |",
           "|---|---|---|---|---|---|---|---|"]
    phases = [("converge", "first converge"), ("nochange", "no-change run"), ("dry", f"dry-run + diff (maxconn → {MAXCONN_CHANGED})"),
              ("nochange_warm", "no-change run, **warm**"), ("dry_warm", "dry-run + diff, **warm**")]
    for phase, title in phases:
        rows = []
        if phase.endswith("_warm") and not R["floor"].get("warm"):
            continue  # a run from before the warm phases
        if phase == "converge":
            rows.append(("apt-get update + install over plain ssh", R["apt"]["converge"]))
        elif phase.endswith("_warm"):
            rows.append(("warm floor: one ssh per host through a warm ControlMaster", R["floor"].get("warm", [])))
        else:
            rows.append(("floor: one plain ssh per host", R["floor"]["nochange"]))
        rows += [(t, R[t].get(phase, [])) for t in TOOLS]
        if phase.endswith("_warm"):
            # pyinfra has no warm mode: what it does every time is its cold run
            rows += [(WARM_NOTE, R["pyinfra"].get(phase[:-len("_warm")], []))]
        for name, recs in rows:
            if not recs:
                continue
            xs = [r["seconds"] for r in recs]
            if phase == "converge":
                ratio = f"{median(xs) / apt:.2f}"
            elif name == WARM_NOTE:
                ratio = "–"
            elif "floor_seconds" in recs[0]:
                ratio = f"{paired_ratio(recs):.2f}"
            else:
                ratio = "1"
            probs = sum(1 for r in recs if r.get("problems"))
            note = f" ⚠ {probs} run(s) with problems" if probs else ""
            d = 3 if phase.endswith("_warm") else 2  # warm runs take tens of ms
            out.append(f"| {title} | {name}{note} | {median(xs):.{d}f} | {min(xs):.{d}f}–{max(xs):.{d}f} | {len(xs)} | "
                       f"{ratio} | {per_host(recs, 'connections')} | {per_host(recs, 'sessions')} |")
    out.append("")
    out.append("× floor: median over runs of (run / the floor run just before it); warm runs against the warm floor "
               "run just before them; for the first converge, median run / median apt-get run.  Warm: the run reuses "
               "the ssh masters left up by the tool's run just before it (rigger's `--persist`, default 60 s; Ansible's "
               "ControlPersist=60s); cold rigger runs use `--persist 0` with no master before them.  pyinfra (paramiko) "
               "has no warm mode: its warm rows repeat its cold runs, which is what it does every time.")
    out.append("")
    out += targets(doc, floor, apt)
    return "\n".join(out) + "\n"


def paired_ratio(recs):
    return median([r["seconds"] / r["floor_seconds"] for r in recs])


def targets(doc, floor, apt):
    """The issue's targets for rigger (issue 22), checked against this run."""
    R = doc["runs"]
    if not R["rigger"]["nochange"]:
        return []
    med = lambda t, ph: median([r["seconds"] for r in R[t].get(ph, [])]) if R[t].get(ph) else None
    yes = lambda ok: "**yes**" if ok else "**NO**"
    each = lambda recs, conns: all(set(r["connections"].values()) == {conns} and set(r["sessions"].values()) == {1} for r in recs)
    lines = ["Targets for rigger at this size:", ""]
    for ph, name in (("nochange", "no-change run"), ("dry", "dry-run with diff")):
        ratio = paired_ratio(R["rigger"][ph])
        lines.append(f"- {name}, cold: {med('rigger', ph):.2f} s, {ratio:.2f}× the floor (median of paired ratios; "
                     f"median floor {floor:.2f} s); within 1.1×: {yes(ratio <= 1.1)}; "
                     f"one SSH connection and one session per host in every run: {yes(each(R['rigger'][ph], 1))}")
    wfloor = median([r["seconds"] for r in R["floor"].get("warm", [])])
    for ph, name in (("nochange", "no-change run"), ("dry", "dry-run with diff")):
        recs = R["rigger"].get(f"{ph}_warm")
        if not recs:
            continue
        ratio = paired_ratio(recs)
        lines.append(f"- {name}, warm: {med('rigger', ph + '_warm'):.3f} s, {ratio:.2f}× the warm floor (median warm floor "
                     f"{wfloor:.3f} s); within 2×: {yes(ratio <= 2)}; no new SSH connection and one session per host "
                     f"in every run: {yes(each(recs, 0))}")
        if R["pyinfra"].get(ph):
            speed = med("pyinfra", ph) / med("rigger", ph + "_warm")
            lines.append(f"  - against pyinfra's {name} ({med('pyinfra', ph):.2f} s; it has no warm mode): rigger warm is "
                         f"{speed:.1f}× faster (rigger warm / pyinfra = {1 / speed:.3f}); at least 4×: {yes(speed >= 4)}")
    if R["pyinfra"]["converge"]:
        pc = med("pyinfra", "converge")
        for t in ("rigger", "rigger-c25519"):
            if not R[t]["converge"]:
                continue
            rc = med(t, "converge")
            per_round = [a["seconds"] / b["seconds"] for a, b in zip(R[t]["converge"], R["pyinfra"]["converge"])]
            lines.append(f"- first converge, {t}: {rc:.2f} s vs pyinfra {pc:.2f} s (medians; {t}/pyinfra per round: "
                         f"{', '.join(f'{x:.2f}' for x in per_round)}); at or below pyinfra's: {yes(rc <= pc)} "
                         f"(in every round: {yes(max(per_round) <= 1)}); "
                         f"apt-get update + install alone takes {apt:.2f} s ({apt / rc:.0%} of the converge)")
    return lines


# -------------------------------------------------- converge breakdown --

def listener_pid(host):
    """The sshd listener of a lab host, seen from here."""
    pids = subprocess.run(["ip", "netns", "pids", host.name], capture_output=True, text=True).stdout.split()
    for pid in pids:
        try:
            if b"[listener]" in open(f"/proc/{pid}/cmdline", "rb").read():
                return int(pid)
        except OSError:
            pass
    die(f"no sshd listener in {host.name}")


def exec_timeline(path):
    """Processes run by one host's sshd during a converge (strace -f -tt -e
    trace=execve): [(start, end, argv)] in seconds from the first execve."""
    from datetime import datetime
    start, end, argv = {}, {}, {}
    for line in open(path):
        m = re.match(r"(\d+)\s+(\d\d:\d\d:\d\d\.\d+) (.*)", line)
        if not m:
            continue
        pid, ts, rest = m.groups()
        t = datetime.strptime(ts, "%H:%M:%S.%f").timestamp()
        if rest.startswith("execve(") and rest.rstrip().endswith("= 0"):
            a = re.search(r"\[(.*?)\]", rest)
            start.setdefault(pid, t)
            argv[pid] = [x for x in re.findall(r'"((?:[^"\\]|\\.)*)"', a.group(1) if a else "")]
        elif "+++ exited" in rest or "+++ killed" in rest:
            end[pid] = t
    if not start:
        return []
    t0, last = min(start.values()), max(end.values(), default=max(start.values()))
    return sorted((start[p] - t0, end.get(p, last) - t0, argv[p]) for p in argv)


def union(intervals):
    total, cur = 0.0, None
    for a, b in sorted(intervals):
        if cur and a <= cur[1]:
            cur[1] = max(cur[1], b)
        else:
            if cur:
                total += cur[1] - cur[0]
            cur = [a, b]
    return total + (cur[1] - cur[0] if cur else 0.0)


def cmd_breakdown(args):
    """Where a first converge spends its time on one host: SSH setup, apt-get,
    the rest.  Traces (strace, execve only) everything the first host's sshd runs."""
    n = args.hosts
    hosts = [Host(i) for i in range(FIRST_HOST, FIRST_HOST + n)]
    rigger_bin, rev = build_rigger()
    vers = ensure_venv()
    work = Workdir(hosts, rigger_bin)
    tools = [t for t in ("rigger", "rigger-c25519", "pyinfra") if t in args.tools.split(",")]
    recs = []
    for r in range(args.rounds):
        for tool in tools[r % len(tools):] + tools[:r % len(tools)]:
            wipe(hosts)
            trace = work.logs / f"trace-{tool}-{r}.txt"
            st = subprocess.Popen(["strace", "-f", "-qq", "-tt", "-e", "trace=execve", "-e", "signal=none", "-s", "200",
                                   "-o", str(trace), "-p", str(listener_pid(hosts[0]))], stderr=subprocess.DEVNULL)
            time.sleep(1.0)
            argv, cwd, env, ok = work.command(tool, "converge")
            m0 = time.monotonic()
            p = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
            wall = time.monotonic() - m0
            time.sleep(0.5)
            st.terminate()
            st.wait()
            tl = exec_timeline(trace)
            first_cmd = min((a for a, b, v in tl if v and v[0] in ("sh", "bash", "/bin/sh")), default=0.0)
            span = max(b for a, b, v in tl)
            apt = union([(a, b) for a, b, v in tl if v and os.path.basename(v[0]) == "apt-get"])
            rec = {"tool": tool, "round": r, "wall": round(wall, 2), "exit": p.returncode, "host": hosts[0].name,
                   "host_span": round(span, 2), "before_first_command": round(first_cmd, 2), "apt_get": round(apt, 2),
                   "rest": round(span - first_cmd - apt, 2), "processes": len(tl)}
            recs.append(rec)
            log(f"  {tool} round {r}: {rec}")
    doc = {"hosts": n, "rigger": rev, "versions": vers, "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "runs": recs}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"breakdown-{n}.json").write_text(json.dumps(doc, indent=1) + "\n")
    out = [f"### first converge on {n} hosts, seen from {hosts[0].name} (rigger {rev}, {doc['date']})", "",
           f"Medians over {args.rounds} fresh converges; seconds.  On {hosts[0].name}: from the TCP connection "
           "to the first command (SSH setup), inside apt-get processes, and the rest (other commands and the gaps between them).", "",
           "| tool | wall | on the host | SSH setup | apt-get | rest | processes run |", "|---|---|---|---|---|---|---|"]
    for tool in tools:
        rs = [x for x in recs if x["tool"] == tool]
        m = lambda k: median([x[k] for x in rs])
        out.append(f"| {tool} | {m('wall'):.2f} | {m('host_span'):.2f} | {m('before_first_command'):.2f} | {m('apt_get'):.2f} | "
                   f"{m('rest'):.2f} | {m('processes'):.0f} |")
    md = "\n".join(out) + "\n"
    (RESULTS / f"breakdown-{n}.md").write_text(md)
    print(md)


# ------------------------------------------------------------ scale bench --

class SshSampler(threading.Thread):
    """Peak count and summed PSS (proportional set size: shared pages split
    between the processes sharing them) of the ssh processes of one rigger
    run; its ControlMasters live under its own TMPDIR."""

    def __init__(self, marker):
        super().__init__(daemon=True)
        self.marker = marker
        self.stop = threading.Event()
        self.peak_count = 0
        self.peak_rss_kb = 0

    def run(self):
        while not self.stop.is_set():
            count = rss = 0
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
                    if not cmdline.startswith(b"ssh\0") or self.marker.encode() not in cmdline:
                        continue
                    for line in open(f"/proc/{pid}/smaps_rollup"):
                        if line.startswith("Pss:"):
                            rss += int(line.split()[1])
                    count += 1
                except OSError:
                    continue
            self.peak_count = max(self.peak_count, count)
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self.stop.wait(0.2)


def time_v(argv, cwd, env):
    """Runs argv under /usr/bin/time -v: (wall s, max RSS KB, exit code, stdout, stderr)."""
    p = subprocess.run(["/usr/bin/time", "-v", *argv], cwd=cwd, env=env, capture_output=True, text=True)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", p.stderr)
    secs = (int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))) if wall else None
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return secs, int(rss.group(1)) if rss else None, p.returncode, p.stdout, p.stderr


def light_floor(hosts, known_hosts, ssh_config=None, extra=()):
    """One plain ssh per light host, all at once (warm: with `extra`, through
    a master that is already up)."""
    opts = light_opts(known_hosts)
    if ssh_config:
        opts = ["-F", str(ssh_config)] + opts
    m0 = time.monotonic()
    procs = [subprocess.Popen(["ssh", *extra, *opts, f"root@{ip}", FLOOR_CMD], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _, ip in hosts]
    codes = [p.wait() for p in procs]
    return round(time.monotonic() - m0, 3), sum(1 for c in codes if c)


def light_opts(known_hosts):
    return [o.replace(str(KNOWN_HOSTS), str(known_hosts)) for o in SSH_OPTS]


def scale_project(n, hosts, light_dir):
    """rigger's project for n light hosts, with an inventory per key exchange."""
    proj = WORK / f"scale-{n}"
    shutil.rmtree(proj, ignore_errors=True)
    shutil.copytree(BENCH / "rigger", proj, ignore=shutil.ignore_patterns("inventory"))
    c25519 = proj / "ssh_config-c25519"
    c25519.write_text("Host *\n    KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org\n")
    for variant, extra in (("default", ""), ("c25519", f" -F {c25519}")):
        inv = ["# generated by benches/bench.py scale", "all:", "  vars:", "    ansible_user: root",
               f"    ansible_ssh_private_key_file: {KEY}",
               f'    ansible_ssh_common_args: "-o UserKnownHostsFile={light_dir}/known_hosts{extra}"',
               "  children:", "    lb:", "      hosts:"]
        inv += [f"        {h}: {{ ansible_host: {ip} }}" for h, ip in hosts]
        inv += ["    web:", "      hosts:"] + [f"        {h}:" for h, _ in hosts]
        (proj / f"inventory-{variant}").mkdir()
        (proj / f"inventory-{variant}/hosts.yaml").write_text("\n".join(inv) + "\n")
    return proj, c25519


def scale_run(n, k, variant, argv, proj, env, floor):
    """One measured no-change run (right after its floor run): its record."""
    secs, rss, rc, out, err = time_v(argv, proj, env)
    doc = json.loads(out) if out.strip() else {}
    changed = sum(h["counts"]["changed"] for h in doc.get("hosts", []))
    rts = sorted({h["round_trips"] for h in doc.get("hosts", [])})
    rec = {"hosts": n, "variant": variant, "run": k, "seconds": secs, "floor_seconds": floor[0],
           "floor_failures": floor[1], "max_rss_kb": rss, "exit": rc, "changed": changed,
           "round_trips": rts, "load1": round(os.getloadavg()[0], 2)}
    (proj / f"nochange-{variant}-{k}.err").write_text(err)
    log(f"  no-change {n} hosts ({variant}): {secs:.2f} s (floor {floor[0]:.2f} s, {floor[1]} failed), "
        f"rigger max RSS {rss / 1024:.1f} MB, round trips {rts}, {changed} changes, exit {rc}")
    return rec


def cmd_scale(args):
    """The no-change run over light hosts, cold then warm; each rigger run
    right after a floor run (warm: the floor through warm ControlMasters);
    then pyinfra's no-change run, cold (it has no warm mode)."""
    rigger_bin, rev = rigger_binary(args)
    with_pyinfra = "pyinfra" in getattr(args, "tools", "rigger,pyinfra").split(",")
    vers = ensure_venv() if with_pyinfra else {}
    sizes = [int(s) for s in args.sizes.split(",")]
    light_dir = Path(os.environ.get("BENCH_LIGHT_DIR", "/var/lib/rigger-bench-light"))
    results = []
    try:
        for n in sizes:
            log(f"light hosts: up {n}")
            sh([str(LIGHT_SH), "up", str(n)], stdout=subprocess.DEVNULL)
            hosts = [(f"lh{i}", f"10.77.1.{10 + i}") for i in range(1, n + 1)]
            results += scale_size(n, hosts, light_dir, rigger_bin, args.runs)
            if with_pyinfra:
                results += scale_pyinfra(n, hosts, light_dir, args.runs)
            if not args.keep:
                sh([str(LIGHT_SH), "down"], stdout=subprocess.DEVNULL)
    finally:
        if not args.keep:
            sh([str(LIGHT_SH), "down"], stdout=subprocess.DEVNULL, check=False)
    doc = {"rigger": rev, "versions": vers, "nproc": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "runs": results}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(doc, indent=1) + "\n")
    md = scale_table(doc)
    (RESULTS / "scale.md").write_text(md)
    print(md)


# pyinfra's systemd facts ask `systemctl show --all --property Id --property
# SubState|UnitFileState UNIT...` and want Id= before each unit's state; the
# light hosts' stub answers only what rigger asks.  This one answers both
# (rigger's `show -p ...` as before), and is put on the light hosts, untimed,
# before pyinfra runs there.
PYINFRA_STUB = r"""#!/bin/sh
# benches/bench.py scale: the light hosts' stub systemctl, also answering pyinfra's facts.
case "$1" in
show)
    if [ "$2" = --all ]; then
        shift 2
        for a in "$@"; do
            case "$a" in --property|Id|SubState|UnitFileState|ActiveState|LoadState) ;;
            *) printf 'Id=%s\nSubState=running\nUnitFileState=enabled\n\n' "$a" ;; esac
        done
    else
        echo LoadState=loaded; echo ActiveState=active; echo UnitFileState=enabled
    fi ;;
is-active) [ "$2" = -q ] || echo active ;;
is-enabled) [ "$2" = -q ] || echo enabled ;;
esac
exit 0
"""
# pyinfra's apt.packages(update=True, cache_time=3600) runs apt-get update
# unless this stamp is younger than an hour, as it is on a lab host that
# pyinfra converged itself; the light image's is as old as the image.
PYINFRA_PREP = ("cat > /usr/local/sbin/systemctl && chmod 755 /usr/local/sbin/systemctl && "
                "mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp")


def scale_pyinfra(n, hosts, light_dir, runs):
    """pyinfra's no-change run over the light hosts rigger converged (the same
    bytes), each right after a cold floor run.  paramiko has no warm mode."""
    kh = light_dir / "known_hosts"
    def prep(h):
        p = subprocess.run(["ssh", *light_opts(kh), f"root@{h[1]}", PYINFRA_PREP], input=PYINFRA_STUB,
                           capture_output=True, text=True)
        if p.returncode:
            die(f"{h[0]}: preparing for pyinfra failed: {p.stderr.strip()}")
    parallel(prep, hosts)
    proj = WORK / f"scale-{n}-pyinfra"
    shutil.rmtree(proj, ignore_errors=True)
    shutil.copytree(BENCH / "pyinfra", proj)
    (proj / "inventory.py").write_text(pyinfra_inventory(hosts, kh))
    argv = [f"{VENV}/bin/pyinfra", "inventory.py", "deploy.py", "--parallel", str(max(n, 5)), "--no-wait", "-y"]
    out = []
    for k in range(runs):
        floor = light_floor(hosts, kh)
        secs, rss, rc, stdout, stderr = time_v(argv, proj, tool_env())
        problems = ([] if rc == 0 else [f"exit {rc}"]) + verify("pyinfra", "nochange", stdout, stderr, hosts)
        (proj / f"nochange-{k}.out").write_text(stdout + stderr)
        rec = {"hosts": n, "variant": "pyinfra", "run": k, "seconds": secs, "floor_seconds": floor[0],
               "floor_failures": floor[1], "max_rss_kb": rss, "exit": rc, "changed": len(problems), "problems": problems,
               "round_trips": [], "load1": round(os.getloadavg()[0], 2)}
        log(f"  pyinfra no-change {n} hosts: {secs:.2f} s (floor {floor[0]:.2f} s), max RSS {rss / 1024:.1f} MB, "
            f"exit {rc}{', PROBLEM ' + str(problems) + f' (see {proj})' if problems else ''}")
        out.append(rec)
    return out


def scale_size(n, hosts, light_dir, rigger_bin, runs):
    """Cold runs (--persist 0, no master before), then warm ones (the master
    left up by the run before); every master closed at the end."""
    proj, c25519 = scale_project(n, hosts, light_dir)
    env = tool_env()
    tmp = WORK / f"scale-{n}-tmp"
    tmp.mkdir(exist_ok=True)
    env["TMPDIR"] = str(tmp)
    rs = rigger_ssh_dir(WORK / f"scale-{n}-rs")
    env["RIGGER_SSH_DIR"] = str(rs)
    argv = lambda v, warm=False: [str(rigger_bin), "apply", *([] if warm else ["--persist", "0"]),
                                  "-i", f"inventory-{v}", "site.yaml", "--yes", "--json"]
    # converge once (writes haproxy.cfg on the fresh light hosts), then measure
    secs, rss, rc, out, err = time_v(argv("default"), proj, env)
    if rc != 0:
        (proj / "converge.err").write_text(err)
        die(f"converge of {n} light hosts failed (exit {rc}); see {proj}/converge.err")
    log(f"  converge {n}: {secs:.2f} s")
    # one more run, not timed, sampling the ssh processes (sampling costs CPU);
    # rigger's masters run with their control folder under RIGGER_SSH_DIR
    sampler = SshSampler(str(rs))
    sampler.start()
    time_v(argv("default"), proj, env)
    sampler.stop.set()
    sampler.join()
    log(f"  {sampler.peak_count} ssh processes at peak, {sampler.peak_rss_kb / 1024:.0f} MB PSS together")
    out = []
    for k in range(runs):
        for variant in ("default", "c25519"):
            left = clear_dir(rs, rigger_sockets(rs))  # cold stays cold
            floor = light_floor(hosts, light_dir / "known_hosts", c25519 if variant == "c25519" else None)
            rec = scale_run(n, k, variant, argv(variant), proj, env, floor)
            if left:
                rec["warm_masters_before"] = left
            out.append(rec)
    cp = WORK / f"scale-{n}-fcp"
    open_masters([ip for _, ip in hosts], cp, light_opts(light_dir / "known_hosts"))
    try:
        time_v(argv("default", warm=True), proj, env)  # leaves the masters up
        for k in range(runs):
            before = set(rigger_sockets(rs))
            floor = light_floor(hosts, light_dir / "known_hosts", extra=warm_opts(cp))
            rec = scale_run(n, k, "warm", argv("default", warm=True), proj, env, floor)
            # a master made anew (not reused) shows as a new control folder
            rec["masters_reused"] = len(before & set(rigger_sockets(rs)))
            if rec["masters_reused"] != n:
                log(f"  PROBLEM: the warm run reused {rec['masters_reused']} of {n} masters")
            out.append(rec)
    finally:
        clear_dir(rs, rigger_sockets(rs))
        clear_dir(cp, list(cp.glob("*")))
    for rec in out:
        rec["ssh_procs_peak"], rec["ssh_pss_peak_kb"] = sampler.peak_count, sampler.peak_rss_kb
    return out


def scale_table(doc):
    out = [f"### no-change `rigger apply` over light hosts ({doc['nproc']} cores, rigger {doc['rigger']}, {doc['date']})", "",
           "| hosts | run | rigger median s (min–max) | floor median s | × floor | extra s per extra host | "
           "rigger peak RSS MB | ssh processes at peak (PSS MB) | round trips/host |",
           "|---|---|---|---|---|---|---|---|---|"]
    kinds = (("default", "cold, sntrup761x25519 (OpenSSH default)"), ("c25519", "cold, curve25519-sha256"),
             ("warm", "**warm** (master left up by the run before; warm floor)"),
             ("pyinfra", "pyinfra, cold (no warm mode; paramiko, curve25519)"))
    for variant, kex in kinds:
        prev = None
        for n in sorted({r["hosts"] for r in doc["runs"]}):
            rs = [r for r in doc["runs"] if r["hosts"] == n and r.get("variant", "default") == variant]
            if not rs:
                continue
            xs = [r["seconds"] for r in rs]
            m = median(xs)
            slope = f"{(m - prev[1]) / (n - prev[0]) * 1000:.0f} ms" if prev else ""
            prev = (n, m)
            rts = sorted({t for r in rs for t in r["round_trips"]})
            ratio = median([r["seconds"] / r["floor_seconds"] for r in rs])
            ssh = f"{rs[0]['ssh_procs_peak']} ({rs[0]['ssh_pss_peak_kb'] / 1024:.0f})" if variant == "default" else "–"
            rts = rts or ["–"]
            bad = sum(1 for r in rs if r["exit"] or r["changed"] or r["floor_failures"] or r.get("warm_masters_before")
                      or r.get("masters_reused", n) != n)
            note = f" ⚠ {bad} bad run(s)" if bad else ""
            d = 3 if variant == "warm" else 2
            out.append(f"| {n} | {kex} | {m:.{d}f} ({min(xs):.{d}f}–{max(xs):.{d}f}){note} | "
                       f"{median([r['floor_seconds'] for r in rs]):.{d}f} | {ratio:.2f} | {slope} | "
                       f"{max(r['max_rss_kb'] for r in rs) / 1024:.1f} | {ssh} | {'/'.join(map(str, rts))} |")
    out += ["", "× floor: median over runs of (rigger run / the floor run just before it, same key exchange; warm runs "
            "against the warm floor: the floor's command through a ControlMaster opened before timing). Cold rigger runs "
            "use `--persist 0` with no master before them; a warm run reuses every master the run before left up "
            "(checked: its control sockets are the same before and after). Peak RSS of rigger from /usr/bin/time -v "
            "(its ssh masters are separate processes: their column is sampled in one extra cold run). "
            "The RSS column is pyinfra's own for its row. pyinfra's floor is the cold one (default key exchange). "
            "Ansible is not run here (see benches/README.md)."]
    speed = []
    for n in sorted({r["hosts"] for r in doc["runs"]}):
        w = [r["seconds"] for r in doc["runs"] if r["hosts"] == n and r.get("variant") == "warm"]
        p = [r["seconds"] for r in doc["runs"] if r["hosts"] == n and r.get("variant") == "pyinfra"]
        if w and p:
            speed.append(f"{n} hosts: {median(p) / median(w):.1f}× (rigger warm / pyinfra = {median(w) / median(p):.3f})")
    if speed:
        out += ["", "rigger warm against pyinfra's no-change run (medians): " + "; ".join(speed) + "."]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------ check bench --

CHECK_ROLES = {
    # name: (role.yaml, {template: text})
    "base": ("""description: packages, motd, sysctl (check benchmark)
defaults:
  base_packages: [curl, htop, vim-tiny, chrony, rsyslog]
  base_sysctl_swappiness: 10
resources:
  - package: { names: "{{ base_packages }}" }
  - template: { src: motd.tera, dest: /etc/motd, mode: "0644" }
  - sysctl: { name: vm.swappiness, value: "{{ base_sysctl_swappiness }}" }
  - service: { name: chrony, state: started, enabled: true }
""", {"motd.tera": "{{ inventory_hostname }} ({{ dc }}/{{ rack }}) managed by rigger\n{% for p in base_packages %}- {{ p }}\n{% endfor %}"}),
    "users": ("""description: operators' accounts (check benchmark)
requires: [base]
defaults:
  operators: [alice, bob, carol, dave]
resources:
  - group: { name: ops, gid: 2000 }
  - user: { name: deploy, uid: 2001, group: ops, shell: /bin/bash }
  - directory: { path: /etc/ops, mode: "0755" }
  - template: { src: sudoers.tera, dest: /etc/sudoers.d/ops, mode: "0440", validate: "visudo -cf %s" }
""", {"sudoers.tera": "{% for o in operators %}{{ o }} ALL=(ALL) NOPASSWD: ALL\n{% endfor %}"}),
    "hosts_file": ("""description: /etc/hosts listing every host of the inventory (check benchmark)
requires: [base]
resources:
  - template: { src: hosts.tera, dest: /etc/hosts, mode: "0644" }
""", {"hosts.tera": "127.0.0.1 localhost\n{% for h in groups.all %}{{ hosts[h].ansible_host }} {{ h }}\n{% endfor %}"}),
    "lb": ("""description: HAProxy listing the hosts of this host's cluster (check benchmark)
requires: [base]
after: [{ role: app }]
defaults:
  haproxy_maxconn: 4096
resources:
  - package: haproxy
  - template: { src: haproxy.cfg.tera, dest: /etc/haproxy/haproxy.cfg, mode: "0644", validate: "haproxy -c -f %s", notify: reload haproxy }
  - service: { name: haproxy, state: started, enabled: true }
handlers:
  reload haproxy: { service: { name: haproxy, state: reloaded } }
""", {"haproxy.cfg.tera": "global\n    maxconn {{ haproxy_maxconn }}\nbackend app\n{% for h in groups[cluster] %}    server {{ h }} {{ hosts[h].ansible_host }}:8080 check\n{% endfor %}"}),
    "app": ("""description: an app with a config from a list of dicts (check benchmark)
requires: [users]
defaults:
  app_port: 8080
  app_features: [{ name: search, on: true }, { name: cache, on: false }, { name: metrics, on: true }]
resources:
  - directory: { path: /srv/app, mode: "0755" }
  - template: { src: app.ini.tera, dest: /srv/app/app.ini, mode: "0644", notify: restart app }
  - service: { name: app, state: started, enabled: true }
handlers:
  restart app: { service: { name: app, state: restarted } }
""", {"app.ini.tera": "[server]\nport = {{ app_port }}\nname = {{ inventory_hostname }}\n{% for f in app_features %}{{ f.name }} = {{ f.on }}\n{% endfor %}"}),
}


# The `check-scale` sites: six roles of the everyday kind (the ones above but
# hosts_file, whose /etc/hosts lists every host and so grows as hosts², plus
# two more), so that the work per host is bounded and check should be linear.
CHECK_ROLES["sshd"] = ("""description: sshd hardening (check benchmark)
requires: [base]
defaults:
  sshd_port: 22
  sshd_allow_groups: [ops, root]
resources:
  - package: openssh-server
  - template: { src: sshd.conf.tera, dest: /etc/ssh/sshd_config.d/rigger.conf, mode: "0644", validate: "sshd -t -f %s", notify: reload sshd }
  - service: { name: ssh, state: started, enabled: true }
handlers:
  reload sshd: { service: { name: ssh, state: reloaded } }
""", {"sshd.conf.tera": "Port {{ sshd_port }}\nPermitRootLogin prohibit-password\nAllowGroups {{ sshd_allow_groups | join(sep=' ') }}\n# {{ inventory_hostname }} in {{ dc }}\n"})
CHECK_ROLES["logrotate"] = ("""description: log rotation per app (check benchmark)
requires: [app]
defaults:
  logrotate_days: 14
resources:
  - file: { path: /etc/logrotate.d/app, content: "/srv/app/*.log {\\n  daily\\n  rotate {{ logrotate_days }}\\n}\\n", mode: "0644" }
  - command: { cmd: "logrotate -d /etc/logrotate.d/app", unless: "test -f /var/lib/logrotate/status" }
""", {})
SIX_ROLES = ["base", "users", "lb", "app", "sshd", "logrotate"]


def make_check_project(root, n, roles, clusters=10):
    shutil.rmtree(root, ignore_errors=True)
    (root / "inventory/group_vars").mkdir(parents=True)
    per = (n + clusters - 1) // clusters
    inv = ["all:", "  vars:", "    ansible_user: root", "  children:"]
    for c in range(clusters):
        inv += [f"    c{c}:", "      vars:", f"        cluster: c{c}", f"        dc: dc{c % 3}", "      hosts:"]
        for i in range(c * per, min(n, (c + 1) * per)):
            inv.append(f"        n{i:04d}: {{ ansible_host: 10.77.{(i // 250) + 2}.{i % 250 + 1}, rack: r{i % 40} }}")
    (root / "inventory/hosts.yaml").write_text("\n".join(inv) + "\n")
    site = [f"- hosts: all\n  roles: [{', '.join(roles)}]\n"]
    (root / "site.yaml").write_text("".join(site))
    for r in roles:
        spec, templates = CHECK_ROLES[r]
        (root / "roles" / r / "templates").mkdir(parents=True)
        (root / "roles" / r / "role.yaml").write_text(spec)
        for name, text in templates.items():
            (root / "roles" / r / "templates" / name).write_text(text)


def cmd_check(args):
    rigger_bin, rev = build_rigger()
    five = ["base", "users", "hosts_file", "lb", "app"]
    variants = [("5 roles", five), ("4 roles (without hosts_file)", [r for r in five if r != "hosts_file"])]
    results = []
    for label, roles in variants:
        root = WORK / f"check-{args.hosts}-{len(roles)}"
        make_check_project(root, args.hosts, roles)
        for k in range(args.runs):
            secs, rss, rc, out, err = time_v([str(rigger_bin), "check", "-i", "inventory", "site.yaml", "--json"], root, tool_env())
            doc = json.loads(out) if out.strip() else {}
            rec = {"variant": label, "hosts": args.hosts, "roles": len(roles), "seconds": secs, "max_rss_kb": rss, "exit": rc,
                   "units": doc.get("units"), "errors": len(doc.get("errors", [])), "load1": round(os.getloadavg()[0], 2)}
            results.append(rec)
            log(f"  check {args.hosts} hosts, {label}: {secs:.2f} s, {rss / 1024:.1f} MB, {rec['units']} units, exit {rc}")
            if rc != 0:
                (root / "check.err").write_text(err)
                log(f"  see {root}/check.err")
    doc = {"rigger": rev, "nproc": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "runs": results}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "check.json").write_text(json.dumps(doc, indent=1) + "\n")
    out = [f"### `rigger check` over {args.hosts} generated hosts ({doc['nproc']} cores, rigger {rev}, {doc['date']})", "",
           "| site | units | median s (min–max) | peak RSS MB | exit |", "|---|---|---|---|---|"]
    for label, _ in variants:
        rs = [r for r in results if r["variant"] == label]
        xs = [r["seconds"] for r in rs]
        out.append(f"| {label} | {rs[0]['units']} | {median(xs):.2f} ({min(xs):.2f}–{max(xs):.2f}) | "
                   f"{max(r['max_rss_kb'] for r in rs) / 1024:.1f} | {'/'.join(sorted({str(r['exit']) for r in rs}))} |")
    md = "\n".join(out) + "\n"
    (RESULTS / "check.md").write_text(md)
    print(md)


# ------------------------------------------------------- check-scale bench --

def make_range_project(root, n):
    """One YAML host range, `web[000000:0NNNNN]`, under one group, × the base role."""
    make_check_project(root, 1, ["base"])
    width = len(str(n - 1))
    (root / "inventory/hosts.yaml").write_text(
        "all:\n  vars:\n    ansible_user: root\n  children:\n    web:\n      vars:\n        cluster: web\n"
        f"        dc: dc0\n        rack: r0\n      hosts:\n        web[{0:0{width}d}:{n - 1:0{width}d}]:\n")


def make_chain_project(root, depth):
    """An INI inventory whose groups form one `:children` chain `depth` deep,
    five hosts at the bottom, a var at each end; × the base role."""
    make_check_project(root, 1, ["base"])
    (root / "inventory/hosts.yaml").unlink()
    lines = ["[g0]"] + [f"leaf{i} dc=dc0 rack=r{i}" for i in range(5)] + [""]
    for i in range(1, depth):
        lines += [f"[g{i}:children]", f"g{i - 1}", ""]
    lines += ["[all:vars]", "ansible_user=root", f"[g{depth - 1}:vars]", "cluster=top", "[g0:vars]", "cluster=bottom"]
    (root / "inventory/hosts.ini").write_text("\n".join(lines) + "\n")


def check_scale_cases():
    """(label, hosts, roles, maker): the issue's sizes for `check`."""
    cases = [(f"{n:,} hosts × 1 role", n, 1, lambda r, n=n: make_check_project(r, n, ["base"]))
             for n in (2000, 4000, 8000, 16000, 64000)]
    cases.append(("web[000000:099999] × 1 role", 100000, 1, lambda r: make_range_project(r, 100000)))
    # Clusters of 50 hosts: lb lists its cluster, so its work per host is bounded.
    cases.append(("10,000 hosts × 6 roles", 10000, 6, lambda r: make_check_project(r, 10000, SIX_ROLES, clusters=200)))
    for d in (2500, 5000, 10000):
        cases.append((f"INI :children chain {d:,} deep", 5, 1, lambda r, d=d: make_chain_project(r, d)))
    return cases


def time_cpu(argv, cwd, env):
    """Like time_v, plus user and system CPU seconds (steadier than wall time
    when something else loads the machine)."""
    p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", *argv], cwd=cwd, env=env, capture_output=True, text=True)
    wall, user, sys_, rss = p.stderr.strip().splitlines()[-1].split()
    return float(wall), float(user) + float(sys_), int(rss), p.returncode, p.stdout


def cmd_check_scale(args):
    if args.rigger:
        rigger_bin, rev = Path(args.rigger), args.label or args.rigger
    else:
        rigger_bin, rev = build_rigger()
    results = []
    for label, hosts, nroles, make in check_scale_cases():
        root = WORK / "check-scale" / re.sub(r"\W+", "-", label)
        make(root)
        inv = "inventory/hosts.ini" if (root / "inventory/hosts.ini").exists() else "inventory"
        for _ in range(args.runs):
            wall, cpu, rss, rc, out = time_cpu([str(rigger_bin), "check", "-i", inv, "site.yaml", "--json"], root, tool_env())
            doc = json.loads(out) if out.strip() else {}
            rec = {"case": label, "hosts": hosts, "roles": nroles, "seconds": wall, "cpu_seconds": round(cpu, 2),
                   "max_rss_kb": rss, "exit": rc, "units": doc.get("units"), "load1": round(os.getloadavg()[0], 2)}
            results.append(rec)
            log(f"  check {label}: {wall:.2f} s wall, {cpu:.2f} s CPU, {rss / 1024:.0f} MB, exit {rc}")
    doc = {"rigger": rev, "nproc": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "runs": results}
    RESULTS.mkdir(exist_ok=True)
    name = f"check-scale{'-' + args.label if args.label else ''}"
    (RESULTS / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    out = [f"### `rigger check` at scale ({doc['nproc']} cores, rigger {rev}, {doc['date']})", "",
           "| inventory | units | wall s, median (min–max) | CPU s, median | peak RSS MB | exit |", "|---|---|---|---|---|---|"]
    for label, *_ in check_scale_cases():
        rs = [r for r in results if r["case"] == label]
        xs, cs = [r["seconds"] for r in rs], [r["cpu_seconds"] for r in rs]
        out.append(f"| {label} | {rs[0]['units']} | {median(xs):.2f} ({min(xs):.2f}–{max(xs):.2f}) | {median(cs):.2f} | "
                   f"{max(r['max_rss_kb'] for r in rs) / 1024:.0f} | {'/'.join(sorted({str(r['exit']) for r in rs}))} |")
    md = "\n".join(out) + "\n"
    (RESULTS / f"{name}.md").write_text(md)
    print(md)


# ------------------------------------------------------------------- main --

def cmd_issue22(args):
    """Issue 22's rerun: the lab at 5 and 20 hosts (rigger, Ansible, pyinfra
    and the floor, cold and warm, in the same run) and the light hosts at
    50, 100 and 200 (cold and warm), with one binary, into benches/results/."""
    t0 = time.monotonic()
    rigger_bin, rev = rigger_binary(args)
    one = dict(rigger=str(rigger_bin), label=rev)
    for n in (5, 20):
        cmd_lab(argparse.Namespace(hosts=n, rounds=3, repeat=2, tools=",".join(TOOLS), **one))
        log(f"lab {n} done, {(time.monotonic() - t0) / 60:.1f} min so far")
    cmd_scale(argparse.Namespace(sizes="50,100,200", runs=3, keep=False, tools="rigger,pyinfra", **one))
    took = time.monotonic() - t0
    log(f"issue 22's runs took {took / 60:.1f} min ({int(took // 3600)} h {int(took % 3600 // 60)} min)")
    print(f"issue 22's runs took {took / 60:.1f} min")


def main():
    if os.geteuid() != 0:
        die("run as root (the lab needs it)")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("lab", help="rigger vs Ansible vs pyinfra on lab hosts h11..")
    p.add_argument("--hosts", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3, help="fresh hosts per tool: one converge per round")
    p.add_argument("--repeat", type=int, default=2, help="no-change and dry runs per round")
    p.add_argument("--tools", default=",".join(TOOLS))
    p.add_argument("--openssh", choices=("system", "10"), default="system",
                   help="10: OpenSSH 10.0 from bookworm-backports on the hosts and for the floor, rigger and Ansible")
    p.add_argument("--rigger", help="measure this binary instead of building one")
    p = sub.add_parser("scale", help="no-change rigger runs over light hosts, cold and warm")
    p.add_argument("--sizes", default="50,100,200")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--keep", action="store_true", help="leave the light hosts up")
    p.add_argument("--tools", default="rigger,pyinfra", help="rigger alone, or with pyinfra's no-change run")
    p.add_argument("--rigger", help="measure this binary instead of building one")
    p = sub.add_parser("issue22", help="what issue 22 asks: lab 5 and 20 hosts, scale 50/100/200, cold and warm (~50 min)")
    p.add_argument("--rigger", help="measure this binary instead of building one")
    p = sub.add_parser("check", help="rigger check over a generated inventory")
    p.add_argument("--hosts", type=int, default=1000)
    p.add_argument("--runs", type=int, default=3)
    p = sub.add_parser("check-scale", help="rigger check from 2,000 to 100,000 hosts, 6 roles, deep group chains")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--rigger", help="measure this binary instead of building one (e.g. an older build)")
    p.add_argument("--label", help="suffix for the results' file names (check-scale-LABEL.md)")
    p = sub.add_parser("breakdown", help="where a first converge spends its time on one host (strace)")
    p.add_argument("--hosts", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--tools", default="rigger,rigger-c25519,pyinfra")
    sub.add_parser("all", help="lab 5, lab 20, lab 20 with OpenSSH 10, breakdown, scale, check")
    args = ap.parse_args()
    if getattr(args, "openssh", "system") == "10":
        use_openssh10(True)
    if args.cmd == "lab":
        cmd_lab(args)
    elif args.cmd == "scale":
        cmd_scale(args)
    elif args.cmd == "check":
        cmd_check(args)
    elif args.cmd == "check-scale":
        cmd_check_scale(args)
    elif args.cmd == "breakdown":
        cmd_breakdown(args)
    elif args.cmd == "issue22":
        cmd_issue22(args)
    else:
        for n in (5, 20):
            cmd_lab(argparse.Namespace(hosts=n, rounds=3, repeat=2, tools=",".join(TOOLS)))
        use_openssh10(True)
        cmd_lab(argparse.Namespace(hosts=20, rounds=3, repeat=2, tools=",".join(TOOLS)))
        use_openssh10(False)
        cmd_breakdown(argparse.Namespace(hosts=5, rounds=3, tools="rigger,rigger-c25519,pyinfra"))
        cmd_scale(argparse.Namespace(sizes="50,100,200", runs=3, keep=False))
        cmd_check(argparse.Namespace(hosts=1000, runs=3))
        cmd_check_scale(argparse.Namespace(runs=3, rigger=None, label=None))


if __name__ == "__main__":
    main()
