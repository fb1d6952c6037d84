#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fnwarden-runtime, the runc wrapper (docs/kubernetes.md, "Pods on nodes
# without BPF-LSM"), with Debian's runc: containers on an overlayfs root
# (lower: a tiny root with /app/handler.py, the host's /usr bind-mounted).
#   - a container whose policy forbids writing /app/handler.py, created and
#     started as containerd does (create, start): the write fails with
#     EACCES (Landlock, applied by fnwarden's init inside the container),
#     the file is unchanged, and the daemon reports the refusal;
#   - allowed work passes (reading it, writing /tmp), through `runc run`;
#   - a syscall the allowlist leaves out (mkdir) fails with EPERM: the
#     init loaded the seccomp program the wrapper compiled;
#   - a container without a policy: config.json untouched, writes work;
#   - containerd 1.6 (`ctr run --runc-binary fnwarden-runtime`): the same
#     refusal, through containerd's shim;
#   - the daemon down, a container that claims a policy: refused.
# The first container without the wrapper, started by plain runc and found
# by its cgroup path, is plain_runc_test.sh (also in the VM lane).
# usage: oci_runtime_test.sh FNWARDEN FNWARDEN_RUNTIME
set -u
fnw=$(realpath "$1")
wrapper=$(realpath "$2")
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_runc

runc_test_setup ociwrap
fn=ociwrap-fn-$$
export FNWARDEN_RUNTIME_STATE=$work/state FNWARDEN_SOCKET=$work/fnwarden.sock

mkdir -p "$work/rules"
cat >"$work/rules/fn.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: $fn}
spec:
  selector: {function: $fn}
  mode: enforce
  files:
    read: ["/usr/**", "/etc/**", "/app/**", "/tmp/**", "/dev/**", "/proc/**"]
    write: ["/tmp/**", "/dev/null"]
    create: ["/tmp/**"]
    delete: ["/tmp/**"]
    onViolation: deny
YAML
# A second function whose syscall allowlist leaves out mkdir: the init's
# seccomp program refuses it (EPERM) in the kernel.
cat >"$work/rules/seccomp.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: $fn-seccomp}
spec:
  selector: {function: $fn-seccomp}
  mode: enforce
  syscalls:
    onViolation: deny
    allow: [access, arch_prctl, brk, close, execve, exit_group, exit, fadvise64, futex, getegid, geteuid, getgid,
            getpid, getppid, getrandom, getuid, mmap, mprotect, munmap, newfstatat, fstat, openat, pread64,
            prlimit64, read, rseq, rt_sigaction, rt_sigprocmask, rt_sigreturn, set_robust_list, set_tid_address,
            statfs, vfork, clone, clone3, wait4, write, dup2, fcntl, ioctl, lseek, getcwd, uname, sysinfo]
YAML
mkdir "$cg2/$parent" || { fail "cannot create cgroup $parent"; exit 1; }
"$fnw" daemon --pin-root none --rules "$work/rules" --mode enforce --socket "$FNWARDEN_SOCKET" \
  --output "$work/events.jsonl" --metrics off >"$work/daemon.log" 2>&1 &
daemon=$!
eventually 20 test -S "$FNWARDEN_SOCKET" || { fail "daemon did not start: $(cat "$work/daemon.log")"; exit 1; }

# The image's layer: a root with /app/handler.py; /usr is the host's.
lower=$work/lower
mkdir -p "$lower"/{proc,dev,tmp,usr,etc,app}
ln -s usr/bin "$lower/bin"; ln -s usr/lib "$lower/lib"; ln -s usr/lib64 "$lower/lib64"
printf 'print("hello")\n' >"$lower/app/handler.py"

# bundle NAME ANNOTATION SCRIPT: an overlay root over the layer, config.json
# with the annotation ("" none) running `sh -c SCRIPT`.
bundle() {
  printf '%s' "$3" >"$work/$1.script"
  overlay_bundle "$work/$1" "$lower" "/$parent/$1" "$2" "$3"
}

# --- 1. forbidden write, create + start as containerd does it -------------------------
c1=ociwrap-deny-$$
containers+=("$c1")
bundle deny "$fn" 'cat /app/handler.py >/dev/null || exit 3; echo x > /app/handler.py; echo "write-rc=$?"'
cp "$work/deny/config.json" "$work/deny/config.orig"
(cd "$work/deny" && "$wrapper" create "$c1" >"$work/deny.out" 2>&1) &&
  pass "create through fnwarden-runtime" || fail "create failed: $(cat "$work/deny.out")"
grep -q '"/.fnwarden/fnwarden-init"' "$work/deny/config.json" && pass "config.json starts fnwarden's init" ||
  fail "config.json not rewritten"
flags=$("$fnw" status --socket "$FNWARDEN_SOCKET" -o json | python3 -c '
import json, sys
for c in json.load(sys.stdin)["cgroups"]:
    if c.get("path", "").endswith("/deny"): print(",".join(c["flags"]))')
[[ $flags == *arm-on-exec* && $flags == *arm-after-init* && $flags == *landlock* ]] &&
  pass "cgroup registered before start, armed past the init ($flags)" || fail "cgroup flags after create: '$flags'"
"$wrapper" start "$c1" && pass "start through fnwarden-runtime" || fail "start failed"
eventually 10 bash -c "runc state $c1 2>/dev/null | grep -q '\"status\": \"stopped\"'"
"$wrapper" delete "$c1" >/dev/null 2>&1
cat "$work/deny.out"
grep -q 'Permission denied' "$work/deny.out" && pass "echo > /app/handler.py: Permission denied" ||
  fail "no EACCES: $(cat "$work/deny.out")"
grep -q 'write-rc=[1-9]' "$work/deny.out" && pass "the write failed" || fail "write result: $(cat "$work/deny.out")"
expect_eq "handler.py unchanged" 'print("hello")' "$(cat "$lower/app/handler.py")"
[[ ! -e $work/deny/upper/app/handler.py ]] && pass "nothing copied up" || fail "handler.py was copied up"
if eventually 5 grep -q '"/app/handler.py"' "$work/events.jsonl"; then
  ev=$(grep '"/app/handler.py"' "$work/events.jsonl" | head -1)
  [[ $ev == *'"mechanism":"landlock"'* && $ev == *"\"function\":\"$fn\""* ]] &&
    pass "reported: Landlock refused /app/handler.py for $fn" || fail "event: $ev"
else
  fail "no event naming /app/handler.py: $(cat "$work/events.jsonl") $(tail -5 "$work/daemon.log")"
fi
[[ ! -d $FNWARDEN_RUNTIME_STATE/$c1 ]] && pass "delete removed the plan directory" || fail "plan directory left"

# --- 2. allowed work, through runc run -----------------------------------------------
c2=ociwrap-allow-$$
containers+=("$c2")
bundle allow "$fn" 'cat /app/handler.py && echo y > /tmp/out && cat /tmp/out'
(cd "$work/allow" && "$wrapper" run "$c2" </dev/null >"$work/allow.out" 2>&1)
rc=$?
[[ $rc == 0 ]] && grep -q '^print("hello")$' "$work/allow.out" && grep -q '^y$' "$work/allow.out" &&
  pass "allowed reads and writes pass" || fail "allowed work (exit $rc): $(cat "$work/allow.out") $(grep -v handler.py "$work/events.jsonl")"

c2s=ociwrap-seccomp-$$
containers+=("$c2s")
bundle seccomp "$fn-seccomp" 'mkdir /tmp/made; echo "mkdir-rc=$?"'
(cd "$work/seccomp" && "$wrapper" run "$c2s" </dev/null >"$work/seccomp.out" 2>&1)
grep -q 'Operation not permitted' "$work/seccomp.out" && grep -q 'mkdir-rc=[1-9]' "$work/seccomp.out" &&
  [[ ! -e $work/seccomp/upper/tmp/made ]] && pass "a syscall outside the allowlist: EPERM from seccomp, no directory" ||
  fail "seccomp: $(cat "$work/seccomp.out")"

# --- 3. no policy: untouched ---------------------------------------------------------
c3=ociwrap-plain-$$
containers+=("$c3")
bundle plain "" 'echo x > /app/handler.py && cat /app/handler.py'
cp "$work/plain/config.json" "$work/plain/config.orig"
(cd "$work/plain" && "$wrapper" run "$c3" </dev/null >"$work/plain.out" 2>&1)
rc=$?
cmp -s "$work/plain/config.json" "$work/plain/config.orig" && pass "no policy: config.json byte-identical" ||
  fail "config.json changed"
[[ $rc == 0 ]] && grep -qx x "$work/plain.out" && pass "no policy: the write works" ||
  fail "plain container (exit $rc): $(cat "$work/plain.out")"

# --- 4. containerd 1.6 (ctr run, the wrapper as its runc binary) ------------------------
# containerd with a private root, state and socket; the CRI plugin off (no
# kubelet here). The shim runs the wrapper with containerd's environment.
if command -v containerd >/dev/null && command -v ctr >/dev/null; then
  ctd=$work/containerd
  mkdir -p "$ctd"
  cat >"$ctd/config.toml" <<TOML
version = 2
root = "$ctd/root"
state = "$ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$ctd/containerd.sock"
[ttrpc]
  address = "$ctd/containerd.sock.ttrpc"
TOML
  containerd --config "$ctd/config.toml" >"$ctd/log" 2>&1 &
  containerd_pid=$!
  if eventually 20 test -S "$ctd/containerd.sock"; then
    bundle ctr "$fn" 'echo x > /app/handler.py; echo "write-rc=$?"; cat /app/handler.py'
    timeout 60 ctr --address "$ctd/containerd.sock" run --rm --rootfs --runc-binary "$wrapper" \
      --cgroup "/$parent/ctr" --annotation "fnwarden.io/function=$fn" \
      --mount type=bind,src=/usr,dst=/usr,options=rbind:ro \
      "$work/ctr/rootfs" "ociwrap-ctr-$$" sh -c "$(cat "$work/ctr.script")" >"$work/ctr.out" 2>&1
    grep -q 'Permission denied' "$work/ctr.out" && grep -q 'write-rc=[1-9]' "$work/ctr.out" &&
      grep -qx 'print("hello")' "$work/ctr.out" &&
      pass "containerd: the write fails with EACCES, the read works" || fail "containerd: $(cat "$work/ctr.out")"
    [[ ! -e $work/ctr/upper/app/handler.py ]] && pass "containerd: nothing copied up" || fail "containerd: copied up"
    grep -q "container ociwrap-ctr-$$ cgroup .*/$parent/ctr registered by fnwarden-runtime" "$work/daemon.log" &&
      pass "containerd: the shim's create went through the wrapper" || fail "containerd: not registered by the wrapper"
  else
    fail "containerd did not start: $(tail -5 "$ctd/log")"
  fi
  kill "$containerd_pid"; wait "$containerd_pid" 2>/dev/null
elif [[ ${FNW_REQUIRE_BPF:-0} == 1 ]]; then
  fail "containerd missing (packaging/deps/install-debian.sh installs it)"
else
  echo "SKIP: no containerd: the containerd case"
fi

# --- 5. daemon down, a container that claims a policy: refused -------------------------
kill "$daemon"; wait "$daemon" 2>/dev/null; daemon=
c4=ociwrap-down-$$
containers+=("$c4")
bundle down "$fn" 'echo ran'
cp "$work/down/config.json" "$work/down/config.orig"
(cd "$work/down" && "$wrapper" create "$c4" >"$work/down.out" 2>&1)
rc=$?
[[ $rc == 1 ]] && grep -q 'refusing to create' "$work/down.out" && pass "daemon down: refused ($(head -1 "$work/down.out"))" ||
  fail "daemon down (exit $rc): $(cat "$work/down.out")"
runc state "$c4" >/dev/null 2>&1 && fail "the container exists" || pass "no container was created"
cmp -s "$work/down/config.json" "$work/down/config.orig" && pass "daemon down: config.json untouched" ||
  fail "config.json changed"

finish "oci runtime e2e"
