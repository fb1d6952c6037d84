#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Enforcement that outlives the daemon (docs/daemon.md, "Pinned state"). A
# daemon with pinned probes denies a watched function's UDP send; it is
# killed with SIGKILL, and the send is still refused, by the kernel alone.
# A new daemon adopts the pinned set (the same link pins, no second load),
# publishes the violations written while nobody read, and after a clean
# stop `fnwarden unload` removes everything: the send goes out again.
# usage: pinned_restart_test.sh FNWARDEN WORKLOAD
set -u
fnw=$1
workload=$(realpath "$2")
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_bpffs

# Bounds on conditions scale with the machine (the VM lane runs under TCG).
slow=${FNW_TEST_SLOWDOWN:-1}
work=$(mktemp -d)
cg2=$(cgroup2_mount)
fn_cgroup=fnwtest-pinned-$$
pins=/sys/fs/bpf/fnw-e2e-$$
pin_root=$pins  # start_daemon pins there
sock=$work/fnwarden.sock
main_shell=$BASHPID
pids=()
cleanup() {
  [[ $BASHPID == "$main_shell" ]] || return 0
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [[ -d $pins ]] && "$fnw" unload --pin-root "$pins" >/dev/null 2>&1
  rmdir "$cg2/$fn_cgroup" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rules"
cat >"$work/rules/pinned.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: pinned-policy}
spec:
  selector: {function: pinned-fn, cgroupPath: '$fn_cgroup'}
  mode: enforce
  network:
    onViolation: deny
    egress: []          # no connections at all
YAML
mkdir "$cg2/$fn_cgroup" || { fail "cannot create cgroup $fn_cgroup"; exit 1; }

# udp_errno: one UDP datagram from inside the function's cgroup; prints the
# errno of the send (0: it went out).
udp_errno() { errno_in "$cg2/$fn_cgroup" udp4:127.0.0.1:9; }
send_refused() { [[ $(udp_errno) == 1 ]]; }  # EPERM
# A TCP connect from the cgroup: EPERM (1) when the hook refuses it, else
# ECONNREFUSED (111) from the closed port.
connect_refused() { [[ $(errno_in "$cg2/$fn_cgroup" tcp4:127.0.0.1:9) == 1 ]]; }
send_allowed() { [[ $(udp_errno) == 0 ]]; }
link_pins() { stat -c '%n %i' "$pins"/v*/links/* 2>/dev/null | sort; }
start() { # start LOG EVENTS [ARGS...]
  local log=$1 events=$2
  shift 2
  start_daemon "$log" "$sock" --rules "$work/rules" --mode enforce --output "$events" --metrics off "$@"
  daemon=$daemon_pid
}

# --- a daemon that pins its probes ---------------------------------------------------
start "$work/daemon1.log" "$work/events1.jsonl"
grep -q "probes fresh in $pins/v" "$work/daemon1.log" && pass "probes pinned under $pins" ||
  fail "not pinned: $(cat "$work/daemon1.log")"
eventually $((5 * slow)) send_refused && pass "the daemon denies the function's send" || fail "send not denied"
before=$(link_pins)
[[ -n $before ]] && pass "links pinned ($(wc -l <<<"$before"))" || fail "no link pinned"

# --- SIGKILL: nothing of the daemon is left but the pins -----------------------------
kill -9 "$daemon"
wait "$daemon" 2>/dev/null
rm -f "$sock"
send_refused && pass "after kill -9 the kernel still denies the send" || fail "the send went out after kill -9"
connect_refused && pass "after kill -9 the kernel still denies a connect" || fail "a connect went out after kill -9"
send_refused  # a second violation while nobody reads

# --- a new daemon adopts the set -------------------------------------------------------
start "$work/daemon2.log" "$work/events2.jsonl"
grep -q "probes adopted in $pins/v" "$work/daemon2.log" && pass "the new daemon adopted the pinned set" ||
  fail "not adopted: $(cat "$work/daemon2.log")"
expect_eq "the same link pins, none added or replaced" "$before" "$(link_pins)"
# Two sends while nobody read: the kernel may report the second as a repeat
# (a violation_summary), which count_reported counts too.
gap_events() { local n; n=$(count_reported "$work/events2.jsonl" '"function":"pinned-fn"' '"op":"sendmsg"') && ((n >= 2)); }
eventually $((5 * slow)) gap_events && pass "the violations from the gap are published by the new daemon" ||
  fail "gap events missing: $(cat "$work/events2.jsonl")"
gap_event=$(grep -m1 '"op":"sendmsg"' "$work/events2.jsonl")
[[ $gap_event == *'"policy":"pinned-policy"'* && $gap_event == *'"mode":"enforce"'* ]] &&
  pass "gap events name the policy and mode the earlier daemon wrote" || fail "gap event: $gap_event"
send_refused && pass "still denied under the adopting daemon" || fail "send not denied after adoption"
# The kernel's counters are pinned too: the gap's denies are in them.
net_denied=$("$fnw" status --socket "$sock" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["kernel"]["net_denied"])')
((net_denied >= 4)) && pass "the denies from before and during the gap are counted ($net_denied)" ||
  fail "net_denied $net_denied after the gap"
origin=$("$fnw" status --socket "$sock" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pinned"]["origin"])')
expect_eq "status says the set was adopted" adopted "$origin"

# --- an upgrade to another layout: the function stays guarded throughout ---------------
# Another ring size is another map layout (the set's digest): the new daemon
# cannot adopt, loads its own set beside the old one and removes the old one
# once its own guards the cgroup. A loop of sends runs through the swap;
# none may get out.
sends=$work/sends
stop_sends=$work/stop-sends
( while [[ ! -e $stop_sends ]]; do udp_errno >>"$sends"; done ) &
loop=$!
pids+=("$loop")
eventually $((5 * slow)) test -s "$sends" || fail "the send loop did not start"
kill -9 "$daemon"
wait "$daemon" 2>/dev/null
rm -f "$sock"
old_sets=$(ls -d "$pins"/v*)
start "$work/daemon3.log" "$work/events3.jsonl" --ringbuf-bytes 16777216
grep -q "probes replacing in $pins/v" "$work/daemon3.log" && pass "the upgraded daemon loads beside the old set" ||
  fail "not replacing: $(cat "$work/daemon3.log")"
old_set_gone() { [[ ! -e $old_sets ]]; }
eventually $((10 * slow)) old_set_gone && pass "the old set is unpinned once the new one guards" || fail "old set still pinned"
before_stop=$(wc -l <"$sends")
more_sends() { (($(wc -l <"$sends") > before_stop + 3)); }
eventually $((10 * slow)) more_sends  # a few sends under the new set alone
touch "$stop_sends"
wait "$loop" 2>/dev/null
total=$(wc -l <"$sends")
leaked=$(grep -cvx 1 "$sends")
((total > 5)) && pass "$total sends tried across the swap" || fail "only $total sends tried"
expect_eq "no send got out during the swap" 0 "$leaked"

# --- a clean stop keeps the set; unload removes it -------------------------------------
kill -TERM "$daemon"
wait "$daemon"
rc=$?
expect_eq "SIGTERM exits 0" 0 "$rc"
send_refused && pass "a clean stop keeps enforcing (default)" || fail "the clean stop detached"
"$fnw" unload --pin-root "$pins" >"$work/unload.out" 2>&1 && pass "unload" || fail "unload: $(cat "$work/unload.out")"
[[ ! -e $pins ]] && pass "no pin left" || fail "pins left: $(find "$pins")"
eventually $((5 * slow)) send_allowed && pass "after unload the send goes out" || fail "still denied after unload"

finish "pinned restart e2e"
