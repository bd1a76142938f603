#!/usr/bin/env bash
# tests/lab/lab.sh — the rigger test lab: VM-like Debian 12 hosts on one machine.
#
# Usage:
#   lab.sh up N            start hosts h1..hN (idempotent; keeps running hosts,
#                          adds missing ones); returns once every host answers SSH
#   lab.sh down            stop every host; remove netns, veths, bridge, relay,
#                          and the hosts' state (the cached base image and the
#                          lab key stay)
#   lab.sh reset           down, then up again with the same number of hosts
#   lab.sh status          one line per host: name, address, state, ssh
#   lab.sh stop hN [--hard]  stop one host: orderly poweroff (peers' connections
#                          are closed), or --hard: power cut (peers hear nothing
#                          more); either way its address leaves the network
#   lab.sh start hN        start one host again (its disk state is kept)
#   lab.sh wipe hN [hM...]  power-cut the hosts, throw away their disk state
#                          (overlay upper dir), boot them fresh from the base;
#                          returns once they answer SSH
#   lab.sh ssh hN CMD...   run CMD on hN as root (ssh semantics: the words are
#                          joined by spaces and run by the remote shell); the
#                          exit code is propagated, stdin is passed through
#
# Design (see DESIGN.md section 4, "The lab"):
#   * One Debian bookworm rootfs is built once by debootstrap into
#     $RIGGER_LAB_DIR/base (mirror taken from this machine's apt sources) and
#     configured once: lab key for root/deploy/nosudo, sshd tuning, apt sources,
#     /etc/hosts, empty machine-id, a unit that remounts the net part of sysfs
#     from inside the host's netns, and (for Docker hosts) a unit that makes
#     the cgroup v1 controllers writable.  A hash of that configuration is kept
#     so that changing this script re-applies it (no new debootstrap).
#   * Each host hN is an overlayfs (lower = base, upper = hosts/hN/upper)
#     booted with systemd-nspawn -b in its own network namespace "hN".
#     Its eth0 (10.77.0.(10+N)/24, MAC 02:77:00:00:01:NN) is one end of a veth
#     pair whose other end (vhN) is enslaved to the bridge lab0 (10.77.0.1/24)
#     in this namespace.  MACs are fixed so that a restarted host is not
#     hidden behind stale ARP entries.  /etc/hostname and /etc/machine-id are
#     written into the host's upper dir when it is created (rather than
#     bind-mounted), so tools that rewrite /etc/hostname keep working.
#   * Every host runs in its own cgroup (name=systemd and unified hierarchies,
#     /rigger-lab/hN): the container's systemd needs it to shut down cleanly,
#     and it is how this script finds and kills everything that belongs to a
#     host.  The mirror relay (socat) lives in /rigger-lab/relay.
#   * Hosts reach packages through a socat relay on 10.77.0.1:80 to the
#     mirror's address; each host's /etc/hosts maps the mirror name to it.
#     Nothing else leaves 10.77.0.0/24: no DNS server (resolv.conf points at
#     the host itself), no forwarding from lab0.
#   * Docker hosts ($LAB_DOCKER_HOSTS, default "h5 h6") get writable /sys and
#     /proc/sys, the @keyring system calls, writable cgroup controllers and
#     /var/lib/docker on the real disk (overlay2 cannot nest in overlayfs).
#   * All hosts share the base's SSH host keys; $RIGGER_LAB_DIR/known_hosts
#     lists them for every lab address, for strict host key checking.
#   * One lab per machine: the bridge, netns and cgroup names are global.
#
# Environment: RIGGER_LAB_DIR, LAB_DOCKER_HOSTS, LAB_SSH_WAIT (s per host,
# default 60), LAB_STOP_WAIT (s for a graceful poweroff, default 20).
#
# State: ${RIGGER_LAB_DIR:-/var/lib/rigger-lab}
#   base/ base.debootstrap-ok base.config-hash   cached rootfs and stamps
#   id_ed25519{,.pub} known_hosts                  lab key, host keys
#   hosts/hN/{upper,work,root,docker,console.log}  per-host state and log
#   relay-*.log debootstrap.log lock
set -euo pipefail

LAB=${RIGGER_LAB_DIR:-/var/lib/rigger-lab}
BASE=$LAB/base
KEY=$LAB/id_ed25519
KNOWN_HOSTS=$LAB/known_hosts
SUITE=bookworm
NET_PREFIX=10.77.0
BRIDGE=lab0
GATEWAY=$NET_PREFIX.1
MAX_HOSTS=50                        # h1..h50 = 10.77.0.11..10.77.0.60
SSH_WAIT=${LAB_SSH_WAIT:-60}        # seconds per host
STOP_WAIT=${LAB_STOP_WAIT:-20}      # seconds for a graceful poweroff
DOCKER_HOSTS=${LAB_DOCKER_HOSTS-h5 h6}
CG_NAMED=/sys/fs/cgroup/systemd/rigger-lab     # cgroup v1 name=systemd
CG_UNIFIED=/sys/fs/cgroup/unified/rigger-lab   # cgroup v2 (hybrid layout)
PACKAGES=(debootstrap systemd-container socat iproute2 openssh-client)

log() { printf 'lab: %s\n' "$*" >&2; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- helpers --

host_index() {      # h7 -> 7
    [[ $1 =~ ^h([1-9][0-9]*)$ ]] || die "bad host name '$1' (want h1..h$MAX_HOSTS)"
    local n=${BASH_REMATCH[1]}
    ((n <= MAX_HOSTS)) || die "host $1: at most $MAX_HOSTS hosts"
    echo "$n"
}
host_ip()  { echo "$NET_PREFIX.$((10 + $(host_index "$1")))"; }
host_dir() { echo "$LAB/hosts/$1"; }
is_docker_host() { [[ " $DOCKER_HOSTS " == *" $1 "* ]]; }

existing_hosts() {  # hosts that have a state dir, sorted by number
    [[ -d $LAB/hosts ]] || return 0
    local d
    for d in "$LAB"/hosts/h*; do
        if [[ -d $d ]]; then basename "$d"; fi
    done | sort -V
}

ssh_opts() {
    printf '%s\n' -F none -i "$KEY" -o IdentitiesOnly=yes -o BatchMode=yes \
        -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KNOWN_HOSTS" \
        -o LogLevel=ERROR
}

with_lock() {       # serialise commands that change the lab
    mkdir -p "$LAB"
    exec 9>"$LAB/lock"
    flock 9
}

# ------------------------------------------------------------ cgroups --

cg_create() {       # cg_create NAME: make /rigger-lab/NAME in both hierarchies
    mkdir -p "$CG_NAMED/$1"
    if [[ -d ${CG_UNIFIED%/*} ]]; then mkdir -p "$CG_UNIFIED/$1"; fi
}

cg_pids() {         # every pid in /rigger-lab/NAME and below
    local root
    for root in "$CG_NAMED/$1" "$CG_UNIFIED/$1"; do
        if [[ -d $root ]]; then find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
    done | sort -un
}

cg_running() { [[ -n $(cg_pids "$1") ]]; }

cg_kill() {         # SIGKILL everything in the cgroup, wait, remove the cgroup
    local i pids killed=""
    for i in $(seq 50); do
        pids=$(cg_pids "$1")
        [[ -z $pids ]] && break
        killed+=" $pids"
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
        sleep 0.1
    done
    # shellcheck disable=SC2086
    wait_reaped $killed
    [[ -z $(cg_pids "$1") ]] || log "warning: processes left in cgroup $1: $(cg_pids "$1" | tr '\n' ' ')"
    local root
    for root in "$CG_NAMED/$1" "$CG_UNIFIED/$1"; do
        if [[ -d $root ]]; then find "$root" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
    done
    return 0
}

wait_reaped() {     # wait (3 s at most) until the pids' parent (often PID 1)
    local p i       # has reaped them, so that no <defunct> entries linger
    for p in "$@"; do
        for i in $(seq 30); do
            [[ -e /proc/$p ]] || break
            sleep 0.1
        done
    done
}

cg_exec() {         # cg_exec NAME LOGFILE CMD...: run CMD detached inside the cgroup
    local name=$1 logfile=$2
    shift 2
    cg_create "$name"
    # shellcheck disable=SC2016 # $1.. expand in the inner bash
    setsid bash -c '
        echo $$ > "$1/cgroup.procs"
        [[ -d $2 ]] && echo $$ > "$2/cgroup.procs"
        shift 2
        exec "$@"' cg_exec "$CG_NAMED/$name" "$CG_UNIFIED/$name" "$@" \
        >"$logfile" 2>&1 </dev/null 9>&- &
}

# ------------------------------------------------------- requirements --

ensure_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${missing[@]}" >&2
}

ensure_key() {
    [[ -s $KEY && -s $KEY.pub ]] && return 0
    log "generating lab key $KEY"
    rm -f "$KEY" "$KEY.pub"
    ssh-keygen -q -t ed25519 -N '' -C rigger-lab -f "$KEY"
}

# Print "URI SUITE COMPONENTS..." for every bookworm* entry of this machine's
# apt sources (deb822 *.sources and one-line *.list / sources.list).
apt_sources() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        awk 'function flush() {
                 if (types ~ /(^| )deb( |$)/)
                     for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j], comps
                 types = ""; nu = ns = 0; comps = ""
             }
             /^[ \t]*#/ { next }
             /^[ \t]*$/ { flush(); next }
             { key = tolower($1); sub(/:$/, "", key); $1 = "" ; sub(/^ /, "") }
             key == "types" { types = $0 }
             key == "uris" { nu = split($0, u, " ") }
             key == "suites" { ns = split($0, s, " ") }
             key == "components" { comps = $0 }
             key == "enabled" && tolower($0) == "no" { types = "" }
             END { flush() }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        sed -E -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" { $1 = ""; sub(/^ /, ""); print }'
    done | cat
}

# Fills SOURCES (lines "URI SUITE COMPONENTS"), MIRROR (URI of $SUITE) and
# RELAYS (lines "RELAY_IP PORT MIRROR_IP HOSTNAME...").
load_mirrors() {
    SOURCES=$(apt_sources | awk -v s="$SUITE" '$2 == s || $2 == s"-updates" || $2 == s"-security" || $2 == s"/updates"' | sort -u)
    MIRROR=$(awk -v s="$SUITE" '$2 == s { print $1; exit }' <<<"$SOURCES")
    [[ -n $MIRROR ]] || die "no '$SUITE' entry in this machine's apt sources"
    local uri hostport host port ip n=0 key
    declare -A seen=() relay_of=()
    RELAYS=""
    while read -r uri; do
        [[ $uri =~ ^http://([^/]+) ]] || die "mirror $uri: only http:// mirrors can be relayed"
        hostport=${BASH_REMATCH[1]}
        host=${hostport%%:*}
        port=80
        [[ $hostport == *:* ]] && port=${hostport##*:}
        [[ -n ${seen[$host]:-} ]] && continue
        seen[$host]=1
        ip=$(getent ahostsv4 "$host" | awk 'NR == 1 { print $1 }')
        [[ -n $ip ]] || die "cannot resolve mirror host $host"
        key="$ip:$port"
        if [[ -z ${relay_of[$key]:-} ]]; then
            n=$((n + 1))
            ((n < 10)) || die "too many distinct mirror addresses"
            relay_of[$key]="$NET_PREFIX.$n"
            RELAYS+="$NET_PREFIX.$n $port $ip $host"$'\n'
        else
            RELAYS=$(awk -v k="${relay_of[$key]} $port $ip" -v h="$host" \
                '{ if (index($0, k" ") == 1) $0 = $0" "h; print }' <<<"$RELAYS")$'\n'
        fi
    done < <(awk '{ print $1 }' <<<"$SOURCES" | sort -u)
    RELAYS=${RELAYS%$'\n'}
}

# ------------------------------------------------------------- base image --

# Everything written into the base after debootstrap.  Idempotent; re-run
# whenever its text or the mirrors change (see ensure_base).
configure_base() {
    local b=$1 pub
    pub=$(cat "$KEY.pub")

    # apt: the same mirrors as this machine; no recommends, like a minimal VM
    rm -f "$b/etc/apt/sources.list"
    awk '{ uri = $1; suite = $2; $1 = $2 = ""; sub(/^ +/, "");
           printf "Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n", uri, suite, $0 }' \
        <<<"$SOURCES" >"$b/etc/apt/sources.list.d/debian.sources"

    # name resolution: mirrors via the relay, lab hosts by name, no DNS server
    {
        echo "127.0.0.1 localhost"
        echo "::1 localhost ip6-localhost ip6-loopback"
        local relay port ip hosts i
        while read -r relay port ip hosts; do
            echo "$relay $hosts"
        done <<<"$RELAYS"
        for ((i = 1; i <= MAX_HOSTS; i++)); do echo "$NET_PREFIX.$((10 + i)) h$i"; done
    } >"$b/etc/hosts"
    rm -f "$b/etc/resolv.conf"
    printf '# rigger lab: no DNS server; names come from /etc/hosts\nnameserver 127.0.0.1\n' >"$b/etc/resolv.conf"

    # identity: hosts differ (per-host machine-id and hostname are written at
    # host creation; an empty one here means "not set" to systemd)
    : >"$b/etc/machine-id"
    rm -f "$b/var/lib/dbus/machine-id"
    echo lab-base >"$b/etc/hostname"
    echo LANG=C.UTF-8 >"$b/etc/default/locale"

    # users: root and deploy (passwordless sudo) and nosudo, all with the lab key
    chroot "$b" id deploy >/dev/null 2>&1 || chroot "$b" useradd -m -s /bin/bash deploy
    chroot "$b" id nosudo >/dev/null 2>&1 || chroot "$b" useradd -m -s /bin/bash nosudo
    local user home
    for user in root deploy nosudo; do
        home=$(chroot "$b" getent passwd "$user" | cut -d: -f6)
        install -d -m 700 "$b$home/.ssh"
        echo "$pub" >"$b$home/.ssh/authorized_keys"
        chmod 600 "$b$home/.ssh/authorized_keys"
        chroot "$b" chown -R "$user:" "$home/.ssh"
    done
    echo 'deploy ALL=(ALL) NOPASSWD:ALL' >"$b/etc/sudoers.d/deploy"
    chmod 440 "$b/etc/sudoers.d/deploy"

    # sshd: key-only root login, many concurrent (multiplexed) sessions
    [[ -s $b/etc/ssh/ssh_host_ed25519_key ]] || chroot "$b" ssh-keygen -A
    cat >"$b/etc/ssh/sshd_config.d/rigger-lab.conf" <<'EOF'
# rigger lab
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 100:30:200
MaxSessions 100
UseDNS no
LogLevel INFO
EOF

    # sysfs: nspawn mounts /sys before it joins the host's netns, so
    # /sys/class/net shows the outer machine's links; remount the net parts
    # from a sysfs mounted inside the host
    install -d "$b/usr/local/sbin" "$b/etc/rigger-lab"
    cat >"$b/usr/local/sbin/rigger-lab-sysfs" <<'EOF'
#!/bin/sh
# rigger lab: make /sys/class/net and /sys/devices/virtual/net show this
# host's network namespace (rw on Docker hosts, ro otherwise)
set -e
opts=ro
[ -e /etc/rigger-lab/docker-host ] && opts=rw
mkdir -p /run/rigger-lab/sysfs
mountpoint -q /run/rigger-lab/sysfs || mount -t sysfs -o $opts,nosuid,nodev,noexec sysfs /run/rigger-lab/sysfs
for d in class/net devices/virtual/net; do
    mount --bind /run/rigger-lab/sysfs/$d /sys/$d
done
EOF
    chmod 755 "$b/usr/local/sbin/rigger-lab-sysfs"
    cat >"$b/etc/systemd/system/rigger-lab-sysfs.service" <<'EOF'
[Unit]
Description=rigger lab: sysfs network view of this host
DefaultDependencies=no
After=systemd-remount-fs.service
Before=sysinit.target network-pre.target shutdown.target
Wants=network-pre.target
Conflicts=shutdown.target
ConditionVirtualization=container

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/rigger-lab-sysfs

[Install]
WantedBy=sysinit.target
EOF

    # Docker hosts: cgroup v1 controllers writable (marker written at start)
    cat >"$b/usr/local/sbin/rigger-lab-cgroups" <<'EOF'
#!/bin/sh
# rigger lab: make the cgroup v1 controllers writable so Docker can run here
mount -o remount,rw /sys/fs/cgroup
for d in /sys/fs/cgroup/*; do
    [ -d "$d" ] || continue
    [ -L "$d" ] && continue
    mountpoint -q "$d" && mount -o remount,bind,rw "$d" || true
done
EOF
    chmod 755 "$b/usr/local/sbin/rigger-lab-cgroups"
    cat >"$b/etc/systemd/system/rigger-lab-cgroups.service" <<'EOF'
[Unit]
Description=rigger lab: writable cgroup controllers (Docker hosts)
DefaultDependencies=no
After=systemd-remount-fs.service
Before=sysinit.target shutdown.target
Conflicts=shutdown.target
ConditionPathExists=/etc/rigger-lab/docker-host

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/rigger-lab-cgroups

[Install]
WantedBy=sysinit.target
EOF
    chroot "$b" systemctl enable rigger-lab-sysfs.service rigger-lab-cgroups.service >/dev/null 2>&1
    # no consoles to log in on; nothing to do for these in a container
    chroot "$b" systemctl mask console-getty.service getty@tty1.service \
        systemd-timesyncd.service >/dev/null 2>&1
    chroot "$b" systemctl enable ssh.service >/dev/null 2>&1
    chroot "$b" apt-get clean
}

base_config_hash() {
    { declare -f configure_base; echo "$SOURCES"; echo "$RELAYS"; cat "$KEY.pub"; } | sha256sum | cut -c1-16
}

ensure_base() {
    if [[ ! -f $LAB/base.debootstrap-ok || ! -x $BASE/usr/sbin/sshd ]]; then
        local t0=$SECONDS
        log "building base image with debootstrap from $MIRROR (once; a few minutes)"
        rm -rf "$BASE" "$LAB/base.tmp" "$LAB/base.debootstrap-ok" "$LAB/base.config-hash"
        mkdir -p "$LAB"
        debootstrap --variant=minbase \
            --include=openssh-server,systemd,systemd-sysv,iproute2,procps,ca-certificates,sudo,python3,dbus \
            "$SUITE" "$LAB/base.tmp" "$MIRROR" >"$LAB/debootstrap.log" 2>&1 ||
            die "debootstrap failed; see $LAB/debootstrap.log"
        mv "$LAB/base.tmp" "$BASE"
        touch "$LAB/base.debootstrap-ok"
        log "base image built in $((SECONDS - t0)) s"
    fi
    local want
    want=$(base_config_hash)
    if [[ $(cat "$LAB/base.config-hash" 2>/dev/null) != "$want" ]]; then
        local h
        for h in $(existing_hosts); do
            cg_running "$h" && die "base configuration changed while $h is running: run '$0 down' first"
        done
        log "configuring base image"
        configure_base "$BASE"
        echo "$want" >"$LAB/base.config-hash"
    fi
}

write_known_hosts() {   # all hosts share the base's host keys
    local keys h ip i n=$1
    keys=$(cat "$BASE"/etc/ssh/ssh_host_*_key.pub | awk '{ print $1, $2 }')
    for h in $(existing_hosts); do
        i=$(host_index "$h")
        ((i > n)) && n=$i
    done
    for ((i = 1; i <= n; i++)); do
        ip=$NET_PREFIX.$((10 + i))
        while read -r key; do echo "$ip $key"; done <<<"$keys"
    done >"$KNOWN_HOSTS.tmp"
    mv "$KNOWN_HOSTS.tmp" "$KNOWN_HOSTS"
}

# ------------------------------------------------------------- network --

ensure_bridge() {
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        # a fixed MAC: else it follows the lowest port's and ARP caches go stale
        ip link add "$BRIDGE" address 02:77:00:00:00:01 type bridge
    fi
    ip addr replace "$GATEWAY/24" dev "$BRIDGE"
    local relay rest
    while read -r relay rest; do
        [[ $relay == "$GATEWAY" ]] || ip addr replace "$relay/32" dev "$BRIDGE"
    done <<<"$RELAYS"
    ip link set "$BRIDGE" up
    # nothing from the lab is routed anywhere: hosts reach only 10.77.0.0/24
    echo 0 >"/proc/sys/net/ipv4/conf/$BRIDGE/forwarding"
}

ensure_relay() {
    cg_running relay && return 0
    local relay port ip hosts
    while read -r relay port ip hosts; do
        log "relay $relay:$port -> $ip:$port ($hosts)"
        cg_exec relay "$LAB/relay-$relay.log" \
            socat "TCP-LISTEN:$port,bind=$relay,fork,reuseaddr" "TCP:$ip:$port"
    done <<<"$RELAYS"
}

ensure_netns() {    # ensure_netns hN: netns with eth0 on the bridge
    local h=$1 ip veth mac outer_mac
    ip=$(host_ip "$h")
    veth="v$h"
    # fixed MACs, like a VM's: a restarted host is not hidden behind stale
    # ARP entries of the other hosts and of this machine
    mac=$(printf '02:77:00:00:01:%02x' "$(host_index "$h")")
    outer_mac=$(printf '02:77:00:00:02:%02x' "$(host_index "$h")")
    [[ -e /run/netns/$h ]] || ip netns add "$h"
    if ! ip -n "$h" link show eth0 >/dev/null 2>&1; then
        ip link del "$veth" 2>/dev/null || true
        ip link add "$veth" address "$outer_mac" type veth \
            peer name eth0 address "$mac" netns "$h"
    fi
    ip link set "$veth" master "$BRIDGE" up
    ip -n "$h" link set lo up
    ip -n "$h" addr replace "$ip/24" dev eth0
    ip -n "$h" link set eth0 up
    ip -n "$h" route replace default via "$GATEWAY"
}

remove_netns() {
    local h=$1
    ip link del "v$h" 2>/dev/null || true
    ip netns del "$h" 2>/dev/null || true
}

# --------------------------------------------------------------- hosts --

ensure_overlay() {  # ensure_overlay hN: hosts/hN/root mounted, identity written
    local h=$1 d
    d=$(host_dir "$h")
    mkdir -p "$d/upper" "$d/work" "$d/root"
    if ! mountpoint -q "$d/root"; then
        mount -t overlay "overlay-$h" \
            -o "lowerdir=$BASE,upperdir=$d/upper,workdir=$d/work" "$d/root"
    fi
    if [[ ! -f $d/created ]]; then
        echo "$h" >"$d/root/etc/hostname"
        systemd-id128 new >"$d/root/etc/machine-id"
        touch "$d/created"
    fi
    if is_docker_host "$h"; then
        mkdir -p "$d/docker"
        : >"$d/root/etc/rigger-lab/docker-host"
    else
        rm -f "$d/root/etc/rigger-lab/docker-host"
    fi
}

start_host() {      # boot hN in the background (no-op if it is running)
    local h=$1 d
    d=$(host_dir "$h")
    cg_running "$h" && return 0
    cg_kill "$h"    # stale cgroup dirs from an earlier run
    ensure_netns "$h"
    ensure_overlay "$h"
    local args=(-D "$d/root" --register=no --keep-unit -M "$h" --hostname="$h"
        --network-namespace-path="/run/netns/$h" --capability=CAP_NET_ADMIN
        --resolv-conf=off --link-journal=no --console=read-only -b)
    local env=()
    if is_docker_host "$h"; then
        env=(SYSTEMD_NSPAWN_API_VFS_WRITABLE=1)
        args+=(--system-call-filter=@keyring --bind="$d/docker:/var/lib/docker")
    fi
    log "starting $h ($(host_ip "$h")$(is_docker_host "$h" && echo ', docker'))"
    cg_exec "$h" "$d/console.log" env "${env[@]}" systemd-nspawn "${args[@]}"
}

nspawn_pid() {      # the systemd-nspawn process of hN, if any
    local p
    for p in $(cg_pids "$1"); do
        [[ $(cat "/proc/$p/comm" 2>/dev/null) == systemd-nspawn ]] && { echo "$p"; return 0; }
    done
    return 0
}

stop_hosts() {      # stop_hosts [--hard] hN...: power off, then tidy up
    local hard=0 h pid deadline pids=()
    [[ ${1:-} == --hard ]] && { hard=1; shift; }
    if ((!hard)); then
        for h in "$@"; do
            pid=$(nspawn_pid "$h")
            [[ -n $pid ]] || continue
            # nspawn turns SIGTERM into SIGRTMIN+3 (orderly halt) for the init
            log "stopping $h"
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        done
        deadline=$((SECONDS + STOP_WAIT))
        for h in "$@"; do
            while [[ -n $(nspawn_pid "$h") ]] && ((SECONDS < deadline)); do sleep 0.2; done
            [[ -n $(nspawn_pid "$h") ]] && log "warning: $h did not power off in ${STOP_WAIT} s; killing it"
        done
    fi
    for h in "$@"; do
        if ((hard)); then
            # a power cut: pull the cable first so that the dying processes'
            # sockets send nothing (peers see silence, not a closed connection)
            log "killing $h"
            ip link del "v$h" 2>/dev/null || true
        fi
        cg_kill "$h"
        local d
        d=$(host_dir "$h")
        mountpoint -q "$d/root" && { umount "$d/root" 2>/dev/null || umount -l "$d/root"; }
        remove_netns "$h"
    done
    wait_reaped "${pids[@]}"
}

wait_ssh() {        # wait_ssh hN: poll until root can run a command over SSH
    local h=$1 ip deadline
    ip=$(host_ip "$h")
    deadline=$((SECONDS + SSH_WAIT))
    mapfile -t opts < <(ssh_opts)
    until ssh "${opts[@]}" -o ConnectTimeout=2 "root@$ip" true </dev/null 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            cg_running "$h" || die "$h ($ip) is not running; see $(host_dir "$h")/console.log"
            die "$h ($ip) did not answer SSH within ${SSH_WAIT} s; see $(host_dir "$h")/console.log"
        fi
        sleep 0.3
    done
}

prepare() {         # everything up to (not including) the hosts
    [[ $EUID -eq 0 ]] || die "must run as root"
    ensure_packages
    mkdir -p "$LAB/hosts"
    ensure_key
    load_mirrors
    ensure_base
    ensure_bridge
    ensure_relay
}

# ------------------------------------------------------------ commands --

cmd_up() {
    local n=${1:-}
    if ! [[ $n =~ ^[1-9][0-9]*$ ]] || ((n > MAX_HOSTS)); then
        die "usage: $0 up N (1..$MAX_HOSTS)"
    fi
    with_lock
    local t0=$SECONDS i
    prepare
    write_known_hosts "$n"
    for ((i = 1; i <= n; i++)); do start_host "h$i"; done
    for ((i = 1; i <= n; i++)); do wait_ssh "h$i"; done
    log "up: h1..h$n answer SSH ($((SECONDS - t0)) s)"
}

cmd_down() {
    with_lock
    local hosts
    mapfile -t hosts < <(existing_hosts)
    ((${#hosts[@]})) && stop_hosts "${hosts[@]}"
    for h in "${hosts[@]}"; do remove_netns "$h"; done
    cg_kill relay
    ip link del "$BRIDGE" 2>/dev/null || true
    rm -rf "$LAB/hosts"
    rmdir "$CG_NAMED" "$CG_UNIFIED" 2>/dev/null || true
    log "down"
}

cmd_reset() {
    local n=0 h i
    for h in $(existing_hosts); do
        i=$(host_index "$h")
        ((i > n)) && n=$i
    done
    ((n > 0)) || die "reset: no hosts; use '$0 up N'"
    cmd_down
    exec 9>&-
    cmd_up "$n"
}

cmd_status() {
    local h ip state sshs
    mapfile -t opts < <(ssh_opts)
    printf '%-5s %-12s %-8s %s\n' HOST ADDRESS STATE SSH
    for h in $(existing_hosts); do
        ip=$(host_ip "$h")
        state=stopped
        cg_running "$h" && state=running
        sshs=down
        [[ $state == running ]] &&
            ssh "${opts[@]}" -o ConnectTimeout=2 "root@$ip" true </dev/null 2>/dev/null && sshs=up
        printf '%-5s %-12s %-8s %s\n' "$h" "$ip" "$state" "$sshs"
    done
}

cmd_stop() {
    local h=${1:-} hard=()
    [[ -n $h ]] || die "usage: $0 stop hN [--hard]"
    host_index "$h" >/dev/null
    [[ ${2:-} == --hard ]] && hard=(--hard)
    with_lock
    [[ -d $(host_dir "$h") ]] || die "no host $h"
    stop_hosts "${hard[@]}" "$h"
}

cmd_start() {
    local h=${1:-}
    [[ -n $h ]] || die "usage: $0 start hN"
    host_index "$h" >/dev/null
    with_lock
    prepare
    write_known_hosts "$(host_index "$h")"
    start_host "$h"
    wait_ssh "$h"
    log "$h answers SSH"
}

remove_host_state() {  # remove_host_state hN: back to the bare base on next start
    local d
    d=$(host_dir "$1")
    [[ -d $d ]] || return 0
    mountpoint -q "$d/root" && die "$1: $d/root is still mounted"
    rm -rf "$d"
}

cmd_wipe() {
    (($#)) || die "usage: $0 wipe hN [hM...]"
    local h n=0 i
    for h in "$@"; do
        i=$(host_index "$h")
        ((i > n)) && n=$i
    done
    with_lock
    prepare
    write_known_hosts "$n"
    stop_hosts "$@"
    for h in "$@"; do remove_host_state "$h"; done
    for h in "$@"; do start_host "$h"; done
    for h in "$@"; do wait_ssh "$h"; done
    log "wiped: $* answer SSH"
}

cmd_ssh() {
    local h=${1:-}
    [[ -n $h ]] || die "usage: $0 ssh hN CMD..."
    shift
    local ip
    ip=$(host_ip "$h")
    mapfile -t opts < <(ssh_opts)
    exec ssh "${opts[@]}" -o ConnectTimeout=5 "root@$ip" "$@"
}

main() {
    local cmd=${1:-}
    shift || true
    case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    reset) cmd_reset ;;
    status) cmd_status ;;
    stop) cmd_stop "$@" ;;
    start) cmd_start "$@" ;;
    wipe) cmd_wipe "$@" ;;
    ssh) cmd_ssh "$@" ;;
    *) sed -n '/^# Usage:/,/^#$/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
}

main "$@"
