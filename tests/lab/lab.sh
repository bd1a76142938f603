#!/usr/bin/env bash
# tests/lab/lab.sh — the project's lab for its own tests: `rigger lab` (the
# script itself is src/lab/lab.sh, compiled into rigger). Same words as
# before: up N, down, reset, status, inventory, stop H [--hard], start H,
# wipe H..., ssh H CMD...
# Uses $RIGGER if set, else target/release/rigger, else target/debug/rigger
# (build one first: tests/run.sh does).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rigger=${RIGGER:-}
if [[ -z $rigger ]]; then
    for b in "$root/target/release/rigger" "$root/target/debug/rigger"; do
        if [[ -x $b ]]; then rigger=$b; break; fi
    done
fi
[[ -n $rigger ]] || { echo "lab.sh: no rigger binary: run 'cargo build --release' first (or set RIGGER)" >&2; exit 1; }
exec "$rigger" lab "$@"
