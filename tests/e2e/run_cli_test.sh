#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Drives build/fnwarden like a user: policy validation, `run` in audit and
# enforce mode, exit-status pass-through. Needs root (BPF + cgroups).
# usage: run_cli_test.sh FNWARDEN_BINARY SOURCE_DIR [TEST_WORKLOAD]
# (TEST_WORKLOAD, tests/helpers/workload.cpp: the learn-a-JIT check runs only with it)
set -u
fnw=$1
src=$2
workload_bin=${3:-}
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
demo=$src/rules/examples/demo.yaml

# --- policy validate -------------------------------------------------------
"$fnw" policy validate "$demo" >"$work/out" 2>&1
expect_eq "validate accepts the demo policy" 0 $?
"$fnw" policy validate "$src/rules/examples/hello-fn.yaml" >"$work/out" 2>&1
grep -q "process: ptrace bpf execMemory refused, kill)" "$work/out" && pass "validate summarises the process section" ||
  fail "validate summary: $(cat "$work/out")"

"$fnw" policy validate "$src/tests/fixtures/policies/bad-unknown-syscall.yaml" >"$work/out" 2>&1
expect_eq "validate rejects a broken policy with exit 2" 2 $?
if grep -q 'bad-unknown-syscall.yaml:11:9: unknown syscall "opne"' "$work/out"; then
  pass "validate prints file:line:column"
else
  fail "validate output lacks file:line:column: $(cat "$work/out")"
fi

# --- run, audit: one violation, command unaffected ---------------------------
"$fnw" run --function demo --policy "$demo" --events "$work/audit.jsonl" -- sh -c "mkdir $work/x" 2>"$work/err"
expect_eq "audit run exits with the command's status" 0 $?
[[ -d $work/x ]] && pass "audit mode let mkdir happen" || fail "audit mode blocked mkdir"
expect_eq "audit run emits exactly one event" 1 "$(wc -l <"$work/audit.jsonl")"
line=$(head -n1 "$work/audit.jsonl")
for field in '"type":"syscall"' '"syscall":{"name":"mkdir","nr":83}' '"verdict":"violation"' \
  '"action":"reported"' '"function":"demo"' '"policy":"demo"' '"comm":"mkdir"' '"cgroup_id":' \
  '"pid":' '"tid":' '"ppid":' '"time":"20'; do
  [[ $line == *"$field"* ]] && pass "audit event has $field" || fail "audit event lacks $field: $line"
done
[[ $(stat -c %a "$work/audit.jsonl") == 600 ]] && pass "events file is 0600" || fail "events file mode $(stat -c %a "$work/audit.jsonl")"

# --- run, enforce + kill: the violating process dies by SIGKILL ----------------
rmdir "$work/x"
"$fnw" run --function demo --policy "$demo" --mode enforce --events "$work/enforce.jsonl" -- \
  sh -c "exec mkdir $work/y" 2>"$work/err"
expect_eq "enforce run exits 128+SIGKILL" 137 $?
expect_eq "enforce run emits exactly one event" 1 "$(wc -l <"$work/enforce.jsonl")"
grep -q '"action":"killed"' "$work/enforce.jsonl" && pass "enforce event says killed" || fail "enforce event: $(cat "$work/enforce.jsonl")"
# Killed before its line was written, mkdir has no /proc/PID/exe left: the
# launcher read it while mkdir waited in its seccomp notification.
mkdir_exe=$(readlink -f "$(command -v mkdir)")
grep -qF "\"exe\":\"$mkdir_exe\"" "$work/enforce.jsonl" && pass "the killed process's event names its program ($mkdir_exe)" ||
  fail "killed mkdir's exe: $(cat "$work/enforce.jsonl")"
[[ ! -e $work/y ]] && pass "kill via seccomp: mkdir never ran" || fail "killed mkdir still created $work/y"

# --- run, enforce + deny: seccomp makes mkdir fail, nothing is created ------------
sed 's/onViolation: kill .*/onViolation: deny/' "$demo" >"$work/deny.yaml"
"$fnw" run --function demo --policy "$work/deny.yaml" --mode enforce --events "$work/deny.jsonl" -- \
  sh -c "mkdir $work/forbidden" 2>"$work/err"
expect_eq "deny run exits with mkdir's failure status" 1 $?
[[ ! -e $work/forbidden ]] && pass "denied mkdir left nothing behind" || fail "denied mkdir created $work/forbidden"
grep -q 'Operation not permitted' "$work/err" && pass "mkdir printed EPERM" || fail "mkdir stderr: $(cat "$work/err")"
expect_eq "deny run emits exactly one event" 1 "$(wc -l <"$work/deny.jsonl")"
for field in '"action":"denied"' '"mechanism":"seccomp"' '"syscall":{"name":"mkdir","nr":83}'; do
  grep -q "$field" "$work/deny.jsonl" && pass "deny event has $field" || fail "deny event lacks $field: $(cat "$work/deny.jsonl")"
done

# --- files/exec under Landlock: mkdir outside the allowlist has no side effect -------
# The policy lets the shell write only under /tmp/fnwarden-scratch: this
# run's own directory is outside it (and unique, unlike a fixed /tmp path).
sandboxed=$src/rules/examples/sandboxed.yaml
forbidden=$(realpath "$work")/forbidden
"$fnw" run --function sandboxed --policy "$sandboxed" --events "$work/landlock.jsonl" -- \
  sh -c "mkdir $forbidden" 2>"$work/err"
rc=$?
[[ $rc -ne 0 ]] && pass "landlock: the command fails ($rc)" || fail "landlock: mkdir succeeded"
[[ ! -e $forbidden ]] && pass "landlock: no $forbidden left behind" || fail "landlock: $forbidden exists"
grep -q 'Permission denied' "$work/err" && pass "landlock: mkdir printed Permission denied" || fail "stderr: $(cat "$work/err")"
expect_eq "landlock: exactly one event" 1 "$(wc -l <"$work/landlock.jsonl")"
for field in '"mechanism":"landlock"' '"action":"denied"' "\"path\":\"$forbidden\"" '"type":"file"'; do
  grep -q "$field" "$work/landlock.jsonl" && pass "landlock event has $field" || fail "landlock event lacks $field: $(cat "$work/landlock.jsonl")"
done

# --- --explain names the mechanism per rule ---------------------------------------
"$fnw" run --function demo --policy "$demo" --mode enforce --explain >"$work/explain" 2>&1
expect_eq "--explain without a command exits 0" 0 $?
grep -q 'seccomp user-notif: the launcher reports, then kills' "$work/explain" && pass "--explain: enforce+kill -> seccomp" \
  || fail "--explain output: $(cat "$work/explain")"
"$fnw" run --function demo --policy "$demo" --mode audit --explain >"$work/explain" 2>&1
grep -q 'reported, the syscall runs' "$work/explain" && pass "--explain: audit -> report only" \
  || fail "--explain output: $(cat "$work/explain")"

# --- learn: record a workload's syscalls, then enforce exactly those ------------------
workload="cat /etc/hostname >/dev/null; date >/dev/null"
"$fnw" learn --function learned -o "$work/learned.yaml" -- sh -c "$workload" 2>"$work/err"
expect_eq "learn exits 0" 0 $?
"$fnw" policy validate "$work/learned.yaml" >/dev/null 2>&1
expect_eq "the learned policy validates" 0 $?
"$fnw" run --function learned --policy "$work/learned.yaml" --mode enforce --events "$work/learned.jsonl" -- \
  sh -c "$workload" 2>"$work/err"
expect_eq "the learned workload runs cleanly in enforce mode" 0 $?
expect_eq "the learned workload has no violations" 0 "$(wc -l <"$work/learned.jsonl")"

# A second run with --merge adds what only it did (here: mkdir/rmdir).
"$fnw" learn --function learned --merge "$work/learned.yaml" -o "$work/merged.yaml" -- \
  sh -c "mkdir $work/m && rmdir $work/m" 2>"$work/err"
expect_eq "learn --merge exits 0" 0 $?
grep -q -- '- mkdir' "$work/merged.yaml" && pass "merged policy has the new syscall" || fail "merged: $(cat "$work/merged.yaml")"
grep -q -- '- newfstatat\|- openat' "$work/merged.yaml" && pass "merged policy keeps the first run's syscalls" \
  || fail "merged lost syscalls: $(cat "$work/merged.yaml")"
grep -q -- '- newfstatat\|- openat' "$work/learned.yaml" && ! grep -q -- '- mkdir' "$work/learned.yaml" &&
  pass "first run did not learn mkdir" || fail "first policy should have its syscalls and no mkdir: $(cat "$work/learned.yaml")"
grep -q 'execMemory: false' "$work/merged.yaml" && pass "learn refuses the executable memory sh never used" ||
  fail "learned process section: $(cat "$work/merged.yaml")"

# A JIT's read+exec flip is learned as execMemory: true.
if [[ -n $workload_bin ]]; then
  "$fnw" learn --function jit -o "$work/jit.yaml" -- "$workload_bin" jit 2>"$work/err"
  expect_eq "learn of a JIT exits 0" 0 $?
  grep -q 'execMemory: true' "$work/jit.yaml" && pass "learn allows the executable memory the JIT used" ||
    fail "learned jit policy: $(cat "$work/jit.yaml")"
fi

# --- the baseline is found beside the policy and merged -------------------------------
"$fnw" policy validate "$src/rules/baseline.yaml" >/dev/null 2>&1
expect_eq "validate accepts the bundled baseline" 0 $?
"$fnw" run --function sandboxed --policy "$src/rules/examples/sandboxed.yaml" --explain >"$work/explain" 2>&1
grep -q 'syscalls.allow (476 syscalls)' "$work/explain" && pass "baseline merged: 512 - 36 syscalls allowed" \
  || fail "baseline not merged: $(grep syscalls "$work/explain")"
"$fnw" run --function sandboxed --policy "$src/rules/examples/sandboxed.yaml" --no-baseline --explain >"$work/explain" 2>&1
grep -q 'not restricted (no syscalls section)' "$work/explain" && pass "--no-baseline applies none" \
  || fail "--no-baseline: $(grep -A1 syscalls "$work/explain")"

# --- exit status and errors ------------------------------------------------------
"$fnw" run --function demo --policy "$demo" -- sh -c 'exit 3' 2>"$work/err"
expect_eq "exit status passes through" 3 $?

# fnwarden's own failures are 125, the shell's 126 and 127 keep their
# meanings (as env, timeout, chroot): a caller tells them from the command's.
"$fnw" run --function demo --policy "$src/tests/fixtures/policies/bad-unknown-syscall.yaml" -- true 2>"$work/err"
expect_eq "run with a broken policy exits 125" 125 $?
grep -q 'nothing loaded' "$work/err" && pass "run says nothing was loaded" || fail "run error: $(cat "$work/err")"

"$fnw" run --function demo --policy "$demo" -- /nonexistent/cmd 2>"$work/err"
expect_eq "run of a missing command exits 127" 127 $?
grep -q 'cannot execute /nonexistent/cmd' "$work/err" && pass "missing command is named" || fail "$(cat "$work/err")"
"$fnw" run --function demo --policy "$demo" -- no-such-command-on-path-$$ 2>"$work/err"
expect_eq "run of a command not on PATH exits 127" 127 $?
printf '#!/bin/sh\nexit 0\n' >"$work/not-executable"
chmod 0644 "$work/not-executable"
"$fnw" run --function demo --policy "$demo" -- "$work/not-executable" 2>"$work/err"
expect_eq "run of a file that is not executable exits 126" 126 $?
"$fnw" run --function demo --policy "$demo" -- sh -c 'exit 125' 2>"$work/err"
expect_eq "the command's own 125 passes through" 125 $?
"$fnw" learn --function demo -- /nonexistent/cmd >/dev/null 2>"$work/err"
expect_eq "learn of a missing command exits 127" 127 $?

# No cgroup is left behind by any of the runs above: the cgroups their
# events name (a cgroup's id is its directory's inode number) are all gone.
# Only this script's own runs are looked at: other runs may be going on.
cgroot=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
run_cgroups=$(cat "$work"/*.jsonl | grep -o '"cgroup_id":[0-9]*' | cut -d: -f2 | sort -u)
left=0
for id in $run_cgroups; do
  [[ -n $(find "$cgroot" -maxdepth 6 -type d -inum "$id" -print -quit 2>/dev/null) ]] && left=$((left + 1))
done
[[ -d $cgroot && $(wc -w <<<"$run_cgroups") -ge 4 ]] || fail "cgroups of this script's runs: '$run_cgroups' under '$cgroot'"
expect_eq "no per-run cgroup left behind ($(wc -w <<<"$run_cgroups") runs)" 0 "$left"

finish e2e
