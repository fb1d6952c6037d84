#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The function is born inside its cgroup: `fnwarden run` (standalone and
# under a daemon), `fnwarden learn` and `fnwarden-run` start it with clone3(CLONE_INTO_CGROUP),
# so its first instruction already runs where the probes watch. The
# fallback, fork() and a write to cgroup.procs, is taken whenever the
# launcher has started a thread before the fork (function_runner.cpp,
# fork_into_cgroup): it costs 20-25 ms a run and leaves the child's first
# instructions unmonitored, and nothing else would notice. An event-file
# writer thread did exactly that once, silently.
#
# What is checked is the kernel's own record: every migration of a task
# between cgroups (a write to cgroup.procs) fires the cgroup_attach_task
# tracepoint; a task born in its cgroup by CLONE_INTO_CGROUP fires none.
# So the function must report its own cgroup (/proc/self/cgroup) while no
# task was ever attached to that cgroup. A private tracefs instance records
# the tracepoint (its own buffer, nothing shared with other tracers), and a
# control move into a scratch cgroup proves it records moves at all.
# usage: cgroup_birth_test.sh FNWARDEN FNWARDEN_RUN SOURCE_DIR
set -u
fnw=$1
launcher=$2
src=$3
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root

# Mounted where missing, as require_bpffs does for bpffs (a minimal machine).
[[ -d /sys/kernel/tracing && ! -d /sys/kernel/tracing/events ]] && mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
tracefs=
for t in /sys/kernel/tracing /sys/kernel/debug/tracing; do
  [[ -d $t/instances && -d $t/events/cgroup/cgroup_attach_task ]] && { tracefs=$t; break; }
done
if [[ -z $tracefs ]]; then
  [[ ${FNW_REQUIRE_BPF:-0} == 1 ]] && { echo "FAIL: no tracefs with the cgroup_attach_task event"; exit 1; }
  echo "SKIP: no tracefs with the cgroup_attach_task event"; exit 77
fi
cg2=$(cgroup2_mount)
[[ -n $cg2 ]] || { echo "FAIL: no cgroup2 mount"; exit 1; }

work=$(mktemp -d)
pids=()
instance=$tracefs/instances/fnwtest-birth-$$
scratch=fnwtest-birth-$$
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  [[ -d $instance ]] && { echo 0 >"$instance/tracing_on"; rmdir "$instance"; }
  [[ -d $cg2/$scratch ]] && rmdir "$cg2/$scratch"
  rm -rf "$work"
}
trap cleanup EXIT

mkdir "$instance" || { echo "FAIL: cannot create the tracefs instance $instance"; exit 1; }
echo 64 >"$instance/buffer_size_kb"
# Only moves into this test's cgroups and fnwarden's: the host's own (systemd,
# containers) cannot push them out of the small buffer.
echo 'dst_path ~ "/fnw*"' >"$instance/events/cgroup/cgroup_attach_task/filter" ||
  { echo "FAIL: cannot filter cgroup_attach_task"; exit 1; }
echo 1 >"$instance/events/cgroup/cgroup_attach_task/enable" || { echo "FAIL: cannot enable cgroup_attach_task"; exit 1; }
echo 1 >"$instance/tracing_on"

# attached_to PATH: a task was moved into the cgroup PATH (as /proc/PID/cgroup
# names it) since the instance started recording.
attached_to() { grep -qF " dst_path=$1 pid=" "$instance/trace"; }

# born_inside NAME OUTPUT: OUTPUT is what `cat /proc/self/cgroup` printed as
# the function; it must name the function's own cgroup, and no task may have
# been moved into it.
born_inside() {
  local name=$1 out=$2 path
  path=$(sed -n 's/^0:://p' <<<"$out")
  if [[ $path != /fnwarden/* ]]; then
    fail "$name: the function is not in a cgroup of its own: '$out'"
  elif attached_to "$path"; then
    fail "$name: the function was moved into $path after its fork, not born there: $(grep -F "dst_path=$path " "$instance/trace")"
  else
    pass "$name: born inside $path (no task ever attached to it)"
  fi
}

# --- the control: the instance records a move ---------------------------------
mkdir "$cg2/$scratch"
sh -c 'echo $$ >"$1/cgroup.procs"' _ "$cg2/$scratch"
check "the tracer records a move into a cgroup (control)" attached_to "/$scratch"

# --- standalone -------------------------------------------------------------------
policy=$src/rules/examples/demo.yaml
out=$("$fnw" run --standalone --function demo --policy "$policy" --events "$work/standalone.jsonl" -- \
  cat /proc/self/cgroup 2>"$work/standalone.err")
expect_eq "standalone run succeeds" 0 $?
born_inside "run --standalone" "$out"
out=$("$fnw" run --standalone --function demo --policy "$policy" -- cat /proc/self/cgroup 2>"$work/stderr.err")
born_inside "run --standalone, events on stderr" "$out"
out=$("$fnw" learn --function birth-learn -o "$work/learned.yaml" -- cat /proc/self/cgroup 2>"$work/learn.err")
born_inside "learn" "$out"

# --- under a daemon -----------------------------------------------------------------
fn=birth-fn-$$
sock=$work/fnwarden.sock
mkdir "$work/rules"
sed "s/function: demo/function: $fn/" "$policy" >"$work/rules/birth.yaml"
start_daemon "$work/daemon.log" "$sock" --rules "$work/rules" --output "$work/daemon.jsonl" --metrics off
out=$("$fnw" run --socket "$sock" --function "$fn" -- cat /proc/self/cgroup 2>"$work/daemon-run.err")
grep -q "guarded by the daemon" "$work/daemon-run.err" && pass "fnwarden run registered with the daemon" ||
  fail "fnwarden run not under the daemon: $(cat "$work/daemon-run.err")"
born_inside "run under the daemon" "$out"
out=$("$launcher" --socket "$sock" --function "$fn" -- cat /proc/self/cgroup 2>"$work/launcher.err")
born_inside "fnwarden-run under the daemon" "$out"

finish cgroup_birth
