#!/usr/bin/env bash
# src/lab/lab.sh — the rigger lab: VM-like Debian hosts on one machine.
# Run by `rigger lab` (src/lab/), which embeds this script and runs it from a
# private copy; tests/lab/lab.sh is a wrapper around `rigger lab`.
#
# Usage:
#   lab.sh up N            start hosts h1..hN (idempotent; keeps running hosts,
#                          adds missing ones); returns once every host answers SSH
#   lab.sh create NAME[:IMAGE]...  start hosts with these names (addresses in
#                          the order given: the first is .11); for `rigger test`
#   lab.sh down            stop every host; remove netns, veths, bridge, relay,
#                          and the hosts' state (the cached images and the lab
#                          key stay)
#   lab.sh reset           down, then up again with the same hosts
#   lab.sh status          one line per host: name, address, image, state, ssh
#   lab.sh inventory       the lab's hosts as an Ansible YAML inventory
#   lab.sh stop H [--hard] stop one host: orderly poweroff (peers' connections
#                          are closed), or --hard: power cut (peers hear nothing
#                          more); either way its address leaves the network
#   lab.sh start H         start one host again (its disk state is kept)
#   lab.sh wipe H [H...]   power-cut the hosts, throw away their disk state
#                          (overlay upper dir), boot them fresh from the image;
#                          returns once they answer SSH
#   lab.sh ssh H CMD...    run CMD on H as root (ssh semantics: the words are
#                          joined by spaces and run by the remote shell); the
#                          exit code is propagated, stdin is passed through
#
# Design (see DESIGN.md section 4, "The lab"):
#   * Images (debian12 = bookworm, debian13 = trixie) are built once each by
#     debootstrap into $RIGGER_LAB_IMAGES/NAME (mirror taken from this
#     machine's apt sources) and configured once: lab key for
#     root/deploy/nosudo, sshd tuning, apt sources, empty machine-id, a unit
#     that remounts the net part of sysfs from inside the host's netns, and
#     (for Docker hosts) a unit that makes the cgroup v1 controllers
#     writable.  A hash of that configuration is kept so that changing this
#     script re-applies it (no new debootstrap).  Nothing in an image depends
#     on a lab's name or subnet, so every lab shares the images (read-only
#     overlay lower dirs).
#   * Many labs can run side by side: LAB_NAME names one (empty: the default
#     lab, bridge lab0, netns hN, cgroups /rigger-lab/hN); a named lab NAME
#     has bridge rl-NAME, netns NAME-H, cgroups /rigger-lab-NAME/H, its own
#     subnet LAB_NET (A.B.C, the /24) and its own state folder.
#   * Each host H is an overlayfs (lower = its image, upper = hosts/H/upper)
#     booted with systemd-nspawn -b in its own network namespace.  Its eth0
#     (NET.(10+I)/24, I its index) is one end of a veth pair whose other end
#     is enslaved to the lab's bridge (NET.1/24) in this namespace.  MACs are
#     fixed so that a restarted host is not hidden behind stale ARP entries.
#     /etc/hostname, /etc/machine-id and /etc/hosts (the mirrors' names and
#     the lab's hosts) are written into the host's upper dir when it is
#     created (rather than bind-mounted), so tools that rewrite them work.
#   * Every host runs in its own cgroup (name=systemd and unified hierarchies):
#     the container's systemd needs it to shut down cleanly, and it is how
#     this script finds and kills everything that belongs to a host.  The
#     mirror relay (socat) lives in the lab's cgroup "relay".
#   * Hosts reach packages through a socat relay on NET.1:80 to the mirror's
#     address; each host's /etc/hosts maps the mirror name to it.  Nothing
#     else leaves the lab's /24: no DNS server (resolv.conf points at the host
#     itself), no forwarding from the bridge.
#   * Docker hosts ($LAB_DOCKER_HOSTS, default "h5 h6" in the default lab)
#     get writable /sys and /proc/sys, the @keyring system calls, writable
#     cgroup controllers and /var/lib/docker on the real disk (overlay2
#     cannot nest in overlayfs).
#   * All hosts of an image share its SSH host keys; the lab's known_hosts
#     lists them for every address of the lab, for strict host key checking.
#
# Environment: RIGGER_LAB_DIR (the lab's state), RIGGER_LAB_IMAGES (image
# cache), RIGGER_LAB_KEY (the lab key), LAB_NAME, LAB_NET, LAB_IMAGE (default
# debian12), LAB_DOCKER_HOSTS, LAB_SSH_WAIT (s per host, default 60),
# LAB_STOP_WAIT (s for a graceful poweroff, default 20).
#
# State: ${RIGGER_LAB_DIR:-/var/lib/rigger-lab} (a named lab: .../labs/NAME)
#   known_hosts net lock relay-*.log
#   hosts/H/{index,image,upper,work,root,docker,console.log}
# Images: ${RIGGER_LAB_IMAGES:-/var/lib/rigger-lab/images}
#   NAME/ NAME.debootstrap-ok NAME.config-hash NAME.debootstrap.log NAME.lock
# Key: ${RIGGER_LAB_KEY:-/var/lib/rigger-lab/id_ed25519}{,.pub}
set -euo pipefail

LAB_NAME=${LAB_NAME:-}
[[ -z $LAB_NAME || $LAB_NAME =~ ^[a-z][a-z0-9]{0,7}$ ]] ||
    { echo "lab: error: bad lab name '$LAB_NAME' (a-z, 0-9, at most 8, a letter first)" >&2; exit 1; }
if [[ -z $LAB_NAME ]]; then
    LAB=${RIGGER_LAB_DIR:-/var/lib/rigger-lab}
    BRIDGE=lab0
    CG_NAME=rigger-lab
else
    LAB=${RIGGER_LAB_DIR:-/var/lib/rigger-lab/labs/$LAB_NAME}
    BRIDGE=rl-$LAB_NAME
    CG_NAME=rigger-lab-$LAB_NAME
fi
IMAGES=${RIGGER_LAB_IMAGES:-/var/lib/rigger-lab/images}
KEY=${RIGGER_LAB_KEY:-/var/lib/rigger-lab/id_ed25519}
KNOWN_HOSTS=$LAB/known_hosts
DEFAULT_IMAGE=${LAB_IMAGE:-debian12}
# The subnet: given, else the one this lab was made with, else the default lab's.
NET_PREFIX=${LAB_NET:-$(cat "$LAB/net" 2>/dev/null || true)}
if [[ -z $NET_PREFIX ]]; then
    [[ -z $LAB_NAME ]] || { echo "lab: error: lab '$LAB_NAME' has no subnet: set LAB_NET (e.g. 10.78.3)" >&2; exit 1; }
    NET_PREFIX=10.77.0
fi
[[ $NET_PREFIX =~ ^(10|172|192)\.([0-9]{1,3})\.([0-9]{1,3})$ ]] ||
    { echo "lab: error: bad subnet '$NET_PREFIX' (want A.B.C of a private /24, e.g. 10.78.3)" >&2; exit 1; }
if [[ -z $LAB_NAME ]]; then
    MAC_PREFIX=02:77:00
else
    MAC_PREFIX=$(printf '02:%02x:%02x' "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}")
fi
GATEWAY=$NET_PREFIX.1
MAX_HOSTS=50                        # indexes 1..50 = NET.11..NET.60
SSH_WAIT=${LAB_SSH_WAIT:-60}        # seconds per host
STOP_WAIT=${LAB_STOP_WAIT:-20}      # seconds for a graceful poweroff
if [[ -z $LAB_NAME ]]; then DOCKER_HOSTS=${LAB_DOCKER_HOSTS-h5 h6}; else DOCKER_HOSTS=${LAB_DOCKER_HOSTS-}; fi
CG_NAMED=/sys/fs/cgroup/systemd/$CG_NAME     # cgroup v1 name=systemd
CG_UNIFIED=/sys/fs/cgroup/unified/$CG_NAME   # cgroup v2 (hybrid layout)
PROG=${LAB_PROG:-$0}
PACKAGES=(debootstrap systemd-container socat iproute2 openssh-client)

log() { printf 'lab%s: %s\n' "${LAB_NAME:+ $LAB_NAME}" "$*" >&2; }
die() { printf 'lab%s: error: %s\n' "${LAB_NAME:+ $LAB_NAME}" "$*" >&2; exit 1; }

# ---------------------------------------------------------------- helpers --

host_index() {      # the host's index: its address is NET.(10+index)
    local f=$LAB/hosts/$1/index n
    if [[ -s $f ]]; then
        cat "$f"
        return 0
    fi
    [[ $1 =~ ^h([1-9][0-9]*)$ ]] || die "no host '$1' in this lab"
    n=${BASH_REMATCH[1]}
    ((n <= MAX_HOSTS)) || die "host $1: at most $MAX_HOSTS hosts"
    echo "$n"
}
host_ip()  { echo "$NET_PREFIX.$((10 + $(host_index "$1")))"; }
host_dir() { echo "$LAB/hosts/$1"; }
host_image() { cat "$LAB/hosts/$1/image" 2>/dev/null || echo "$DEFAULT_IMAGE"; }
is_docker_host() { [[ " $DOCKER_HOSTS " == *" $1 "* ]]; }
netns_of() { echo "${LAB_NAME:+$LAB_NAME-}$1"; }
veth_of() {         # the outer end of the host's veth (15 characters at most)
    if [[ -z $LAB_NAME ]]; then echo "v$1"; else echo "r$LAB_NAME-$(host_index "$1")"; fi
}

existing_hosts() {  # hosts that have a state dir, by index
    [[ -d $LAB/hosts ]] || return 0
    local d
    for d in "$LAB"/hosts/*; do
        if [[ -d $d ]]; then echo "$(host_index "$(basename "$d")") $(basename "$d")"; fi
    done | sort -n | awk '{ print $2 }'
}

register_host() {   # register_host NAME INDEX IMAGE: its state dir, once
    local d
    d=$(host_dir "$1")
    mkdir -p "$d"
    [[ -s $d/index ]] || echo "$2" >"$d/index"
    [[ -s $d/image ]] || echo "$3" >"$d/image"
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

image_suite() {     # the Debian suite an image is built from
    case $1 in
    debian12) echo bookworm ;;
    debian13) echo trixie ;;
    *) die "unknown image '$1' (want debian12 or debian13)" ;;
    esac
}

# "URI SUITE COMPONENTS" lines for SUITE: this machine's own entries (its
# release, -updates, -security) with its release's name replaced by SUITE,
# so a Debian 12 machine's mirror also serves the Debian 13 image.
image_sources() {
    local own
    own=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    [[ -n $own ]] || die "cannot tell this machine's Debian release from /etc/os-release"
    apt_sources | awk -v s="$own" '$2 == s || $2 == s"-updates" || $2 == s"-security"' |
        sed -E "s|^([^ ]+) $own|\1 $1|" | sort -u
}

# Fills RELAYS (lines "RELAY_IP PORT MIRROR_IP HOSTNAME..."): one relay
# address in the lab's subnet per distinct mirror address.
load_mirrors() {
    local sources
    sources=$(image_sources "$(image_suite debian12)")
    [[ -n $sources ]] || die "no Debian entry in this machine's apt sources"
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
    done < <(awk '{ print $1 }' <<<"$sources" | sort -u)
    RELAYS=${RELAYS%$'\n'}
}

# ------------------------------------------------------------- base image --

# Everything written into the base after debootstrap.  Idempotent; re-run
# whenever its text or the mirrors change (see ensure_base).
configure_base() {   # configure_base DIR SOURCES
    local b=$1 SOURCES=$2 pub
    pub=$(cat "$KEY.pub")

    # apt: the same mirrors as this machine; no recommends, like a minimal VM
    rm -f "$b/etc/apt/sources.list"
    awk '{ uri = $1; suite = $2; $1 = $2 = ""; sub(/^ +/, "");
           printf "Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n", uri, suite, $0 }' \
        <<<"$SOURCES" >"$b/etc/apt/sources.list.d/debian.sources"

    # name resolution: per host (hosts_file, written when a host is created)
    printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$b/etc/hosts"
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

image_config_hash() {   # image_config_hash SOURCES
    { declare -f configure_base; echo "$1"; cat "$KEY.pub"; } | sha256sum | cut -c1-16
}

image_in_use() {    # is some overlay (of any lab) mounted on this image?
    grep -qF "lowerdir=$1," /proc/mounts
}

ensure_image() {    # ensure_image NAME: built once, configured when its recipe changed
    local name=$1 suite dir sources mirror
    suite=$(image_suite "$name")
    dir=$IMAGES/$name
    mkdir -p "$IMAGES"
    exec 8>"$IMAGES/$name.lock"   # labs share images: one builder at a time
    flock 8
    sources=$(image_sources "$suite")
    mirror=$(awk -v s="$suite" '$2 == s { print $1; exit }' <<<"$sources")
    [[ -n $mirror ]] || die "no Debian mirror in this machine's apt sources"
    if [[ ! -f $dir.debootstrap-ok || ! -x $dir/usr/sbin/sshd ]]; then
        local t0=$SECONDS
        log "building image $name ($suite) with debootstrap from $mirror (once; a few minutes)"
        rm -rf "$dir" "$dir.tmp" "$dir.debootstrap-ok" "$dir.config-hash"
        debootstrap --variant=minbase \
            --include=openssh-server,systemd,systemd-sysv,iproute2,procps,ca-certificates,sudo,python3,dbus \
            "$suite" "$dir.tmp" "$mirror" >"$dir.debootstrap.log" 2>&1 ||
            die "debootstrap failed; see $dir.debootstrap.log"
        mv "$dir.tmp" "$dir"
        touch "$dir.debootstrap-ok"
        log "image $name built in $((SECONDS - t0)) s"
    fi
    local want
    want=$(image_config_hash "$sources")
    if [[ $(cat "$dir.config-hash" 2>/dev/null) != "$want" ]]; then
        image_in_use "$dir" && die "image $name must be reconfigured, but hosts run on it: stop them first"
        log "configuring image $name"
        configure_base "$dir" "$sources"
        echo "$want" >"$dir.config-hash"
    fi
    exec 8>&-
}

write_known_hosts() {   # every host of the lab, with its image's host keys
    local h ip key
    for h in $(existing_hosts); do
        ip=$(host_ip "$h")
        while read -r key; do echo "$ip $key"; done < <(awk '{ print $1, $2 }' "$IMAGES/$(host_image "$h")"/etc/ssh/ssh_host_*_key.pub)
    done >"$KNOWN_HOSTS.tmp"
    mv "$KNOWN_HOSTS.tmp" "$KNOWN_HOSTS"
}

hosts_file() {      # a host's /etc/hosts: mirrors via the relay, the lab's hosts
    local relay port ip hosts h i
    echo "127.0.0.1 localhost"
    echo "::1 localhost ip6-localhost ip6-loopback"
    while read -r relay port ip hosts; do
        echo "$relay $hosts"
    done <<<"$RELAYS"
    if [[ -z $LAB_NAME ]]; then
        for ((i = 1; i <= MAX_HOSTS; i++)); do echo "$NET_PREFIX.$((10 + i)) h$i"; done
    else
        for h in $(existing_hosts); do echo "$(host_ip "$h") $h"; done
    fi
}

# ------------------------------------------------------------- network --

ensure_bridge() {
    # another lab (or anything else) on this subnet: refuse, never share it
    local other
    other=$(ip -o -4 addr show | awk -v p="$NET_PREFIX." -v b="$BRIDGE" 'index($4, p) == 1 && $2 != b { print $2; exit }')
    [[ -z $other ]] || die "subnet $NET_PREFIX.0/24 is already used by $other: pick another (LAB_NET)"
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        # a fixed MAC: else it follows the lowest port's and ARP caches go stale
        ip link add "$BRIDGE" address "$MAC_PREFIX:00:00:01" type bridge
    fi
    ip addr replace "$GATEWAY/24" dev "$BRIDGE"
    local relay rest
    while read -r relay rest; do
        [[ $relay == "$GATEWAY" ]] || ip addr replace "$relay/32" dev "$BRIDGE"
    done <<<"$RELAYS"
    ip link set "$BRIDGE" up
    # nothing from the lab is routed anywhere: hosts reach only the lab's /24
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

ensure_netns() {    # ensure_netns H: netns with eth0 on the bridge
    local h=$1 ip veth mac outer_mac ns
    ip=$(host_ip "$h")
    veth=$(veth_of "$h")
    ns=$(netns_of "$h")
    # fixed MACs, like a VM's: a restarted host is not hidden behind stale
    # ARP entries of the other hosts and of this machine
    mac=$(printf '%s:00:01:%02x' "$MAC_PREFIX" "$(host_index "$h")")
    outer_mac=$(printf '%s:00:02:%02x' "$MAC_PREFIX" "$(host_index "$h")")
    [[ -e /run/netns/$ns ]] || ip netns add "$ns"
    if ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
        ip link del "$veth" 2>/dev/null || true
        ip link add "$veth" address "$outer_mac" type veth \
            peer name eth0 address "$mac" netns "$ns"
    fi
    ip link set "$veth" master "$BRIDGE" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr replace "$ip/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route replace default via "$GATEWAY"
}

remove_netns() {
    local h=$1
    ip link del "$(veth_of "$h")" 2>/dev/null || true
    ip netns del "$(netns_of "$h")" 2>/dev/null || true
}

# --------------------------------------------------------------- hosts --

ensure_overlay() {  # ensure_overlay H: hosts/H/root mounted, identity written
    local h=$1 d
    d=$(host_dir "$h")
    mkdir -p "$d/upper" "$d/work" "$d/root"
    if ! mountpoint -q "$d/root"; then
        mount -t overlay "overlay-${LAB_NAME:+$LAB_NAME-}$h" \
            -o "lowerdir=$IMAGES/$(host_image "$h"),upperdir=$d/upper,workdir=$d/work" "$d/root"
    fi
    if [[ ! -f $d/created ]]; then
        echo "$h" >"$d/root/etc/hostname"
        systemd-id128 new >"$d/root/etc/machine-id"
        hosts_file >"$d/root/etc/hosts"
        touch "$d/created"
    fi
    if is_docker_host "$h"; then
        mkdir -p "$d/docker"
        : >"$d/root/etc/rigger-lab/docker-host"
    else
        rm -f "$d/root/etc/rigger-lab/docker-host"
    fi
}

start_host() {      # boot H in the background (no-op if it is running)
    local h=$1 d ns
    d=$(host_dir "$h")
    ns=$(netns_of "$h")
    cg_running "$h" && return 0
    cg_kill "$h"    # stale cgroup dirs from an earlier run
    ensure_netns "$h"
    ensure_overlay "$h"
    local args=(-D "$d/root" --register=no --keep-unit -M "$ns" --hostname="$h"
        --network-namespace-path="/run/netns/$ns" --capability=CAP_NET_ADMIN
        --resolv-conf=off --link-journal=no --console=read-only -b)
    local env=()
    if is_docker_host "$h"; then
        env=(SYSTEMD_NSPAWN_API_VFS_WRITABLE=1)
        args+=(--system-call-filter=@keyring --bind="$d/docker:/var/lib/docker")
    fi
    log "starting $h ($(host_ip "$h"), $(host_image "$h")$(is_docker_host "$h" && echo ', docker'))"
    cg_exec "$h" "$d/console.log" env "${env[@]}" systemd-nspawn "${args[@]}"
}

nspawn_pid() {      # the systemd-nspawn process of H, if any
    local p
    for p in $(cg_pids "$1"); do
        [[ $(cat "/proc/$p/comm" 2>/dev/null) == systemd-nspawn ]] && { echo "$p"; return 0; }
    done
    return 0
}

stop_hosts() {      # stop_hosts [--hard] H...: power off, then tidy up
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
            ip link del "$(veth_of "$h")" 2>/dev/null || true
        fi
        cg_kill "$h"
        local d
        d=$(host_dir "$h")
        mountpoint -q "$d/root" && { umount "$d/root" 2>/dev/null || umount -l "$d/root"; }
        remove_netns "$h"
    done
    wait_reaped "${pids[@]}"
}

wait_ssh() {        # wait_ssh H: poll until root can run a command over SSH
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

prepare() {         # everything up to (not including) the hosts: $@ = images
    [[ $EUID -eq 0 ]] || die "must run as root: the lab makes network namespaces, a bridge, overlay mounts and containers"
    ensure_packages
    mkdir -p "$LAB/hosts"
    echo "$NET_PREFIX" >"$LAB/net"
    ensure_key
    load_mirrors
    local image
    for image in $(printf '%s\n' "$@" | sort -u); do ensure_image "$image"; done
    ensure_bridge
    ensure_relay
}

# ------------------------------------------------------------ commands --

boot_hosts() {      # boot_hosts H...: registered hosts, started, answering SSH
    local t0=$SECONDS h images=()
    for h in "$@"; do images+=("$(host_image "$h")"); done
    prepare "${images[@]}"
    write_known_hosts
    for h in "$@"; do start_host "$h"; done
    for h in "$@"; do wait_ssh "$h"; done
    log "up: $* answer SSH ($((SECONDS - t0)) s)"
}

cmd_up() {
    local n=${1:-} i hosts=()
    if ! [[ $n =~ ^[1-9][0-9]*$ ]] || ((n > MAX_HOSTS)); then
        die "usage: $PROG up N (1..$MAX_HOSTS)"
    fi
    with_lock
    image_suite "$DEFAULT_IMAGE" >/dev/null
    for ((i = 1; i <= n; i++)); do
        register_host "h$i" "$i" "$DEFAULT_IMAGE"
        hosts+=("h$i")
    done
    boot_hosts "${hosts[@]}"
}

cmd_create() {      # cmd_create NAME[:IMAGE]...: indexes in the order given
    (($#)) || die "usage: $PROG create NAME[:IMAGE]..."
    (($# <= MAX_HOSTS)) || die "at most $MAX_HOSTS hosts"
    local spec name image i=0 hosts=()
    with_lock
    for spec in "$@"; do
        name=${spec%%:*}
        image=$DEFAULT_IMAGE
        [[ $spec == *:* ]] && image=${spec#*:}
        [[ $name =~ ^[a-z][a-z0-9-]{0,30}$ ]] || die "bad host name '$name' (a-z, 0-9, -; a letter first)"
        image_suite "$image" >/dev/null
        i=$((i + 1))
        register_host "$name" "$i" "$image"
        [[ $(host_index "$name") == "$i" ]] || die "host $name exists with another address: '$PROG down' first"
        hosts+=("$name")
    done
    boot_hosts "${hosts[@]}"
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
    if [[ -n $LAB_NAME ]]; then rm -rf "$LAB"; fi
    log "down"
}

cmd_reset() {
    local specs=() h
    for h in $(existing_hosts); do specs+=("$h:$(host_image "$h")"); done
    ((${#specs[@]})) || die "reset: no hosts; use '$PROG up N'"
    cmd_down
    exec 9>&-
    cmd_create "${specs[@]}"
}

cmd_status() {
    local h ip state sshs
    mapfile -t opts < <(ssh_opts)
    printf '%-10s %-13s %-9s %-8s %s\n' HOST ADDRESS IMAGE STATE SSH
    for h in $(existing_hosts); do
        ip=$(host_ip "$h")
        state=stopped
        cg_running "$h" && state=running
        sshs=down
        [[ $state == running ]] &&
            ssh "${opts[@]}" -o ConnectTimeout=2 "root@$ip" true </dev/null 2>/dev/null && sshs=up
        printf '%-10s %-13s %-9s %-8s %s\n' "$h" "$ip" "$(host_image "$h")" "$state" "$sshs"
    done
}

cmd_inventory() {
    local h
    echo "# The lab${LAB_NAME:+ $LAB_NAME} ($NET_PREFIX.0/24), written by 'rigger lab inventory'."
    echo "all:"
    echo "  vars:"
    echo "    ansible_user: root"
    echo "    ansible_ssh_private_key_file: $KEY"
    echo "    ansible_ssh_common_args: \"-o UserKnownHostsFile=$KNOWN_HOSTS\""
    echo "  hosts:"
    for h in $(existing_hosts); do echo "    $h: { ansible_host: $(host_ip "$h") }"; done
}

cmd_stop() {
    local h=${1:-} hard=()
    [[ -n $h ]] || die "usage: $PROG stop H [--hard]"
    [[ ${2:-} == --hard ]] && hard=(--hard)
    with_lock
    [[ -d $(host_dir "$h") ]] || die "no host $h"
    stop_hosts "${hard[@]}" "$h"
}

cmd_start() {
    local h=${1:-}
    [[ -n $h ]] || die "usage: $PROG start H"
    with_lock
    register_host "$h" "$(host_index "$h")" "$DEFAULT_IMAGE"
    boot_hosts "$h"
}

remove_host_state() {  # remove_host_state H: back to the bare image on next start
    local d index image
    d=$(host_dir "$1")
    [[ -d $d ]] || return 0
    mountpoint -q "$d/root" && die "$1: $d/root is still mounted"
    index=$(host_index "$1")
    image=$(host_image "$1")
    rm -rf "$d"
    register_host "$1" "$index" "$image"
}

cmd_wipe() {
    (($#)) || die "usage: $PROG wipe H [H...]"
    local h
    with_lock
    for h in "$@"; do register_host "$h" "$(host_index "$h")" "$DEFAULT_IMAGE"; done
    stop_hosts "$@"
    for h in "$@"; do remove_host_state "$h"; done
    boot_hosts "$@"
}

cmd_ssh() {
    local h=${1:-}
    [[ -n $h ]] || die "usage: $PROG ssh H CMD..."
    shift
    [[ -d $(host_dir "$h") ]] || die "no host $h in this lab"
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
    create) cmd_create "$@" ;;
    down) cmd_down ;;
    reset) cmd_reset ;;
    status) cmd_status ;;
    inventory) cmd_inventory ;;
    stop) cmd_stop "$@" ;;
    start) cmd_start "$@" ;;
    wipe) cmd_wipe "$@" ;;
    ssh) cmd_ssh "$@" ;;
    *) sed -n '/^# Usage:/,/^#$/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
}

main "$@"
