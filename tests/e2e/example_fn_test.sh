#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The bundled example function (examples/hello-fn) under `fnwarden run`
# with its policy (rules/examples/hello-fn.yaml): its normal behaviour makes
# no event at all; each misbehaviour makes exactly one violation, with the
# canonical path or address; in enforce mode the connect fails with EPERM
# and the file and exec violations end the process. Needs root.
# usage: example_fn_test.sh FNWARDEN_BINARY SOURCE_DIR HELLO_FN_BINARY
set -u
fnw=$1
src=$2
hello_bin=$3
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root

# The function's code and scratch directories are fixed: compiled into
# hello-fn and named by its policy (rules/examples/hello-fn.yaml). So this
# test refuses to run over anything it did not make there (a marker holds the
# pid of the run that made each; a dead run's leftovers are taken over), and
# removes exactly what it made.
code_dir=/var/task/hello-fn
scratch_dir=/tmp/hello-fn
marker=.fnwarden-test
made=()         # removed (with their contents) at exit
made_parents=()  # removed at exit if empty
work=$(mktemp -d)
cleanup() {
  local d
  for d in "${made[@]}"; do rm -rf "$d"; done
  for d in "${made_parents[@]}"; do rmdir "$d" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
claim() { # DIR MODE: create it for this run, or take over a dead run's
  if [[ -e $1 ]]; then
    local owner
    owner=$(cat "$1/$marker" 2>/dev/null) ||
      { echo "FAIL: $1 exists and is not this test's: refusing to touch it"; exit 1; }
    if [[ $owner =~ ^[0-9]+$ ]] && kill -0 "$owner" 2>/dev/null; then
      echo "FAIL: $1 is in use by another run of this test (pid $owner)"; exit 1
    fi
    made+=("$1")
    find "$1" -mindepth 1 ! -name "$marker" -delete
  else
    [[ -e $(dirname "$1") ]] || { mkdir -p "$(dirname "$1")" && made_parents+=("$(dirname "$1")"); }
    mkdir -m "$2" "$1" || { echo "FAIL: cannot create $1"; exit 1; }
    made+=("$1")
  fi
  echo $$ >"$1/$marker"
}
claim "$code_dir" 0755
claim "$scratch_dir" 0700
install -m 0755 "$hello_bin" "$code_dir/hello-fn"
install -m 0644 "$src/examples/hello-fn/greeting.txt" "$code_dir/greeting.txt"
policy=$src/rules/examples/hello-fn.yaml

has() { # name line field...
  local name=$1 line=$2; shift 2
  for field; do [[ $line == *"$field"* ]] && pass "$name: $field" || fail "$name lacks $field: $line"; done
}
run_fn() { # mode events-file args...
  local mode=$1 events=$2; shift 2
  "$fnw" run --standalone --function hello-fn --policy "$policy" --mode "$mode" --events "$events" -- \
    "$code_dir/hello-fn" "$@" >"$work/stdout" 2>"$work/stderr"
}

# --- normal behaviour: nothing to report ------------------------------------
run_fn audit "$work/normal.jsonl" alice
expect_eq "normal run exits 0" 0 $?
expect_eq "normal run answers" "Hello, alice!" "$(head -n1 "$work/stdout")"
expect_eq "normal run makes no event" 0 "$(wc -l <"$work/normal.jsonl")"
[[ $(cat "$scratch_dir/requests.log" 2>/dev/null) == alice ]] && pass "normal run wrote its log" || fail "no request log"
run_fn enforce "$work/normal-enforce.jsonl" bob
expect_eq "normal run in enforce mode exits 0" 0 $?
expect_eq "normal run in enforce mode makes no event" 0 "$(wc -l <"$work/normal-enforce.jsonl")"

# --- audit: each misbehaviour is one violation, and happens -----------------
run_fn audit "$work/shadow.jsonl" eve --misbehave=shadow
expect_eq "audit shadow: one event" 1 "$(wc -l <"$work/shadow.jsonl")"
has "audit shadow" "$(head -n1 "$work/shadow.jsonl")" '"path":"/etc/shadow"' '"rule":"files.read"' \
  '"verdict":"violation"' '"action":"reported"' '"access":["read"]'
grep -q "misbehave shadow: done" "$work/stdout" && pass "audit lets the read happen" || fail "audit: $(cat "$work/stdout")"

run_fn audit "$work/code.jsonl" eve --misbehave=write-code
expect_eq "audit write-code: one event" 1 "$(wc -l <"$work/code.jsonl")"
has "audit write-code" "$(head -n1 "$work/code.jsonl")" "\"path\":\"$code_dir/greeting.txt\"" '"rule":"files.write"'
install -m 0644 "$src/examples/hello-fn/greeting.txt" "$code_dir/greeting.txt"

run_fn audit "$work/exec.jsonl" eve --misbehave=exec-sh
expect_eq "audit exec-sh: one event" 1 "$(wc -l <"$work/exec.jsonl")"
dash=$(readlink -f /bin/sh)
has "audit exec-sh" "$(head -n1 "$work/exec.jsonl")" "\"path\":\"$dash\"" '"raw_path":"/bin/sh"' \
  '"rule":"exec.allow"' '"op":"exec"'

run_fn audit "$work/connect.jsonl" eve --misbehave=connect
expect_eq "audit connect: one event" 1 "$(wc -l <"$work/connect.jsonl")"
has "audit connect" "$(head -n1 "$work/connect.jsonl")" '"daddr":"127.0.0.2"' '"dport":9' '"rule":"network.egress"'

# --- enforce: EPERM for the connect, the rest killed --------------------------
run_fn enforce "$work/e-connect.jsonl" eve --misbehave=connect
expect_eq "enforce connect: the function goes on" 0 $?
# Refused before anything is sent, by whichever layer comes first: Landlock
# (ABI 4+, port 9 is in no rule: EACCES) or else the cgroup hook (EPERM).
# The errno and the event's mechanism must agree.
if grep -q "misbehave connect: Operation not permitted" "$work/stdout"; then
  pass "enforce connect gets EPERM (cgroup hook, or lsm/socket_connect first where BPF-LSM runs)"
  grep -q '"mechanism":"bpf-lsm"' "$work/e-connect.jsonl" && connect_mechanism=bpf-lsm || connect_mechanism=cgroup-sock
elif grep -q "misbehave connect: Permission denied" "$work/stdout"; then
  pass "enforce connect gets EACCES (Landlock TCP port rules)"
  connect_mechanism=landlock
else
  fail "enforce connect: $(cat "$work/stdout")"
  connect_mechanism=none
fi
expect_eq "enforce connect: one event" 1 "$(wc -l <"$work/e-connect.jsonl")"
has "enforce connect" "$(head -n1 "$work/e-connect.jsonl")" '"action":"denied"' "\"mechanism\":\"$connect_mechanism\""

run_fn audit "$work/shellcode.jsonl" eve --misbehave=shellcode
expect_eq "audit shellcode: one event" 1 "$(wc -l <"$work/shellcode.jsonl")"
has "audit shellcode" "$(head -n1 "$work/shellcode.jsonl")" '"rule":"process.execMemory"' '"name":"mmap"' \
  '"action":"reported"'

for what in shadow write-code exec-sh shellcode; do
  run_fn enforce "$work/e-$what.jsonl" eve "--misbehave=$what"
  expect_eq "enforce $what: killed" 137 $?
  expect_eq "enforce $what: one event" 1 "$(wc -l <"$work/e-$what.jsonl")"
  has "enforce $what" "$(head -n1 "$work/e-$what.jsonl")" '"verdict":"violation"' '"action":"killed"'
  grep -q "misbehave $what" "$work/stdout" && fail "enforce $what: it lived to print: $(cat "$work/stdout")" ||
    pass "enforce $what: nothing after the violation ran"
done
[[ $(cat "$code_dir/greeting.txt") == Hello ]] && pass "enforce write-code: code dir untouched" ||
  fail "code dir changed: $(cat "$code_dir/greeting.txt")"

finish "example function"
