#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A full ring buffer must not let an access through (threat-model.md,
# "Flooding the ring buffer"), for a function the daemon finds by its
# cgroup path (the launched case is FailClosedFloodTest in tests/bpf).
#
# The function floods the events ring with creates under a `*.txt` glob
# (each new name is an access only fnwarden can decide: one record each)
# while other processes of it read `secret.key` in the same directory,
# which the glob does not allow, so that read is undecided in the kernel
# too. The daemon runs with a 64 KiB events ring that is never woken (its
# wake-up threshold is larger), so it is drained only on the daemon's tick
# and is full for most of the flood.
#  - enforce: every forbidden reader is killed: by the kernel when its record
#    found the ring full (fail_closed_kills), else by fnwarden's matcher;
#  - audit: every forbidden read is reported, or counted as the function's
#    coverage gap.
# Before the fix, a read whose record found no room was allowed with no
# record and no count: its reader was never killed (await-kill ran out).
# usage: flood_forbidden_read_test.sh FNWARDEN WORKLOAD
set -u
fnw=$1
workload=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/lib.sh
source "$here/../e2e/lib.sh"
require_root

work=$(mktemp -d)
work=$(cd "$work" && pwd -P)  # the kernel reports resolved paths
rules=$work/rules
sock=$work/fnwarden.sock
out=$work/events.jsonl
pids=()
cg2=$(cgroup2_mount)
cg=$cg2/fnwtest-flood-$$
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  local c
  for c in "$cg"/*/; do [[ -d $c ]] && echo 1 >"$c/cgroup.kill" 2>/dev/null; done
  sleep 0.2
  for c in "$cg"/*/; do [[ -d $c ]] && rmdir "$c" 2>/dev/null; done
  rmdir "$cg" 2>/dev/null
  [[ -n ${FNW_KEEP_WORK:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$rules" "$work/g" "$cg/fn-flood-enforce" "$cg/fn-flood-audit"
echo "top secret" >"$work/g/secret.key"
for mode in enforce audit; do
  cat >"$rules/$mode.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: flood-$mode}
spec:
  selector: {cgroupPath: 'fnwtest-flood-$$/(fn-flood-$mode)'}
  mode: $mode
  files:
    read: ["/usr/**", "/lib/**", "/lib64/**", "/etc/**", "/proc/**", "/dev/**", "$work/g/*.txt"]
    write: ["/dev/null", "$work/g/*.txt"]
    create: ["$work/g/*.txt"]
    onViolation: kill
YAML
done
printf 'ringbufBytes: 65536\n' >"$work/config.yaml"
start_daemon "$work/daemon.log" "$sock" --config "$work/config.yaml" --rules "$rules" --output "$out" --metrics "" \
  --mode enforce
status_has() { "$fnw" status --socket "$sock" -o json 2>/dev/null | tr -d ' \n' | grep -qF "$1"; }
for mode in enforce audit; do
  eventually 10 status_has "\"function\":\"fn-flood-$mode\"" || { fail "fn-flood-$mode not identified"; exit 1; }
done
pass "both functions' cgroups are watched"
# status_num KEY: the first "KEY": <number> of `status -o json`.
status_num() {
  "$fnw" status --socket "$sock" -o json 2>/dev/null | tr -d ' \n' | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2
}
# policy_gaps NAME: the coverage_gaps of policy NAME in `status -o json`.
policy_gaps() {
  "$fnw" status --socket "$sock" -o json 2>/dev/null | tr -d ' \n' | grep -o "\"coverage_gaps\":[0-9]*,[^}]*\"policy\":\"$1\"" |
    head -1 | sed 's/"coverage_gaps":\([0-9]*\).*/\1/'
}

# in_cgroup NAME CMD...: runs CMD in the function's cgroup (the shell joins,
# then execs: everything after the join is the function's).
in_cgroup() {
  local name=$1; shift
  CG=$cg/$name bash -c 'echo $$ >"$CG/cgroup.procs" && exec "$@"' bash "$@"
}
# The flood: a shell creating new *.txt names (every create is a new
# object, so nothing is answered from the kernel's verdict cache). In
# enforce a create whose record finds the ring full is killed too (fail
# closed): the flood is started again until SECONDS are over.
flood() { # NAME SECONDS
  local end=$((SECONDS + $2))
  while ((SECONDS < end)); do
    in_cgroup "$1" bash -c 'end=$((SECONDS + $1)); i=0
      while ((SECONDS < end)); do : >"$2/f$BASHPID-$i.txt"; i=$((i + 1)); done' flood $((end - SECONDS)) "$work/g"
  done
}

readers=6
# --- enforce: each forbidden reader stays alive until something kills it ----
before_kills=$(status_num fail_closed_kills)
flood fn-flood-enforce 6 >/dev/null 2>&1 &
flooder=$!
pids+=($flooder)
sleep 1
killed=0
for i in $(seq 1 $readers); do
  in_cgroup fn-flood-enforce "$workload" "read:$work/g/secret.key" "await-kill:10" "exit:0" >/dev/null 2>&1
  rc=$?
  ((rc == 137)) && killed=$((killed + 1))
  ((rc == 137)) || echo "enforce reader $i ended with $rc"
done
wait "$flooder"
after_kills=$(status_num fail_closed_kills)
echo "enforce: fail-closed kills during the flood: $((after_kills - before_kills)), drops: $(status_num ringbuf_drops)"
expect_eq "enforce: every forbidden reader is killed" "$readers" "$killed"

# --- audit: each forbidden read is reported or counted as a gap --------------
before_gaps=$(policy_gaps flood-audit)
before_reports=$(count_matching "$out" '"function":"fn-flood-audit"' "\"path\":\"$work/g/secret.key\"" || echo 0)
flood fn-flood-audit 6 >/dev/null 2>&1 &
flooder=$!
pids+=($flooder)
sleep 1
for i in $(seq 1 $readers); do
  in_cgroup fn-flood-audit "$workload" "read:$work/g/secret.key" "exit-errno" >/dev/null 2>&1 ||
    fail "audit reader $i: the read failed"
done
wait "$flooder"
sleep 1  # the daemon's next ticks drain what the ring still holds
reports() { count_matching "$out" '"function":"fn-flood-audit"' "\"path\":\"$work/g/secret.key\"" || echo 0; }
seen() { (($(reports) - before_reports + $(policy_gaps flood-audit) - ${before_gaps:-0} >= readers)); }
eventually 10 seen
gaps=$(( $(policy_gaps flood-audit) - ${before_gaps:-0} ))
reported=$(( $(reports) - before_reports ))
echo "audit: forbidden reads reported: $reported, counted as coverage gaps: $gaps"
if ((reported + gaps >= readers)); then pass "audit: every forbidden read is reported or counted as a gap"; else
  fail "audit: $readers forbidden reads, $reported reported, $gaps gaps"
fi

finish flood_forbidden_read
