#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A container fnwarden did not start (issue 21 acceptance): Debian's runc,
# no fnwarden-runtime wrapper, an overlayfs root whose image has
# /app/handler.py, a cgroup the daemon finds by its cgroupPath, and a
# policy (onViolation: deny) that forbids writing /app/handler.py. The
# container truncates it (`echo x > /app/handler.py`, an O_TRUNC open),
# then reads it. What stops the write depends on the kernel:
#   - BPF-LSM (the 6.1 VM lane, tests/vm/guest-suite.sh): lsm/file_open
#     refuses the open with EPERM before it happens, in the rules compiled
#     in the container's root; the container goes on, its read of the file
#     works, the file is unchanged on both layers, and the event names
#     /app/handler.py with mechanism bpf-lsm, action denied;
#   - no BPF-LSM (this host): deny falls back to kill, and the probe kills
#     the writer at sys_exit (mechanism sigkill) before it returns from the
#     open; the image's file (lower layer) is unchanged, the container's
#     copy-up may have been truncated (docs/threat-model.md).
# The daemon says which (status: kernel.lsm_programs); FNW_REQUIRE_LSM=1
# makes "not loaded" a failure. The layers are on a tmpfs of the test's
# own: in the VM guest the root is itself an overlay, which overlayfs does
# not take as an upper layer.
# usage: plain_runc_test.sh FNWARDEN
set -u
# The system's python3 first: a version manager's shim (pyenv) costs tens of
# seconds per call in the VM guest under TCG.
PATH=/usr/bin:$PATH
fnw=$(realpath "$1")
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_runc

runc_test_setup plainrunc
fn=plainrunc-fn-$$
container=plainrunc-$$
containers=("$container")
mount -t tmpfs -o mode=0700 fnwtest "$work" || { fail "cannot mount a tmpfs on $work"; exit 1; }
mounted+=("$work")

mkdir -p "$work/rules"
# runc's own set-up is not checked: the cgroup is found empty, so it is
# armed until the entrypoint's exec; runc's execs of its own binary and of
# its memfd copy before it do not arm it (exec.bpf.c). The policy lists
# only what the entrypoint needs: an access by runc that it had to allow
# would mean runc's set-up was checked.
cat >"$work/rules/fn.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: $fn}
spec:
  selector: {function: $fn, cgroupPath: '$parent/box'}
  mode: enforce
  files:
    read: ["/usr/**", "/etc/**", "/app/**", "/tmp/**", "/dev/**", "/proc/**"]
    write: ["/tmp/**", "/dev/null"]
    onViolation: deny
YAML
# The cgroup made first and found by the daemon before runc uses it: a
# cgroupPath match is the daemon's, and this test is about the container's
# root, not about how fast the daemon finds a new cgroup (kubernetes.md).
mkdir -p "$cg2/$parent/box" || { fail "cannot create cgroup $parent/box"; exit 1; }
sock=$work/fnwarden.sock
"$fnw" daemon --pin-root none --rules "$work/rules" --mode enforce --socket "$sock" --output "$work/events.jsonl" \
  --metrics off >"$work/daemon.log" 2>&1 &
daemon=$!
slow=${FNW_TEST_SLOWDOWN:-1}
eventually $((20 * slow)) test -S "$sock" || { fail "daemon did not start: $(cat "$work/daemon.log")"; exit 1; }
echo "daemon listening after $SECONDS s"
status_json() { "$fnw" status --socket "$sock" -o json; }
found() { status_json | grep -q "\"path\": \"$parent/box\""; }
eventually $((10 * slow)) found || fail "the daemon did not find $parent/box"
lsm=$(status_json | python3 -c 'import json, sys; print(json.load(sys.stdin)["kernel"]["lsm_programs"])')
if [[ $lsm == loaded ]]; then
  echo "BPF-LSM programs loaded: expecting EPERM"
elif [[ ${FNW_REQUIRE_LSM:-0} == 1 ]]; then
  fail "FNW_REQUIRE_LSM=1, but the daemon's BPF-LSM programs: $lsm"
  exit 1
else
  echo "no BPF-LSM ($lsm): expecting a kill at sys_exit"
fi

# The image's layer: a root with /app/handler.py; /usr is the host's.
lower=$work/lower
mkdir -p "$lower"/{proc,dev,tmp,usr,etc,app}
ln -s usr/bin "$lower/bin"; ln -s usr/lib "$lower/lib"; ln -s usr/lib64 "$lower/lib64"
printf 'print("hello")\n' >"$lower/app/handler.py"
overlay_bundle "$work/box" "$lower" "/$parent/box" "" 'cat /app/handler.py >/dev/null || exit 3
echo x > /app/handler.py; echo "write-rc=$?"
cat /app/handler.py; echo "read-rc=$?"'

t0=$SECONDS
(cd "$work/box" && runc run "$container" </dev/null >"$work/box.out" 2>&1)
rc=$?
echo "runc run: exit $rc in $((SECONDS - t0)) s; the container said:"
cat "$work/box.out"
if grep -q "runc run failed" "$work/box.out"; then
  fail "runc could not start the container; events: $(cat "$work/events.jsonl"); daemon: $(tail -20 "$work/daemon.log")"
fi
upper_file=$work/box/upper/app/handler.py
expect_eq "the image's handler.py (lower layer) is unchanged" 'print("hello")' "$(cat "$lower/app/handler.py")"

if [[ $lsm == loaded ]]; then
  # Refused before the open: no copy-up, no truncation.
  if [[ ! -e $upper_file ]]; then
    pass "nothing was copied up"
  else
    expect_eq "the copy in the upper layer is unchanged" 'print("hello")' "$(cat "$upper_file")"
  fi
  expect_eq "the container goes on to its end (runc's exit)" 0 "$rc"
  grep -q 'handler.py: Operation not permitted' "$work/box.out" && grep -q '^write-rc=[1-9]' "$work/box.out" &&
    pass "echo x > /app/handler.py: Operation not permitted" || fail "no EPERM: $(cat "$work/box.out")"
  grep -q '^read-rc=0$' "$work/box.out" && grep -qx 'print("hello")' "$work/box.out" &&
    pass "the allowed read after it works, and sees the file unchanged" || fail "read: $(cat "$work/box.out")"
  want_action=denied want_mechanism=bpf-lsm
else
  expect_eq "the writer is killed (sh's status)" 137 "$rc"
  grep -q '^write-rc' "$work/box.out" && fail "it returned from the write: $(cat "$work/box.out")" ||
    pass "it never returned from the write"
  want_action=killed want_mechanism=sigkill
  # The open happened before the kill (threat-model.md, "Containers: what
  # holds where"): the container's copy may be truncated, never the image's.
  [[ -e $upper_file ]] && echo "note: the upper layer's copy holds $(wc -c <"$upper_file") byte(s)"
fi
violation() { grep "\"function\":\"$fn\"" "$work/events.jsonl" | grep '"verdict":"violation"'; }
reported() { violation | grep -q '"path":"/app/handler.py"'; }
if eventually $((5 * slow)) reported; then
  ev=$(violation | head -1)
  [[ $ev == *'"path":"/app/handler.py"'* && $ev == *"\"action\":\"$want_action\""* &&
    $ev == *"\"mechanism\":\"$want_mechanism\""* ]] &&
    pass "reported: /app/handler.py $want_action by $want_mechanism, named as the container sees it" ||
    fail "event: $ev"
  extra=$(violation | grep -vc '"path":"/app/handler.py"')
  expect_eq "no other violation" 0 "$extra"
else
  fail "no violation for $fn: $(tail -5 "$work/daemon.log")"
fi
grep -q "$fn: file rules compiled in the root of pid" "$work/daemon.log" &&
  pass "the rules were compiled in the container's root" || fail "no compile in the container's root"

echo "checks done after $SECONDS s"
finish "plain runc e2e"
