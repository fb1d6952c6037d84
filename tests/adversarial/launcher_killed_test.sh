#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The launcher killed, a grandchild left behind (threat-model.md): a function
# run by `fnwarden run` under a daemon double-forks a grandchild (nobody's
# child in the function, so PDEATHSIG does not reach it). Its launcher and
# the launcher's cgroup reaper are SIGKILLed together, as a kill of the
# whole process group would. The grandchild then makes a forbidden syscall.
#
# The daemon must keep the cgroup's entry while anything runs there (the
# violation is reported), then empty the cgroup itself (the grandchild is
# killed) and remove it, and forget the entry only once it is gone.
#
# The daemon is stopped (SIGSTOP) from the kill until the grandchild has
# made its syscall: a daemon busy elsewhere, which fixes the order of "the
# launcher is gone" and "the grandchild acts" so the test does not race.
# usage: launcher_killed_test.sh FNWARDEN WORKLOAD
set -u
fnw=$1
workload=$(realpath "$2")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/lib.sh
source "$here/../e2e/lib.sh"
require_root

work=$(mktemp -d)
[[ -n ${FNW_KEEP_WORK:-} ]] && echo "work: $work"
cg2=$(cgroup2_mount)
fn=fnwtest-lk-$$
sock=$work/fnwarden.sock
out=$work/events.jsonl
pids=()
daemon=
launcher=
leaf=
main_shell=$BASHPID
cleanup() {
  [[ $BASHPID == "$main_shell" ]] || return 0
  [[ -n $daemon ]] && kill -CONT "$daemon" 2>/dev/null
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  if [[ -n $leaf && -d $leaf ]]; then
    find "$leaf" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null
    sleep 0.2
    find "$leaf" -depth -type d -exec rmdir {} + 2>/dev/null
  fi
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  [[ -n ${FNW_KEEP_WORK:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rules"
base="execve brk arch_prctl mmap munmap mprotect set_tid_address set_robust_list rseq prlimit64
  getrandom access faccessat openat read pread64 write close fstat newfstatat exit exit_group futex
  rt_sigaction rt_sigprocmask clock_gettime clock_nanosleep nanosleep fork clone clone3 wait4
  inotify_init1 inotify_add_watch poll ppoll rename renameat renameat2 getpid getppid"
# Audit: the grandchild's violation is reported, not acted on, so what ends
# it is the daemon emptying the cgroup.
cat >"$work/rules/fn.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: launcher-killed}
spec:
  selector: {function: $fn}
  mode: audit
  syscalls:
    onViolation: report
    allow: [$(echo $base | tr ' ' ',')]
YAML

start_daemon "$work/daemon.log" "$sock" --rules "$work/rules" --output "$out" --metrics "" --mode audit
daemon=$daemon_pid
status_json() { "$fnw" status --socket "$sock" -o json; }

# The grandchild: tells it is ready, waits for "go", calls getpgid (not in
# the allowlist), records the errno, then waits forever. The main process
# waits forever too (until PDEATHSIG).
"$fnw" run --socket "$sock" --function "$fn" -- "$workload" \
  detach:6 create:"$work/ready" await-file:"$work/go" getpgid write-errno:"$work/errno" \
  await-file:"$work/never" exit:0 \
  await-file:"$work/never" exit:0 >"$work/launcher.log" 2>&1 &
launcher=$!
pids+=($launcher)
eventually 20 test -e "$work/ready" || { fail "the function never got going: $(cat "$work/launcher.log")"; exit 1; }
leaf=$cg2/fnwarden/$fn-$launcher-0
[[ -d $leaf ]] || { fail "no cgroup $leaf"; exit 1; }
grandchild=
reaper=
for p in $(cat "$leaf/cgroup.procs"); do
  [[ $(awk '/^PPid:/ {print $2}' "/proc/$p/status" 2>/dev/null) == "$launcher" ]] || grandchild=$p
done
for p in $(pgrep -P "$launcher"); do grep -qx "$p" "$leaf/cgroup.procs" || reaper=$p; done
[[ -n $grandchild ]] && pass "the grandchild runs in the function's cgroup" || fail "no grandchild in $leaf"
[[ -n $reaper ]] && pass "the launcher has its cgroup reaper" || fail "no cgroup reaper"

# --- the launcher and its reaper killed, the daemon busy --------------------------
kill -STOP "$daemon"
[[ -n $reaper ]] && kill -9 "$reaper"
kill -9 "$launcher"
wait "$launcher" 2>/dev/null
touch "$work/go"
eventually 10 test -e "$work/errno" && pass "the grandchild outlived its launcher and made its syscall" ||
  fail "the grandchild never got past getpgid"
kill -CONT "$daemon"

# Still checked: the forbidden syscall, made after the launcher died, is reported.
if eventually 10 more_than 0 "$out" "\"function\":\"$fn\"" '"name":"getpgid"'; then
  pass "the grandchild's violation is reported"
else
  fail "no getpgid violation for $fn: $(tail -c 1500 "$out")"
fi
# Then emptied: the daemon kills what the launcher left and removes the cgroup.
gone() { [[ ! -e /proc/$grandchild ]] || grep -q '^State:.*Z' "/proc/$grandchild/status" 2>/dev/null; }
eventually 10 gone && pass "the grandchild is killed" || fail "the grandchild still runs unwatched"
eventually 10 test ! -d "$leaf" && pass "the run's cgroup is emptied and removed" ||
  fail "the cgroup stays: $(cat "$leaf/cgroup.events" 2>/dev/null | tr '\n' ' ')"
eventually 5 bash -c "! \"$fnw\" status --socket \"$sock\" -o json | grep -q '\"path\": \"$leaf\"'" &&
  pass "the daemon forgets the cgroup once it is gone" || fail "status still lists $leaf"
n=$(status_json | tr -d ' \n' | grep -o '"launcher_cgroups_emptied":[0-9]*' | cut -d: -f2)
[[ ${n:-0} -ge 1 ]] && pass "status counts the emptied cgroup ($n)" || fail "launcher_cgroups_emptied=${n:-missing}"
grep -q "launcher gone" "$work/daemon.log" && pass "the daemon logs why it emptied the cgroup" ||
  fail "no log line: $(tail -5 "$work/daemon.log")"

finish launcher_killed
