#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fnwarden-run, the quick launcher for `fnwarden run` under a daemon
# (userspace/cli/launch_main.cpp): it launches the function itself (the
# function's parent is fnwarden-run, not a fnwarden it handed over to), in
# its cgroup, registered with the daemon before the exec (the loader's
# first syscall after execve is already reported), and passes the exit
# status through (a code, a signal, 127 for a missing command). What it
# does not run itself goes to the fnwarden beside it: --help, an option of
# the standalone mode, no daemon at the socket.
# usage: launcher_test.sh FNWARDEN_RUN FNWARDEN WORKLOAD
set -u
launcher=$1
fnw=$2
workload=$(realpath "$3")
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
use_work_dir
fn=launch-fn-$$
sock=$work/fnwarden.sock
out=$work/events.jsonl

# Audit, reporting: every syscall outside the list is an event, none stops
# the function. brk is left out on purpose: it is the dynamic loader's first
# syscall after execve, so its event proves the cgroup was registered (and
# armed) before the exec, not after.
mkdir -p "$work/rules"
{
  echo "apiVersion: fnwarden.io/v1"
  echo "kind: FunctionPolicy"
  echo "metadata: {name: launch-policy}"
  echo "spec:"
  echo "  selector: {function: $fn}"
  echo "  mode: audit"
  echo "  syscalls:"
  echo "    onViolation: report"
  echo "    allow:"
  for s in execve arch_prctl mmap munmap mprotect set_tid_address set_robust_list rseq prlimit64 getrandom \
    access faccessat openat read pread64 write close fstat newfstatat exit exit_group futex rt_sigaction \
    rt_sigprocmask clock_gettime clock_nanosleep nanosleep; do
    echo "      - $s"
  done
} >"$work/rules/launch.yaml"
# The same list in enforce, killing: mkdir dies at its seccomp notification.
sed -e "s/launch-policy/launch-kill-policy/" -e "s/function: $fn}/function: $fn-kill}/" -e "s/mode: audit/mode: enforce/" \
  -e "s/onViolation: report/onViolation: kill/" -e "s/^    allow:$/    allow:\n      - brk/" "$work/rules/launch.yaml" >"$work/rules/launch-kill.yaml"
start_daemon "$work/daemon.log" "$sock" --rules "$work/rules" --output "$out" --metrics off --mode enforce

# --- launched by fnwarden-run itself, in its cgroup, registered before exec ------
"$launcher" --socket "$sock" --function "$fn" -- "$workload" getpgid exit:7 >"$work/run.out" 2>&1
rc=$?
expect_eq "the function's exit status passes through" 7 "$rc"
grep -q "guarded by the daemon" "$work/run.out" && pass "registered with the daemon" ||
  fail "not guarded by the daemon: $(cat "$work/run.out")"
if eventually 5 grep -q '"name":"getpgid"' "$out"; then pass "the function's violation reached the daemon's output"; else
  fail "no getpgid event: $(cat "$out")"; fi
grep '"name":"brk"' "$out" | grep -q "\"function\":\"$fn\"" &&
  pass "the loader's first syscall after execve was already watched: registered before the exec" ||
  fail "no brk event for $fn: the cgroup was armed after the exec ($(head -c 2000 "$out"))"

parent=$("$launcher" --socket "$sock" --function="$fn" -- sh -c 'readlink /proc/$PPID/exe; cat /proc/self/cgroup' 2>"$work/parent.err")
[[ $parent == *"/$(basename "$launcher")"$'\n'* ]] && pass "the function's parent is fnwarden-run (nothing handed over)" ||
  fail "parent: '$parent' $(cat "$work/parent.err")"
grep -qE "^0::/fnwarden/$fn-[0-9]+-0\$" <<<"$parent" && pass "the function runs in its own cgroup" ||
  fail "cgroup: '$parent'"

"$launcher" --socket "$sock" --function "$fn" -- sh -c 'kill -9 $$' >/dev/null 2>&1
expect_eq "a function killed by SIGKILL: 137" 137 "$?"
"$launcher" --socket "$sock" --function "$fn" -- "$work/no-such-command" >"$work/enoent.out" 2>&1
expect_eq "a missing command: 127" 127 "$?"
"$launcher" --socket "$sock" --function nosuch-$$ -- true >"$work/nosuch.out" 2>&1
rc=$?
[[ $rc == 125 ]] && grep -q "no policy for function" "$work/nosuch.out" &&
  pass "a function without a policy is refused (125), not run unguarded" || fail "unknown function: rc $rc $(cat "$work/nosuch.out")"

# Killed before the daemon writes its line, mkdir has no /proc/PID/exe left:
# the event carries what the launcher read while mkdir waited.
"$launcher" --socket "$sock" --function "$fn-kill" -- mkdir "$work/never" >"$work/kill.out" 2>&1
expect_eq "a function killed at its seccomp notification: 137" 137 "$?"
mkdir_exe=$(readlink -f "$(command -v mkdir)")
if eventually 5 grep -q "\"function\":\"$fn-kill\".*\"mechanism\":\"seccomp\"" "$out"; then
  grep "\"function\":\"$fn-kill\"" "$out" | grep -qF "\"exe\":\"$mkdir_exe\"" &&
    pass "the killed process's event, through the daemon, names its program ($mkdir_exe)" ||
    fail "killed mkdir's exe: $(grep "\"function\":\"$fn-kill\"" "$out")"
else
  fail "no seccomp event for $fn-kill: $(cat "$work/kill.out") $(tail -c 2000 "$out")"
fi
[[ ! -e $work/never ]] && pass "the killed mkdir never ran" || fail "killed mkdir created $work/never"

# --- what fnwarden-run hands to fnwarden run --------------------------------------
"$launcher" --help >"$work/help.out" 2>&1
grep -q "fnwarden run options" "$work/help.out" && pass "--help is fnwarden run's" || fail "help: $(cat "$work/help.out")"
"$launcher" --socket "$work/none.sock" --function "$fn" -- true >"$work/nodaemon.out" 2>&1
rc=$?
[[ $rc == 125 ]] && grep -q -- "--policy FILE is required" "$work/nodaemon.out" &&
  pass "no daemon: fnwarden run's answer (125, --policy needed)" || fail "no daemon: rc $rc $(cat "$work/nodaemon.out")"
"$launcher" --socket "$sock" --function "$fn" --explain >"$work/explain.out" 2>&1
rc=$?
[[ $rc == 0 ]] && grep -q "guarded by the daemon" "$work/explain.out" && pass "--explain handed to fnwarden run" ||
  fail "--explain: rc $rc $(cat "$work/explain.out")"

finish launcher
