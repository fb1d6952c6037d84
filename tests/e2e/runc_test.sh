#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A container started by runc (Debian's package), not by fnwarden: the
# daemon finds it by its cgroup path and attributes its violations to the
# right function. runc creates the cgroup itself (cgroupsPath under a parent
# the daemon monitors with a default policy, so the container is covered in
# the kernel from mkdir on); the daemon upgrades it to the function's own
# policy when it hears of the birth. The function then connects where its
# policy forbids: the cgroup hook refuses (EPERM inside the container) and the
# event names the function from the path's capture group.
# usage: runc_test.sh FNWARDEN WORKLOAD
set -u
fnw=$1
workload=$(realpath "$2")
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_runc

work=$(mktemp -d)
cg2=$(findmnt -t cgroup2 -n -o TARGET | head -1)
parent=fnwtest-runc-$$-$RANDOM
container=fnwtest-hello-$$-$RANDOM
main_shell=$BASHPID
daemon=
made_parent=0
cleanup() {
  [[ $BASHPID == "$main_shell" ]] || return 0
  runc delete -f "$container" >/dev/null 2>&1
  [[ -n $daemon ]] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  # Only a parent this run made (mkdir below fails on an existing one).
  ((made_parent)) && find "$cg2/$parent" -depth -type d -exec rmdir {} + 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# --- policies: a default for the runtime's parent, one per function below it ---------
mkdir -p "$work/rules"
policy() { # file name selector
  cat >"$work/rules/$1" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: $2}
spec:
  selector: {cgroupPath: '$3'}
  mode: enforce
  network:
    onViolation: deny
    egress: []          # no connections at all
YAML
}
policy default.yaml runc-default "$parent"
policy functions.yaml runc-functions "$parent/(fn-[a-z]+)"
mkdir "$cg2/$parent" || { fail "cannot create cgroup $parent"; exit 1; }
made_parent=1

sock=$work/fnwarden.sock
"$fnw" daemon --pin-root none --rules "$work/rules" --mode enforce --socket "$sock" --output "$work/events.jsonl" \
  --metrics off >"$work/daemon.log" 2>&1 &
daemon=$!
eventually 20 test -S "$sock" || { fail "daemon did not start: $(cat "$work/daemon.log")"; exit 1; }

# --- an OCI bundle: the host's /usr read-only, the test workload bind-mounted ----------
bundle=$work/bundle
mkdir -p "$bundle/rootfs"/{proc,dev,tmp,usr,etc,wl,handshake} "$work/handshake"
ln -s usr/bin "$bundle/rootfs/bin"; ln -s usr/lib "$bundle/rootfs/lib"; ln -s usr/lib64 "$bundle/rootfs/lib64"
workload_dir=$(dirname "$workload")
cat >"$bundle/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": ["/wl/$(basename "$workload")", "await-file:/handshake/go", "tcp4:127.0.0.1:9", "exit-errno"],
    "env": ["PATH=/usr/bin:/bin"],
    "cwd": "/",
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "fnwtest",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]},
    {"destination": "/wl", "type": "bind", "source": "$workload_dir", "options": ["rbind", "ro"]},
    {"destination": "/handshake", "type": "bind", "source": "$work/handshake", "options": ["rbind", "ro"]}
  ],
  "linux": {
    "cgroupsPath": "/$parent/fn-hello",
    "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network"}],
    "maskedPaths": ["/proc/kcore", "/proc/keys"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
  }
}
JSON

# The container waits at a handshake until the daemon has identified its
# cgroup: the test is about attribution after the upgrade from the default
# policy, which must not depend on how fast the daemon hears of the birth.
# (Before the upgrade the default policy, inherited in the kernel at mkdir,
# already refuses the same connect.)
(cd "$bundle" && runc run "$container" </dev/null >"$work/runc.out" 2>&1) &
runc_pid=$!
if eventually 10 bash -c "\"$fnw\" status --socket \"$sock\" -o json | grep -q '\"function\": \"fn-hello\"'"; then
  pass "daemon identified the container's cgroup before it went on"
else
  fail "fn-hello not identified: $(tail -5 "$work/daemon.log")"
fi
touch "$work/handshake/go"
wait "$runc_pid"
rc=$?
# exit-errno: the workload exits with the connect's errno. EPERM (1) is the
# cgroup hook's refusal; ENETUNREACH/ECONNREFUSED would mean it went through.
grep -q "runc run failed" "$work/runc.out" && fail "runc could not start the container: $(cat "$work/runc.out")"
[[ $rc == 1 ]] && pass "connect inside the runc container refused with EPERM" ||
  fail "container exit $rc (want 1 = EPERM): $(cat "$work/runc.out")"
if eventually 5 grep -q '"op":"connect"' "$work/events.jsonl"; then
  ev=$(grep '"op":"connect"' "$work/events.jsonl" | head -1)
  [[ $ev == *'"function":"fn-hello"'* ]] && pass "violation attributed to fn-hello (capture group)" ||
    fail "wrong function: $ev"
  [[ $ev == *'"policy":"runc-functions"'* ]] && pass "under the function's own policy, upgraded from the default" ||
    fail "policy: $ev"
  [[ $ev == *'"action":"denied"'* && $ev == *'"mechanism":"cgroup-sock"'* ]] && pass "denied by the cgroup hook" ||
    fail "action/mechanism: $ev"
else
  fail "no connect event: $(cat "$work/events.jsonl") $(tail -5 "$work/daemon.log")"
fi
grep -q "fn-hello: cgroup $parent/fn-hello matched policy runc-functions" "$work/daemon.log" &&
  pass "daemon identified the container's cgroup at birth" || fail "no identification in the log"

finish "runc e2e"
