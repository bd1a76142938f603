#!/usr/bin/env bash
# benches/light.sh — light hosts for fan-out benchmarks: hundreds of SSH
# targets on one machine.
#
# Usage:
#   light.sh up N          start lh1..lhN (idempotent; keeps running ones);
#                          returns once every one answers SSH
#   light.sh down          stop every light host; remove their netns, veths,
#                          mounts, state and the bridge (the image stays)
#   light.sh purge         down, then remove the cached image too
#   light.sh status        how many light hosts run, and their addresses
#
# A light host is not a VM-like lab host (tests/lab/lab.sh): it is one sshd,
# no systemd, in its own network namespace (lhN, eth0 = 10.77.1.(10+N)/24 on
# the bridge lab1 = 10.77.1.1/24, nothing routed) and its own filesystem, PID
# and UTS namespaces (an overlayfs root, private /proc, /run, sysfs).  About
# 5 MB each, so 200 fit on a small machine.
#
# The filesystem is the lab's base image (`rigger lab up` builds it) plus a
# cached layer made once here: haproxy installed, and a stub systemctl in
# /usr/local/sbin (first in root's PATH) that reports every unit as loaded,
# active and enabled, and succeeds at start/reload.  There is no systemd to
# ask, and the stub keeps the workload's probe exactly what it is on a real
# host, so the no-change run measures rigger's fan-out, not systemd.
# Building the layer fetches haproxy through the lab's mirror relay on
# 10.77.0.1 (so the lab must be up).
#
# Host keys are the base image's; $DIR/known_hosts lists them for every
# light host address, for strict host key checking.  Log in as root with the
# lab key ($RIGGER_LAB_DIR/id_ed25519).
#
# Environment: RIGGER_LAB_DIR (default /var/lib/rigger-lab), BENCH_LIGHT_DIR
# (default /var/lib/rigger-bench-light).
#
# State: $BENCH_LIGHT_DIR
#   image/ image.ok                the cached layer over the base
#   hosts/lhN/{upper,work,root,pid,sshd.log}
#   known_hosts
set -euo pipefail

LAB=${RIGGER_LAB_DIR:-/var/lib/rigger-lab}
BASE=$LAB/images/debian12
KEY=$LAB/id_ed25519
DIR=${BENCH_LIGHT_DIR:-/var/lib/rigger-bench-light}
IMAGE=$DIR/image
KNOWN_HOSTS=$DIR/known_hosts
NET_PREFIX=10.77.1
BRIDGE=lab1
GATEWAY=$NET_PREFIX.1
MAX_HOSTS=240                       # lh1..lh240 = 10.77.1.11..10.77.1.250
PARALLEL=20                         # SSH readiness checks in flight

log() { printf 'light: %s\n' "$*" >&2; }
die() { printf 'light: error: %s\n' "$*" >&2; exit 1; }

host_ip() { echo "$NET_PREFIX.$((10 + ${1#lh}))"; }
host_dir() { echo "$DIR/hosts/$1"; }

existing_hosts() {
    [[ -d $DIR/hosts ]] || return 0
    local d
    for d in "$DIR"/hosts/lh*; do
        if [[ -d $d ]]; then basename "$d"; fi
    done | sort -V
}

host_pid() {         # host_pid HOST: print the PID of its unshare, if it runs
    local pid
    pid=$(cat "$(host_dir "$1")/pid" 2>/dev/null) || return 1
    [[ -n $pid && -e /proc/$pid ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == unshare ]] && echo "$pid"
}

host_running() { host_pid "$1" >/dev/null; }

ssh_opts() {
    printf '%s\n' -F none -i "$KEY" -o IdentitiesOnly=yes -o BatchMode=yes \
        -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KNOWN_HOSTS" \
        -o LogLevel=ERROR -o ConnectTimeout=2
}

with_lock() {
    mkdir -p "$DIR"
    exec 9>"$DIR/lock"
    flock 9
}

# --------------------------------------------------------------- image --

stub_systemctl() {
    cat <<'EOF'
#!/bin/sh
# benches/light.sh: a light host has no systemd.  Every unit is loaded,
# active and enabled; actions succeed and do nothing.
case "$1" in
show) echo LoadState=loaded; echo ActiveState=active; echo UnitFileState=enabled ;;
is-active) [ "$2" = -q ] || echo active ;;
is-enabled) [ "$2" = -q ] || echo enabled ;;
esac
exit 0
EOF
}

build_image() {
    [[ -f $DIR/image.ok ]] && return 0
    [[ -x $BASE/usr/sbin/sshd ]] || die "no lab base image at $BASE: run tests/lab/lab.sh up first"
    ip -4 addr show dev lab0 2>/dev/null | grep -q '10\.77\.0\.1/' ||
        die "the lab's mirror relay (10.77.0.1) is not up: run tests/lab/lab.sh up first"
    log "building the light host layer (haproxy, stub systemctl) over $BASE"
    local root=$DIR/image.root
    rm -rf "$IMAGE" "$DIR/image.work" "$root"
    mkdir -p "$IMAGE" "$DIR/image.work" "$root"
    mount -t overlay light-image -o "lowerdir=$BASE,upperdir=$IMAGE,workdir=$DIR/image.work" "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount --make-rslave "$root/dev"
    # no service starts in a chroot
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    # The base image has no DNS (names come from /etc/hosts, which the lab
    # writes per host): for the build, its mirrors' names as this machine
    # resolves them (the chroot shares its network).
    cp -a "$root/etc/hosts" "$DIR/hosts.orig"
    local name
    for name in $(sed -n 's|^URIs:.*http://\([^/:]*\).*|\1|p' "$root"/etc/apt/sources.list.d/*.sources 2>/dev/null | sort -u); do
        getent ahostsv4 "$name" | awk -v n="$name" 'NR == 1 { print $1, n }' >>"$root/etc/hosts"
    done
    local ok=1
    chroot "$root" sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get -q update && apt-get -q -y install haproxy && apt-get clean' \
        >"$DIR/image.log" 2>&1 || ok=0
    cp -a "$DIR/hosts.orig" "$root/etc/hosts"
    rm -f "$root/usr/sbin/policy-rc.d" "$DIR/hosts.orig"
    stub_systemctl >"$root/usr/local/sbin/systemctl"
    chmod 755 "$root/usr/local/sbin/systemctl"
    umount -R "$root/dev" "$root/proc"
    umount "$root"
    rm -rf "$DIR/image.work" "$root"
    ((ok)) || die "installing haproxy into the image failed; see $DIR/image.log"
    touch "$DIR/image.ok"
}

write_known_hosts() {   # write_known_hosts N
    local keys i
    keys=$(cat "$BASE"/etc/ssh/ssh_host_*_key.pub | awk '{ print $1, $2 }')
    for ((i = 1; i <= $1; i++)); do
        while read -r key; do echo "$NET_PREFIX.$((10 + i)) $key"; done <<<"$keys"
    done >"$KNOWN_HOSTS.tmp"
    mv "$KNOWN_HOSTS.tmp" "$KNOWN_HOSTS"
}

# ------------------------------------------------------------- network --

ensure_bridge() {
    ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" address 02:77:01:00:00:01 type bridge
    ip addr replace "$GATEWAY/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
    echo 0 >"/proc/sys/net/ipv4/conf/$BRIDGE/forwarding"
}

ensure_netns() {
    local h=$1 ip
    ip=$(host_ip "$h")
    [[ -e /run/netns/$h ]] || ip netns add "$h"
    if ! ip -n "$h" link show eth0 >/dev/null 2>&1; then
        ip link del "v$h" 2>/dev/null || true
        ip link add "v$h" type veth peer name eth0 netns "$h"
    fi
    ip link set "v$h" master "$BRIDGE" up
    ip -n "$h" link set lo up
    ip -n "$h" addr replace "$ip/24" dev eth0
    ip -n "$h" link set eth0 up
}

# --------------------------------------------------------------- hosts --

start_host() {
    local h=$1 d
    d=$(host_dir "$h")
    host_running "$h" && return 0
    ensure_netns "$h"
    mkdir -p "$d/upper" "$d/work" "$d/root"
    mountpoint -q "$d/root" ||
        mount -t overlay "overlay-$h" -o "lowerdir=$IMAGE:$BASE,upperdir=$d/upper,workdir=$d/work" "$d/root"
    echo "$h" >"$d/root/etc/hostname"
    # sshd is PID 1 of its own PID namespace: killing unshare (--kill-child)
    # takes down every process of the host
    # shellcheck disable=SC2016 # expanded by the inner bash
    setsid ip netns exec "$h" unshare --mount --uts --pid --fork --kill-child --propagation private \
        bash -c 'set -e
            hostname "$1"; r=$2
            mount -t proc proc "$r/proc"
            mount -t sysfs -o ro sysfs "$r/sys"
            mount --rbind /dev "$r/dev"
            mount -t tmpfs -o mode=755 tmpfs "$r/run"
            mkdir -p "$r/run/sshd"
            exec chroot "$r" /usr/sbin/sshd -D -e' light-host "$h" "$d/root" \
        >"$d/sshd.log" 2>&1 </dev/null 9>&- &
    echo $! >"$d/pid"
    disown $!
}

remove_host() {     # a stopped host: its mount, veth, netns and state
    local d
    d=$(host_dir "$1")
    if mountpoint -q "$d/root"; then umount "$d/root" 2>/dev/null || umount -l "$d/root"; fi
    ip link del "v$1" 2>/dev/null || true
    ip netns del "$1" 2>/dev/null || true
    rm -rf "$d"
}

any_alive() {       # any_alive PID...: does one of them still run?
    local p
    for p; do [[ -e /proc/$p ]] && return 0; done
    return 1
}

check_ssh() {       # check_ssh IP: poll (60 s at most) until root can log in
    local until=$((SECONDS + 60))
    until ssh "${opts[@]}" "root@$1" true </dev/null 2>/dev/null; do
        ((SECONDS < until)) || { log "$1 does not answer SSH"; return 1; }
        sleep 0.3
    done
}

wait_ssh() {        # every host answers SSH, PARALLEL checks at a time
    local h failed=0 pids=()
    mapfile -t opts < <(ssh_opts)
    for h in "$@"; do
        check_ssh "$(host_ip "$h")" &
        pids+=($!)
        if ((${#pids[@]} >= PARALLEL)); then
            wait "${pids[0]}" || failed=1
            pids=("${pids[@]:1}")
        fi
    done
    for h in "${pids[@]}"; do wait "$h" || failed=1; done
    ((failed == 0)) || die "some light hosts did not answer SSH; see $DIR/hosts/lh*/sshd.log"
}

# ------------------------------------------------------------ commands --

cmd_up() {
    local n=${1:-} i hosts=()
    if ! [[ $n =~ ^[1-9][0-9]*$ ]] || ((n > MAX_HOSTS)); then
        die "usage: $0 up N (1..$MAX_HOSTS)"
    fi
    [[ $EUID -eq 0 ]] || die "must run as root"
    with_lock
    local t0=$SECONDS
    build_image
    ensure_bridge
    write_known_hosts "$n"
    for ((i = 1; i <= n; i++)); do hosts+=("lh$i"); done
    for h in "${hosts[@]}"; do start_host "$h"; done
    wait_ssh "${hosts[@]}"
    log "up: lh1..lh$n answer SSH ($((SECONDS - t0)) s)"
}

cmd_down() {
    [[ $EUID -eq 0 ]] || die "must run as root"
    with_lock
    local h hosts pid pids=() i
    hosts=$(existing_hosts)
    # unshare --fork blocks SIGTERM while it waits for its child, so TERM
    # never stopped a host (the old one-at-a-time wait ran out at 5 s per host
    # and left every sshd running). KILL it: --kill-child takes sshd, the
    # host's PID 1, and with it every process of the host.
    for h in $hosts; do
        if pid=$(host_pid "$h"); then pids+=("$pid"); fi
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
    for i in $(seq 50); do
        any_alive "${pids[@]}" || break
        sleep 0.1
    done
    for h in $hosts; do remove_host "$h"; done
    ip link del "$BRIDGE" 2>/dev/null || true
    rm -f "$KNOWN_HOSTS"
    log "down"
}

cmd_purge() {
    cmd_down
    rm -rf "$IMAGE" "$DIR/image.ok" "$DIR/image.log"
    log "purged $DIR"
}

cmd_status() {
    local h n=0
    for h in $(existing_hosts); do
        if host_running "$h"; then n=$((n + 1)); else echo "$h $(host_ip "$h") stopped"; fi
    done
    echo "$n light hosts running on $BRIDGE ($NET_PREFIX.0/24)"
}

case ${1:-} in
up) cmd_up "${2:-}" ;;
down) cmd_down ;;
purge) cmd_purge ;;
status) cmd_status ;;
*) sed -n '/^# Usage:/,/^#$/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
