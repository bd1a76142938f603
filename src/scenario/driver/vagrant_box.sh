#!/usr/bin/env bash
# vagrant_box.sh: the Vagrant side of this machine for `rigger test --driver
# vagrant`, made ready once and cached.  Compiled into rigger and run as root.
#
#   vagrant_box.sh install   install the Debian packages all this needs
#   vagrant_box.sh ensure    libvirtd running, the box rigger/debian12 added
#                            (built when not cached); says what to install
#                            when something is missing
#   vagrant_box.sh rebuild   build the box again and re-add it
#
# The box (libvirt provider, qcow2) is a Debian 12 debootstrapped from this
# machine's apt mirror into an ext4 file system with no partition table and
# no boot loader: libvirt boots it directly with the guest's own kernel and
# initramfs, copied out of the image next to the box (qemu reads them from
# there; they need not be inside the user's ~/.vagrant.d, which qemu's user
# may not traverse).  systemd is init, systemd-networkd takes DHCP on every
# en*/eth* link, sshd lets in `vagrant` (passwordless sudo) with a key made
# here, and apt uses this machine's own mirrors (reached through libvirt's
# NAT network).
#
# Cache (RIGGER_VAGRANT_DIR, default /var/lib/rigger-vagrant):
#   id_ed25519{,.pub}   the key the box trusts
#   debian12.box        the packaged box: `vagrant box add` takes it again
#                       on a machine whose ~/.vagrant.d lost it
#   debian12/           vmlinuz, initrd.img (the guest's), rootfs.log
set -euo pipefail

DIR=${RIGGER_VAGRANT_DIR:-/var/lib/rigger-vagrant}
BOX_NAME=${RIGGER_VAGRANT_BOX:-rigger/debian12}
KEY=$DIR/id_ed25519
BOX=$DIR/debian12.box
BOOT=$DIR/debian12
SIZE_GB=8
PACKAGES=(vagrant vagrant-libvirt libvirt-daemon-system qemu-system-x86 qemu-utils
    dnsmasq-base iptables ebtables debootstrap openssh-client e2fsprogs)

log() { printf 'rigger vagrant: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $(id -u) == 0 ]] || die "must run as root"

missing_packages() {
    local p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
    done
    vagrant plugin list 2>/dev/null | grep -q vagrant-libvirt || echo vagrant-libvirt
}

# Installing is asked for, never done behind `rigger test`'s back.
check_packages() {
    local missing
    missing=$(missing_packages | sort -u | tr '\n' ' ')
    [[ -z $missing ]] || die "missing: ${missing% }; install them with: apt-get install ${PACKAGES[*]} (qemu-utils of the machine's own release, e.g. qemu-utils/bookworm)"
}

# Debian's qemu-system-x86 wants the qemu-utils of its own release; a newer
# qemu-utils from backports would hold it back, so both come from the
# machine's release.
install_packages() {
    local missing
    missing=$(missing_packages | sort -u | tr '\n' ' ')
    [[ -z $missing ]] && return 0
    local rel
    rel=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    log "installing $missing"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --allow-downgrades \
        "${PACKAGES[@]/%//$rel}" >&2 ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --allow-downgrades "${PACKAGES[@]}" >&2 ||
        die "cannot install $missing"
}

# libvirtd as a plain daemon: this machine's PID 1 may not be systemd.
ensure_libvirtd() {
    virsh -c qemu:///system version >/dev/null 2>&1 && return 0
    log "starting virtlogd and libvirtd"
    local i
    for i in $(seq 100); do
        # (again while waiting: one that was stopping may just have gone)
        pgrep -x virtlogd >/dev/null || virtlogd -d
        pgrep -x libvirtd >/dev/null || libvirtd -d
        virsh -c qemu:///system version >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    die "libvirtd did not answer on qemu:///system (see /var/log/libvirt/)"
}

# "URI SUITE COMPONENTS" of this machine's apt sources (deb822 and one-line).
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

configure_rootfs() {   # configure_rootfs ROOT SOURCES
    local r=$1 sources=$2
    rm -f "$r/etc/apt/sources.list"
    awk '{ uri = $1; suite = $2; $1 = $2 = ""; sub(/^ +/, "");
           printf "Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n", uri, suite, $0 }' \
        <<<"$sources" >"$r/etc/apt/sources.list.d/debian.sources"
    echo 'APT::Install-Recommends "false";' >"$r/etc/apt/apt.conf.d/90rigger-no-recommends"
    echo '/dev/vda / ext4 defaults,errors=remount-ro 0 1' >"$r/etc/fstab"
    printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
    echo debian12 >"$r/etc/hostname"
    : >"$r/etc/machine-id"
    rm -f "$r/var/lib/dbus/machine-id"
    echo LANG=C.UTF-8 >"$r/etc/default/locale"
    cat >"$r/etc/systemd/network/50-dhcp.network" <<'NET'
[Match]
Name=en* eth*

[Network]
DHCP=yes
NET
    ln -sf /run/systemd/resolve/stub-resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
    chroot "$r" systemctl enable systemd-networkd.service ssh.service >/dev/null 2>&1
    # no resolved in minbase: resolv.conf comes from networkd's DHCP lease
    # through a tiny hook instead
    rm -f "$r/etc/resolv.conf"
    cat >"$r/usr/local/sbin/rigger-resolv" <<'SH'
#!/bin/sh
# rigger box: /etc/resolv.conf from the DHCP lease's DNS servers
for i in $(seq 60); do
    dns=$(grep -h '^DNS=' /run/systemd/netif/leases/* 2>/dev/null | head -n1 | cut -d= -f2)
    [ -n "$dns" ] && break
    sleep 0.5
done
[ -n "$dns" ] || dns=192.168.121.1
{ for d in $dns; do echo "nameserver $d"; done; } >/etc/resolv.conf
SH
    chmod 755 "$r/usr/local/sbin/rigger-resolv"
    cat >"$r/etc/systemd/system/rigger-resolv.service" <<'UNIT'
[Unit]
Description=rigger box: resolv.conf from DHCP
After=systemd-networkd.service
Wants=systemd-networkd.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/rigger-resolv

[Install]
WantedBy=multi-user.target
UNIT
    chroot "$r" systemctl enable rigger-resolv.service >/dev/null 2>&1
    chroot "$r" systemctl mask systemd-timesyncd.service >/dev/null 2>&1 || true
    chroot "$r" id vagrant >/dev/null 2>&1 || chroot "$r" useradd -m -s /bin/bash vagrant
    install -d -m 700 "$r/home/vagrant/.ssh"
    cp "$KEY.pub" "$r/home/vagrant/.ssh/authorized_keys"
    chmod 600 "$r/home/vagrant/.ssh/authorized_keys"
    chroot "$r" chown -R vagrant: /home/vagrant/.ssh
    echo 'vagrant ALL=(ALL) NOPASSWD:ALL' >"$r/etc/sudoers.d/vagrant"
    chmod 440 "$r/etc/sudoers.d/vagrant"
    # host keys are made at first boot, so every machine has its own
    rm -f "$r"/etc/ssh/ssh_host_*
    cat >"$r/etc/systemd/system/rigger-hostkeys.service" <<'UNIT'
[Unit]
Description=rigger box: ssh host keys of this machine
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
    chroot "$r" systemctl enable rigger-hostkeys.service >/dev/null 2>&1
    printf 'UseDNS no\nPasswordAuthentication no\n' >"$r/etc/ssh/sshd_config.d/rigger-box.conf"
    chroot "$r" apt-get clean
}

build_box() {
    local sources mirror work t0=$SECONDS
    sources=$(apt_sources | awk '$2 ~ /^bookworm(-updates|-security)?$/' | sort -u)
    mirror=$(awk '$2 == "bookworm" { print $1; exit }' <<<"$sources")
    [[ -n $mirror ]] || die "no bookworm entry in this machine's apt sources"
    [[ $mirror == http://* ]] || die "mirror $mirror: debootstrap here wants an http:// mirror"
    mkdir -p "$DIR" "$BOOT"
    [[ -s $KEY ]] || ssh-keygen -q -t ed25519 -N '' -C rigger-vagrant-box -f "$KEY"
    work=$(mktemp -d "$DIR/build.XXXXXX")
    BUILD_WORK=$work
    trap 'rm -rf "${BUILD_WORK:-}"' EXIT
    log "building box $BOX_NAME: debootstrap bookworm from $mirror (once; several minutes)"
    debootstrap --variant=minbase \
        --include=systemd,systemd-sysv,udev,linux-image-amd64,initramfs-tools,openssh-server,sudo,python3,iproute2,procps,ca-certificates,dbus,kmod \
        bookworm "$work/root" "$mirror" >"$BOOT/rootfs.log" 2>&1 ||
        die "debootstrap failed; see $BOOT/rootfs.log"
    configure_rootfs "$work/root" "$sources"
    cp "$work"/root/boot/vmlinuz-* "$BOOT/vmlinuz"
    cp "$work"/root/boot/initrd.img-* "$BOOT/initrd.img"
    chmod 644 "$BOOT/vmlinuz" "$BOOT/initrd.img"
    log "packing the file system (${SIZE_GB} GB, ext4, qcow2)"
    mkfs.ext4 -q -F -L root -d "$work/root" "$work/root.raw" "${SIZE_GB}G" >&2
    rm -rf "$work/root"
    mkdir "$work/box"
    qemu-img convert -c -O qcow2 "$work/root.raw" "$work/box/box.img"
    rm -f "$work/root.raw"
    printf '{"provider":"libvirt","format":"qcow2","virtual_size":%d}\n' "$SIZE_GB" >"$work/box/metadata.json"
    cat >"$work/box/Vagrantfile" <<VF
# rigger/debian12: Debian 12 booted directly (no boot loader) under QEMU.
Vagrant.configure("2") do |config|
  config.ssh.username = "vagrant"
  config.ssh.private_key_path = "$KEY"
  config.ssh.insert_key = false
  config.vm.synced_folder ".", "/vagrant", disabled: true
  config.vm.provider :libvirt do |lv|
    lv.driver = "qemu"
    lv.kernel = "$BOOT/vmlinuz"
    lv.initrd = "$BOOT/initrd.img"
    lv.cmd_line = "root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet"
    lv.disk_bus = "virtio"
  end
end
VF
    tar -C "$work/box" -czf "$BOX.tmp" metadata.json Vagrantfile box.img
    mv "$BOX.tmp" "$BOX"
    log "box built in $((SECONDS - t0)) s: $BOX"
}

box_added() {
    vagrant box list --machine-readable 2>/dev/null | awk -F, -v n="$BOX_NAME" '$3 == "box-name" && $4 == n { f = 1 } END { exit !f }'
}

add_box() {
    log "vagrant box add --name $BOX_NAME $BOX"
    vagrant box add --force --name "$BOX_NAME" "$BOX" >&2 || die "vagrant box add failed"
}

ensure() {
    check_packages
    ensure_libvirtd
    mkdir -p "$DIR"
    exec 8>"$DIR/lock"
    flock 8
    if [[ ! -s $BOX || ! -s $BOOT/vmlinuz || ! -s $KEY ]]; then
        build_box
        add_box
    elif ! box_added; then
        add_box
    fi
}

case ${1:-} in
install) install_packages ;;
ensure) ensure ;;
rebuild)
    check_packages
    rm -f "$BOX"
    ensure
    ;;
*) die "usage: vagrant_box.sh install|ensure|rebuild" ;;
esac
