#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Functions in a root of their own (issue 21 item 1): file rules compiled in
# the function's root, so the kernel decides for it at sys_exit.
#   - a runc container (Debian's runc) on an overlayfs root, found by its
#     cgroup path: its first access the kernel cannot decide is matched by
#     name and makes the daemon compile the rules in the container's root;
#     then a forbidden read (/secret/key, in the image) is killed by the
#     probe itself (mechanism sigkill, not held-sigkill) and reported with
#     the path as the container sees it; an allowed read passes; the first
#     write to an allowed image file (copy-up to the upper layer) passes and
#     the file stays readable; a write to a denied image file is killed;
#   - a chroot'ed process under a monitored cgroup: the same, in its root.
# The daemon's own root has no /app and no /secret: before the compile no
# rule names them, and the kernel could not decide at all.
# usage: foreign_root_test.sh FNWARDEN
set -u
fnw=$(realpath "$1")
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_runc

runc_test_setup froot
fn=froot-fn-$$
container=froot-$$
containers=("$container")
[[ -e /app || -e /secret ]] && { fail "this host has /app or /secret: the test needs them absent"; exit 1; }

mkdir -p "$work/rules"
policy() { # NAME: function $fn-NAME, cgroup $parent/NAME
  cat >"$work/rules/$1.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: $fn-$1}
spec:
  selector: {cgroupPath: '$parent/$1'}
  mode: enforce
  files:
    read: ["/usr/**", "/etc/**", "/app/**", "/tmp/**", "/dev/**", "/proc/**", "/handshake/**"]
    write: ["/tmp/**", "/app/data.txt"]
    create: ["/tmp/**"]
    onViolation: kill
YAML
}
policy box
policy chroot
mkdir "$cg2/$parent" "$cg2/$parent/box" "$cg2/$parent/chroot" || { fail "cannot create cgroups under $parent"; exit 1; }
sock=$work/fnwarden.sock
"$fnw" daemon --pin-root none --rules "$work/rules" --mode enforce --socket "$sock" --output "$work/events.jsonl" \
  --metrics off >"$work/daemon.log" 2>&1 &
daemon=$!
eventually 20 test -S "$sock" || { fail "daemon did not start: $(cat "$work/daemon.log")"; exit 1; }
found() { "$fnw" status --socket "$sock" -o json | grep -q "\"path\": \"$parent/$1\""; }
eventually 10 found box && eventually 10 found chroot || fail "the daemon did not find the cgroups under $parent"

# A root with /app (allowed), /secret (forbidden), the host's /usr bound in.
image() { # DIR
  mkdir -p "$1"/{proc,dev,tmp,usr,etc,app,secret,handshake}
  ln -s usr/bin "$1/bin"; ln -s usr/lib "$1/lib"; ln -s usr/lib64 "$1/lib64"
  printf 'print("hello")\n' >"$1/app/handler.py"
  printf 'data\n' >"$1/app/data.txt"
  printf 'TOPSECRET\n' >"$1/secret/key"
}
# What runs in both roots. The first cat is a miss the kernel cannot decide
# yet (no rule names /app in the daemon's root): matched by name, allowed,
# and it makes the daemon compile the rules in this root. The function waits
# for the test to see that, then does the rest.
script='cat /app/handler.py >/tmp/warm; echo warm
while [ ! -e /handshake/go ]; do sleep 0.05; done
cat /app/handler.py; echo "read-rc=$?"
echo more >>/app/data.txt; echo "copyup-rc=$?"
cat /app/data.txt; echo "reread-rc=$?"
cat /secret/key; echo "secret-rc=$?"
echo x >>/app/handler.py; echo "deniedwrite-rc=$?"'

compiled_for() { grep -q "$fn-$1: file rules compiled in the root of pid" "$work/daemon.log"; }
check_case() { # NAME OUT
  local name=$1 out=$2 ev events
  grep -q '^read-rc=0$' "$out" && grep -qx 'print("hello")' "$out" && pass "$name: allowed read passes" ||
    fail "$name: allowed read: $(cat "$out")"
  grep -q '^copyup-rc=0$' "$out" && grep -q '^reread-rc=0$' "$out" && grep -qx more "$out" &&
    pass "$name: first write to an allowed image file passes, and it stays readable" ||
    fail "$name: copy-up: $(cat "$out")"
  grep -q TOPSECRET "$out" && fail "$name: the secret was printed" || pass "$name: the secret was not printed"
  grep -q '^secret-rc=137$' "$out" && pass "$name: the forbidden read was killed" || fail "$name: $(cat "$out")"
  grep -q '^deniedwrite-rc' "$out" && fail "$name: it returned from writing /app/handler.py" ||
    pass "$name: it never returned from writing /app/handler.py"
  events=$work/$name.events
  eventually 5 bash -c "grep '\"function\":\"$fn-$name\"' '$work/events.jsonl' | grep -q '\"path\":\"/app/handler.py\".*violation\|violation.*\"path\":\"/app/handler.py\"'"
  grep "\"function\":\"$fn-$name\"" "$work/events.jsonl" | grep '"verdict":"violation"' >"$events"
  ev=$(grep '"path":"/secret/key"' "$events" | head -1)
  [[ $ev == *'"action":"killed"'* && $ev == *'"mechanism":"sigkill"'* ]] &&
    pass "$name: the read of /secret/key killed by the probe at sys_exit (sigkill), named as the function sees it" ||
    fail "$name: /secret/key event: '$ev'"
  ev=$(grep '"path":"/app/handler.py"' "$events" | head -1)
  [[ $ev == *'"action":"killed"'* && $ev == *'"mechanism":"sigkill"'* ]] &&
    pass "$name: the write to /app/handler.py killed by the probe" || fail "$name: /app/handler.py event: '$ev'"
  grep -v '"path":"/secret/key"\|"path":"/app/handler.py"' "$events" | head -3 | grep . &&
    fail "$name: other violations (above)" || pass "$name: nothing else is a violation"
}

# --- a runc container on an overlayfs root ------------------------------------------
image "$work/lower"
mkdir -p "$work/hs"
overlay_bundle "$work/box" "$work/lower" "/$parent/box" "" "$script" "$work/hs:/handshake"
(cd "$work/box" && runc run "$container" </dev/null >"$work/box.out" 2>&1) &
runc_pid=$!
eventually 20 compiled_for box && pass "box: rules compiled in the container's root" ||
  fail "box: no compile in the container's root: $(grep -i 'root\|error' "$work/daemon.log" | tail -5)"
touch "$work/hs/go"
wait "$runc_pid"
grep -q "runc run failed" "$work/box.out" && fail "runc could not start the container: $(cat "$work/box.out")"
check_case box "$work/box.out"
expect_eq "box: the image's data.txt (lower layer) is untouched" data "$(cat "$work/lower/app/data.txt")"
[[ -f $work/box/upper/app/data.txt ]] && pass "box: data.txt was copied up" || fail "box: data.txt not in the upper layer"
expect_eq "box: the image's handler.py is untouched" 'print("hello")' "$(cat "$work/lower/app/handler.py")"
runc delete -f "$container" >/dev/null 2>&1
eventually 10 grep -q "file rules in the root of pid [0-9]* dropped: its processes are gone" "$work/daemon.log" &&
  pass "box: the container's root and its rules are dropped once it is gone" ||
  fail "box: the root was not dropped: $(grep -i 'root' "$work/daemon.log" | tail -3)"

# --- a chroot under a monitored cgroup ------------------------------------------------
jail=$work/chroot
image "$jail"
mount --bind /usr "$jail/usr" || { fail "bind mount of /usr failed"; exit 1; }
mounted+=("$jail/usr")
(echo "$BASHPID" >"$cg2/$parent/chroot/cgroup.procs" && exec chroot "$jail" /bin/sh -c "$script") \
  </dev/null >"$work/chroot.out" 2>&1 &
jail_pid=$!
eventually 20 compiled_for chroot && pass "chroot: rules compiled in the chroot" ||
  fail "chroot: no compile in the chroot: $(grep -i 'root\|error' "$work/daemon.log" | tail -5)"
touch "$jail/handshake/go"
wait "$jail_pid" 2>/dev/null  # sh is killed at its last line
check_case chroot "$work/chroot.out"
expect_eq "chroot: handler.py unchanged" 'print("hello")' "$(cat "$jail/app/handler.py")"

finish "foreign root e2e"
