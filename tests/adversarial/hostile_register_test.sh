#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A hostile member of the control socket's group (threat-model.md, "A hostile
# control-socket client"): uid 65534 with the socket group, speaking the
# socket's JSON protocol directly. Each attempt must be refused:
#  1. register a cgroup under the launcher's parent that root created (not
#     the caller's);
#  2. register another function's cgroup while it runs: on the old code this
#     re-armed it (ARM_ON_EXEC, under any policy the caller named) and the
#     caller's hang-up then deleted its entry, so the victim's next forbidden
#     syscall went unreported. The victim's violation after the attempt is
#     the proof that it was not disarmed;
#  3. register with an empty cgroup_path (the old code skipped the check);
#  4. register more cgroups than the per-client cap, all delegated to it;
#  5. trace: it sees events of the cgroups its uid registered, no others.
# And the launcher: `fnwarden run --user` runs the function as that user,
# and the function holds no socket (the daemon connection stays behind).
# usage: hostile_register_test.sh FNWARDEN WORKLOAD
set -u
fnw=$1
workload=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/lib.sh
source "$here/../e2e/lib.sh"
require_root

hostile_uid=65534
group=users  # the socket group of this daemon: present everywhere, so nothing is added to the host
group_gid=$(getent group "$group" | cut -d: -f3)
[[ -n $group_gid ]] || { echo "FAIL: no group '$group'"; exit 1; }
cgroot=$(cgroup2_mount)
[[ -n $cgroot ]] || { echo "FAIL: no cgroup2 mount"; exit 1; }
parent=$cgroot/fnwarden
mkdir -p "$parent"

work=$(mktemp -d)
[[ -n ${FNW_KEEP_WORK:-} ]] && echo "work: $work"
chmod 0711 "$work"  # the hostile user reaches the socket in it, nothing else
rules=$work/rules
sock=$work/fnwarden.sock
out=$work/events.jsonl
pids=()
cgroups=()
main_shell=$BASHPID
cleanup() {
  [[ $BASHPID == "$main_shell" ]] || return 0
  touch "$work/go" "$work/pub/fd.go" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  local c
  for c in "${cgroups[@]}"; do rmdir "$c" 2>/dev/null; done
  [[ -n ${FNW_KEEP_WORK:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$rules" "$work/pub"
chmod 0755 "$work/pub"  # the --user function waits for a file here
base="execve brk arch_prctl mmap munmap mprotect set_tid_address set_robust_list rseq prlimit64
  getrandom access faccessat openat read pread64 write close fstat newfstatat exit exit_group futex
  rt_sigaction rt_sigprocmask clock_gettime clock_nanosleep nanosleep inotify_init1 inotify_add_watch
  poll ppoll"
for fn in victim hostile; do
  cat >"$rules/$fn.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: $fn}
spec:
  selector: {function: $fn}
  mode: audit
  syscalls:
    onViolation: report
    allow: [$(echo $base | tr ' ' ',')]
YAML
done
cat >"$rules/open.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: open}
spec:
  selector: {function: open}
  mode: audit
YAML

start_daemon "$work/daemon.log" "$sock" --rules "$rules" --socket-group "$group" --output "$out" --metrics "" \
  --mode audit

# hostile REQUEST...: one connection as uid 65534 with only the socket group;
# sends each JSON request, prints each reply on its own line, then hangs up.
cat >"$work/client.py" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
f = s.makefile("rw")
for request in sys.argv[2:]:
    f.write(request + "\n")
    f.flush()
    line = f.readline()
    print(line.strip() if line else '{"type":"hangup"}', flush=True)
PY
chmod 0644 "$work/client.py"
hostile() {
  setpriv --reuid "$hostile_uid" --regid "$hostile_uid" --groups "$group_gid" \
    timeout 20 /usr/bin/python3 "$work/client.py" "$sock" "$@"
}
register_json() { # function path id
  printf '{"op":"register","function":"%s","cgroup_path":"%s","cgroup_id":%s,"pid":1}' "$1" "$2" "$3"
}
refused() { # reply line: an error, not "registered"
  [[ $1 == *'"type":"error"'* ]]
}
status_json() { timeout 5 "$fnw" status --socket "$sock" -o json 2>/dev/null | tr -d ' \n'; }
monitored() { status_json | grep -q "\"cgroup_id\":$1,"; }

# --- 1: a cgroup root created -----------------------------------------------------
notmine=$parent/hostile-notmine-$$
mkdir "$notmine" && cgroups+=("$notmine")
reply=$(hostile "$(register_json hostile "$notmine" "$(stat -c %i "$notmine")")")
if refused "$reply"; then pass "register of a cgroup it does not own refused: $reply"; else
  fail "register of a cgroup it does not own: $reply"; fi

# --- 2: a running function's cgroup ---------------------------------------------
"$fnw" run --socket "$sock" --function victim -- "$workload" getppid await-file:"$work/go" getpgid \
  >"$work/victim.out" 2>&1 &
victim=$!
pids+=($victim)
victim_cg=$parent/victim-$victim-0
if eventually 10 test -d "$victim_cg" && victim_id=$(stat -c %i "$victim_cg") && eventually 10 monitored "$victim_id"; then
  pass "victim registered (cgroup $victim_id)"
  # The caller names a function of its choice: with "open" the victim would
  # run unrestricted until its next exec even while the entry stayed.
  reply=$(hostile "$(register_json open "$victim_cg" "$victim_id")")
  if refused "$reply"; then pass "register of a monitored function's cgroup refused: $reply"; else
    fail "register of a monitored function's cgroup: $reply"; fi
  # Its hang-up has been handled once another request is answered.
  status_json >/dev/null
  check "the victim's cgroup is still monitored after the hostile client left" monitored "$victim_id"
  touch "$work/go"
  if eventually 5 more_than 0 "$out" '"function":"victim"' '"name":"getpgid"'; then
    pass "the victim's forbidden syscall after the attempt is still reported"
  else
    fail "the victim's getpgid went unreported: the hostile client disarmed it ($(cat "$work/victim.out"))"
  fi
else
  fail "victim did not start: $(cat "$work/victim.out")"
fi
wait "$victim" 2>/dev/null

# --- 3: an empty cgroup_path -------------------------------------------------------
mine=$parent/hostile-mine-$$
mkdir "$mine" && cgroups+=("$mine") && chown "$hostile_uid" "$mine"
reply=$(hostile "$(register_json hostile "" "$(stat -c %i "$mine")")")
if refused "$reply"; then pass "register with an empty cgroup_path refused: $reply"; else
  fail "register with an empty cgroup_path: $reply"; fi
# Paths that leave the parent, through "..", or are not the parent's own child.
reply=$(hostile "$(register_json hostile "$parent/../fnwarden/hostile-mine-$$" "$(stat -c %i "$mine")")")
if refused "$reply"; then pass "register through '..' refused: $reply"; else fail "register through '..': $reply"; fi
# Its own, delegated cgroup: accepted (the positive case the refusals are measured against).
reply=$(hostile "$(register_json hostile "$mine" "$(stat -c %i "$mine")")")
[[ $reply == *'"type":"registered"'* ]] && pass "register of its own delegated cgroup accepted" ||
  fail "register of its own delegated cgroup: $reply"

# --- 4: more registrations than the cap -----------------------------------------------
requests=()
for i in $(seq 1 65); do
  c=$parent/hostile-cap-$$-$i
  mkdir "$c" && cgroups+=("$c") && chown "$hostile_uid" "$c"
  requests+=("$(register_json hostile "$c" "$(stat -c %i "$c")")")
done
hostile "${requests[@]}" >"$work/cap.out"
accepted=$(grep -c '"type":"registered"' "$work/cap.out")
last=$(tail -1 "$work/cap.out")
expect_eq "64 registrations accepted on one connection" 64 "$accepted"
if refused "$last"; then pass "the 65th registration refused: $last"; else fail "the 65th registration: $last"; fi

# --- the refusals are counted ----------------------------------------------------------
refusals=$(status_json | grep -o '"register_refused":{[^}]*}')
echo "status: $refusals"
for reason in owner monitored path limit; do
  n=$(grep -o "\"$reason\":[0-9]*" <<<"$refusals" | cut -d: -f2)
  [[ ${n:-0} -ge 1 ]] && pass "refusal counted: $reason=$n" || fail "no refusal counted for $reason: '$refusals'"
done

# --- 5: trace shows a member only its own cgroups ---------------------------------------
# Two trace clients subscribe to everything and stay connected: the hostile
# member and root (the control: what flowed). The victim then violates again:
# root's client must show it, the member's must not.
cat >"$work/trace.py" <<'PY'
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b'{"op":"trace"}\n')
s.settimeout(0.2)
out = open(sys.argv[2], "ab", buffering=0)
deadline = time.time() + 30
while time.time() < deadline and not os.path.exists(sys.argv[3]):
    try:
        chunk = s.recv(65536)
    except socket.timeout:
        continue
    if not chunk:
        break
    out.write(chunk)
PY
chmod 0644 "$work/trace.py"
: >"$work/trace.hostile"
chown "$hostile_uid" "$work/trace.hostile"
setpriv --reuid "$hostile_uid" --regid "$hostile_uid" --groups "$group_gid" \
  /usr/bin/python3 "$work/trace.py" "$sock" "$work/trace.hostile" "$work/trace.stop" &
pids+=($!)
/usr/bin/python3 "$work/trace.py" "$sock" "$work/trace.root" "$work/trace.stop" &
pids+=($!)
eventually 5 grep -q subscribed "$work/trace.hostile"
eventually 5 grep -q subscribed "$work/trace.root"
timeout 10 "$fnw" run --socket "$sock" --function victim -- "$workload" getpgid >"$work/victim2.out" 2>&1
if eventually 5 more_than 0 "$work/trace.root" '"function":"victim"' '"name":"getpgid"'; then
  sleep 0.5  # fan-out is one loop turn: the member's copy would be there by now
  if grep -q subscribed "$work/trace.hostile" && ! grep -q '"function":"victim"' "$work/trace.hostile"; then
    pass "a member's trace does not show another user's function"
  else
    fail "a member's trace shows another user's function: $(grep -m1 victim "$work/trace.hostile" | head -c 600)"
  fi
else
  fail "root's trace did not show the victim's getpgid: $(head -c 600 "$work/trace.root")"
fi
touch "$work/trace.stop"

# --- the launcher: the function runs as --user and holds no socket -----------------------
"$fnw" run --socket "$sock" --function open --user "$hostile_uid" -- \
  "$workload" await-file:"$work/pub/fd.go" >"$work/fd.out" 2>&1 &
fdrun=$!
pids+=($fdrun)
fd_cg=$parent/open-$fdrun-0
fn_pid=""
first_pid() { fn_pid=$(head -1 "$fd_cg/cgroup.procs" 2>/dev/null); [[ -n $fn_pid ]]; }
if eventually 10 first_pid && eventually 5 grep -q "await-file" "/proc/$fn_pid/cmdline" 2>/dev/null; then
  uid=$(awk '/^Uid:/ {print $2 "/" $3}' "/proc/$fn_pid/status")
  expect_eq "the function runs as --user (real/effective uid)" "$hostile_uid/$hostile_uid" "$uid"
  groups=$(awk '/^Groups:/ {$1 = ""; print}' "/proc/$fn_pid/status" | xargs)
  gid=$(awk '/^Gid:/ {print $2}' "/proc/$fn_pid/status")
  expect_eq "the function has the user's group and no supplementary ones" "$hostile_uid|$hostile_uid" "$gid|$groups"
  sockets=$(for f in "/proc/$fn_pid/fd/"*; do readlink "$f"; done | grep -c '^socket:')
  expect_eq "the function holds no socket (the daemon connection is not inherited)" 0 "$sockets"
  nnp=$(awk '/^NoNewPrivs:/ {print $2}' "/proc/$fn_pid/status")
  expect_eq "the function runs with no_new_privs" 1 "$nnp"
else
  fail "the --user function did not start: $(cat "$work/fd.out")"
fi
touch "$work/pub/fd.go"
wait "$fdrun" 2>/dev/null

# Through sudo (SUDO_UID/SUDO_GID), without --user: the invoking user's.
env SUDO_UID="$hostile_uid" SUDO_GID="$hostile_uid" timeout 20 "$fnw" run --socket "$sock" --function open -- \
  /bin/sh -c 'echo "$(id -u) $(id -G)"' >"$work/sudo.out" 2>"$work/sudo.err"
expect_eq "under sudo the function runs as the invoking user, with only its group" \
  "$hostile_uid $hostile_uid" "$(cat "$work/sudo.out")"

finish hostile_register
