#!/usr/bin/env python3
"""Cold vs warm no-change `rigger plan` against the raw-ssh floor, cold and over a
warm ControlMaster, on a named lab (`rigger lab --lab perf --net 10.79.1 up 3`).
Usage: warm_runs.py ROUNDS > results/warm-3.json (paths below are the ones used)."""
import subprocess, time, os, statistics, json, sys, shutil
R="/tmp/perfw/rigger-warm"; W="/tmp/perfw/w3"; SSHD="/tmp/perfw/w3ssh"
KEY="/var/lib/rigger-lab/id_ed25519"; KH="/var/lib/rigger-lab/labs/perf/known_hosts"
hosts=["10.79.1.11","10.79.1.12","10.79.1.13"]
env=dict(os.environ, RIGGER_SSH_DIR=SSHD, NO_COLOR="1")
subprocess.run([R,"apply","--yes","--persist","0"],cwd=W,env=env,capture_output=True)
def t(f):
    s=time.monotonic(); f(); return time.monotonic()-s
def rig(*a):
    p=subprocess.run([R,"plan",*a],cwd=W,env=env,capture_output=True); assert p.returncode==0, p.stderr
opts=["-i",KEY,"-o","IdentitiesOnly=yes","-o","BatchMode=yes","-o","StrictHostKeyChecking=yes","-o",f"UserKnownHostsFile={KH}"]
CMD="sha256sum /tmp/t26; id -u"
def floor_cold():
    ps=[subprocess.Popen(["ssh",*opts,"-o","ControlPath=none",f"root@{h}",CMD],stdout=subprocess.DEVNULL) for h in hosts]
    assert all(p.wait()==0 for p in ps)
cm="/tmp/perfw/cm"; os.makedirs(cm,exist_ok=True); os.chmod(cm,0o700)
for h in hosts:
    subprocess.run(["ssh",*opts,"-o",f"ControlPath={cm}/%h","-o","ControlMaster=yes","-o","ControlPersist=300","-fN",f"root@{h}"],check=True)
def floor_warm():
    ps=[subprocess.Popen(["ssh",*opts,"-o",f"ControlPath={cm}/%h",f"root@{h}",CMD],stdout=subprocess.DEVNULL) for h in hosts]
    assert all(p.wait()==0 for p in ps)
res={"cold_floor":[],"cold_rigger":[],"warm_floor":[],"warm_rigger":[]}
for i in range(int(sys.argv[1])):
    res["cold_floor"].append(t(floor_cold))
    res["cold_rigger"].append(t(lambda: rig("--persist","0")))  # no master before, none left
    rig()  # leaves masters up
    res["warm_floor"].append(t(floor_warm))
    res["warm_rigger"].append(t(rig))
    rig("--persist","0")  # close them for the next cold round
for h in hosts:
    subprocess.run(["ssh","-o",f"ControlPath={cm}/%h","-O","exit",f"root@{h}"],capture_output=True)
med={k:round(statistics.median(v),3) for k,v in res.items()}
print(json.dumps({"hosts":len(hosts),"runs":res,"median":med}))
