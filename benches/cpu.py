#!/usr/bin/env python3
"""The machine's CPU per run (issue 22): cold no-change applies of the bench
workload on h11.. against the floor (one plain ssh per host), each run's
busy CPU time read from /proc/stat (every process: ssh, the hosts' sshd,
their scripts, rigger). On 2 saturated cores, CPU over the floor's is wall
time over the floor's. Needs the hosts converged by `bench.py lab --hosts N`
(its work folder). Usage:
    CPU_HOSTS=20 benches/cpu.py ROUNDS PATH...   # rigger binaries to compare"""
import os, statistics, subprocess, sys, tempfile, time

N = int(os.environ.get("CPU_HOSTS", "20"))
KEY, KH = "/var/lib/rigger-lab/id_ed25519", "/var/lib/rigger-lab/known_hosts"
SSH = ["-i", KEY, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
       "-o", f"UserKnownHostsFile={KH}", "-o", "LogLevel=ERROR"]
FLOOR = "sha256sum /etc/haproxy/haproxy.cfg; systemctl is-active haproxy; dpkg-query -W haproxy"
CWD = f"/tmp/rigger-bench/lab-{N}/rigger"


def busy():
    """Busy CPU seconds of the whole machine so far (all but idle and iowait)."""
    v = list(map(int, open("/proc/stat").readline().split()[1:]))
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def measured(start):
    b0, t0 = busy(), time.monotonic()
    ok = start()
    return {"cpu_s": round(busy() - b0, 3), "wall_s": round(time.monotonic() - t0, 3), "ok": ok}


def floor():
    ps = [subprocess.Popen(["ssh", *SSH, f"root@10.77.0.{20 + i}", FLOOR], stdout=subprocess.DEVNULL)
          for i in range(1, N + 1)]
    return all(p.wait() == 0 for p in ps)


def rigger(binary):
    env = dict(os.environ, RIGGER_SSH_DIR=tempfile.mkdtemp(prefix="cpu-"), NO_COLOR="1")
    argv = [binary, "apply", "--persist", "0", "-i", "inventory", "site.yaml", "--yes", "--json"]
    return subprocess.run(argv, cwd=CWD, env=env, capture_output=True).returncode == 0


def main():
    rounds, bins = int(sys.argv[1]), sys.argv[2:]
    raw = {"floor": [], **{b: [] for b in bins}}
    for _ in range(rounds):
        for name, start in [("floor", floor)] + [(b, lambda b=b: rigger(b)) for b in bins]:
            time.sleep(1)  # let the last run's processes exit
            raw[name].append(measured(start))
    med = {k: {"cpu_s": statistics.median(r["cpu_s"] for r in v), "wall_s": statistics.median(r["wall_s"] for r in v)}
           for k, v in raw.items()}
    import json
    print(json.dumps({"hosts": N, "rounds": rounds, "medians": med, "raw": raw}, indent=1))


if __name__ == "__main__":
    main()
