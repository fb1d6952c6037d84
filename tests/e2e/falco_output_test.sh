#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# --output-format falco end to end (issue 23, docs/outputs.md): a real
# daemon with real probes, a function that makes a call its policy does not
# allow, and a falcosidekick-compatible receiver on the webhook. Every POST
# must be one event that falcosidekick would take (the receiver answers 400
# otherwise, as falcosidekick does), with the fields a pipeline routes on;
# the JSON-lines file carries the same format; `run --standalone` too.
# falcosidekick itself is no Debian package: the receiver decodes as its
# handler does (tests/helpers/falcosidekick_receiver.cpp).
# usage: falco_output_test.sh FNWARDEN WORKLOAD RECEIVER
set -u
fnw=$1
workload=$2
receiver=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
require_root

work=$(mktemp -d)
rules=$work/rules
sock=$work/fnwarden.sock
fn=falco-e2e-$$
node=falco-e2e-node-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$rules"
{
  echo "apiVersion: fnwarden.io/v1"
  echo "kind: FunctionPolicy"
  echo "metadata: {name: falco-e2e-policy}"
  echo "spec:"
  echo "  selector: {function: $fn}"
  echo "  mode: audit"
  echo "  syscalls:"
  echo "    onViolation: report"
  echo "    allow:"
  for s in execve brk arch_prctl mmap munmap mprotect set_tid_address set_robust_list rseq prlimit64 \
    getrandom access faccessat openat read pread64 write close fstat newfstatat exit exit_group futex \
    rt_sigaction rt_sigprocmask clock_gettime clock_nanosleep nanosleep getppid; do
    echo "      - $s"
  done
} >"$rules/falco-e2e.yaml"

"$receiver" serve "$work/accepted.jsonl" "$work/refused.txt" >"$work/receiver.port" &
pids+=($!)
eventually 5 test -s "$work/receiver.port" || { fail "receiver did not start"; finish falco_output; exit 1; }
port=$(head -1 "$work/receiver.port")

# The node name from $NODE_NAME, as in the DaemonSet.
export NODE_NAME=$node
start_daemon "$work/daemon.log" "$sock" --rules "$rules" --mode audit --metrics off \
  --output "$work/events.jsonl" --output-format falco --webhook "http://127.0.0.1:$port/"

"$fnw" run --socket "$sock" --function "$fn" -- "$workload" getppid getpgid >"$work/run.out" 2>&1 ||
  fail "run: $(cat "$work/run.out")"

if eventually 15 grep -qs getpgid "$work/accepted.jsonl"; then pass "falcosidekick took the violation"; else
  fail "nothing accepted: $(cat "$work/accepted.jsonl" "$work/refused.txt" 2>/dev/null) $(tail -5 "$work/daemon.log")"
fi
[[ ! -s $work/refused.txt ]] && pass "no POST refused" || fail "refused: $(head -c 2000 "$work/refused.txt")"

# The fields a pipeline routes on, with their values.
fields_problem() { # FILE: prints what is wrong with the getpgid event in FILE (a crash counts)
  python3 - "$1" "$node" "$fn" 2>&1 <<'PY'
import json, re, sys
path, node, fn = sys.argv[1:]
events = [json.loads(l) for l in open(path) if 'getpgid' in l]
if not events: sys.exit(print("no getpgid event"))
e = events[0]
f = e.get("output_fields")
if not isinstance(f, dict): sys.exit(print(f"output_fields {f!r}"))
want = {"rule": "fnwarden syscalls.allow", "priority": "Warning", "source": "fnwarden", "hostname": node}
for k, v in want.items():
    if e.get(k) != v: print(f"{k}={e.get(k)!r}, not {v!r}")
want_fields = {"fnwarden.function": fn, "fnwarden.policy": "falco-e2e-policy", "fnwarden.rule": "syscalls.allow",
               "fnwarden.action": "reported", "fnwarden.severity": "warning", "evt.type": "getpgid",
               "fnwarden.schema_version": 1}
for k, v in want_fields.items():
    if f.get(k) != v: print(f"output_fields[{k}]={f.get(k)!r}, not {v!r}")
if not isinstance(f.get("proc.pid"), int) or f["proc.pid"] <= 0: print(f"proc.pid {f.get('proc.pid')!r}")
if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", f.get("fnwarden.id", "")):
    print(f"fnwarden.id {f.get('fnwarden.id')!r}")
if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", e.get("time", "")): print(f"time {e.get('time')!r}")
if "syscall getpgid violates syscalls.allow: reported" not in e.get("output", ""): print(f"output {e.get('output')!r}")
if e.get("tags", [])[:1] != ["fnwarden"]: print(f"tags {e.get('tags')!r}")
PY
}
problem=$(fields_problem "$work/accepted.jsonl")
[[ -z $problem ]] && pass "webhook event has falco's fields and fnwarden's values" || fail "webhook event: $problem"

# The JSON-lines file: the same format, each line one falcosidekick would take.
eventually 5 grep -qs getpgid "$work/events.jsonl" || fail "no getpgid in the output file"
problem=$(fields_problem "$work/events.jsonl")
[[ -z $problem ]] && pass "output file has the same fields" || fail "output file: $problem"
check "every output line is a falcosidekick payload" "$receiver" check "$work/events.jsonl"

kill "$daemon_pid" 2>/dev/null
wait "$daemon_pid" 2>/dev/null

# `run --standalone` writes --events in the same format.
"$fnw" run --standalone --policy "$rules/falco-e2e.yaml" --function "$fn" --output-format falco \
  --events "$work/run.jsonl" -- "$workload" getppid getpgid >"$work/standalone.out" 2>&1 ||
  fail "standalone run: $(cat "$work/standalone.out")"
check "run --standalone --output-format falco: falcosidekick payloads" "$receiver" check "$work/run.jsonl"
problem=$(fields_problem "$work/run.jsonl")
[[ -z $problem ]] && pass "standalone event has the same fields" || fail "standalone event: $problem"

finish falco_output
