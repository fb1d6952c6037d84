#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Functions launched by `fnwarden run` under a pinned daemon keep their guard
# when the daemon restarts (docs/daemon.md, "Launched functions across a
# restart"). The daemon is killed with SIGKILL while the function runs: the
# launcher keeps the function running, the kernel keeps refusing its
# forbidden UDP send, and once a new daemon has adopted the pinned set the
# launcher registers the same cgroup again; the function then ends normally.
# Then the fallback: with the pins removed while no daemon runs, the next
# daemon refuses the resume and the launcher kills the function (enforce).
# usage: run_across_restart_test.sh FNWARDEN WORKLOAD
set -u
fnw=$1
workload=$(realpath "$2")
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_bpffs

slow=${FNW_TEST_SLOWDOWN:-1}
work=$(mktemp -d)
cg2=$(cgroup2_mount)
fn=relaunch-fn-$$
pins=/sys/fs/bpf/fnw-e2e-$$
pin_root=$pins  # start_daemon pins there
sock=$work/fnwarden.sock
main_shell=$BASHPID
pids=()
cleanup() {
  [[ $BASHPID == "$main_shell" ]] || return 0
  touch "$work/go1" "$work/go2" "$work/go3"
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [[ -d $pins ]] && "$fnw" unload --pin-root "$pins" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rules"
cat >"$work/rules/relaunch.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: relaunch-policy}
spec:
  selector: {function: $fn}
  mode: enforce
  network:
    onViolation: deny
    egress: []          # no connections at all
YAML

start() { # start LOG
  rm -f "$sock"  # a killed daemon leaves its socket file: wait for the new one's
  start_daemon "$1" "$sock" --rules "$work/rules" --mode enforce --output "$work/events.jsonl" --metrics off
  daemon=$daemon_pid
}
stop_daemon() { kill -9 "$daemon"; wait "$daemon" 2>/dev/null; }
# The launched function's cgroup: <cgroup2>/fnwarden/<function>-<launcher pid>-0.
fn_cgroup() { echo "$cg2/fnwarden/$fn-$1-0"; }
# udp_errno CGROUP: one UDP datagram from a process put in CGROUP; prints the
# errno of the send (0: it went out, 1: EPERM).
udp_errno() { errno_in "$1" udp4:127.0.0.1:9; }
send_refused() { [[ $(udp_errno "$1") == 1 ]]; }
alive() { kill -0 "$1" 2>/dev/null; }

# --- a function launched under a pinned daemon -------------------------------------------
start "$work/daemon1.log"
grep -q "probes fresh in $pins/v" "$work/daemon1.log" && pass "probes pinned under $pins" ||
  fail "not pinned: $(cat "$work/daemon1.log")"
# The function waits, sends (refused) while no daemon runs, waits again, sends
# once more under the next daemon, and exits with that send's errno (EPERM: 1).
"$fnw" run --socket "$sock" --function "$fn" -- "$workload" print:started await-file:"$work/go1" \
  udp4:127.0.0.1:9 await-file:"$work/go2" udp4:127.0.0.1:9 exit-errno >"$work/run.out" 2>"$work/run.err" &
launcher=$!
pids+=("$launcher")
eventually $((10 * slow)) grep -q started "$work/run.out" && pass "the function runs" ||
  fail "the function did not start: $(cat "$work/run.err")"
cgroup=$(fn_cgroup "$launcher")
grep -q "cgroup $cgroup registered by pid" "$work/daemon1.log" && pass "the launcher registered $cgroup" ||
  fail "no registration: $(cat "$work/daemon1.log")"
send_refused "$cgroup" && pass "the daemon denies a send from the function's cgroup" || fail "send not denied"

# --- SIGKILL: the function runs on, guarded by the kernel alone --------------------------
stop_daemon
eventually $((5 * slow)) grep -q "the daemon hung up; its pinned probes keep guarding" "$work/run.err" &&
  pass "the launcher keeps the function running" || fail "launcher: $(cat "$work/run.err")"
alive "$launcher" && pass "the launcher is still running" || fail "the launcher ended: $(cat "$work/run.err")"
send_refused "$cgroup" && pass "after kill -9 the kernel still denies the send" || fail "the send went out after kill -9"
touch "$work/go1"  # the function's own send, while no daemon runs
sleep 1            # a second without a daemon: the launcher must not give up
alive "$launcher" && pass "the function still runs with no daemon" || fail "the function ended: $(cat "$work/run.err")"

# --- the next daemon adopts the set; the launcher registers the cgroup again -------------
start "$work/daemon2.log"
grep -q "probes adopted in $pins/v" "$work/daemon2.log" && pass "the new daemon adopted the pinned set" ||
  fail "not adopted: $(cat "$work/daemon2.log")"
eventually $((10 * slow)) grep -q "cgroup $cgroup registered again (resumed)" "$work/daemon2.log" &&
  pass "the launcher registered the cgroup again" || fail "no resume: $(cat "$work/daemon2.log") $(cat "$work/run.err")"
grep -q "registered again with the daemon at $sock" "$work/run.err" && pass "the launcher says so" ||
  fail "launcher: $(cat "$work/run.err")"
# status names a cgroup's path only for a registration (or a selector's find).
timeout 5 "$fnw" status --socket "$sock" -o json 2>&1 | tr -d ' \n' >"$work/status.json"
grep -q "\"path\":\"$cgroup\"" "$work/status.json" && pass "status lists the registration again" ||
  fail "status: $(cat "$work/status.json")"
gap_send() { local n; n=$(count_reported "$work/events.jsonl" "\"function\":\"$fn\"" '"op":"sendmsg"') && ((n >= 1)); }
eventually $((5 * slow)) gap_send && pass "the function's send from the gap is published" ||
  fail "gap event missing: $(cat "$work/events.jsonl")"
send_refused "$cgroup" && pass "still denied under the new daemon" || fail "send not denied after the resume"
touch "$work/go2"
wait "$launcher"
rc=$?
expect_eq "the function ends normally, its last send refused (EPERM)" 1 "$rc"
grep -q "killing the function" "$work/run.err" && fail "the launcher killed the function: $(cat "$work/run.err")" ||
  pass "the function was never killed"

# --- fallback: the pins go while no daemon runs; the next one refuses the resume ---------
"$fnw" run --socket "$sock" --function "$fn" -- "$workload" print:started await-file:"$work/go3" exit:0 \
  >"$work/run2.out" 2>"$work/run2.err" &
launcher=$!
pids+=("$launcher")
eventually $((10 * slow)) grep -q started "$work/run2.out" || fail "the second function did not start: $(cat "$work/run2.err")"
stop_daemon
"$fnw" unload --pin-root "$pins" >"$work/unload.out" 2>&1 && pass "unload while no daemon runs" ||
  fail "unload: $(cat "$work/unload.out")"
start "$work/daemon3.log"
wait "$launcher"
rc=$?
expect_eq "with nothing left to resume the function is killed (enforce)" 137 "$rc"
grep -q "refused to take the function back" "$work/run2.err" && pass "the launcher says why" ||
  fail "launcher: $(cat "$work/run2.err")"
grep -q "holds no guard an earlier daemon left" "$work/daemon3.log" && pass "the daemon refused the resume" ||
  fail "daemon: $(cat "$work/daemon3.log")"

kill -TERM "$daemon"
wait "$daemon"
"$fnw" unload --pin-root "$pins" >/dev/null 2>&1 && [[ ! -e $pins ]] && pass "pins removed" || fail "pins left"

finish "run across restart e2e"
