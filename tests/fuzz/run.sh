#!/usr/bin/env bash
# Fuzzes rigger's input parsers with cargo-fuzz (libFuzzer): each target runs
# for FUZZ_SECONDS (default 60), seeded from the repo's real files; exits
# non-zero when any target crashes (panic, timeout > 10 s, or > 2 GiB RSS).
#
#   tests/fuzz/run.sh                              # all targets, 60 s each
#   FUZZ_SECONDS=30 tests/fuzz/run.sh              # shorter
#   FUZZ_TARGETS="site role" tests/fuzz/run.sh     # some targets
#
# Targets (tests/fuzz/harness.rs): inventory_yaml, inventory_ini, site, role.
# Crash inputs land in tests/fuzz/artifacts/<target>/; keep one as a
# regression under tests/fuzz/regressions/<target>/ (tests/fuzz_regressions.rs
# replays those with `cargo test`). Corpora grow in tests/fuzz/corpus/<target>/
# (git-ignored); logs in tests/fuzz/logs/.
#
# cargo-fuzz needs unstable rustc flags (-Z...); on a stable toolchain
# RUSTC_BOOTSTRAP=1 unlocks them. Builds without ASan (rigger is safe Rust;
# ASan made runs ~10x slower) but with debug assertions, so an integer
# overflow panics as it would in a debug build.
set -uo pipefail
cd "$(dirname "$0")/../.."
FUZZ=tests/fuzz
SECS=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-inventory_yaml inventory_ini site role}
export RUSTC_BOOTSTRAP=1
FLAGS=(--fuzz-dir "$FUZZ" --sanitizer none --debug-assertions)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked || exit 1
fi
echo "== build"
cargo fuzz build "${FLAGS[@]}" || { echo "fuzz build failed" >&2; exit 1; }

scratch=$(mktemp -d /dev/shm/rigger-fuzz.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export RIGGER_FUZZ_TMP=$scratch

# Seeds: the repo's own inputs of each kind, named by content so reruns add nothing.
# Not tests/fuzz/regressions/: an open hang there would end every run at once
# (tests/fuzz_regressions.rs replays those).
seeds() {
    case "$1" in
        inventory_yaml) find inventory tests/bad_input tests/fixtures -type f \( -name '*.yaml' -o -name '*.yml' \) \( -path '*inventory*' -o -path '*vagrant*' \) 2>/dev/null ;;
        inventory_ini) find inventory tests/bad_input tests/fixtures -type f \( -name '*.ini' -o -name hosts \) 2>/dev/null ;;
        site) find . -maxdepth 1 -name 'site.yaml'; find tests/bad_input tests/fixtures -type f -name 'site.yaml' 2>/dev/null ;;
        role) find roles tests/bad_input tests/fixtures -type f -name 'role.yaml' 2>/dev/null ;;
    esac
}

mkdir -p "$FUZZ/logs"
fail=0
summary=()
for t in $TARGETS; do
    corpus=$FUZZ/corpus/$t
    mkdir -p "$corpus"
    n=0
    while IFS= read -r f; do
        cp -f -- "$f" "$corpus/seed-$(sha1sum < "$f" | cut -c1-16)" && n=$((n + 1))
    done < <(seeds "$t")
    # Nor a copy of a regression input left in the corpus by an earlier run.
    for r in "$FUZZ/regressions/$t"/*; do
        [ -f "$r" ] || continue
        rm -f -- "$corpus/$(sha1sum < "$r" | cut -c1-40)" "$corpus/seed-$(sha1sum < "$r" | cut -c1-16)"
    done
    log=$FUZZ/logs/$t.log
    echo "== $t: ${SECS}s, $n seed files, corpus $(ls "$corpus" | wc -l) inputs"
    mkdir -p "$FUZZ/artifacts/$t"
    before=$(ls "$FUZZ/artifacts/$t" | sort)
    start=$(date +%s)
    # A target stops at its first crash (libFuzzer's -fork mode, which goes on,
    # deadlocked here in its timeout handler). The outer timeout is a backstop
    # (with room for a rebuild if the sources changed since the build above).
    timeout --kill-after=30 $((SECS + 600)) cargo fuzz run "${FLAGS[@]}" "$t" "$corpus" -- \
        -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -dict="$FUZZ/dict/$t.dict" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    new=$(comm -13 <(printf '%s\n' "$before") <(ls "$FUZZ/artifacts/$t" | sort) | sed '/^$/d')
    # Executions: the final stats, else the last status line.
    execs=$(grep -a 'stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)
    [ -n "$execs" ] || execs=$(grep -a -o -E '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    cov=$(grep -a -E '^#[0-9]+' "$log" | tail -1 | grep -o -E 'cov: [0-9]+' || true)
    if [ "$rc" -ne 0 ] || [ -n "$new" ]; then
        fail=1
        summary+=("$t: CRASH (exit $rc) in ${took}s, ${execs:-?} execs, new artifacts: $(echo ${new:-none}); see $log")
        echo "!! $t crashed (exit $rc):"
        grep -a -E -A12 "panicked at|ERROR: libFuzzer|SUMMARY|deadly signal|Test unit written" "$log" | head -40
        printf '%s\n' "$new" | sed "s|^|   artifact: $FUZZ/artifacts/$t/|"
    else
        summary+=("$t: ok, ${took}s, ${execs:-?} execs, ${cov:-cov ?}, corpus $(ls "$corpus" | wc -l)")
    fi
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$fail"
