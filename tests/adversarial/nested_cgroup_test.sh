#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A monitored function that tries to loosen its own policy (threat-model.md,
# "A nested cgroup that matches a looser rule"): the operator has a
# catch-all audit rule for the runtime's directory (`nest/.+`) and an enforce
# rule for one function (`nest/fn-secure`). The function creates a child
# cgroup, `nest/fn-secure/sub`, which matches only the catch-all, moves
# itself there and connects where its policy forbids. The child must keep
# the function's enforce policy: the connect is denied (EPERM) and reported
# under the function's policy, not let through as an audit event.
#
# Then names with terminal escapes (threat-model.md, "Escape sequences in
# names"): a cgroup whose name (a capture group: the function's name) holds
# ESC[2J and an OSC title sequence. `fnwarden status`, `top` and `trace`
# tables and the daemon's log must show it escaped, never the raw ESC.
# usage: nested_cgroup_test.sh FNWARDEN WORKLOAD
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
nest=fnwtest-nest-$$-$RANDOM
esc=fnwtest-esc-$$-$RANDOM
sock=$work/fnwarden.sock
out=$work/events.jsonl
pids=()
main_shell=$BASHPID
cleanup() {
  [[ $BASHPID == "$main_shell" ]] || return 0
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  local d
  for d in "$cg2/$nest" "$cg2/$esc"; do
    [[ -d $d ]] || continue
    # Anything still running in the test's cgroups, then the tree, deepest first.
    find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null
    sleep 0.2
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  [[ -n ${FNW_KEEP_WORK:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rules"
# The function's own policy: enforce, no connections at all. No syscalls
# section: every syscall is allowed, so bash may set up the child cgroup.
cat >"$work/rules/secure.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: nest-secure}
spec:
  selector: {function: nest-secure, cgroupPath: '$nest/fn-secure'}
  mode: enforce
  network:
    onViolation: deny
    egress: []
YAML
# The catch-all for everything else under the runtime's directory: audit.
cat >"$work/rules/catchall.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: nest-catchall}
spec:
  selector: {cgroupPath: '$nest/.+'}
  mode: audit
  network:
    onViolation: report
    egress: []
YAML
# Names with escapes: the capture group is the function's name.
cat >"$work/rules/esc.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: esc-names}
spec:
  selector: {cgroupPath: '$esc/(.+)'}
  mode: audit
  network:
    onViolation: report
    egress: []
YAML

start_daemon "$work/daemon.log" "$sock" --rules "$work/rules" --output "$out" --metrics "" --mode enforce
status_has() { local s; s=$("$fnw" status --socket "$sock" -o json) && grep -q -- "$1" <<<"$s"; }

# --- a child cgroup that matches the catch-all ---------------------------------------
mkdir "$cg2/$nest" "$cg2/$nest/fn-secure" || { fail "cannot create cgroups"; exit 1; }
eventually 5 status_has "\"path\": \"$nest/fn-secure\"" && pass "fn-secure identified" ||
  fail "fn-secure not identified: $(tail -5 "$work/daemon.log")"
# The function: joins its cgroup, makes a child there, moves into it, and
# waits (the handshake) until the daemon has heard of the child's birth.
bash -c "echo \$\$ > '$cg2/$nest/fn-secure/cgroup.procs' && mkdir '$cg2/$nest/fn-secure/sub' &&
  echo \$\$ > '$cg2/$nest/fn-secure/sub/cgroup.procs' &&
  exec '$workload' await-file:'$work/go' tcp4:127.0.0.1:9 exit-errno" >"$work/nested.out" 2>&1 &
fn=$!
pids+=($fn)
eventually 5 status_has "\"path\": \"$nest/fn-secure/sub\"" && pass "the daemon heard of the child cgroup" ||
  fail "sub not seen: $(tail -5 "$work/daemon.log")"
touch "$work/go"
wait "$fn"
rc=$?
# exit-errno: EPERM (1) is the cgroup hook's deny; 111 (ECONNREFUSED) means
# the connect went through to the stack.
[[ $rc == 1 ]] && pass "the nested cgroup's connect is denied (EPERM)" ||
  fail "nested connect exit $rc (want 1 = EPERM; 111: let through under the catch-all)"
if eventually 5 grep -q '"op":"connect"' "$out"; then
  ev=$(grep '"op":"connect"' "$out" | head -1)
  [[ $ev == *'"policy":"nest-secure"'* && $ev == *'"action":"denied"'* ]] &&
    pass "the violation is the function's, under its enforce policy" || fail "event: $ev"
else
  fail "no connect event: $(tail -5 "$work/daemon.log")"
fi
"$fnw" status --socket "$sock" -o json | tr -d ' \n' | grep -q "\"found_by\":\"below$nest/fn-secure\",\"function\":\"nest-secure\",\"path\":\"$nest/fn-secure/sub\"" &&
  pass "status: the child cgroup is the function's" ||
  fail "status: $("$fnw" status --socket "$sock" -o json | grep -B6 -A4 "fn-secure/sub")"

# --- names with terminal escapes -------------------------------------------------------
evil=$'evil\e[2J\e]0;pwned\a'
mkdir "$cg2/$esc" "$cg2/$esc/$evil" || { fail "cannot create the escape cgroup"; exit 1; }
eventually 5 status_has 'evil\\u001b' && pass "the escape cgroup is identified" ||
  fail "escape cgroup not identified: $(tail -5 "$work/daemon.log")"
timeout 20 "$fnw" trace --socket "$sock" >"$work/trace.out" 2>&1 &
tracer=$!
pids+=($tracer)
eventually 5 status_has '"role": "trace"' || fail "trace client did not subscribe"
bash -c "echo \$\$ > '$cg2/$esc/$evil/cgroup.procs' && exec '$workload' tcp4:127.0.0.1:9" >/dev/null 2>&1
eventually 5 grep -q 'evil' "$work/trace.out" || fail "trace showed no event of the escape cgroup"
kill "$tracer" 2>/dev/null
"$fnw" status --socket "$sock" >"$work/status.out" 2>&1
timeout 5 "$fnw" top --socket "$sock" -n 1 >"$work/top.out" 2>&1
no_raw_escape() { # what file [any: the name need not be shown]
  if grep -q $'\e' "$2"; then fail "$1 has a raw ESC: $(grep -a $'\e' "$2" | head -2 | od -c | head -5)"
  elif grep -qF 'evil\x1b[2J\x1b]0;pwned\x07' "$2" || [[ ${3:-} == any ]]; then pass "$1 shows the name escaped"
  else fail "$1 does not show the escaped name: $(grep -a evil "$2" | head -3)"; fi
}
no_raw_escape "status table" "$work/status.out"
# trace's FUNCTION column has a fixed width (it streams): a longer name is
# cut with "...", so only the escaped start of this one shows.
no_raw_escape "trace table" "$work/trace.out" any
grep -qF 'evil\x1b[2J\x1b]0;pw...' "$work/trace.out" && pass "trace table shows the escaped name, cut" ||
  fail "trace table does not show the escaped, cut name: $(grep -a evil "$work/trace.out" | head -2)"
# top lists the policy set's functions (not capture groups): no raw ESC is all it can show.
no_raw_escape "top table" "$work/top.out" any
no_raw_escape "daemon log" "$work/daemon.log"

finish nested_cgroup
