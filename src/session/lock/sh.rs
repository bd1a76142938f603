//! The lock's sh, put into the run's scripts by `HostLock` (see its module
//! for the protocol). Every line it prints starts with `MARKER.lock`, so its
//! answers never mix with a probe's or an apply's own.
//!
//! Variables the snippets expect (set by `HostLock::prelude`): `rl_d` the
//! state folder, `rl_t` this run's token, `rl_w` seconds to wait for a held
//! lock, `rl_m` the line
//! prefix, `rl_rec` this run's owner record, `rl_hs` the holder (`PID START`),
//! `rl_n` the time the script was sent (rigger's clock, as `started=` is: the
//! times in the lock are for people to read, and no program is paid for them).

/// First in every script that uses the lock: it runs to its end even when
/// rigger is gone (and its stdout reader with it), so the script's tail
/// still gives the lock back (apply scripts do the same for their steps).
pub const KEEP_RUNNING: &str = "trap '' PIPE\n";

/// The helpers every snippet shares. Builtins where they can, and no
/// subshell on the way: each program costs the host about a millisecond, a
/// probe pays it on every host, and all hosts' probes share the machine's
/// cores. A lock taken and given back runs two programs (`mkdir`, `rm`);
/// `date` and the rest only when another run holds it. Helpers answer in
/// variables (`rl_sv`, `rl_v`, `rl_hp`) rather than on stdout for the same
/// reason: `$(…)` forks.
pub const FUNCTIONS: &str = r#"rl_start() {
rl_sv=; rl_s=; { read -r rl_s <"/proc/$1/stat"; } 2>/dev/null || return 1
set -- ${rl_s##*) }
[ $# -ge 20 ] || return 1
shift 19
rl_sv=$1
}
rl_alive() {
set -- $1
[ -n "$2" ] && rl_start "$1" && [ "$rl_sv" = "$2" ]
}
rl_sshd() {
rl_p=$$
while [ "${rl_p:-0}" -gt 1 ]; do
rl_c=; { read -r rl_c <"/proc/$rl_p/comm"; } 2>/dev/null
case $rl_c in sshd*) rl_hp=$rl_p; return 0;; esac
rl_pp=; while read -r rl_k rl_v; do if [ "$rl_k" = PPid: ]; then rl_pp=$rl_v; break; fi; done 2>/dev/null <"/proc/$rl_p/status"
rl_p=$rl_pp
done
return 1
}
rl_now() { date +%s; }
rl_val() { rl_v=; { read -r rl_v <"$rl_d/lock/$1"; } 2>/dev/null; echo "$rl_v"; }
rl_ours() {
rl_v=; while IFS= read -r rl_l; do case $rl_l in token=*) rl_v=${rl_l#*=}; break;; esac; done 2>/dev/null <"$rl_d/lock/owner"
[ "$rl_v" = "$rl_t" ]
}
rl_mark() { printf '%s\n' "$rl_hs" >"$rl_d/lock/holder"; printf '%s\n' "$rl_n" >"$rl_d/lock/seen"; }
rl_show() {
[ -d "$rl_d/lock" ] || return 0
while IFS= read -r rl_l; do printf '%s| %s\n' "$rl_m" "$rl_l"; done 2>/dev/null <"$rl_d/lock/owner"
for rl_f in holder seen busy; do printf '%s| %s=%s\n' "$rl_m" "$rl_f" "$(rl_val $rl_f)"; done
if rl_alive "$(rl_val holder)" || rl_alive "$(rl_val busy)"; then rl_st=running; elif [ -n "$(rl_val holder)" ]; then rl_st=gone; else rl_st=unknown; fi
printf '%s| state=%s\n' "$rl_m" "$rl_st"
}
rl_stale() {
if [ ! -e "$rl_d/lock/owner" ]; then [ -n "$(find "$rl_d/lock" -prune -mmin +5 2>/dev/null)" ]; return; fi
[ -n "$(rl_val holder)" ] || return 1
rl_alive "$(rl_val holder)" && return 1
rl_alive "$(rl_val busy)" && return 1
return 0
}
rl_break() {
if ! mkdir "$rl_d/lock.break" 2>/dev/null; then
[ -n "$(find "$rl_d/lock.break" -prune -mmin +1 2>/dev/null)" ] && rmdir "$rl_d/lock.break" 2>/dev/null
return 1
fi
if rl_stale; then printf '%s broke\n' "$rl_m"; rl_show; rm -rf "$rl_d/lock"; fi
rmdir "$rl_d/lock.break"
}
rl_got() {
printf '%s\n' "$rl_rec" "since=$rl_n" >"$rl_d/lock/owner"
rl_mark
printf '%s taken\n' "$rl_m"
}
rl_take() {
while :; do
if mkdir "$rl_d/lock" 2>/dev/null; then rl_got; return 0; fi
if [ ! -d "$rl_d/lock" ]; then
mkdir -p "$rl_d" 2>/dev/null
if rl_e=$(mkdir "$rl_d/lock" 2>&1); then rl_got; return 0; fi
if [ ! -d "$rl_d/lock" ]; then printf '%s none\n%s| %s\n' "$rl_m" "$rl_m" "$rl_e"; return 2; fi
fi
if rl_ours; then printf '%s shared\n' "$rl_m"; return 3; fi
if rl_stale && rl_break; then continue; fi
[ -n "$rl_end" ] || rl_end=$(( $(rl_now) + rl_w ))
if [ "$(rl_now)" -ge "$rl_end" ]; then printf '%s held\n' "$rl_m"; rl_show; return 1; fi
[ -n "$rl_waited" ] || printf '%s wait\n' "$rl_m"
rl_waited=1
sleep 1
done
}
"#;

/// A probe that does not hold the lock, where a run has been before and no
/// run holds it now: read without taking it (no program on the host). The
/// tail reads `STATE/last` again; an apply script writes it as soon as it
/// takes the lock, before its first step, so a run that applied while this
/// probe read makes the two readings differ, and the probe says `moved`
/// (rigger then probes again, taking the lock). `last` is read before the
/// lock is looked at: a run that takes the lock after the look writes
/// `last` after the first reading.
pub const READ_HEAD: &str = r#"rl_l=; { read -r rl_l <"$rl_d/last"; } 2>/dev/null
if [ ! -d "$rl_d" ] || [ -d "$rl_d/lock" ]; then
rl_take; rl_r=$?
case $rl_r in 1|3) return 0;; 0) rl_own=1;; esac
rl_l=; { read -r rl_l <"$rl_d/last"; } 2>/dev/null
fi
printf '%s last %s\n' "$rl_m" "$rl_l"
"#;

pub const READ_TAIL: &str = r#"if [ -n "$rl_own" ]; then rm -rf "$rl_d/lock"; printf '%s released\n' "$rl_m"
else rl_v=; { read -r rl_v <"$rl_d/last"; } 2>/dev/null; [ "$rl_v" = "$rl_l" ] || printf '%s moved\n' "$rl_m"
fi
"#;

/// A probe that does not hold the lock, after a `moved`: take it, say which
/// run applied last, release at the end.
pub const PROBE_HEAD: &str = r#"rl_take; rl_r=$?
case $rl_r in 1|3) return 0;; 0) rl_own=1;; esac
rl_l=; { read -r rl_l <"$rl_d/last"; } 2>/dev/null
printf '%s last %s\n' "$rl_m" "$rl_l"
"#;

pub const PROBE_TAIL: &str =
    "if [ -n \"$rl_own\" ]; then rm -rf \"$rl_d/lock\"; printf '%s released\\n' \"$rl_m\"; fi\n";

/// Any script while the run holds the lock: is it still ours?
pub const HELD_HEAD: &str = r#"if ! rl_ours; then printf '%s lost\n' "$rl_m"; rl_show; return 0; fi
rl_own=1; rl_mark
"#;

/// The first apply script on a host: take the lock; if a run applied since
/// this run's probe, the plan may be stale: apply nothing and let go.
pub const APPLY_HEAD: &str = r#"rl_take; rl_r=$?
case $rl_r in 1|3) return 0;; esac
if [ $rl_r = 0 ]; then
rl_own=1
rl_l=; { read -r rl_l <"$rl_d/last"; } 2>/dev/null
if [ "$rl_l" != "$rl_want" ]; then
printf '%s changed\n' "$rl_m"
while IFS= read -r rl_l; do printf '%s| %s\n' "$rl_m" "$rl_l"; done 2>/dev/null <"$rl_d/last"
rm -rf "$rl_d/lock"; rl_own=
return 0
fi
printf '%s\n' "$rl_rec" "at=$rl_n" >"$rl_d/last"
fi
"#;

/// While an apply script runs, its own process keeps the lock alive.
pub const BUSY: &str =
    "if [ -n \"$rl_own\" ]; then rl_start $$; printf '%s %s\\n' \"$$\" \"$rl_sv\" >\"$rl_d/lock/busy\"; fi\n";

/// After an apply script (run even when a step failed): not busy any more.
/// Let go after the host's last unit (`rl_last`), or if its run is gone
/// (rigger killed mid-unit): nobody else would give the lock back.
pub const APPLY_TAIL: &str = r#"if [ -n "$rl_own" ]; then
rm -f "$rl_d/lock/busy"
if [ -n "$rl_last" ] || { [ -n "$rl_hs" ] && ! rl_alive "$rl_hs"; }; then rm -rf "$rl_d/lock"; printf '%s released\n' "$rl_m"; else rl_mark; fi
fi
"#;

pub const RELEASE: &str = r#"if rl_ours; then rm -rf "$rl_d/lock"; printf '%s released\n' "$rl_m"; else printf '%s lost\n' "$rl_m"; rl_show; fi
"#;
