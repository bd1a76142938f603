#!/usr/bin/env bash
# Every test rigger has: format and lint checks, unit and offline CLI tests,
# then the lab tests on freshly started lab hosts. Installs what it needs (run as root on Debian 12).
# Usage: tests/run.sh            (everything)
#        LAB=0 tests/run.sh      (offline tests only)
#        VAGRANT=0 tests/run.sh  (no scenario on a Vagrant VM)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && ! command -v systemd-nspawn >/dev/null 2>&1 && [ "${LAB:-1}" = 1 ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap systemd-container socat iproute2 openssh-client >/dev/null
fi

# The HTML report is checked in a real browser (tests/report.rs): Debian's chromium.
if [ "$(id -u)" = 0 ] && [ ! -x /usr/bin/chromium ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
fi

echo "== format and lint"
cargo fmt --check
cargo clippy --release --locked --all-targets -- -D warnings

echo "== build"
cargo build --release --locked

probe="$(mktemp -d)"
if python3 -m venv "$probe/venv" >/dev/null 2>&1; then
    echo "== .j2 templates: the committed expected output against live ansible-core"
    tests/fixtures/ansible_roles/render_with_ansible.sh --check
    echo "== inventories: the committed ansible-inventory --list output against live ansible-core"
    tests/fixtures/inventories/record.sh --check
fi
rm -rf "$probe"

echo "== unit and offline tests"
cargo test --release --locked

if [ "${LAB:-1}" = 1 ]; then
    echo "== lab: fresh hosts"
    lab() { target/release/rigger lab "$@"; }
    lab down >/dev/null 2>&1 || true
    lab up 8
    trap 'target/release/rigger lab down >/dev/null 2>&1 || true' EXIT
    rm -f target/lab-figures.txt
    echo "== lab tests"
    # Only the #[ignore]d (lab) tests, one at a time: they share the hosts.
    cargo test --release --locked --test lab --test lab_storage --test lab_import --test lab_scenarios -- --ignored --test-threads=1 --nocapture
    echo "== role scenarios (each on a lab of its own), Debian 12, then Debian 13"
    target/release/rigger test -j 2
    target/release/rigger test -j 2 --image debian13 web haproxy keepalived
    if [ "${VAGRANT:-1}" = 1 ]; then
        echo "== role scenario on a real VM (Vagrant, libvirt, QEMU TCG; the box is built once, ~5 min)"
        bash src/scenario/driver/vagrant_box.sh install
        cargo test --release --locked --test lab_vagrant -- --ignored --test-threads=1 --nocapture
    fi
    echo "== figures"
    cat target/lab-figures.txt
fi
