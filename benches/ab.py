#!/usr/bin/env python3
"""A/B (issue 22): cold no-change apply and dry-run plan of the bench workload on h11..h15,
each right after a floor run; binaries given as NAME=PATH. Prints medians of paired ratios.
Needs the hosts converged by `bench.py lab --hosts N` (its work folder). Usage:
    AB_HOSTS=20 benches/ab.py ROUNDS old=PATH new=PATH > results/ab-20-sessions.json"""
import subprocess, sys, time, statistics, os, tempfile, json
N = int(os.environ.get("AB_HOSTS", "5"))
hosts = [f"10.77.0.{20+i}" for i in range(1, N + 1)]
KEY = "/var/lib/rigger-lab/id_ed25519"; KH = "/var/lib/rigger-lab/known_hosts"
SSH = ["-i", KEY, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={KH}", "-o", "LogLevel=ERROR"]
FLOOR = "sha256sum /etc/haproxy/haproxy.cfg; systemctl is-active haproxy; dpkg-query -W haproxy"
CWD = f"/tmp/rigger-bench/lab-{N}/rigger"
bins = dict(a.split("=", 1) for a in sys.argv[2:])
rounds = int(sys.argv[1])
def t(argv, **kw):
    s = time.monotonic(); p = subprocess.run(argv, capture_output=True, **kw); return time.monotonic() - s, p
def floor():
    s = time.monotonic()
    ps = [subprocess.Popen(["ssh", *SSH, f"root@{h}", FLOOR], stdout=subprocess.DEVNULL) for h in hosts]
    assert all(p.wait() == 0 for p in ps); return time.monotonic() - s
res = {f"{n}-{ph}": [] for n in bins for ph in ("nochange", "dry")}
for r in range(rounds):
    for name, b in (list(bins.items()) if r % 2 == 0 else list(bins.items())[::-1]):
        for ph in ("nochange", "dry"):
            f = floor()
            env = dict(os.environ, RIGGER_SSH_DIR=tempfile.mkdtemp(prefix="ab-"), NO_COLOR="1")
            argv = [b, "apply", "--persist", "0", "-i", "inventory", "site.yaml", "--yes", "--json"] if ph == "nochange" else \
                   [b, "plan", "--persist", "0", "-i", "inventory", "site.yaml", "--json", "-e", "haproxy_maxconn=5000"]
            secs, p = t(argv, cwd=CWD, env=env)
            assert p.returncode in ((0,) if ph == "nochange" else (2,)), (name, ph, p.returncode, p.stderr[-500:])
            res[f"{name}-{ph}"].append((secs, f))
out = {k: {"median_s": round(statistics.median(s for s, _ in v), 3), "median_ratio": round(statistics.median(s / f for s, f in v), 3)} for k, v in res.items()}
print(json.dumps({"rounds": rounds, "bins": bins, "medians": out, "raw": res}, indent=1))
