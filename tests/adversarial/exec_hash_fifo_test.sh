#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A function that tries to freeze the daemon through its exec.allow sha256
# pin (threat-model.md, "A FIFO or a huge file over a pinned program"):
#  1. it runs the pinned program, then renames a FIFO over it before the
#     daemon hashes it (the process is gone, so the hasher falls back to the
#     path: a plain open() of a FIFO waits for a writer forever); repeated,
#     so the race is won;
#  2. it runs a pinned program grown (sparse) to 1 TiB: hashing it whole
#     takes hours here.
# Meanwhile `fnwarden status` must answer within a few seconds and another
# function's violation must still be reported. Every step that could hang
# on a stalled daemon has a timeout: on the old code this script fails, it
# does not hang.
# usage: exec_hash_fifo_test.sh FNWARDEN WORKLOAD
set -u
fnw=$1
workload=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/lib.sh
source "$here/../e2e/lib.sh"
require_root

work=$(mktemp -d)
[[ -n ${FNW_KEEP_WORK:-} ]] && echo "work: $work"
work=$(cd "$work" && pwd -P)  # the kernel reports resolved paths; pins must be too
rules=$work/rules
sock=$work/fnwarden.sock
out=$work/events.jsonl
pids=()
main_shell=$BASHPID
cleanup() {
  [[ $BASHPID == "$main_shell" ]] || return 0
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  # A FIFO reader blocked in an old daemon: a writer releases it.
  for f in "$work"/bin/prog "$work"/fifo*; do [[ -p $f ]] && timeout 1 sh -c ": >'$f'" 2>/dev/null; done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  [[ -n ${FNW_KEEP_WORK:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$rules" "$work/bin"
prog=$work/bin/prog    # pinned to /bin/true's content
big=$work/bin/bigsleep # pinned to /bin/sleep's content, then grown to 1 TiB
cp /bin/true "$prog"
cp /bin/sleep "$big"
true_sum=$(sha256sum "$prog" | cut -d' ' -f1)
sleep_sum=$(sha256sum "$big" | cut -d' ' -f1)
truncate -s 1T "$big"

cat >"$rules/attacker.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: attacker}
spec:
  selector: {function: attacker}
  mode: audit
  exec:
    onViolation: report
    allow:
      - /usr/**
      - {path: $prog, sha256: $true_sum}
      - {path: $big, sha256: $sleep_sum}
YAML
base="execve brk arch_prctl mmap munmap mprotect set_tid_address set_robust_list rseq prlimit64
  getrandom access faccessat openat read pread64 write close fstat newfstatat exit exit_group futex
  rt_sigaction rt_sigprocmask clock_gettime clock_nanosleep nanosleep getppid"
cat >"$rules/victim.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: victim}
spec:
  selector: {function: victim}
  mode: audit
  syscalls:
    onViolation: report
    allow: [$(echo $base | tr ' ' ',')]
YAML

start_daemon "$work/daemon.log" "$sock" --rules "$rules" --output "$out" --metrics "" --mode audit

# status answers within 3 s, five times in a row.
status_answers() {
  local i
  for i in 1 2 3 4 5; do
    timeout 3 "$fnw" status --socket "$sock" -o json >"$work/status.json" 2>/dev/null || return 1
  done
}
# victim_reported N: a victim run registers (not stalled) and its getpgid
# violation reaches the output within 5 s.
victim_reported() {
  timeout 10 "$fnw" run --socket "$sock" --function victim -- "$workload" getpgid >"$work/victim$1.out" 2>&1 ||
    { echo "victim run $1 failed or hung: $(cat "$work/victim$1.out")"; return 1; }
  eventually 5 more_than $(($1 - 1)) "$out" '"name":"getpgid"' '"function":"victim"'
}

# --- 1: a FIFO renamed over the pinned program, right after it ran -----------
attack_fifo() {
  local i
  for i in $(seq 1 40); do
    # The pinned inode itself (the kernel's exec rule names it), kept by a
    # second link while a FIFO takes its name, and put back by rename.
    ln -f "$prog" "$work/keep"
    mkfifo "$work/fifo$i"
    "$prog"                      # exits at once: the daemon falls back to the path
    mv -f "$work/fifo$i" "$prog" # before the daemon's next 50 ms tick
    sleep 0.1
    mv -f "$work/keep" "$prog"
  done
}
export -f attack_fifo
export prog work
timeout 60 "$fnw" run --socket "$sock" --function attacker -- bash -c attack_fifo >"$work/attacker1.out" 2>&1 &
attacker=$!
pids+=($attacker)
sleep 2  # the attack is under way: the daemon must keep answering during it
check "status answers during the FIFO attack" status_answers
check "another function's violation is reported during the FIFO attack" victim_reported 1
wait "$attacker"
check "status answers after the FIFO attack" status_answers
# The FIFO races were seen and refused, not read: "cannot verify" violations.
unreadable=$(tr -d ' \n' <"$work/status.json" | grep -o '"exec_sha256_not_regular":[0-9]*' | cut -d: -f2)
echo "FIFO attack: pinned execs refused as not regular files: ${unreadable:-?}"
if eventually 5 more_than 0 "$out" '"function":"attacker"' '"sha256_check":"unreadable"'; then
  pass "a FIFO under the pin is an exec.sha256 violation (cannot verify)"
else
  fail "no unreadable exec.sha256 violation for the attacker: $(grep attacker "$out" | head -c 1500)"
fi

# --- 2: a pinned program of 1 TiB (sparse), alive while it is checked --------
# From a shell: the run's own first exec is the launcher's, not checked.
timeout 30 "$fnw" run --socket "$sock" --function attacker -- bash -c "\"$big\" 3; true" >"$work/attacker2.out" 2>&1 &
attacker=$!
pids+=($attacker)
sleep 1
check "status answers while a 1 TiB pinned program runs" status_answers
check "another function's violation is reported while a 1 TiB pinned program runs" victim_reported 2
wait "$attacker"
too_large=$(tr -d ' \n' <"$work/status.json" | grep -o '"exec_sha256_too_large":[0-9]*' | cut -d: -f2)
if [[ ${too_large:-0} -ge 1 ]]; then pass "the 1 TiB program was refused unread (too_large=$too_large)"; else
  fail "exec_sha256_too_large=${too_large:-missing}"; fi

finish exec_hash_fifo
